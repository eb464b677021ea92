package aggregate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

// benchEvents returns a realistic mix of n events: 60% ProcessCreate of 40
// recurring commands, 10% ProcessCreate with a unique command line, 30%
// outbound ConnectionCreate to 16 endpoints, with varying pids and ports,
// attributed to one of 4 containers.
func benchEvents(n int) []event.Event {
	rng := rand.New(rand.NewPCG(7, 7))
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	modules := []string{"edgeAgent", "edgeHub", "SimulatedTemperatureSensor", "opcpublisher"}
	out := make([]event.Event, n)
	for i := range out {
		t := t0.Add(time.Duration(i) * time.Millisecond)
		pid := 1000 + rng.IntN(30000)
		m := rng.IntN(len(modules))
		x := event.ExtraDetails{"ContainerId": fmt.Sprintf("%064x", m+1), "ModuleName": modules[m]}
		switch r := rng.IntN(10); {
		case r < 6:
			c := rng.IntN(40)
			out[i] = event.Must(event.ProcessCreate, t, &event.ProcessCreatePayload{
				Executable: fmt.Sprintf("/usr/bin/tool%d", c), CommandLine: fmt.Sprintf("/usr/bin/tool%d --config /etc/tool%d.conf --verbose", c, c),
				UserID: "0", UserName: "root", ProcessID: pid, ParentProcessID: 1, ExtraDetails: x,
			})
		case r < 7:
			out[i] = event.Must(event.ProcessCreate, t, &event.ProcessCreatePayload{
				Executable: "/bin/sh", CommandLine: fmt.Sprintf("/bin/sh -c echo %d > /tmp/job-%d", rng.Int64(), i),
				UserID: "1000", UserName: "edge", ProcessID: pid, ParentProcessID: pid - 1, ExtraDetails: x,
			})
		default:
			d := rng.IntN(16)
			out[i] = event.Must(event.ConnectionCreate, t, &event.ConnectionCreatePayload{
				RemoteAddress: fmt.Sprintf("52.%d.10.%d", d, d*3), RemotePort: "443", LocalAddress: "172.18.0.5",
				LocalPort: event.Itoa(32768 + rng.IntN(28000)), Direction: event.DirectionOut, Protocol: "TCP",
				ProcessID: pid, UserID: "0", Executable: "/usr/bin/dotnet", CommandLine: "dotnet Microsoft.Azure.Devices.Edge.Hub.Service.dll",
				ExtraDetails: x,
			})
		}
	}
	return out
}

// BenchmarkPipeline measures the engine's path for one event: Add (which
// aggregates, or encodes and queues), the flush timer, and packing full
// messages, with a fake clock advancing 1 ms per event.
func BenchmarkPipeline(b *testing.B) {
	const poolSize = 1 << 13
	pool := benchEvents(poolSize)
	run := func(b *testing.B, interval time.Duration) {
		clk := newClock()
		s := settings(clk, interval)
		s.MaxCacheBytes = DefaultMaxCacheBytes
		s.MaxMessageBytes = DefaultMaxMessageBytes
		p := New(s)
		var msgBytes, msgs int
		pack := func(bodies [][]byte) {
			for _, m := range bodies {
				msgBytes += len(m)
				msgs++
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			clk.Advance(time.Millisecond)
			p.Add(pool[i&(poolSize-1)])
			if i&1023 == 0 {
				p.Flush(false)
			}
			if p.Ready() {
				pack(p.Pack(event.High, true))
			}
		}
		p.Flush(true)
		pack(p.Pack(event.High, false))
		pack(p.Pack(event.Low, false))
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(msgBytes)/float64(b.N), "msgB/event")
		b.ReportMetric(float64(msgs), "msgs")
		if d := p.Stats().Dropped; d != [3]int64{} {
			b.Fatalf("dropped %v", d)
		}
	}
	b.Run("aggregation=on", func(b *testing.B) { run(b, time.Second) })
	b.Run("aggregation=off", func(b *testing.B) { run(b, 0) })
	b.Run("encoding-json", func(b *testing.B) { benchEncodingJSON(b, pool) })
}

// The alternative a user would write: structs with JSON field names,
// encoded with encoding/json, packed by size.
type jsonEnvelope struct {
	AgentVersion         string
	AgentId              string
	MessageSchemaVersion string
	Events               []json.RawMessage
}

type jsonEvent struct {
	Id                   string
	TimestampLocal       string
	TimestampUTC         string
	Category             string
	Name                 string
	EventType            string
	IsEmpty              bool
	PayloadSchemaVersion string
	Payload              []any
}

type jsonProcessCreate struct {
	Executable      string
	ProcessId       int
	ParentProcessId int
	UserId          string
	UserName        string `json:",omitempty"`
	CommandLine     string
	ExtraDetails    map[string]string `json:",omitempty"`
}

type jsonConnectionCreate struct {
	RemoteAddress string
	RemotePort    string
	LocalAddress  string `json:",omitempty"`
	LocalPort     string `json:",omitempty"`
	Direction     string
	Protocol      string
	ProcessId     int
	UserId        string `json:",omitempty"`
	Executable    string
	CommandLine   string            `json:",omitempty"`
	ExtraDetails  map[string]string `json:",omitempty"`
}

func toJSONEvent(ev *event.Event) jsonEvent {
	je := jsonEvent{
		Id: ev.ID, TimestampLocal: event.FormatLocal(ev.Time), TimestampUTC: event.FormatUTC(ev.Time),
		Category: string(ev.Category), Name: ev.Name, EventType: string(ev.Type), IsEmpty: len(ev.Payload) == 0,
		PayloadSchemaVersion: event.SchemaVersion,
	}
	for _, it := range ev.Payload {
		switch v := it.(type) {
		case *event.ProcessCreatePayload:
			je.Payload = append(je.Payload, jsonProcessCreate{v.Executable, v.ProcessID, v.ParentProcessID, v.UserID, v.UserName, v.CommandLine, v.ExtraDetails})
		case *event.ConnectionCreatePayload:
			je.Payload = append(je.Payload, jsonConnectionCreate{v.RemoteAddress, v.RemotePort, v.LocalAddress, v.LocalPort, v.Direction,
				v.Protocol, v.ProcessID, v.UserID, v.Executable, v.CommandLine, v.ExtraDetails})
		}
	}
	return je
}

// benchEncodingJSON is the aggregation=off case done with encoding/json:
// each event is marshalled once (to know its size), queued, and messages
// are marshalled from the queued raw events when a message is full.
func benchEncodingJSON(b *testing.B, pool []event.Event) {
	const max = DefaultMaxMessageBytes
	env := jsonEnvelope{AgentVersion: "1.2.3", AgentId: testAgentID, MessageSchemaVersion: "1.0"}
	empty, _ := json.Marshal(env)
	overhead := len(empty) - len("null") + len("[]")
	size := overhead
	var msgBytes, msgs int
	flush := func() {
		body, err := json.Marshal(env)
		if err != nil {
			b.Fatal(err)
		}
		if len(body) > max {
			b.Fatalf("message of %d bytes", len(body))
		}
		msgBytes += len(body)
		msgs++
		env.Events = env.Events[:0:0]
		size = overhead
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := &pool[i&(len(pool)-1)]
		raw, err := json.Marshal(toJSONEvent(ev))
		if err != nil {
			b.Fatal(err)
		}
		add := len(raw)
		if len(env.Events) > 0 {
			add++
		}
		if size+add > max {
			flush()
			add = len(raw)
		}
		env.Events = append(env.Events, raw)
		size += add
	}
	if len(env.Events) > 0 {
		flush()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(msgBytes)/float64(b.N), "msgB/event")
	b.ReportMetric(float64(msgs), "msgs")
}
