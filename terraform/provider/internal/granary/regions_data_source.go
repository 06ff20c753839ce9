package granary

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSource = &regionsDataSource{}

// NewRegionsDataSource is data.granary_regions: where the provider's tenant may place projects.
func NewRegionsDataSource() datasource.DataSource { return &regionsDataSource{} }

type regionsDataSource struct{ clientHolder }

type regionsModel struct {
	Tenant  types.String `tfsdk:"tenant"`
	Home    types.String `tfsdk:"home_region"`
	Allowed types.Set    `tfsdk:"allowed_regions"`
}

func (d *regionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_regions"
}

func (d *regionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The regions the provider's tenant (`api_key`) may place projects in, from its plan.",
		Attributes: map[string]schema.Attribute{
			"tenant":      schema.StringAttribute{Computed: true, MarkdownDescription: "The tenant's name."},
			"home_region": schema.StringAttribute{Computed: true, MarkdownDescription: "Where projects go unless they name a region."},
			"allowed_regions": schema.SetAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Every region a project of the tenant may be placed in."},
		},
	}
}

func (d *regionsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.configure(req.ProviderData, &resp.Diagnostics)
}

func (d *regionsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	var tenant Tenant
	if err := d.client.do(ctx, asTenant, http.MethodGet, "/v1/tenant", nil, &tenant); err != nil {
		apiError(&resp.Diagnostics, "reading the tenant's regions", err)
		return
	}
	m := regionsModel{
		Tenant:  types.StringValue(tenant.Name),
		Home:    types.StringValue(tenant.Plan.HomeRegion),
		Allowed: stringSet(ctx, tenant.Plan.AllowedRegions, &resp.Diagnostics),
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
