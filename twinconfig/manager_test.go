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

	// A TypeMismatch ignores that key only: the document's good keys apply,
	// and the bad key keeps the source's last good value (here none: the
	// base's).
	bad := `{"` + ObjectName + `":{"snapshotFrequency":{"value":"PT2H"},"lowPriorityMessageFrequency":{"value":"often"}},"$version":3}`
	cfg2, changed, events := m.Apply([]byte(bad), now)
	require.True(t, changed)
	require.Equal(t, 2*time.Hour, cfg2.SnapshotFrequency)
	require.Equal(t, 5*time.Hour, cfg2.LowPriorityMessageFrequency)
	require.Equal(t, event.High, cfg2.Priority(event.Login), "a key the document no longer sets is back to the base value")
	require.Equal(t, int64(3), cfg2.Version)
	require.Equal(t, cfg2, m.Current())
	items := payloads(t, events)
	require.Len(t, items, 1)
	require.Equal(t, "lowPriorityMessageFrequency", items[0].ConfigurationName)
	require.Equal(t, event.TypeMismatch, items[0].ErrorType)
	require.Equal(t, "PT5H", items[0].UsedConfiguration)

	// A Conflict refuses the whole document; Used is the running value, not
	// the default.
	conflict := `{"` + ObjectName + `":{"maxLocalCacheSizeInBytes":{"value":8192},"maxMessageSizeInBytes":{"value":16384}},"$version":4}`
	cfg3, changed, events := m.Apply([]byte(conflict), now)
	require.False(t, changed)
	require.Equal(t, cfg2, cfg3)
	items = payloads(t, events)
	require.Len(t, items, 1)
	require.Equal(t, event.Conflict, items[0].ErrorType)
	require.Equal(t, "maxLocalCacheSizeInBytes", items[0].ConfigurationName)
	require.Equal(t, "2560000", items[0].UsedConfiguration)

	// Every problem is reported in one event, with the values in effect: a
	// bad value keeps the source's last good one.
	many := `{"snapshotFrequency":{"value":"x"},"eventPriorityLogin":{"value":"x"},"nope":{"value":1},"maxMessageSizeInBytes":{"value":10000}}`
	cfg4, changed, events := m.Apply([]byte(many), now)
	require.True(t, changed, "maxMessageSizeInBytes (NotOptimal) applies")
	items = payloads(t, events)
	require.Len(t, items, 4)
	require.Equal(t, "PT2H", items[0].UsedConfiguration, "the source's last good value")
	require.Equal(t, "High", items[1].UsedConfiguration, "the base value")
	require.Equal(t, usedIgnored, items[2].UsedConfiguration)
	require.Equal(t, event.NotOptimal, items[3].ErrorType)
	require.Equal(t, "10000", items[3].UsedConfiguration)
	require.Equal(t, 2*time.Hour, cfg4.SnapshotFrequency)
	require.Equal(t, 10000, cfg4.MaxMessageSizeInBytes)
}

func TestManagerLayersSourcesKeyByKey(t *testing.T) {
	base := Default()
	base.HeartbeatFrequency = time.Minute // Options.Config
	m := NewManager(base)
	const file, twin = 0, 1

	cfg, _, evs := m.ApplyFrom(file, []byte(`{"snapshotFrequency":{"value":"PT1H"},"eventPriorityLogin":{"value":"Low"}}`), now)
	require.Empty(t, evs)
	require.Equal(t, time.Hour, cfg.SnapshotFrequency)
	require.Equal(t, time.Minute, cfg.HeartbeatFrequency, "the base stays under the layers")

	cfg, _, evs = m.ApplyFrom(twin, []byte(`{"`+ObjectName+`":{"snapshotFrequency":{"value":"PT2H"}},"$version":7}`), now)
	require.Empty(t, evs)
	require.Equal(t, 2*time.Hour, cfg.SnapshotFrequency, "the twin wins over the file")
	require.Equal(t, event.Low, cfg.Priority(event.Login), "a key the twin does not set keeps the file's value")
	require.Equal(t, int64(7), cfg.Version)

	// A bad file afterwards: its problem reports the value really in use
	// (the twin's), and the twin's keys stay.
	cfg, _, evs = m.ApplyFrom(file, []byte(`{"snapshotFrequency":{"value":"soon"},"eventPriorityLogin":{"value":"Low"}}`), now)
	items := payloads(t, evs)
	require.Len(t, items, 1)
	require.Equal(t, "PT2H", items[0].UsedConfiguration)
	require.Equal(t, 2*time.Hour, cfg.SnapshotFrequency)

	// The twin drops its key: the file's last good value shows through.
	cfg, _, _ = m.ApplyFrom(twin, []byte(`{"`+ObjectName+`":{},"$version":8}`), now)
	require.Equal(t, time.Hour, cfg.SnapshotFrequency)
}

func TestSchemaVendorEventPriority(t *testing.T) {
	vendor := event.Info{Name: "ModbusWrite", Category: event.Triggered, Type: event.Security, DefaultPriority: event.Low}
	s, err := NewSchema(vendor, event.Info{Name: event.Login}) // catalogued names are skipped
	require.NoError(t, err)
	require.Equal(t, event.Low, s.Default().Priority("ModbusWrite"))
	require.True(t, s.Keys()[len(s.Keys())-1].Vendor)

	m := NewManagerWith(s, s.Default())
	cfg, changed, evs := m.Apply([]byte(`{"eventPriorityModbusWrite":{"value":"High"},"eventPriorityNope":{"value":"High"},"snapshotFrequency":{"value":"PT1H"}}`), now)
	require.True(t, changed)
	require.Equal(t, event.High, cfg.Priority("ModbusWrite"))
	require.Equal(t, time.Hour, cfg.SnapshotFrequency, "an unknown key does not stop the rest of the document")
	items := payloads(t, evs)
	require.Len(t, items, 1)
	require.Equal(t, "eventPriorityNope", items[0].ConfigurationName)

	rep, err := s.Reported(cfg)
	require.NoError(t, err)
	require.Contains(t, string(rep), `"eventPriorityModbusWrite":{"value":"High"}`)
	back, probs, err := s.Decode(rep)
	require.NoError(t, err)
	require.Empty(t, probs)
	require.Equal(t, event.High, back.Priority("ModbusWrite"))

	// The built-in schema does not know the vendor key.
	_, probs, err = Decode([]byte(`{"eventPriorityModbusWrite":{"value":"High"}}`))
	require.NoError(t, err)
	require.Len(t, probs, 1)

	for _, bad := range []event.Info{
		{Name: "", Category: event.Triggered, Type: event.Security},
		{Name: "has space", Category: event.Triggered, Type: event.Security},
		{Name: "X", Category: "Sometimes", Type: event.Security},
		{Name: "X", Category: event.Triggered, Type: "Odd"},
	} {
		_, err := NewSchema(bad)
		require.Error(t, err, "%+v", bad)
	}
	_, err = NewSchema(vendor, event.Info{Name: "ModbusWrite", Category: event.Periodic, Type: event.Security})
	require.Error(t, err, "declared twice differently")
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
