package granary

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                = &tenantResource{}
	_ resource.ResourceWithImportState = &tenantResource{}
)

// quotaKinds lists the plan's quotas (tenancy/plans.py) and whether each is fractional.
var quotaKinds = map[string]bool{
	"projects": false, "feature_groups_per_project": false, "offline_bytes": false,
	"online_rows": false, "online_reads_per_second": true, "ingestion_rows_per_second": true,
	"model_deployments": false, "max_joins_per_query": false, "max_spec_bytes": false,
	"max_spine_bytes": false, "max_spine_rows": false, "max_request_seconds": true,
}

func quotaAttrTypes() map[string]attr.Type {
	types_ := map[string]attr.Type{}
	for name, fractional := range quotaKinds {
		if fractional {
			types_[name] = types.Float64Type
		} else {
			types_[name] = types.Int64Type
		}
	}
	return types_
}

// NewTenantResource is granary_tenant: an enterprise tenant, made with the operator API.
func NewTenantResource() resource.Resource { return &tenantResource{} }

type tenantResource struct{ clientHolder }

type tenantModel struct {
	ID             types.String `tfsdk:"id"`
	Name           types.String `tfsdk:"name"`
	AdminEmail     types.String `tfsdk:"admin_email"`
	PlanName       types.String `tfsdk:"plan_name"`
	HomeRegion     types.String `tfsdk:"home_region"`
	AllowedRegions types.Set    `tfsdk:"allowed_regions"`
	SlaTier        types.String `tfsdk:"sla_tier"`
	Quotas         types.Object `tfsdk:"quotas"`
	Suspended      types.Bool   `tfsdk:"suspended"`
	AdminKeyID     types.String `tfsdk:"admin_key_id"`
	AdminKey       types.String `tfsdk:"admin_key"`
}

func (r *tenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (r *tenantResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	quotaAttrs := map[string]schema.Attribute{}
	for name, fractional := range quotaKinds {
		desc := fmt.Sprintf("Quota `%s` (tenancy/plans.py); unset keeps the service's value.", name)
		if fractional {
			quotaAttrs[name] = schema.Float64Attribute{Optional: true, Computed: true, MarkdownDescription: desc,
				PlanModifiers: []planmodifier.Float64{float64planmodifier.UseStateForUnknown()}}
		} else {
			quotaAttrs[name] = schema.Int64Attribute{Optional: true, Computed: true, MarkdownDescription: desc,
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}}
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An enterprise tenant and its plan, made with the operator API " +
			"(the provider's `admin_token`). Deleting it deletes every project of it from its region.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The tenant's id."},
			"name": schema.StringAttribute{Required: true,
				Validators:          []validator.String{nameValidator{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "The tenant's name; changing it replaces the tenant."},
			"admin_email": schema.StringAttribute{Required: true,
				PlanModifiers:       []planmodifier.String{requiresReplaceUnlessImported()},
				MarkdownDescription: "The email of the tenant's first admin, made with the tenant; changing it replaces the tenant."},
			"plan_name": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The plan's name (default `enterprise`)."},
			"home_region": schema.StringAttribute{Required: true,
				MarkdownDescription: "Where the tenant's new projects are placed unless they name a region."},
			"allowed_regions": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Regions the tenant may use."},
			"sla_tier": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: keep,
				Validators:          []validator.String{oneOf{"none", "standard", "premium"}},
				MarkdownDescription: "`none`, `standard` (default) or `premium`."},
			"quotas": schema.SingleNestedAttribute{Optional: true, Computed: true, Attributes: quotaAttrs,
				PlanModifiers:       []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The plan's quotas; only those given are managed."},
			"suspended": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "A suspended tenant's keys are refused; nothing is deleted."},
			"admin_key_id": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The id of the first admin's API key."},
			"admin_key": schema.StringAttribute{Computed: true, Sensitive: true, PlanModifiers: keep,
				MarkdownDescription: "The first admin's API key (scope `*`): shown by the service once, kept in the state only (null after an import)."},
		},
	}
}

// requiresReplaceUnlessImported replaces the tenant when admin_email changes, but not
// when the state has none (an imported tenant: the service does not show it).
func requiresReplaceUnlessImported() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(
		func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
			resp.RequiresReplace = !req.StateValue.IsNull()
		},
		"Replaces the tenant when changed, unless it was imported.",
		"Replaces the tenant when changed, unless it was imported.",
	)
}

// configuredQuotas returns the quotas given in the configuration (the only ones sent).
func configuredQuotas(obj types.Object) map[string]float64 {
	out := map[string]float64{}
	if obj.IsNull() || obj.IsUnknown() {
		return out
	}
	for name, value := range obj.Attributes() {
		switch v := value.(type) {
		case types.Int64:
			if !v.IsNull() && !v.IsUnknown() {
				out[name] = float64(v.ValueInt64())
			}
		case types.Float64:
			if !v.IsNull() && !v.IsUnknown() {
				out[name] = v.ValueFloat64()
			}
		}
	}
	return out
}

func quotasObject(quotas map[string]float64, diags *diag.Diagnostics) types.Object {
	values := map[string]attr.Value{}
	for name, fractional := range quotaKinds {
		if fractional {
			values[name] = types.Float64Value(quotas[name])
		} else {
			values[name] = types.Int64Value(int64(quotas[name]))
		}
	}
	obj, d := types.ObjectValue(quotaAttrTypes(), values)
	diags.Append(d...)
	return obj
}

// fromTenant copies what the service says into the model (drift shows in the next plan).
func (m *tenantModel) fromTenant(ctx context.Context, t Tenant, diags *diag.Diagnostics) {
	m.ID = types.StringValue(t.ID)
	m.Name = types.StringValue(t.Name)
	m.PlanName = types.StringValue(t.Plan.Name)
	m.HomeRegion = types.StringValue(t.Plan.HomeRegion)
	m.AllowedRegions = stringSet(ctx, t.Plan.AllowedRegions, diags)
	m.SlaTier = types.StringValue(t.Plan.SlaTier)
	m.Quotas = quotasObject(t.Plan.Quotas, diags)
	m.Suspended = types.BoolValue(t.Status == "suspended")
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, cfg tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := map[string]any{
		"name":        plan.Name.ValueString(),
		"admin_email": plan.AdminEmail.ValueString(),
		"plan":        r.planBody(ctx, cfg, &resp.Diagnostics),
	}
	var created TenantCreated
	if err := r.client.do(ctx, asAdmin, http.MethodPost, "/v1/admin/tenants", body, &created); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("creating tenant %q", plan.Name.ValueString()), err)
		return
	}
	tenant := created.Tenant
	if plan.Suspended.ValueBool() {
		if err := r.setSuspended(ctx, tenant.Name, true, &tenant); err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("suspending tenant %q", tenant.Name), err)
		}
	}
	plan.fromTenant(ctx, tenant, &resp.Diagnostics)
	plan.AdminKeyID = types.StringValue(created.AdminKey.KeyID)
	plan.AdminKey = types.StringValue(created.AdminKey.APIKey)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// planBody is the plan as configured: unset fields are left to the service's defaults.
func (r *tenantResource) planBody(ctx context.Context, cfg tenantModel, diags *diag.Diagnostics) map[string]any {
	body := map[string]any{"home_region": cfg.HomeRegion.ValueString(), "quotas": configuredQuotas(cfg.Quotas)}
	if !cfg.PlanName.IsNull() {
		body["name"] = cfg.PlanName.ValueString()
	}
	if !cfg.SlaTier.IsNull() {
		body["sla_tier"] = cfg.SlaTier.ValueString()
	}
	if !cfg.AllowedRegions.IsNull() {
		var regions []string
		diags.Append(cfg.AllowedRegions.ElementsAs(ctx, &regions, false)...)
		body["allowed_regions"] = regions
	}
	return body
}

func (r *tenantResource) setSuspended(ctx context.Context, name string, suspended bool, out *Tenant) error {
	action := "resume"
	if suspended {
		action = "suspend"
	}
	return r.client.do(ctx, asAdmin, http.MethodPost, "/v1/admin/tenants/"+esc(name)+"/"+action, nil, out)
}

func (r *tenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var tenant Tenant
	err := r.client.do(ctx, asAdmin, http.MethodGet, "/v1/admin/tenants/"+esc(state.Name.ValueString()), nil, &tenant)
	if IsNotFound(err) {
		resp.State.RemoveResource(ctx) // deleted out of band: the plan makes it again
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("reading tenant %q", state.Name.ValueString()), err)
		return
	}
	if !state.ID.IsNull() && state.ID.ValueString() != tenant.ID {
		resp.State.RemoveResource(ctx) // deleted and made again out of band: not ours
		return
	}
	state.fromTenant(ctx, tenant, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *tenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, cfg, state tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	patch := r.planBody(ctx, cfg, &resp.Diagnostics)
	if planName, ok := patch["name"]; ok {
		delete(patch, "name")
		patch["plan_name"] = planName
	}
	var tenant Tenant
	if err := r.client.do(ctx, asAdmin, http.MethodPatch, "/v1/admin/tenants/"+esc(name), patch, &tenant); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("updating tenant %q", name), err)
		return
	}
	if plan.Suspended.ValueBool() != (tenant.Status == "suspended") {
		if err := r.setSuspended(ctx, name, plan.Suspended.ValueBool(), &tenant); err != nil {
			apiError(&resp.Diagnostics, fmt.Sprintf("changing whether tenant %q is suspended", name), err)
			return
		}
	}
	plan.fromTenant(ctx, tenant, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *tenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.do(ctx, asAdmin, http.MethodDelete, "/v1/admin/tenants/"+esc(state.Name.ValueString()), nil, nil)
	if err != nil && !IsNotFound(err) {
		apiError(&resp.Diagnostics, fmt.Sprintf("deleting tenant %q", state.Name.ValueString()), err)
	}
}

// ImportState takes the tenant's name: `tofu import granary_tenant.acme acme`.
func (r *tenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
