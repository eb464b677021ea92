package edgesec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/twinconfig"
)

// benchPool returns a realistic mix of n events (n a power of two): 60%
// ProcessCreate of 40 recurring commands, 10% ProcessCreate with a unique
// command line, 30% outbound ConnectionCreate to 16 endpoints, attributed
// to one of 4 IoT Edge modules — the mix of the aggregate package's
// BenchmarkPipeline.
func benchPool(n int) []event.Event {
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

// benchTransport counts what the engine sends.
type benchTransport struct{ messages, bytes atomic.Int64 }

func (c *benchTransport) Send(_ context.Context, m transport.Message) error {
	c.messages.Add(1)
	c.bytes.Add(int64(len(m.Body)))
	return nil
}

func (c *benchTransport) Close(context.Context) error { return nil }

// emitter is a collector that, once started, emits n events from pool one
// per Emit call (as the process collector does), then waits for cancel.
type emitter struct {
	pool  []event.Event
	n     int
	ready chan struct{} // closed when Run is called
	start chan struct{}
	done  chan struct{}
}

func (c *emitter) Name() string { return "BenchEmitter" }

func (c *emitter) Run(ctx context.Context, sink collector.Sink) error {
	close(c.ready)
	select {
	case <-c.start:
	case <-ctx.Done():
		return nil
	}
	mask := len(c.pool) - 1
	for i := 0; i < c.n; i++ {
		if err := sink.Emit(ctx, c.pool[i&mask]); err != nil {
			break
		}
	}
	close(c.done)
	<-ctx.Done()
	return nil
}

// benchStages are two typical stages: a filter that drops the events of
// one IoT Edge module (none in the pool) and a redaction of secrets in
// ProcessCreate command lines (none match in the pool, so items pass
// unchanged; MapItems still builds a new payload slice per event).
func benchStages() []stage.Stage {
	return []stage.Stage{
		stage.Filter("drop-debug-module", func(ev *event.Event) bool {
			for _, it := range ev.Payload {
				if p, ok := it.(*event.ProcessCreatePayload); ok && p.ExtraDetails["ModuleName"] == "debugshell" {
					return false
				}
			}
			return true
		}),
		stage.MapItems("redact-passwords", func(_ *event.Event, it event.Item) event.Item {
			p, ok := it.(*event.ProcessCreatePayload)
			if !ok || !strings.Contains(p.CommandLine, "--password") {
				return it
			}
			c := *p
			c.CommandLine = "[redacted]"
			return &c
		}, event.ProcessCreate),
	}
}

// BenchmarkEngineAdd measures the engine's event path from a collector's
// Sink.Emit to the aggregator (stages, the aggregator's mutex, Add, Ready
// and the wake-up of the packer), with the packing of full messages
// running concurrently on the engine loop. The stage chain is empty or
// holds two stages (stage.Filter and stage.MapItems); aggregation is the
// twin default (on, 1 hour) or off.
func BenchmarkEngineAdd(b *testing.B) {
	pool := benchPool(1 << 13)
	for _, agg := range []bool{true, false} {
		for _, st := range []struct {
			name   string
			stages func() []stage.Stage
		}{{"none", func() []stage.Stage { return nil }}, {"filter+mapitems", benchStages}} {
			b.Run(fmt.Sprintf("aggregation=%v/stages=%s", onOff(agg), st.name), func(b *testing.B) {
				benchEngineAdd(b, pool, agg, st.stages())
			})
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func benchEngineAdd(b *testing.B, pool []event.Event, aggregation bool, stages []stage.Stage) {
	doc := `{"highPriorityMessageFrequency":{"value":"PT1H"},"lowPriorityMessageFrequency":{"value":"PT1H"}`
	if !aggregation {
		doc += `,"aggregationEnabledProcessCreate":{"value":false},"aggregationEnabledConnectionCreate":{"value":false}`
	}
	cfg, problems, err := twinconfig.Decode([]byte(doc + `}`))
	if err != nil || len(problems) > 0 {
		b.Fatalf("config: %v %v", err, problems)
	}
	tr := &benchTransport{}
	em := &emitter{pool: pool, n: b.N, ready: make(chan struct{}), start: make(chan struct{}), done: make(chan struct{})}
	e := edgesec.New(edgesec.Options{AgentVersion: "bench", AgentID: testAgentID, Transport: tr, Config: &cfg,
		FirstMessageDelay: -1, ConfigWait: -1, Stages: stages})
	e.AddCollector(em)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = e.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	<-em.ready
	b.ReportAllocs()
	b.ResetTimer()
	close(em.start)
	<-em.done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
