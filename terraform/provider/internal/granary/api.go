package granary

// The control plane's request and answer bodies (control_plane/schemas.py), as far as
// the provider uses them.

type Plan struct {
	Name           string             `json:"name"`
	Quotas         map[string]float64 `json:"quotas"` // see tenancy/plans.py
	AllowedRegions []string           `json:"allowed_regions"`
	HomeRegion     string             `json:"home_region"`
	SlaTier        string             `json:"sla_tier"`
}

type Tenant struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Plan   Plan   `json:"plan"`
}

type APIKeyCreated struct {
	KeyID   string   `json:"key_id"`
	APIKey  string   `json:"api_key"`
	Name    string   `json:"name"`
	Project *string  `json:"project"`
	Scopes  []string `json:"scopes"`
}

type TenantCreated struct {
	Tenant   Tenant        `json:"tenant"`
	AdminKey APIKeyCreated `json:"admin_key"`
}

type Project struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Tenant       string  `json:"tenant"`
	Region       string  `json:"region"`
	Status       string  `json:"status"`
	LastError    *string `json:"last_error"`
	DataPlaneURL string  `json:"data_plane_url"`
	// Standbys are the regions besides Region that hold copies of the project.
	Standbys []string `json:"standbys"`
	// MetadataScope is the project's name in its region's data plane.
	MetadataScope string `json:"metadata_scope"`
}

type Member struct {
	Email  string `json:"email"`
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

type APIKey struct {
	KeyID     string   `json:"key_id"`
	Name      string   `json:"name"`
	Project   *string  `json:"project"`
	Scopes    []string `json:"scopes"`
	RevokedAt *string  `json:"revoked_at"`
}

// The data plane's bodies (data_plane/api/schemas.py).

type Feature struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
}

type FeatureGroup struct {
	ID                  string            `json:"id"`
	Name                string            `json:"name"`
	Version             int64             `json:"version"`
	Description         string            `json:"description"`
	PrimaryKey          []string          `json:"primary_key"`
	EventTime           *string           `json:"event_time"`
	OnlineEnabled       bool              `json:"online_enabled"`
	TTLSeconds          *float64          `json:"ttl_seconds"`
	Features            []Feature         `json:"features"`
	FeatureDescriptions map[string]string `json:"feature_descriptions"`
}

type FeatureView struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Version int64    `json:"version"`
	Labels  []string `json:"labels"`
}

type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}
