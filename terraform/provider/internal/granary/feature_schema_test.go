package granary

import "testing"

// The stored type names are those granary_core.storage_types records (str of a stored
// Arrow type): anything else would be refused, or read back under another name.
func TestStoredTypeAcceptsTheStoredNamesOnly(t *testing.T) {
	for name, want := range map[string]bool{
		"int64": true, "double": true, "string": true, "bool": true, "binary": true,
		"date32[day]": true, "timestamp[us, tz=UTC]": true,
		"decimal128(38, 2)": true, "decimal128(10, 0)": true,
		"list<item: double>": true, "list<item: list<item: string>>": true,
		"float64": false, "int32": false, "timestamp[ms]": false, "decimal128(39, 2)": false,
		"decimal128(10,2)": false, "decimal128(0, 0)": false, "decimal128(2, 3)": true, "list<item: date32[day]>": false,
		"list<item: >": false, "": false, "Int64": false,
	} {
		if got := storedType(name); got != want {
			t.Errorf("storedType(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSchemaChangeNamesEveryColumnThatDiffers(t *testing.T) {
	stored := []Feature{{Name: "k", Type: "int64"}, {Name: "amount", Type: "double"}, {Name: "note", Type: "string"}}
	for _, tc := range []struct {
		to   []Feature
		want string
	}{
		{stored, ""},
		{[]Feature{{Name: "k", Type: "int64"}, {Name: "amount", Type: "double", Description: "x"}, {Name: "note", Type: "string"}}, ""},
		{[]Feature{{Name: "k", Type: "int64"}, {Name: "amount", Type: "int64"}, {Name: "note", Type: "string"}}, `column "amount" double -> int64`},
		{[]Feature{{Name: "k", Type: "int64"}, {Name: "amount", Type: "double"}}, `column "note" (string) removed`},
		{append(append([]Feature{}, stored...), Feature{Name: "m", Type: "bool"}), `column "m" (bool) added`},
		{[]Feature{{Name: "amount", Type: "double"}, {Name: "k", Type: "int64"}, {Name: "note", Type: "string"}}, "columns reordered"},
	} {
		if got := schemaChange(stored, tc.to); got != tc.want {
			t.Errorf("schemaChange(%v) = %q, want %q", tc.to, got, tc.want)
		}
	}
}
