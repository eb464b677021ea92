package twinconfig

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// payloads returns the ConfigurationError items of events.
func payloads(t *testing.T, events []event.Event) []*event.ConfigurationErrorPayload {
	t.Helper()
	if len(events) == 0 {
		return nil
	}
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, event.ConfigurationError, ev.Name)
	require.Equal(t, event.Triggered, ev.Category)
	require.Equal(t, event.Operational, ev.Type)
	require.True(t, event.ValidID(ev.ID))
	require.Equal(t, now, ev.Time)
	require.True(t, json.Valid(ev.AppendJSON(nil)))
	var out []*event.ConfigurationErrorPayload
	for _, it := range ev.Payload {
		p, ok := it.(*event.ConfigurationErrorPayload)
		require.True(t, ok)
		out = append(out, p)
	}
	return out
}

func TestManagerKeepsLastGood(t *testing.T) {
	m := NewManager(Default())

	// A good update is applied.
	good := `{"` + ObjectName + `":{"snapshotFrequency":{"value":"PT1H"},"eventPriorityLogin":{"value":"Low"}},"$version":2}`
	cfg, changed, events := m.Apply([]byte(good), now)
	require.True(t, changed)
	require.Empty(t, events)
	require.Equal(t, time.Hour, cfg.SnapshotFrequency)
	require.Equal(t, int64(2), cfg.Version)
	require.Equal(t, cfg, m.Current())

	// A TypeMismatch refuses the whole document, even its good keys.
	bad := `{"` + ObjectName + `":{"snapshotFrequency":{"value":"PT2H"},"lowPriorityMessageFrequency":{"value":"often"}},"$version":3}`
	cfg2, changed, events := m.Apply([]byte(bad), now)
	require.False(t, changed)
	require.Equal(t, cfg, cfg2)
	require.Equal(t, cfg, m.Current())
	items := payloads(t, events)
	require.Len(t, items, 1)
	require.Equal(t, "lowPriorityMessageFrequency", items[0].ConfigurationName)
	require.Equal(t, event.TypeMismatch, items[0].ErrorType)
	require.Equal(t, "PT5H", items[0].UsedConfiguration)

	// A Conflict refuses it too; Used is the running value, not the default.
	conflict := `{"` + ObjectName + `":{"maxLocalCacheSizeInBytes":{"value":8192},"maxMessageSizeInBytes":{"value":16384}},"$version":4}`
	cfg3, changed, events := m.Apply([]byte(conflict), now)
	require.False(t, changed)
	require.Equal(t, cfg, cfg3)
	items = payloads(t, events)
	require.Len(t, items, 1)
	require.Equal(t, event.Conflict, items[0].ErrorType)
	require.Equal(t, "maxLocalCacheSizeInBytes", items[0].ConfigurationName)
	require.Equal(t, "2560000", items[0].UsedConfiguration)

	// Every problem is reported in one event, with the values in effect.
	many := `{"snapshotFrequency":{"value":"x"},"eventPriorityLogin":{"value":"x"},"nope":{"value":1},"maxMessageSizeInBytes":{"value":10000}}`
	_, changed, events = m.Apply([]byte(many), now)
	require.False(t, changed)
	items = payloads(t, events)
	require.Len(t, items, 4)
	require.Equal(t, "PT1H", items[0].UsedConfiguration, "the running value")
	require.Equal(t, "Low", items[1].UsedConfiguration, "the running value")
	require.Equal(t, usedIgnored, items[2].UsedConfiguration)
	require.Equal(t, event.NotOptimal, items[3].ErrorType)
	require.Equal(t, "204800", items[3].UsedConfiguration)
	require.Equal(t, cfg, m.Current())
}

func TestManagerDecodeError(t *testing.T) {
	start := Default()
	start.Version = 8
	m := NewManager(start)
	for _, doc := range []string{`{"snapshotFrequency":`, `[]`, ``} {
		cfg, changed, events := m.Apply([]byte(doc), now)
		require.False(t, changed)
		require.Equal(t, start, cfg)
		items := payloads(t, events)
		require.Len(t, items, 1)
		require.Equal(t, ObjectName, items[0].ConfigurationName)
		require.Equal(t, event.TypeMismatch, items[0].ErrorType)
		require.Contains(t, items[0].UsedConfiguration, "version 8")
		require.NotEmpty(t, items[0].Message)
	}
}

func TestManagerNotOptimalIsAccepted(t *testing.T) {
	m := NewManager(Default())
	cfg, changed, events := m.Apply([]byte(`{"maxMessageSizeInBytes":{"value":10000}}`), now)
	require.True(t, changed)
	require.Equal(t, 10000, cfg.MaxMessageSizeInBytes)
	items := payloads(t, events)
	require.Len(t, items, 1)
	require.Equal(t, event.NotOptimal, items[0].ErrorType)
	require.Equal(t, "10000", items[0].UsedConfiguration)
}

func TestManagerChanged(t *testing.T) {
	m := NewManager(Default())
	_, changed, events := m.Apply([]byte(`{"$version":5}`), now)
	require.False(t, changed, "same settings")
	require.Empty(t, events)
	require.Equal(t, int64(5), m.Current().Version, "the version is recorded")
	_, changed, _ = m.Apply([]byte(`{"eventPriorityDiagnostic":{"value":"High"}}`), now)
	require.True(t, changed)
	// Back to the defaults by deleting the key.
	_, changed, _ = m.Apply([]byte(`{"`+ObjectName+`":{"eventPriorityDiagnostic":null},"$version":6}`), now)
	require.True(t, changed)
	require.Equal(t, event.Off, m.Current().Priority(event.DiagnosticEvent))
}

func TestManagerIsolation(t *testing.T) {
	initial := Default()
	m := NewManager(initial)
	initial.Priorities[event.Login] = event.Off
	c := m.Current()
	require.Equal(t, event.High, c.Priority(event.Login), "NewManager copies")
	c.Priorities[event.Login] = event.Off
	require.Equal(t, event.High, m.Current().Priority(event.Login), "Current returns a copy")
}

func TestManagerConcurrent(t *testing.T) {
	m := NewManager(Default())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 50 {
				doc := fmt.Sprintf(`{"snapshotFrequency":{"value":"PT%dM"}}`, i*50+j+1)
				if j%3 == 0 {
					doc = `{"snapshotFrequency":{"value":"bad"}}`
				}
				m.Apply([]byte(doc), now)
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				c := m.Current()
				require.GreaterOrEqual(t, c.SnapshotFrequency, time.Minute)
				_ = c.Priority(event.Login)
			}
		}()
	}
	wg.Wait()
}

func TestProblemEvents(t *testing.T) {
	require.Nil(t, ProblemEvents(nil, now))
	evs := ProblemEvents([]Problem{{Key: "a", Kind: event.NotOptimal, Message: "m", Used: "u"}}, now)
	items := payloads(t, evs)
	require.Equal(t, &event.ConfigurationErrorPayload{ConfigurationName: "a", ErrorType: event.NotOptimal, UsedConfiguration: "u", Message: "m"}, items[0])
}
