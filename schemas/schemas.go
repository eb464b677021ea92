package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/edgesec/edgesec/event"
)

//go:embed asc/LICENSE.md asc/SOURCE.md asc/schemas/*.json asc/tests/*.json edgesec/*.json
var files embed.FS

// Paths of the two root schemas inside [FS].
const (
	// ASCRoot is the official entry point of the ASC security message schema.
	ASCRoot = "asc/schemas/messageRoot.json"
	// EdgesecRoot is the entry point of the schema that accepts the ASC
	// events and edgesec's extension events.
	EdgesecRoot = "edgesec/edgesecMessageRoot.json"
)

// TestAgentID is the AgentId of the envelope [Validator.ValidateEvent]
// wraps an event in.
const TestAgentID = "2f1ae4a0-6c1b-4f57-9a58-0d3f1c9e7b21"

// base is the URL the embedded files are registered under; nothing is ever
// loaded from it.
const base = "file:///edgesec-schemas/"

// FS returns the embedded schema files: asc/schemas/*.json (the official
// schemas), asc/tests/*.json (the official samples), asc/LICENSE.md,
// asc/SOURCE.md and edgesec/*.json (the extension schemas and the edgesec
// root). The returned file system is read-only and safe for concurrent use.
func FS() fs.FS { return files }

// Validator validates security messages against the embedded schemas. It is
// safe for concurrent use; build one with [NewValidator] and share it.
type Validator struct {
	asc     *jsonschema.Schema
	edgesec *jsonschema.Schema
}

// NewValidator compiles the official root schema and the edgesec root
// schema, with format assertions on (the schemas' "ip" type is a oneOf of
// the ipv4 and ipv6 formats, which only works when formats are asserted).
// No file or network resource is ever loaded: every reference resolves to
// an embedded file.
//
// The "date-time" format is RFC 3339 as in the standard draft-07 check,
// except that a space may separate the date and the time, as RFC 3339
// section 5.6 allows and as several of the official valid samples do
// ("2018-10-09 16:22:50Z"). Everything edgesec encodes uses "T".
func NewValidator() (*Validator, error) { return NewValidatorFor() }

// NewValidatorFor is [NewValidator] for messages that may also carry the
// vendor events declared in events (see collector.Describer): events of
// those names, with the declared category and type, whose payload items
// validate against the event's PayloadSchema (any JSON object when it has
// none). Catalogued names in events are ignored.
func NewValidatorFor(events ...event.Info) (*Validator, error) {
	dt, err := dateTimeFormat()
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	c := newCompiler()
	c.RegisterFormat(dt)
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isSchema(name) {
			return nil
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return c.AddResource(base+name, doc)
	})
	if err != nil {
		return nil, fmt.Errorf("schemas: load embedded schemas: %w", err)
	}
	v := &Validator{}
	if v.asc, err = c.Compile(base + ASCRoot); err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", ASCRoot, err)
	}
	root := EdgesecRoot
	if vendor := vendorEvents(events); len(vendor) > 0 {
		if root, err = addVendorRoot(c, vendor); err != nil {
			return nil, fmt.Errorf("schemas: vendor events: %w", err)
		}
	}
	if v.edgesec, err = c.Compile(base + root); err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", root, err)
	}
	return v, nil
}

// vendorEvents returns the events not in the catalogue, each name once.
func vendorEvents(events []event.Info) []event.Info {
	var out []event.Info
	seen := map[string]bool{}
	for _, in := range events {
		if _, ok := event.Lookup(in.Name); ok || seen[in.Name] {
			continue
		}
		seen[in.Name] = true
		out = append(out, in)
	}
	return out
}

// addVendorRoot registers, for every vendor event, an event schema (and
// its payload schema), and a message root that accepts them besides the
// edgesec events; it returns the root's path.
func addVendorRoot(c *jsonschema.Compiler, vendor []event.Info) (string, error) {
	b, err := files.ReadFile("edgesec/edgesecMessage_v1_0.json")
	if err != nil {
		return "", err
	}
	var msg map[string]any
	if err := json.Unmarshal(b, &msg); err != nil {
		return "", fmt.Errorf("edgesec message schema: %w", err)
	}
	kinds, err := eventKinds(msg)
	if err != nil {
		return "", err
	}
	for _, in := range vendor {
		items := any(map[string]any{"type": "object"})
		if len(in.PayloadSchema) > 0 {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(in.PayloadSchema))
			if err != nil {
				return "", fmt.Errorf("%s: payload schema: %w", in.Name, err)
			}
			loc := "vendor/" + in.Name + ".payload.json"
			if err := c.AddResource(base+loc, doc); err != nil {
				return "", fmt.Errorf("%s: payload schema: %w", in.Name, err)
			}
			items = map[string]any{"$ref": "../" + loc}
		}
		ev := map[string]any{
			"$schema": "http://json-schema.org/draft-07/schema#",
			"type":    "object",
			"properties": map[string]any{
				"Name":      map[string]any{"const": in.Name},
				"Category":  map[string]any{"const": string(in.Category)},
				"EventType": map[string]any{"const": string(in.Type)},
				"Payload":   map[string]any{"type": "array", "items": items},
			},
			"required": []any{"Name", "Category", "EventType", "Payload"},
		}
		if err := c.AddResource(base+"vendor/"+in.Name+".json", ev); err != nil {
			return "", fmt.Errorf("%s: %w", in.Name, err)
		}
		kinds["oneOf"] = append(kinds["oneOf"].([]any), map[string]any{"$ref": "../vendor/" + in.Name + ".json#"})
	}
	// The copy lives beside the original so that its relative references
	// resolve the same way.
	const root = "edgesec/vendorMessage_v1_0.json"
	msg["$id"] = "vendorMessage_v1_0.json"
	if err := c.AddResource(base+root, msg); err != nil {
		return "", err
	}
	return root, nil
}

// eventKinds finds, in the edgesec message schema, the oneOf that lists the
// event schemas ("Event categories and types").
func eventKinds(msg map[string]any) (map[string]any, error) {
	bad := errors.New("edgesec message schema: no list of event schemas")
	props, _ := msg["properties"].(map[string]any)
	evs, _ := props["Events"].(map[string]any)
	items, _ := evs["items"].(map[string]any)
	one, _ := items["oneOf"].([]any)
	if len(one) == 0 {
		return nil, bad
	}
	first, _ := one[0].(map[string]any)
	all, _ := first["allOf"].([]any)
	for _, x := range all {
		m, _ := x.(map[string]any)
		if m["description"] == "Event categories and types" {
			if _, ok := m["oneOf"].([]any); ok {
				return m, nil
			}
		}
	}
	return nil, bad
}

func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // refuse anything not embedded
	return c
}

// dateTimeFormat returns the draft-07 "date-time" format check, extended to
// accept a space instead of the "T" between date and time.
func dateTimeFormat() (*jsonschema.Format, error) {
	c := newCompiler()
	const loc = base + "internal/date-time.json"
	if err := c.AddResource(loc, map[string]any{"format": "date-time"}); err != nil {
		return nil, fmt.Errorf("date-time format: %w", err)
	}
	strict, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("date-time format: %w", err)
	}
	return &jsonschema.Format{Name: "date-time", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if len(s) > 10 && s[10] == ' ' {
			s = s[:10] + "T" + s[11:]
		}
		err := strict.Validate(s)
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			for len(ve.Causes) > 0 {
				ve = ve.Causes[0]
			}
			if f, ok := ve.ErrorKind.(*kind.Format); ok && f.Err != nil {
				return f.Err
			}
		}
		return err
	}}, nil
}

// isSchema reports whether an embedded path is a schema (not a test file).
func isSchema(name string) bool {
	ok1, _ := path.Match("asc/schemas/*.json", name)
	ok2, _ := path.Match("edgesec/*.json", name)
	return ok1 || ok2
}

// ValidateMessage validates one security message (a JSON envelope). A
// message whose events all have ASC event names is validated against the
// official messageRoot.json; any other message against the edgesec root.
// The returned error says which root was used and, for a schema violation,
// wraps a *jsonschema.ValidationError describing every failure.
func (v *Validator) ValidateMessage(body []byte) error {
	if err := v.validate(body); err != nil {
		return fmt.Errorf("schemas: message: %w", err)
	}
	return nil
}

func (v *Validator) validate(body []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	sch, root := v.asc, ASCRoot
	if !onlyASCNames(doc) {
		sch, root = v.edgesec, EdgesecRoot
	}
	if err := sch.Validate(doc); err != nil {
		return fmt.Errorf("does not validate against %s: %w", root, err)
	}
	return nil
}

// onlyASCNames reports whether doc is an envelope whose events all carry an
// ASC (non-extension) event name. Anything it cannot read as such, other
// than an extension or unknown name, counts as ASC so that the official
// schema reports the problem.
func onlyASCNames(doc any) bool {
	m, ok := doc.(map[string]any)
	if !ok {
		return true
	}
	evs, ok := m["Events"].([]any)
	if !ok {
		return true
	}
	for _, e := range evs {
		em, ok := e.(map[string]any)
		if !ok {
			continue
		}
		name, ok := em["Name"].(string)
		if !ok {
			continue
		}
		if info, known := event.Lookup(name); !known || info.Extension {
			return false
		}
	}
	return true
}

// ValidateEvent wraps ev in an envelope (AgentVersion "test", AgentId
// [TestAgentID]), encodes it with [event.Envelope.AppendJSON] and validates
// the result with [Validator.ValidateMessage].
func (v *Validator) ValidateEvent(ev event.Event) error {
	env := event.Envelope{AgentVersion: "test", AgentID: TestAgentID, Events: []event.Event{ev}}
	body := env.AppendJSON(nil)
	if !json.Valid(body) {
		return fmt.Errorf("schemas: event %q encodes to invalid JSON: %s", ev.Name, body)
	}
	if err := v.validate(body); err != nil {
		return fmt.Errorf("schemas: event %q: %w", ev.Name, err)
	}
	return nil
}
