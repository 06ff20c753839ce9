package granary

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSource = &featureViewSchemaDataSource{}

// NewFeatureViewSchemaDataSource is data.granary_feature_view_schema: the columns a
// feature view's query returns, e.g. to declare a model's input schema elsewhere.
func NewFeatureViewSchemaDataSource() datasource.DataSource { return &featureViewSchemaDataSource{} }

type featureViewSchemaDataSource struct{ clientHolder }

type featureViewSchemaModel struct {
	Project types.String `tfsdk:"project"`
	Name    types.String `tfsdk:"name"`
	Version types.Int64  `tfsdk:"version"`
	ID      types.String `tfsdk:"id"`
	Labels  types.List   `tfsdk:"labels"`
	Columns types.List   `tfsdk:"columns"`
}

type columnModel struct {
	Name  types.String `tfsdk:"name"`
	Type  types.String `tfsdk:"type"`
	Label types.Bool   `tfsdk:"label"`
}

var columnType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "label": types.BoolType}}

func (d *featureViewSchemaDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_feature_view_schema"
}

func (d *featureViewSchemaDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The columns of a feature view (made by a training pipeline, say) and their types, " +
			"as its query returns them, labels included.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{Required: true, MarkdownDescription: "The project's name."},
			"name":    schema.StringAttribute{Required: true, MarkdownDescription: "The feature view's name."},
			"version": schema.Int64Attribute{Optional: true, Computed: true,
				MarkdownDescription: "The version; default the latest."},
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The view's id."},
			"labels": schema.ListAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The label columns (the model's targets)."},
			"columns": schema.ListNestedAttribute{Computed: true,
				MarkdownDescription: "Every column, in the query's order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":  schema.StringAttribute{Computed: true, MarkdownDescription: "The column's name."},
					"type":  schema.StringAttribute{Computed: true, MarkdownDescription: "Its SQL type (DuckDB's name), e.g. `BIGINT`, `DOUBLE`."},
					"label": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether it is a label."},
				}},
			},
		},
	}
}

func (d *featureViewSchemaDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.configure(req.ProviderData, &resp.Diagnostics)
}

func (d *featureViewSchemaDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m featureViewSchemaModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	what := "reading the schema of feature view " + strconv.Quote(m.Name.ValueString()) +
		" in project " + strconv.Quote(m.Project.ValueString())
	viewPath := "/feature-views/" + esc(m.Name.ValueString())
	if !m.Version.IsNull() && !m.Version.IsUnknown() {
		viewPath += "?version=" + strconv.FormatInt(m.Version.ValueInt64(), 10)
	}
	var view FeatureView
	var columns []Column
	dp, err := d.client.dataPlane(ctx, m.Project.ValueString())
	if err == nil {
		err = dp.do(ctx, http.MethodGet, viewPath, nil, &view)
	}
	if err == nil {
		err = dp.do(ctx, http.MethodGet, "/feature-views/"+esc(view.Name)+"/versions/"+
			strconv.FormatInt(view.Version, 10)+"/schema", nil, &columns)
	}
	if err != nil {
		apiError(&resp.Diagnostics, what, err)
		return
	}
	m.ID = types.StringValue(view.ID)
	m.Version = types.Int64Value(view.Version)
	labels, diags := types.ListValueFrom(ctx, types.StringType, view.Labels)
	resp.Diagnostics.Append(diags...)
	m.Labels = labels
	models := make([]columnModel, 0, len(columns))
	for _, c := range columns {
		models = append(models, columnModel{types.StringValue(c.Name), types.StringValue(c.Type),
			types.BoolValue(slices.Contains(view.Labels, c.Name))})
	}
	list, diags := types.ListValueFrom(ctx, columnType, models)
	resp.Diagnostics.Append(diags...)
	m.Columns = list
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
