package twinconfig

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/edgesec/edgesec/event"
)

// Manager holds the running configuration. It is safe for concurrent use.
//
// The running configuration is layered: a base (the initial Config), then
// one layer per configuration source, in source order. Each layer holds
// the keys its source's latest document sets; a key set by several layers
// takes the value of the last one, and a key no layer sets keeps the
// base's value. So with the sources [file, twin] the twin wins over the
// file key by key, and a key the twin does not mention keeps the file's
// value (or the base's).
//
// A document is applied key by key: a key with a bad value (wrong type,
// out of range) or an unknown key is reported and ignored, and its layer
// keeps the value the source gave it before (its last good value); every
// other key of the document applies. Values that conflict with each other
// in the resulting configuration (event.Conflict) refuse the whole
// document: the source's previous layer stays.
type Manager struct {
	schema *Schema
	mu     sync.RWMutex
	base   Config
	layers []layer
	cfg    Config
}

// layer is the latest good values of one configuration source.
type layer struct {
	vals    map[string]any
	order   []string // keys in document order
	version int64
}

// NewManager returns a Manager of the built-in keys running initial
// (usually Default() or the decoded local file) as its base. It keeps its
// own copy of initial.
func NewManager(initial Config) *Manager { return NewManagerWith(builtin, initial) }

// NewManagerWith returns a Manager of the keys of s running base.
func NewManagerWith(s *Schema, base Config) *Manager {
	return &Manager{schema: s, base: base.Clone(), cfg: base.Clone()}
}

// Schema returns the manager's schema.
func (m *Manager) Schema() *Schema { return m.schema }

// Current returns a copy of the running configuration.
func (m *Manager) Current() Config {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cfg.Clone()
}

// Apply is ApplyFrom(0, doc, now): for a Manager fed by one source.
func (m *Manager) Apply(doc []byte, now time.Time) (cfg Config, changed bool, events []event.Event) {
	return m.ApplyFrom(0, doc, now)
}

// ApplyFrom applies doc (any shape [Decode] accepts), the latest document of
// the configuration source numbered source (0, 1, ... in precedence order),
// as the type documentation describes.
//
// A document that cannot be decoded at all is refused. ApplyFrom returns
// the configuration now in effect, whether its settings changed (Version
// alone does not count, see [Config.SameSettings]; a new Version is still
// recorded), and the ConfigurationError events to emit: nil when there is
// no problem, else one event with one ConfigurationErrorPayload per
// problem, whose UsedConfiguration is the value in effect after ApplyFrom.
// A document that cannot be decoded gives one item with ConfigurationName
// ObjectName and ErrorType TypeMismatch. The caller decides, from the
// running priorities, whether to send them.
func (m *Manager) ApplyFrom(source int, doc []byte, now time.Time) (cfg Config, changed bool, events []event.Event) {
	vals, version, probs, err := m.schema.values(doc)

	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.cfg
	if err != nil {
		item := &event.ConfigurationErrorPayload{
			ConfigurationName: ObjectName,
			ErrorType:         event.TypeMismatch,
			UsedConfiguration: fmt.Sprintf("last good configuration (version %d)", cur.Version),
			Message:           err.Error(),
		}
		return cur.Clone(), false, []event.Event{event.Must(event.ConfigurationError, now, item)}
	}
	for len(m.layers) <= source {
		m.layers = append(m.layers, layer{})
	}
	prev := m.layers[source]
	next := layer{vals: make(map[string]any, len(vals)), version: version}
	for _, v := range vals {
		next.vals[v.key] = v.val
		next.order = append(next.order, v.key)
	}
	// A key whose new value is bad keeps the source's last good value.
	for _, p := range probs {
		if v, ok := prev.vals[p.Key]; ok && p.Kind == event.TypeMismatch {
			if _, set := next.vals[p.Key]; !set {
				next.vals[p.Key] = v
				next.order = append(next.order, p.Key)
			}
		}
	}
	m.layers[source] = next
	merged := m.merge()
	cross := crossCheck(merged)
	refused := false
	for _, p := range cross {
		if p.Kind == event.Conflict {
			refused = true
		}
	}
	probs = append(probs, cross...)
	if refused {
		m.layers[source] = prev
	} else {
		changed = !cur.SameSettings(merged)
		m.cfg = merged
		cur = merged
	}
	for i := range probs {
		if probs[i].Kind != event.NotOptimal || refused {
			probs[i].Used = m.usedValue(cur, probs[i].Key)
		}
	}
	return cur.Clone(), changed, problemEvents(probs, now)
}

// merge returns the base with every layer applied in order. Callers hold
// m.mu.
func (m *Manager) merge() Config {
	c := m.base.Clone()
	for _, l := range m.layers {
		for _, key := range l.order {
			if k, ok := m.schema.lookup(key); ok {
				_ = k.decode(&c, l.vals[key]) // validated when the layer was built
			}
		}
		if l.version != 0 {
			c.Version = l.version
		}
	}
	return c
}

// usedValue is the text of key's value in c, for Problem.Used.
func (m *Manager) usedValue(c Config, key string) string {
	if k, ok := m.schema.lookup(key); ok {
		return k.text(c)
	}
	if key == "$version" {
		return strconv.FormatInt(c.Version, 10)
	}
	return usedIgnored
}

// ProblemEvents returns the ConfigurationError event reporting probs: nil
// for no problem, else one event with one payload item per problem.
func ProblemEvents(probs []Problem, now time.Time) []event.Event {
	return problemEvents(probs, now)
}

func problemEvents(probs []Problem, now time.Time) []event.Event {
	if len(probs) == 0 {
		return nil
	}
	items := make([]event.Item, len(probs))
	for i, p := range probs {
		items[i] = &event.ConfigurationErrorPayload{
			ConfigurationName: p.Key,
			ErrorType:         p.Kind,
			UsedConfiguration: p.Used,
			Message:           p.Message,
		}
	}
	return []event.Event{event.Must(event.ConfigurationError, now, items...)}
}

// SetSchema makes s the manager's schema: documents are decoded with its
// keys from now on, and the base gains the default priority of every vendor
// event it does not set. The running configuration is rebuilt from the
// base and the layers. An engine calls it once, when it knows its
// collectors' events.
func (m *Manager) SetSchema(s *Schema) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.schema = s
	for _, in := range s.vendor {
		if _, ok := m.base.Priorities[in.Name]; !ok {
			if m.base.Priorities == nil {
				m.base.Priorities = make(map[string]event.Priority)
			}
			m.base.Priorities[in.Name] = in.DefaultPriority
		}
	}
	m.cfg = m.merge()
}
