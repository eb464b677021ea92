package twinconfig

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/edgesec/edgesec/event"
)

// Manager holds the running configuration: the last good one. It is safe
// for concurrent use.
type Manager struct {
	mu  sync.RWMutex
	cfg Config
}

// NewManager returns a Manager running initial (usually Default() or the
// decoded local file). It keeps its own copy of initial.
func NewManager(initial Config) *Manager {
	return &Manager{cfg: initial.Clone()}
}

// Current returns a copy of the running configuration.
func (m *Manager) Current() Config {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cfg.Clone()
}

// Apply decodes doc (any shape [Decode] accepts) and makes it the running
// configuration unless it is refused.
//
// A document with a TypeMismatch or Conflict problem, or that cannot be
// decoded at all, is refused: the running configuration stays (last good).
// NotOptimal problems alone do not refuse a document.
//
// Apply returns the configuration now in effect, whether its settings
// changed (Version alone does not count, see [Config.SameSettings]; a new
// Version is still recorded), and the ConfigurationError events to emit:
// nil when there is no problem, else one event with one
// ConfigurationErrorPayload per problem, whose UsedConfiguration is the
// value in effect after Apply. A document that cannot be decoded gives one
// item with ConfigurationName ObjectName and ErrorType TypeMismatch.
// The caller decides, from the running priorities, whether to send them.
func (m *Manager) Apply(doc []byte, now time.Time) (cfg Config, changed bool, events []event.Event) {
	next, probs, err := Decode(doc)

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
	refused := false
	for _, p := range probs {
		if p.Kind != event.NotOptimal {
			refused = true
			break
		}
	}
	if refused {
		for i := range probs {
			probs[i].Used = usedValue(cur, probs[i].Key)
		}
	} else {
		changed = !cur.SameSettings(next)
		m.cfg = next
		cur = next
	}
	return cur.Clone(), changed, problemEvents(probs, now)
}

// usedValue is the text of key's value in c, for Problem.Used.
func usedValue(c Config, key string) string {
	if k, ok := lookupKey(key); ok {
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
