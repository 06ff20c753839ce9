package granary

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                = &memberResource{}
	_ resource.ResourceWithImportState = &memberResource{}
)

// NewMemberResource is granary_member: a user of the tenant holding a role in a project.
func NewMemberResource() resource.Resource { return &memberResource{} }

type memberResource struct{ clientHolder }

type memberModel struct {
	ID      types.String `tfsdk:"id"`
	Project types.String `tfsdk:"project"`
	Email   types.String `tfsdk:"email"`
	Role    types.String `tfsdk:"role"`
	UserID  types.String `tfsdk:"user_id"`
}

func (r *memberResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_member"
}

func (r *memberResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A user of the tenant (who joined by invitation) and their role in one project. " +
			"A project keeps at least one owner: the service refuses to take the last one's role away.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "`PROJECT/EMAIL`, also the import id."},
			"project": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Validators: []validator.String{nameValidator{}}, MarkdownDescription: "The project's name."},
			"email": schema.StringAttribute{Required: true, PlanModifiers: replace,
				MarkdownDescription: "The user's email (lowercase)."},
			"role": schema.StringAttribute{Required: true,
				Validators:          []validator.String{oneOf{"owner", "data_owner", "data_scientist", "viewer"}},
				MarkdownDescription: "`owner`, `data_owner`, `data_scientist` or `viewer`; changed in place."},
			"user_id": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The user's id."},
		},
	}
}

func memberPath(project, email string) string {
	return projectPath(project) + "/members/" + esc(email)
}

// put adds the member or changes their role (the API's PUT does both).
func (r *memberResource) put(ctx context.Context, plan *memberModel) error {
	var member Member
	path := memberPath(plan.Project.ValueString(), plan.Email.ValueString())
	if err := r.client.do(ctx, asTenant, http.MethodPut, path, map[string]any{"role": plan.Role.ValueString()}, &member); err != nil {
		return err
	}
	plan.ID = types.StringValue(plan.Project.ValueString() + "/" + member.Email)
	plan.UserID = types.StringValue(member.UserID)
	return nil
}

func (r *memberResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan memberModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.put(ctx, &plan); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("adding %q to project %q", plan.Email.ValueString(), plan.Project.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *memberResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state memberModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var members []Member
	err := r.client.do(ctx, asTenant, http.MethodGet, projectPath(state.Project.ValueString())+"/members", nil, &members)
	if IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("reading the members of project %q", state.Project.ValueString()), err)
		return
	}
	for _, m := range members {
		if m.Email == strings.ToLower(state.Email.ValueString()) {
			state.Role = types.StringValue(m.Role)
			state.UserID = types.StringValue(m.UserID)
			state.ID = types.StringValue(state.Project.ValueString() + "/" + m.Email)
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			return
		}
	}
	resp.State.RemoveResource(ctx) // removed out of band
}

func (r *memberResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan memberModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.put(ctx, &plan); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("changing the role of %q in project %q", plan.Email.ValueString(), plan.Project.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *memberResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state memberModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.do(ctx, asTenant, http.MethodDelete, memberPath(state.Project.ValueString(), state.Email.ValueString()), nil, nil)
	if err != nil && !IsNotFound(err) {
		apiError(&resp.Diagnostics, fmt.Sprintf("removing %q from project %q", state.Email.ValueString(), state.Project.ValueString()), err)
	}
}

// ImportState takes `PROJECT/EMAIL`.
func (r *memberResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	project, email, ok := strings.Cut(req.ID, "/")
	if !ok || project == "" || email == "" {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q: expected PROJECT/EMAIL, e.g. fraud/ana@example.com", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), project)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("email"), email)...)
}
