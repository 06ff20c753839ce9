package granary

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// clientHolder gives resources and data sources the provider's client.
type clientHolder struct{ client *Client }

func (h *clientHolder) configure(data any, diags *diag.Diagnostics) {
	if data == nil { // the provider is not configured yet (validation, early plan)
		return
	}
	client, ok := data.(*Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *granary.Client, got %T", data))
		return
	}
	h.client = client
}

func (h *clientHolder) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	h.configure(req.ProviderData, &resp.Diagnostics)
}

// apiError reports a failed call as an error diagnostic naming the resource.
func apiError(diags *diag.Diagnostics, what string, err error) {
	diags.AddError("Granary: "+what+" failed", err.Error())
}

// namePattern is the control plane's rule for tenant and project names (schemas.Name).
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,62}$`)

// nameValidator refuses at plan time a name the service would refuse at apply time.
type nameValidator struct{}

func (nameValidator) Description(context.Context) string {
	return "a lowercase letter, then 1 to 62 of a-z, 0-9, _ and -"
}

func (v nameValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v nameValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !namePattern.MatchString(req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid name",
			fmt.Sprintf("%q is not a valid name: %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// oneOf refuses at plan time a value outside a fixed set (roles, SLA tiers).
type oneOf []string

func (o oneOf) Description(context.Context) string { return fmt.Sprintf("one of %q", []string(o)) }

func (o oneOf) MarkdownDescription(ctx context.Context) string { return o.Description(ctx) }

func (o oneOf) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, allowed := range o {
		if req.ConfigValue.ValueString() == allowed {
			return
		}
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid value",
		fmt.Sprintf("%q is not %s", req.ConfigValue.ValueString(), o.Description(ctx)))
}

func stringSet(ctx context.Context, values []string, diags *diag.Diagnostics) types.Set {
	set, d := types.SetValueFrom(ctx, types.StringType, values)
	diags.Append(d...)
	return set
}

func optionalString(s *string) types.String {
	if s == nil {
		return types.StringNull()
	}
	return types.StringValue(*s)
}
