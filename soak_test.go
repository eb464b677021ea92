package edgesec_test

import (
	"context"
	"encoding/json"
	"flag"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/twinconfig"
)

var (
	soakFor    = flag.Duration("soak", 2*time.Second, "how long TestSoakFlood floods the engine (CI runs the short default; try -soak 5m)")
	soakStages = flag.Bool("soak-stages", false, "run TestSoakFlood with two processing stages (stage.Filter and stage.MapItems, as BenchmarkEngineAdd)")
)

// countingTransport validates every 50th message against the schemas and
// keeps only counters, so the test itself stays small in memory.
type countingTransport struct {
	v        *schemas.Validator
	messages atomic.Int64
	bytes    atomic.Int64
	invalid  atomic.Int64
	mu       sync.Mutex
	dropped  int64 // from DroppedEventsStatistics
	firstErr error
}

func (c *countingTransport) Send(_ context.Context, m transport.Message) error {
	n := c.messages.Add(1)
	c.bytes.Add(int64(len(m.Body)))
	if n%50 == 1 {
		if err := c.v.ValidateMessage(m.Body); err != nil {
			c.invalid.Add(1)
			c.mu.Lock()
			if c.firstErr == nil {
				c.firstErr = err
			}
			c.mu.Unlock()
		}
	}
	var env struct {
		Events []struct {
			Name    string
			Payload []struct{ DroppedEvents int64 }
		}
	}
	if err := json.Unmarshal(m.Body, &env); err == nil {
		for _, e := range env.Events {
			if e.Name == event.DroppedEventsStatistics {
				c.mu.Lock()
				for _, p := range e.Payload {
					c.dropped += p.DroppedEvents
				}
				c.mu.Unlock()
			}
		}
	}
	return nil
}

func (c *countingTransport) Close(context.Context) error { return nil }

// flood emits events as fast as the engine takes them, like a fork bomb
// would make the process collector do: mostly distinct command lines (so
// aggregation cannot fold them) and some long ones.
type flood struct {
	name    string
	emitted atomic.Int64
}

func (f *flood) Name() string { return f.name }

func (f *flood) Run(ctx context.Context, sink collector.Sink) error {
	long := make([]byte, 4000)
	for i := range long {
		long[i] = 'x'
	}
	for i := 0; ctx.Err() == nil; i++ {
		cmd := "worker --id " + strconv.Itoa(i)
		if i%100 == 0 {
			cmd += " " + string(long)
		}
		var ev event.Event
		if f.name == event.ProcessCreate {
			ev = event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{
				Executable: "/usr/bin/worker", ProcessID: i, ParentProcessID: 1, UserID: "1000", CommandLine: cmd,
			})
		} else {
			ev = event.Must(event.ConnectionCreate, time.Now(), &event.ConnectionCreatePayload{
				RemoteAddress: "10.0.0." + strconv.Itoa(i%250+1), RemotePort: strconv.Itoa(1024 + i%60000), LocalAddress: "10.0.0.254",
				LocalPort: "40000", Direction: event.DirectionOut, Protocol: "TCP", ProcessID: i, Executable: "/usr/bin/worker",
			})
		}
		if err := sink.Emit(ctx, ev); err != nil {
			return nil
		}
		f.emitted.Add(1)
		if i%1000 == 0 {
			runtime.Gosched()
		}
	}
	return nil
}

// TestSoakFlood floods the engine with distinct process and connection
// events (a fork bomb) with a small cache and fast timers, and checks that
// memory stays bounded, messages keep flowing and stay schema-valid, and
// the overflow is counted rather than lost silently.
func TestSoakFlood(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	cfg, problems, err := twinconfig.Decode([]byte(`{
		"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT1S"},
		"maxLocalCacheSizeInBytes":{"value":262144},"maxMessageSizeInBytes":{"value":65536},
		"aggregationIntervalProcessCreate":{"value":"PT1S"},"aggregationIntervalConnectionCreate":{"value":"PT1S"}}`))
	require.NoError(t, err)
	require.Empty(t, problems)
	tr := &countingTransport{v: v}
	opts := edgesec.Options{AgentVersion: "soak", AgentID: testAgentID, Transport: tr, Config: &cfg, FirstMessageDelay: -1}
	if *soakStages {
		opts.Stages = benchStages()
	}
	e := edgesec.New(opts)
	procs, conns := &flood{name: event.ProcessCreate}, &flood{name: event.ConnectionCreate}
	e.AddCollector(procs)
	e.AddCollector(conns)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := run(t, e)
	var peak uint64
	deadline := time.Now().Add(*soakFor)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	stop()

	emitted := procs.emitted.Load() + conns.emitted.Load()
	t.Logf("stages %d, %v: %d events emitted (%.0f/s), %d messages (%d bytes) sent, %d drops reported, heap in use peak %d KiB (base %d KiB)",
		len(opts.Stages), *soakFor, emitted, float64(emitted)/soakFor.Seconds(), tr.messages.Load(), tr.bytes.Load(), tr.dropped, peak>>10, base.HeapInuse>>10)
	require.Positive(t, tr.messages.Load(), "messages keep flowing under a flood")
	require.Zero(t, tr.invalid.Load(), "every sampled message validates: %v", tr.firstErr)
	// The bound: the event cache (256 KiB), aggregation (part of it), one
	// message being packed, and the outbox (bounded by the same cache).
	// 32 MiB leaves room for the runtime and the collectors' garbage
	// between collections; an unbounded queue of a second's flood (hundreds
	// of thousands of events) would exceed it by far.
	require.Less(t, peak, base.HeapInuse+32<<20, "heap must stay bounded under a flood")
	// What did not fit was counted (DroppedEventsStatistics), not lost
	// silently. The statistics are sent on the low timer (1 s), so a run
	// shorter than that may not have reported yet.
	if *soakFor >= 2*time.Second {
		require.Positive(t, tr.dropped, "a flood larger than the cache must report drops")
	}
}
