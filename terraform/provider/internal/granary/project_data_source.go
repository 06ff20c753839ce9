package granary

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSource = &projectDataSource{}

// NewProjectDataSource is data.granary_project: a project made elsewhere, by name.
func NewProjectDataSource() datasource.DataSource { return &projectDataSource{} }

type projectDataSource struct{ clientHolder }

func (d *projectDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (d *projectDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A project of the provider's tenant, by name: its id, region, standbys and data plane.",
		Attributes: map[string]schema.Attribute{
			"name":           schema.StringAttribute{Required: true, MarkdownDescription: "The project's name."},
			"id":             schema.StringAttribute{Computed: true, MarkdownDescription: "The project's id."},
			"region":         schema.StringAttribute{Computed: true, MarkdownDescription: "Its region."},
			"tenant":         schema.StringAttribute{Computed: true, MarkdownDescription: "Its tenant."},
			"status":         schema.StringAttribute{Computed: true, MarkdownDescription: "Its status."},
			"data_plane_url": schema.StringAttribute{Computed: true, MarkdownDescription: "Its region's data plane."},
			"standbys": schema.SetAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The regions besides its region that hold copies of it."},
		},
	}
}

func (d *projectDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.configure(req.ProviderData, &resp.Diagnostics)
}

func (d *projectDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m projectModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var project Project
	if err := d.client.do(ctx, asTenant, http.MethodGet, projectPath(m.Name.ValueString()), nil, &project); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("reading project %q", m.Name.ValueString()), err)
		return
	}
	m.fromProject(ctx, project, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
