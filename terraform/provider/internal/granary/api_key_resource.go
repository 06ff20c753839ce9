package granary

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                = &apiKeyResource{}
	_ resource.ResourceWithImportState = &apiKeyResource{}
)

// NewAPIKeyResource is granary_api_key: a key of the provider's user, e.g. for a CI pipeline.
func NewAPIKeyResource() resource.Resource { return &apiKeyResource{} }

type apiKeyResource struct{ clientHolder }

type apiKeyModel struct {
	ID      types.String `tfsdk:"id"`
	Name    types.String `tfsdk:"name"`
	Project types.String `tfsdk:"project"`
	Scopes  types.Set    `tfsdk:"scopes"`
	Secret  types.String `tfsdk:"secret"`
}

func (r *apiKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (r *apiKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An API key of the provider's user (the holder of `api_key`), never wider than it. " +
			"Keys cannot change: any change revokes it and makes a new one. Destroy revokes it at once.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The key's id (not secret), also the import id."},
			"name": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				PlanModifiers: replace, MarkdownDescription: "A label for people."},
			"project": schema.StringAttribute{Optional: true, PlanModifiers: replace,
				Validators:          []validator.String{nameValidator{}},
				MarkdownDescription: "Bind the key to this project; unset reaches all the holder's projects."},
			"scopes": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown(), setplanmodifier.RequiresReplace()},
				MarkdownDescription: "Permissions, e.g. `[\"project:read\"]`; default `[\"*\"]`, all the holder's role allows."},
			"secret": schema.StringAttribute{Computed: true, Sensitive: true, PlanModifiers: keep,
				MarkdownDescription: "The key itself: shown by the service once, kept in the state only (null after an import)."},
		},
	}
}

func (r *apiKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := map[string]any{"name": plan.Name.ValueString()}
	if !plan.Project.IsNull() {
		body["project"] = plan.Project.ValueString()
	}
	if !plan.Scopes.IsUnknown() && !plan.Scopes.IsNull() {
		var scopes []string
		resp.Diagnostics.Append(plan.Scopes.ElementsAs(ctx, &scopes, false)...)
		body["scopes"] = scopes
	}
	var created APIKeyCreated
	if err := r.client.do(ctx, asTenant, http.MethodPost, "/v1/keys", body, &created); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("creating API key %q", plan.Name.ValueString()), err)
		return
	}
	plan.ID = types.StringValue(created.KeyID)
	plan.Scopes = stringSet(ctx, created.Scopes, &resp.Diagnostics)
	plan.Secret = types.StringValue(created.APIKey)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *apiKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var keys []APIKey
	if err := r.client.do(ctx, asTenant, http.MethodGet, "/v1/keys", nil, &keys); err != nil {
		apiError(&resp.Diagnostics, "listing API keys", err)
		return
	}
	for _, k := range keys {
		if k.KeyID != state.ID.ValueString() {
			continue
		}
		if k.RevokedAt != nil {
			break // revoked out of band: the plan makes a new one
		}
		state.Name = types.StringValue(k.Name)
		state.Project = optionalString(k.Project)
		state.Scopes = stringSet(ctx, k.Scopes, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	resp.State.RemoveResource(ctx)
}

// Update never runs: every configurable attribute replaces the key.
func (r *apiKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Granary: API keys are not updated in place", "this is a bug of the provider")
}

func (r *apiKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.do(ctx, asTenant, http.MethodDelete, "/v1/keys/"+esc(state.ID.ValueString()), nil, nil)
	if err != nil && !IsNotFound(err) {
		apiError(&resp.Diagnostics, fmt.Sprintf("revoking API key %s", state.ID.ValueString()), err)
	}
}

// ImportState takes the key's id; its secret cannot be read back.
func (r *apiKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
