package twinconfig

import (
	"fmt"
	"strings"

	"github.com/edgesec/edgesec/event"
)

// Schema is the set of configuration keys an engine understands: the
// built-in keys, plus an eventPriority<Name> key for every vendor event
// declared by the engine's collectors. It is an immutable value, safe for
// concurrent use; each engine builds its own with [NewSchema], so nothing
// is registered globally.
type Schema struct {
	keys   []keySpec
	index  map[string]int
	vendor []event.Info
}

// builtin is the Schema of the built-in keys only (NewSchema with no
// vendor event); the package-level functions use it.
var builtin = &Schema{keys: keyTable, index: keyIndex}

// Builtin returns the Schema of the built-in keys.
func Builtin() *Schema { return builtin }

// NewSchema returns the Schema of the built-in keys plus the priority keys
// of the vendor events in events. Events already in the event catalogue
// (event.Lookup) are skipped. A vendor event must have a name of letters
// and digits, a category and a type; the first one that does not is
// returned as an error, as is a name declared twice with different
// properties.
func NewSchema(events ...event.Info) (*Schema, error) {
	s := &Schema{keys: append([]keySpec(nil), keyTable...)}
	seen := map[string]event.Info{}
	for _, in := range events {
		if _, ok := event.Lookup(in.Name); ok {
			continue
		}
		if err := checkVendorEvent(in); err != nil {
			return nil, err
		}
		if prev, ok := seen[in.Name]; ok {
			if prev.Category != in.Category || prev.Type != in.Type || prev.DefaultPriority != in.DefaultPriority {
				return nil, fmt.Errorf("twinconfig: event %q declared twice with different properties", in.Name)
			}
			continue
		}
		seen[in.Name] = in
		s.vendor = append(s.vendor, in)
		k := priorityKey(in)
		k.info.Vendor = true
		s.keys = append(s.keys, k)
	}
	s.index = indexKeys(s.keys)
	return s, nil
}

func checkVendorEvent(in event.Info) error {
	if in.Name == "" {
		return fmt.Errorf("twinconfig: a vendor event has no name")
	}
	for _, r := range in.Name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return fmt.Errorf("twinconfig: vendor event %q: the name must be letters and digits", in.Name)
		}
	}
	if in.Category != event.Periodic && in.Category != event.Triggered {
		return fmt.Errorf("twinconfig: vendor event %q: category %q is not Periodic or Triggered", in.Name, in.Category)
	}
	switch in.Type {
	case event.Security, event.Operational, event.Diagnostic:
	default:
		return fmt.Errorf("twinconfig: vendor event %q: type %q is not Security, Operational or Diagnostic", in.Name, in.Type)
	}
	if in.DefaultPriority < event.Off || in.DefaultPriority > event.High {
		return fmt.Errorf("twinconfig: vendor event %q: default priority %v", in.Name, in.DefaultPriority)
	}
	return nil
}

// VendorEvents returns the vendor events of the schema, in declaration order.
func (s *Schema) VendorEvents() []event.Info { return append([]event.Info(nil), s.vendor...) }

// Keys returns the documentation of every key of the schema: those of
// [Keys], then the vendor events' priority keys.
func (s *Schema) Keys() []KeyInfo {
	out := make([]KeyInfo, len(s.keys))
	for i := range s.keys {
		out[i] = s.keys[i].info
	}
	return out
}

// Default returns [Default] with the vendor events' default priorities.
func (s *Schema) Default() Config {
	c := Default()
	for _, in := range s.vendor {
		c.Priorities[in.Name] = in.DefaultPriority
	}
	return c
}

func (s *Schema) lookup(name string) (*keySpec, bool) {
	i, ok := s.index[name]
	if !ok {
		return nil, false
	}
	return &s.keys[i], true
}

func (s *Schema) suggest(name string) string {
	for i := range s.keys {
		if strings.EqualFold(s.keys[i].info.Name, name) {
			return s.keys[i].info.Name
		}
	}
	return ""
}
