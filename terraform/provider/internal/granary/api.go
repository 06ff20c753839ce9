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
