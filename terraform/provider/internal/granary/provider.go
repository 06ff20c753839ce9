// Package granary is the Terraform provider of Granary: tenants (the control plane's
// operator API), a tenant's projects, members and API keys, and the feature groups of a
// project (its region's data plane).
package granary

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ provider.Provider = &granaryProvider{}

type granaryProvider struct{ version string }

type providerModel struct {
	Host           types.String `tfsdk:"host"`
	AdminToken     types.String `tfsdk:"admin_token"`
	APIKey         types.String `tfsdk:"api_key"`
	TimeoutSeconds types.Int64  `tfsdk:"timeout_seconds"`
}

// New returns the provider factory that providerserver.Serve wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &granaryProvider{version: version} }
}

func (p *granaryProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "granary"
	resp.Version = p.version
}

func (p *granaryProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Granary as code: tenants, projects, members and API keys (the control plane), " +
			"and the feature groups of a project (its region's data plane, found through the control plane).",
		Attributes: map[string]schema.Attribute{
			"host": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The control plane's URL, e.g. `https://cp.example.com`. Default: `GRANARY_HOST`.",
			},
			"admin_token": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "The operator token (`GRANARY_CP_ADMIN_TOKEN` of the service), needed by `granary_tenant`. Default: `GRANARY_ADMIN_TOKEN`.",
			},
			"api_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "A tenant admin's API key (scope `*`, bound to no project), needed by projects, members and keys. Default: `GRANARY_API_KEY`.",
			},
			"timeout_seconds": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "How long to wait for a region to provision or delete a project. Default: 300.",
			},
		},
	}
}

// Configure builds the client. A value that is not known yet (an api_key taken from a
// granary_tenant created in the same run) is left empty: planning new resources needs no
// call, and Terraform configures the provider again with the value before applying.
func (p *granaryProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client := &Client{
		Host:         strings.TrimRight(orEnv(cfg.Host, "GRANARY_HOST"), "/"),
		AdminToken:   orEnv(cfg.AdminToken, "GRANARY_ADMIN_TOKEN"),
		APIKey:       orEnv(cfg.APIKey, "GRANARY_API_KEY"),
		HTTP:         &http.Client{Timeout: 60 * time.Second},
		PollInterval: 200 * time.Millisecond,
		Timeout:      300 * time.Second,
	}
	if !cfg.TimeoutSeconds.IsNull() && !cfg.TimeoutSeconds.IsUnknown() {
		client.Timeout = time.Duration(cfg.TimeoutSeconds.ValueInt64()) * time.Second
	}
	resp.ResourceData = client
	resp.DataSourceData = client
}

// orEnv is the attribute, else the environment variable; unknown is empty (see Configure).
func orEnv(v types.String, env string) string {
	if v.IsUnknown() {
		return ""
	}
	if v.IsNull() {
		return os.Getenv(env)
	}
	return v.ValueString()
}

func (p *granaryProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewTenantResource, NewProjectResource, NewMemberResource, NewAPIKeyResource, NewFeatureGroupResource}
}

func (p *granaryProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewProjectDataSource, NewRegionsDataSource, NewFeatureViewSchemaDataSource}
}
