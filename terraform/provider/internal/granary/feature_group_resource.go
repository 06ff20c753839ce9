package granary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                   = &featureGroupResource{}
	_ resource.ResourceWithImportState    = &featureGroupResource{}
	_ resource.ResourceWithModifyPlan     = &featureGroupResource{}
	_ resource.ResourceWithValidateConfig = &featureGroupResource{}
)

// NewFeatureGroupResource is granary_feature_group: one version of a feature group, made
// in its project's data plane with its schema declared.
func NewFeatureGroupResource() resource.Resource { return &featureGroupResource{} }

type featureGroupResource struct{ clientHolder }

type featureGroupModel struct {
	ID          types.String  `tfsdk:"id"`
	Project     types.String  `tfsdk:"project"`
	Name        types.String  `tfsdk:"name"`
	Version     types.Int64   `tfsdk:"version"`
	PrimaryKey  types.List    `tfsdk:"primary_key"`
	EventTime   types.String  `tfsdk:"event_time"`
	Online      types.Bool    `tfsdk:"online"`
	TTLSeconds  types.Float64 `tfsdk:"ttl_seconds"`
	Description types.String  `tfsdk:"description"`
	Features    types.List    `tfsdk:"features"`
}

type featureModel struct {
	Name        types.String `tfsdk:"name"`
	Type        types.String `tfsdk:"type"`
	Description types.String `tfsdk:"description"`
}

var featureType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "description": types.StringType}}

func (r *featureGroupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_feature_group"
}

func (r *featureGroupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One version of a feature group in a project's data plane, with its schema declared " +
			"(inserts are checked against it). A version's schema is fixed: a change of `features`, `primary_key` " +
			"or `event_time` is refused by `plan` unless `version` changes too, which replaces the group " +
			"(a new version, made empty; the old one is deleted with its data). Descriptions change in place.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The group's id (UUIDv7, the same in every region)."},
			"project": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Validators:          []validator.String{nameValidator{}},
				MarkdownDescription: "The project's name; changing it replaces the group."},
			"name": schema.StringAttribute{Required: true, PlanModifiers: replace,
				MarkdownDescription: "Letters, digits and `_`; changing it replaces the group."},
			"version": schema.Int64Attribute{Required: true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
				MarkdownDescription: "The version (1 or more); changing it replaces the group with a new, empty version."},
			"primary_key": schema.ListAttribute{ElementType: types.StringType, Required: true,
				MarkdownDescription: "Features that key a row (looked up online). Fixed for a version."},
			"event_time": schema.StringAttribute{Optional: true,
				MarkdownDescription: "The feature holding each row's time (a timestamp or date), for point-in-time " +
					"joins and ttl. Fixed for a version."},
			"online": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
				MarkdownDescription: "Serve the newest row per key online. The store cannot change it: changing it replaces the group."},
			"ttl_seconds": schema.Float64Attribute{Optional: true,
				PlanModifiers: []planmodifier.Float64{float64planmodifier.RequiresReplace()},
				MarkdownDescription: "Rows older than this (by `event_time`, relative to the reading moment) are " +
					"neither served online nor joined. The store cannot change it: changing it replaces the group."},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "Changed in place."},
			"features": schema.ListNestedAttribute{Required: true,
				MarkdownDescription: "The schema, in order. Fixed for a version. An insert may still add a column: " +
					"the next plan then refuses until it is declared here.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true, Validators: []validator.String{lowerCaseValidator{}},
						MarkdownDescription: "Lower case."},
					"type": schema.StringAttribute{Required: true, Validators: []validator.String{storedTypeValidator{}},
						MarkdownDescription: "The stored type: " + storedTypes + "."},
					"description": schema.StringAttribute{Optional: true, Computed: true,
						Default: stringdefault.StaticString(""), MarkdownDescription: "Changed in place."},
				}},
			},
		},
	}
}

// ValidateConfig refuses at plan time what the data plane would refuse at apply time.
func (r *featureGroupResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg featureGroupModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !cfg.Name.IsUnknown() && !cfg.Name.IsNull() && !groupNamePattern.MatchString(cfg.Name.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Invalid feature group name",
			fmt.Sprintf("%q: use 1 to 256 letters, digits and underscores", cfg.Name.ValueString()))
	}
	if !cfg.Version.IsUnknown() && !cfg.Version.IsNull() && (cfg.Version.ValueInt64() < 1 || cfg.Version.ValueInt64() > 1<<31-1) {
		resp.Diagnostics.AddAttributeError(path.Root("version"), "Invalid version",
			fmt.Sprintf("%d: a version is 1 to 2147483647", cfg.Version.ValueInt64()))
	}
	if ttl := cfg.TTLSeconds; !ttl.IsUnknown() && !ttl.IsNull() && !(ttl.ValueFloat64() > 0 && ttl.ValueFloat64() <= maxTTLSeconds) {
		resp.Diagnostics.AddAttributeError(path.Root("ttl_seconds"), "Invalid ttl_seconds",
			fmt.Sprintf("%v: ttl_seconds is positive and at most %d (10,000 years)", ttl.ValueFloat64(), maxTTLSeconds))
	}
	features, known := cfg.features(ctx, &resp.Diagnostics)
	primaryKey, pkKnown := cfg.primaryKey(ctx, &resp.Diagnostics)
	if !known || !pkKnown || cfg.EventTime.IsUnknown() {
		return
	}
	typeOf := map[string]string{}
	for i, f := range features {
		if _, twice := typeOf[f.Name]; twice {
			resp.Diagnostics.AddAttributeError(path.Root("features").AtListIndex(i).AtName("name"),
				"Repeated feature", fmt.Sprintf("feature %q appears more than once", f.Name))
		}
		typeOf[f.Name] = f.Type
	}
	if len(primaryKey) == 0 {
		resp.Diagnostics.AddAttributeError(path.Root("primary_key"), "Empty primary key", "name at least one feature")
	}
	for i, k := range primaryKey {
		if _, ok := typeOf[k]; !ok {
			resp.Diagnostics.AddAttributeError(path.Root("primary_key").AtListIndex(i), "Unknown key column",
				fmt.Sprintf("primary key %q is not among the features", k))
		}
	}
	if eventTime := cfg.EventTime.ValueString(); !cfg.EventTime.IsNull() {
		typ, ok := typeOf[eventTime]
		switch {
		case !ok:
			resp.Diagnostics.AddAttributeError(path.Root("event_time"), "Unknown event time column",
				fmt.Sprintf("event time %q is not among the features", eventTime))
		case slices.Contains(primaryKey, eventTime):
			resp.Diagnostics.AddAttributeError(path.Root("event_time"), "Event time in the primary key",
				fmt.Sprintf("event time %q cannot be a primary key", eventTime))
		case typ != "timestamp[us, tz=UTC]" && typ != "date32[day]":
			resp.Diagnostics.AddAttributeError(path.Root("event_time"), "Event time of the wrong type",
				fmt.Sprintf("event time %q is %s: it must be timestamp[us, tz=UTC] or date32[day]", eventTime, typ))
		}
	}
}

// ModifyPlan refuses a change of an existing version's schema: the store keeps it fixed
// (inserts may add columns, nothing else), so only a new version may change it.
func (r *featureGroupResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return // create or destroy
	}
	var state, plan featureGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Project.Equal(state.Project) || !plan.Name.Equal(state.Name) || !plan.Version.Equal(state.Version) {
		return // a replacement: a new group, any schema
	}
	refuse := func(attribute, change string) {
		resp.Diagnostics.AddAttributeError(path.Root(attribute), "Granary: a version's schema is fixed",
			fmt.Sprintf("%s exists, and the store cannot change its %s (%s). Change `version` too to make "+
				"a new version (the plan then replaces this one, deleting its data), or keep %s as stored.",
				state.where(), attribute, change, attribute))
	}
	stored, _ := state.features(ctx, &resp.Diagnostics)
	declared, known := plan.features(ctx, &resp.Diagnostics)
	if change := schemaChange(stored, declared); known && change != "" {
		refuse("features", change)
	}
	storedKey, _ := state.primaryKey(ctx, &resp.Diagnostics)
	if key, known := plan.primaryKey(ctx, &resp.Diagnostics); known && !slices.Equal(storedKey, key) {
		refuse("primary_key", fmt.Sprintf("%q -> %q", storedKey, key))
	}
	if !plan.EventTime.IsUnknown() && !plan.EventTime.Equal(state.EventTime) {
		refuse("event_time", fmt.Sprintf("%s -> %s", state.EventTime, plan.EventTime))
	}
}

// features is the list of features (false when not known yet); descriptions ride along.
func (m *featureGroupModel) features(ctx context.Context, diags *diag.Diagnostics) ([]Feature, bool) {
	if m.Features.IsUnknown() || m.Features.IsNull() {
		return nil, false
	}
	var models []featureModel
	diags.Append(m.Features.ElementsAs(ctx, &models, false)...)
	features := make([]Feature, 0, len(models))
	for _, f := range models {
		if f.Name.IsUnknown() || f.Type.IsUnknown() {
			return nil, false
		}
		features = append(features, Feature{Name: f.Name.ValueString(), Type: f.Type.ValueString(),
			Description: f.Description.ValueString()})
	}
	return features, true
}

func (m *featureGroupModel) primaryKey(ctx context.Context, diags *diag.Diagnostics) ([]string, bool) {
	if m.PrimaryKey.IsUnknown() || m.PrimaryKey.IsNull() {
		return nil, false
	}
	var key []types.String
	diags.Append(m.PrimaryKey.ElementsAs(ctx, &key, false)...)
	out := make([]string, 0, len(key))
	for _, k := range key {
		if k.IsUnknown() {
			return nil, false
		}
		out = append(out, k.ValueString())
	}
	return out, true
}

// fromGroup sets the model from what the data plane holds.
func (m *featureGroupModel) fromGroup(ctx context.Context, project string, g FeatureGroup, diags *diag.Diagnostics) {
	m.ID = types.StringValue(g.ID)
	m.Project = types.StringValue(project)
	m.Name = types.StringValue(g.Name)
	m.Version = types.Int64Value(g.Version)
	key, d := types.ListValueFrom(ctx, types.StringType, g.PrimaryKey)
	diags.Append(d...)
	m.PrimaryKey = key
	m.EventTime = optionalString(g.EventTime)
	m.Online = types.BoolValue(g.OnlineEnabled)
	m.TTLSeconds = types.Float64PointerValue(g.TTLSeconds)
	m.Description = types.StringValue(g.Description)
	features := make([]featureModel, 0, len(g.Features))
	for _, f := range g.Features {
		features = append(features, featureModel{types.StringValue(f.Name), types.StringValue(f.Type),
			types.StringValue(f.Description)})
	}
	list, d := types.ListValueFrom(ctx, featureType, features)
	diags.Append(d...)
	m.Features = list
}

// descriptions is the feature_descriptions body: the features that have one.
func descriptions(features []Feature) map[string]string {
	out := map[string]string{}
	for _, f := range features {
		if f.Description != "" {
			out[f.Name] = f.Description
		}
	}
	return out
}

func groupPath(name string, version int64) string {
	return "/feature-groups/" + esc(name) + "/versions/" + strconv.FormatInt(version, 10)
}

func (m *featureGroupModel) where() string {
	return fmt.Sprintf("feature group %q v%d in project %q", m.Name.ValueString(), m.Version.ValueInt64(), m.Project.ValueString())
}

func (r *featureGroupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan featureGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	features, _ := plan.features(ctx, &resp.Diagnostics)
	primaryKey, _ := plan.primaryKey(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	declared := make([]map[string]string, 0, len(features))
	for _, f := range features {
		declared = append(declared, map[string]string{"name": f.Name, "type": f.Type})
	}
	body := map[string]any{
		"name":                 plan.Name.ValueString(),
		"version":              plan.Version.ValueInt64(),
		"primary_key":          primaryKey,
		"event_time":           plan.EventTime.ValueStringPointer(),
		"online_enabled":       plan.Online.ValueBool(),
		"ttl_seconds":          plan.TTLSeconds.ValueFloat64Pointer(),
		"description":          plan.Description.ValueString(),
		"features":             declared,
		"feature_descriptions": descriptions(features),
	}
	dp, err := r.client.dataPlane(ctx, plan.Project.ValueString())
	var group FeatureGroup
	if err == nil {
		err = dp.do(ctx, http.MethodPost, "/feature-groups", body, &group)
	}
	if err != nil {
		apiError(&resp.Diagnostics, "creating "+plan.where(), err)
		return
	}
	plan.fromGroup(ctx, plan.Project.ValueString(), group, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// read is the group as stored, or nil when it (or its project) is gone.
func (r *featureGroupResource) read(ctx context.Context, m *featureGroupModel) (*FeatureGroup, error) {
	dp, err := r.client.dataPlane(ctx, m.Project.ValueString())
	if IsNotFound(err) || errors.Is(err, errProjectGone) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var group FeatureGroup
	path := "/feature-groups/" + esc(m.Name.ValueString()) + "?version=" + strconv.FormatInt(m.Version.ValueInt64(), 10)
	err = dp.do(ctx, http.MethodGet, path, nil, &group)
	if IsNotFound(err) {
		return nil, nil
	}
	return &group, err
}

func (r *featureGroupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state featureGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	group, err := r.read(ctx, &state)
	if err != nil {
		apiError(&resp.Diagnostics, "reading "+state.where(), err)
		return
	}
	if group == nil || (!state.ID.IsNull() && group.ID != state.ID.ValueString()) {
		resp.State.RemoveResource(ctx) // deleted (or made again) out of band
		return
	}
	state.fromGroup(ctx, state.Project.ValueString(), *group, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes descriptions, the only changes ModifyPlan and the replacing attributes leave.
func (r *featureGroupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan featureGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	features, _ := plan.features(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	body := map[string]any{"description": plan.Description.ValueString(), "feature_descriptions": descriptions(features)}
	dp, err := r.client.dataPlane(ctx, plan.Project.ValueString())
	var group FeatureGroup
	if err == nil {
		err = dp.do(ctx, http.MethodPatch, groupPath(plan.Name.ValueString(), plan.Version.ValueInt64()), body, &group)
	}
	if err != nil {
		apiError(&resp.Diagnostics, "updating "+plan.where(), err)
		return
	}
	plan.fromGroup(ctx, plan.Project.ValueString(), group, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *featureGroupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state featureGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dp, err := r.client.dataPlane(ctx, state.Project.ValueString())
	if IsNotFound(err) || errors.Is(err, errProjectGone) {
		return // the project went, and its groups with it
	}
	if err == nil {
		err = dp.do(ctx, http.MethodDelete, groupPath(state.Name.ValueString(), state.Version.ValueInt64()), nil, nil)
	}
	if err != nil && !IsNotFound(err) {
		apiError(&resp.Diagnostics, "deleting "+state.where(), err)
	}
}

// ImportState takes `PROJECT/NAME/VERSION`.
func (r *featureGroupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts := strings.Split(req.ID, "/")
	version, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || err != nil {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("%q: expected PROJECT/NAME/VERSION, e.g. fraud/transactions/1", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), parts[1])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("version"), version)...)
}
