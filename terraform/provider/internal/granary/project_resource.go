package granary

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                = &projectResource{}
	_ resource.ResourceWithImportState = &projectResource{}
)

// NewProjectResource is granary_project: a project of the api_key's tenant, placed in a region
// with its standbys.
func NewProjectResource() resource.Resource { return &projectResource{} }

type projectResource struct{ clientHolder }

type projectModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Region       types.String `tfsdk:"region"`
	Tenant       types.String `tfsdk:"tenant"`
	Status       types.String `tfsdk:"status"`
	DataPlaneURL types.String `tfsdk:"data_plane_url"`
	Standbys     types.Set    `tfsdk:"standbys"`
}

func (m *projectModel) fromProject(ctx context.Context, p Project, diags *diag.Diagnostics) {
	m.Standbys = stringSet(ctx, p.Standbys, diags)
	m.ID = types.StringValue(p.ID)
	m.Name = types.StringValue(p.Name)
	m.Region = types.StringValue(p.Region)
	m.Tenant = types.StringValue(p.Tenant)
	m.Status = types.StringValue(p.Status)
	m.DataPlaneURL = types.StringValue(p.DataPlaneURL)
}

func (r *projectResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func projectAttributes() map[string]schema.Attribute {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The project's id."},
		"name": schema.StringAttribute{Required: true, Validators: []validator.String{nameValidator{}},
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			MarkdownDescription: "The project's name in its tenant; changing it replaces the project."},
		"region": schema.StringAttribute{Optional: true, Computed: true,
			PlanModifiers: []planmodifier.String{
				stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
			MarkdownDescription: "The region the project is placed in, one of the tenant's `allowed_regions` " +
				"(default: the tenant's home region). A project does not move: changing it replaces the project."},
		"tenant": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The tenant's name."},
		"status": schema.StringAttribute{Computed: true, PlanModifiers: keep,
			MarkdownDescription: "`ready` once applied (the provider waits for the region)."},
		"data_plane_url": schema.StringAttribute{Computed: true, PlanModifiers: keep,
			MarkdownDescription: "The data plane of the project's region, where the SDK is sent."},
		"standbys": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
			PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "Regions besides `region` that hold copies of the project (each one the " +
				"region replicates to, among the tenant's `allowed_regions`); changed in place. A move of " +
				"the tenant goes to one of them, and destroying the project removes the copies there too. " +
				"A move makes the old home a standby: after one, set `region` and `standbys` to what " +
				"`tofu plan` shows the control plane holds."},
	}
}

func (r *projectResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A project of the provider's tenant (`api_key`), placed in one region. " +
			"Apply waits until the region has made it; destroy waits until the region has removed all its data.",
		Attributes: projectAttributes(),
	}
}

func projectPath(name string) string { return "/v1/projects/" + esc(name) }

func (r *projectResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan projectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	body := map[string]any{"name": name}
	if !plan.Region.IsUnknown() && !plan.Region.IsNull() {
		body["region"] = plan.Region.ValueString()
	}
	if standbys, ok := plannedStandbys(ctx, plan, &resp.Diagnostics); ok {
		body["standbys"] = standbys
	}
	if resp.Diagnostics.HasError() {
		return
	}
	var project Project
	if err := r.client.do(ctx, asTenant, http.MethodPost, "/v1/projects", body, &project); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("creating project %q", name), err)
		return
	}
	// Saved before waiting, so a region that fails leaves it in the state to destroy.
	plan.fromProject(ctx, project, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	err := r.client.poll(ctx, fmt.Sprintf("project %q in region %q", name, project.Region), func() (bool, error) {
		if err := r.client.do(ctx, asTenant, http.MethodGet, projectPath(name), nil, &project); err != nil {
			return false, err
		}
		if project.Status == "failed" {
			lastError := ""
			if project.LastError != nil {
				lastError = *project.LastError
			}
			return false, fmt.Errorf("region %q could not provision it: %s", project.Region, lastError)
		}
		return project.Status == "ready", nil
	})
	plan.fromProject(ctx, project, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("provisioning project %q", name), err)
	}
}

func (r *projectResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state projectModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var project Project
	err := r.client.do(ctx, asTenant, http.MethodGet, projectPath(state.Name.ValueString()), nil, &project)
	gone := IsNotFound(err) || (err == nil && (project.Status == "deleting" || project.Status == "deleted"))
	if gone || (err == nil && !state.ID.IsNull() && project.ID != state.ID.ValueString()) {
		resp.State.RemoveResource(ctx) // deleted (or replaced) out of band
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("reading project %q", state.Name.ValueString()), err)
		return
	}
	state.fromProject(ctx, project, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// plannedStandbys are the configured standbys; ok is false when none are configured
// (the control plane's answer is kept).
func plannedStandbys(ctx context.Context, plan projectModel, diags *diag.Diagnostics) ([]string, bool) {
	if plan.Standbys.IsNull() || plan.Standbys.IsUnknown() {
		return nil, false
	}
	standbys := []string{}
	diags.Append(plan.Standbys.ElementsAs(ctx, &standbys, false)...)
	return standbys, true
}

// Update changes the standbys, the one attribute that does not replace the project.
func (r *projectResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan projectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	standbys, ok := plannedStandbys(ctx, plan, &resp.Diagnostics)
	if !ok || resp.Diagnostics.HasError() {
		return
	}
	var project Project
	body := map[string]any{"standbys": standbys}
	if err := r.client.do(ctx, asTenant, http.MethodPatch, projectPath(name), body, &project); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("changing the standbys of project %q", name), err)
		return
	}
	plan.fromProject(ctx, project, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *projectResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state projectModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	err := r.client.do(ctx, asTenant, http.MethodDelete, projectPath(name), nil, nil)
	if IsNotFound(err) {
		return
	}
	if err == nil {
		err = r.client.poll(ctx, fmt.Sprintf("deleting project %q", name), func() (bool, error) {
			var project Project
			err := r.client.do(ctx, asTenant, http.MethodGet, projectPath(name), nil, &project)
			if IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	}
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("deleting project %q", name), err)
	}
}

// ImportState takes the project's name: `tofu import granary_project.fraud fraud`.
func (r *projectResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
