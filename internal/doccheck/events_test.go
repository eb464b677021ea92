package doccheck

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

// schemaDoc is a loaded schema file: its path inside schemas.FS and its
// decoded JSON.
type schemaDoc struct {
	path string
	doc  any
}

func loadSchema(t *testing.T, p string) schemaDoc {
	t.Helper()
	b, err := fs.ReadFile(schemas.FS(), p)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return schemaDoc{p, d}
}

// resolve follows $ref (a file relative to base and a JSON pointer) and
// merges the referring object's other keys over the target, as the
// schemas use it.
func resolve(t *testing.T, prop map[string]any, base string) (map[string]any, string) {
	t.Helper()
	for {
		ref, ok := prop["$ref"].(string)
		if !ok {
			return prop, base
		}
		file, ptr, _ := strings.Cut(ref, "#")
		if file != "" {
			base = path.Clean(path.Join(path.Dir(base), file))
		}
		var target any = loadSchema(t, base).doc
		for _, part := range strings.Split(ptr, "/") {
			if part == "" {
				continue
			}
			m, ok := target.(map[string]any)
			if !ok {
				t.Fatalf("%s: bad $ref %s", base, ref)
			}
			target = m[part]
		}
		m, ok := target.(map[string]any)
		if !ok {
			t.Fatalf("%s: $ref %s is not an object", base, ref)
		}
		merged := map[string]any{}
		for k, v := range m {
			merged[k] = v
		}
		for k, v := range prop {
			if k != "$ref" {
				merged[k] = v
			}
		}
		prop = merged
	}
}

// typeName is how docs/events.md writes a property's type: the JSON type,
// the format instead of "string" when there is one, "array of X", and
// "A or B" for a oneOf.
func typeName(t *testing.T, prop map[string]any, base string) string {
	t.Helper()
	prop, base = resolve(t, prop, base)
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := prop[k].([]any); ok {
			var names []string
			for _, a := range alts {
				if n := typeName(t, a.(map[string]any), base); !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
			return strings.Join(names, " or ")
		}
	}
	switch ty := prop["type"].(type) {
	case string:
		if f, ok := prop["format"].(string); ok && ty == "string" {
			return f
		}
		if ty == "array" {
			items, _ := prop["items"].(map[string]any)
			return "array of " + typeName(t, items, base)
		}
		return ty
	case []any:
		var s []string
		for _, x := range ty {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, "/")
	}
	if enum, ok := prop["enum"].([]any); ok {
		for _, v := range enum {
			if _, ok := v.(string); !ok {
				return "any"
			}
		}
		return "string"
	}
	return "any"
}

// eventSchemas maps event names to the schema file that defines them.
func eventSchemas(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(schemas.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || strings.Contains(p, "/tests/") {
			return err
		}
		var s struct {
			Properties struct {
				Name struct {
					Enum []string `json:"enum"`
				} `json:"Name"`
			} `json:"properties"`
		}
		b, err := fs.ReadFile(schemas.FS(), p)
		if err != nil {
			return err
		}
		if json.Unmarshal(b, &s) == nil && len(s.Properties.Name.Enum) == 1 {
			out[s.Properties.Name.Enum[0]] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type field struct{ typ, required string }

// schemaFields returns the payload item fields of an event's schema.
func schemaFields(t *testing.T, p string) map[string]field {
	t.Helper()
	root := loadSchema(t, p).doc.(map[string]any)
	payload := root["properties"].(map[string]any)["Payload"].(map[string]any)
	items, base := resolve(t, payload["items"].(map[string]any), p)
	req := map[string]bool{}
	if r, ok := items["required"].([]any); ok {
		for _, x := range r {
			req[x.(string)] = true
		}
	}
	out := map[string]field{}
	props, _ := items["properties"].(map[string]any)
	for name, prop := range props {
		f := field{typ: typeName(t, prop.(map[string]any), base)}
		if req[name] {
			f.required = "yes"
		}
		out[name] = f
	}
	return out
}

var (
	fieldRow  = regexp.MustCompile("^\\| `([A-Za-z0-9]+)` \\| ([^|]*) \\| ([^|]*) \\|")
	jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)\n```")
)

// TestEventReference checks docs/events.md against the catalogue and the
// schemas: a section per catalogued event and no other, its field table
// equal to the schema's payload item (names, types, required), and its
// example a schema-valid event of that name.
func TestEventReference(t *testing.T) {
	root, _ := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, s := range strings.Split(string(b), "\n## ")[1:] {
		name, body, _ := strings.Cut(s, "\n")
		sections[strings.TrimSpace(name)] = body
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	files := eventSchemas(t)
	for _, info := range event.Catalogue() {
		name := info.Name
		body, ok := sections[name]
		if !ok {
			t.Errorf("docs/events.md has no section for %s", name)
			continue
		}
		delete(sections, name)
		sp, ok := files[name]
		if !ok {
			t.Errorf("no schema defines %s", name)
			continue
		}
		if !strings.Contains(body, "schemas/"+sp) {
			t.Errorf("%s: the section does not name its schema schemas/%s", name, sp)
		}
		want := schemaFields(t, sp)
		got := map[string]field{}
		for _, l := range strings.Split(body, "\n") {
			if m := fieldRow.FindStringSubmatch(l); m != nil {
				got[m[1]] = field{strings.TrimSpace(m[2]), strings.TrimSpace(m[3])}
			}
		}
		for f, w := range want {
			if g, ok := got[f]; !ok {
				t.Errorf("%s: field %s of the schema is not documented", name, f)
			} else if g != w {
				t.Errorf("%s.%s: documented as %q (required %q), the schema says %q (required %q)", name, f, g.typ, g.required, w.typ, w.required)
			}
		}
		for f := range got {
			if _, ok := want[f]; !ok {
				t.Errorf("%s: documented field %s is not in the schema", name, f)
			}
		}
		m := jsonBlock.FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: no JSON example", name)
			continue
		}
		var ev struct{ Name string }
		if err := json.Unmarshal([]byte(m[1]), &ev); err != nil || ev.Name != name {
			t.Errorf("%s: the example is not a %s event (name %q, err %v)", name, name, ev.Name, err)
			continue
		}
		msg := `{"AgentVersion":"doc","AgentId":"` + schemas.TestAgentID + `","MessageSchemaVersion":"1.0","Events":[` + m[1] + `]}`
		if err := v.ValidateMessage([]byte(msg)); err != nil {
			t.Errorf("%s: the example is not schema-valid: %v", name, err)
		}
	}
	for name := range sections {
		t.Errorf("docs/events.md documents %q, which is not in event.Catalogue()", name)
	}
}
