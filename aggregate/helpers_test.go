package aggregate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

const testAgentID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// fakeClock is a settable clock for Settings.Now.
type fakeClock struct{ t time.Time }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// settings returns test settings with all three names aggregated over
// interval (0 = aggregation off).
func settings(c *fakeClock, interval time.Duration) Settings {
	agg := map[string]AggSetting{}
	if interval > 0 {
		for _, n := range kindNames {
			agg[n] = AggSetting{Enabled: true, Interval: interval}
		}
	}
	return Settings{
		AgentVersion:    "1.2.3",
		AgentID:         testAgentID,
		MaxCacheBytes:   1 << 20,
		MaxMessageBytes: 8192,
		Aggregation:     agg,
		Now:             c.Now,
	}
}

var seq int

func procCreate(t time.Time, exe, cmd, uid string, pid int) event.Event {
	return event.Must(event.ProcessCreate, t, &event.ProcessCreatePayload{
		Executable: exe, CommandLine: cmd, UserID: uid, UserName: "user" + uid, ProcessID: pid, ParentProcessID: pid - 1,
	})
}

func connCreate(t time.Time, dir, lport, rport string, pid int) event.Event {
	return event.Must(event.ConnectionCreate, t, &event.ConnectionCreatePayload{
		RemoteAddress: "10.0.0.2", RemotePort: rport, LocalAddress: "10.0.0.1", LocalPort: lport,
		Direction: dir, Protocol: "TCP", ProcessID: pid, UserID: "0", Executable: "/usr/bin/curl", CommandLine: "curl x",
	})
}

func procTerm(t time.Time, exe string, status, pid int) event.Event {
	return event.Must(event.ProcessTerminate, t, &event.ProcessTerminatePayload{Executable: exe, ExitStatus: status, ProcessID: pid})
}

// sized returns an event for queue qi (Operational: ConfigurationError,
// High: LocalUsers, Low: FirewallConfiguration, with the default
// priorities) padded with about n bytes, and its unique tag.
func sized(t time.Time, qi, n int) (event.Event, string) {
	seq++
	tag := fmt.Sprintf("t%07d", seq)
	x := event.ExtraDetails{"Tag": tag, "Pad": pad(n)}
	switch qi {
	case QueueOperational:
		return event.Must(event.ConfigurationError, t, &event.ConfigurationErrorPayload{
			ConfigurationName: "x", ErrorType: event.NotOptimal, UsedConfiguration: "1", Message: "m", ExtraDetails: x}), tag
	case QueueHigh:
		return event.Must(event.LocalUsers, t, &event.LocalUsersPayload{UserName: "u", UserID: "1", GroupIDs: "1", GroupNames: "g", ExtraDetails: x}), tag
	default:
		return event.Must(event.FirewallConfiguration, t, &event.FirewallRulePayload{Priority: 1, Enabled: true, Action: event.ActionAllow, ExtraDetails: x}), tag
	}
}

func pad(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// message is a decoded message body.
type message struct {
	AgentVersion         string
	AgentId              string
	MessageSchemaVersion string
	Events               []struct {
		Id                   string
		TimestampLocal       string
		TimestampUTC         string
		Category             string
		Name                 string
		EventType            string
		IsEmpty              bool
		PayloadSchemaVersion string
		Payload              []map[string]any
	}
}

// decode checks that body is valid JSON of the message shape and returns it.
func decode(t *testing.T, body []byte) message {
	t.Helper()
	require.True(t, json.Valid(body), "invalid JSON: %s", body)
	var m message
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&m))
	require.Equal(t, "1.0", m.MessageSchemaVersion)
	require.Equal(t, testAgentID, m.AgentId)
	require.NotEmpty(t, m.Events)
	for _, e := range m.Events {
		require.True(t, event.ValidID(e.Id), "Id %q", e.Id)
		_, err := time.Parse(time.RFC3339, e.TimestampLocal)
		require.NoError(t, err)
		require.Regexp(t, `Z$`, e.TimestampUTC)
		require.Contains(t, []string{"Periodic", "Triggered"}, e.Category)
		require.Equal(t, len(e.Payload) == 0, e.IsEmpty)
		require.Equal(t, "1.0", e.PayloadSchemaVersion)
		for _, it := range e.Payload {
			checkItemShape(t, e.Name, it)
		}
	}
	validateSchema(t, body)
	return m
}

// checkItemShape checks the JSON types the schema wants for the fields this
// package produces or changes.
func checkItemShape(t *testing.T, name string, it map[string]any) {
	t.Helper()
	if x, ok := it["ExtraDetails"]; ok {
		m, ok := x.(map[string]any)
		require.True(t, ok, "ExtraDetails is %T", x)
		for k, v := range m {
			_, ok := v.(string)
			require.True(t, ok, "ExtraDetails[%s] is %T", k, v)
		}
	}
	for _, k := range []string{"ProcessId", "ParentProcessId", "ExitStatus", "CollectedEvents", "DroppedEvents", "MessagesSent", "MessagesUnder4KB", "TotalFailed"} {
		if v, ok := it[k]; ok {
			_, ok := v.(float64)
			require.True(t, ok, "%s.%s is %T", name, k, v)
		}
	}
	for _, k := range []string{"RemotePort", "LocalPort", "UserId", "Executable", "CommandLine", "Queue"} {
		if v, ok := it[k]; ok {
			_, ok := v.(string)
			require.True(t, ok, "%s.%s is %T", name, k, v)
		}
	}
	if name == event.DroppedEventsStatistics {
		require.Contains(t, []string{"High", "Low"}, it["Queue"])
	}
}

// decodeAll decodes bodies and checks the size bound.
func decodeAll(t *testing.T, bodies [][]byte, max int) []message {
	t.Helper()
	var out []message
	for _, b := range bodies {
		require.LessOrEqual(t, len(b), max, "message of %d bytes exceeds %d", len(b), max)
		out = append(out, decode(t, b))
	}
	return out
}

// names lists the event names of messages in order.
func names(ms []message) []string {
	var out []string
	for _, m := range ms {
		for _, e := range m.Events {
			out = append(out, e.Name)
		}
	}
	return out
}

func extra(t *testing.T, it map[string]any) map[string]any {
	t.Helper()
	m, ok := it["ExtraDetails"].(map[string]any)
	require.True(t, ok, "no ExtraDetails in %v", it)
	return m
}

func sprint(v any) string { return fmt.Sprint(v) }
