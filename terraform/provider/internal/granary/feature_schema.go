package granary

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// The store's rules for a feature group's schema (granary_core/schema.py and
// storage_types.py), checked at plan time so that apply never meets a refusal of them.

// groupNamePattern is the data plane's rule for feature group names (schemas.NAME_PATTERN).
var groupNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,256}$`)

// maxTTLSeconds is granary_core.storage_types.MAX_TTL_SECONDS: 10,000 years.
const maxTTLSeconds = 10_000 * 366 * 86_400

var decimalPattern = regexp.MustCompile(`^decimal128\((\d+), -?\d+\)$`)

// storedType is true for the name of a type a feature group stores, in the one form the
// store records it (a declared type in another form would differ from what is read back).
func storedType(name string) bool {
	switch name {
	case "bool", "int64", "double", "string", "binary", "date32[day]", "timestamp[us, tz=UTC]":
		return true
	}
	if m := decimalPattern.FindStringSubmatch(name); m != nil {
		precision, err := strconv.Atoi(m[1])
		return err == nil && precision >= 1 && precision <= 38
	}
	if item, ok := strings.CutPrefix(name, "list<item: "); ok && strings.HasSuffix(item, ">") {
		item = strings.TrimSuffix(item, ">")
		return item == "bool" || item == "int64" || item == "double" || item == "string" ||
			(strings.HasPrefix(item, "list<") && storedType(item))
	}
	return false
}

const storedTypes = "`bool`, `int64`, `double`, `string`, `binary`, `date32[day]`, `timestamp[us, tz=UTC]`, " +
	"`decimal128(P, S)` (P up to 38), or `list<item: T>` of bool, int64, double, string or lists of these"

// storedTypeValidator refuses at plan time a type the store would refuse or record otherwise.
type storedTypeValidator struct{}

func (storedTypeValidator) Description(context.Context) string { return "one of " + storedTypes }

func (v storedTypeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v storedTypeValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || storedType(req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid feature type",
		fmt.Sprintf("%q is not a type the store records: use %s", req.ConfigValue.ValueString(), storedTypes))
}

// lowerCaseValidator refuses a feature name the store would lower-case (`Amount` is stored
// as `amount`, so the configuration would differ from the store on every plan).
type lowerCaseValidator struct{}

func (lowerCaseValidator) Description(context.Context) string { return "lower case, not empty" }

func (v lowerCaseValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v lowerCaseValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if name := req.ConfigValue.ValueString(); name == "" || name != strings.ToLower(name) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid feature name",
			fmt.Sprintf("%q: feature names are lower case and not empty (the store lower-cases them)", name))
	}
}

// schemaChange says how features `to` differ from the stored `from` (name and type, in
// order), or "" when they do not.
func schemaChange(from, to []Feature) string {
	var changes []string
	stored := map[string]string{}
	for _, f := range from {
		stored[f.Name] = f.Type
	}
	declared := map[string]bool{}
	for _, f := range to {
		declared[f.Name] = true
		switch typ, ok := stored[f.Name]; {
		case !ok:
			changes = append(changes, fmt.Sprintf("column %q (%s) added", f.Name, f.Type))
		case typ != f.Type:
			changes = append(changes, fmt.Sprintf("column %q %s -> %s", f.Name, typ, f.Type))
		}
	}
	for _, f := range from {
		if !declared[f.Name] {
			changes = append(changes, fmt.Sprintf("column %q (%s) removed", f.Name, f.Type))
		}
	}
	if len(changes) == 0 && len(from) == len(to) {
		for i := range from {
			if from[i].Name != to[i].Name {
				return "columns reordered"
			}
		}
	}
	return strings.Join(changes, ", ")
}
