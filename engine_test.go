package edgesec_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/outbox/boltstore"
	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
	"github.com/edgesec/edgesec/twinconfig"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testAgentID = "0b6a4f3e-6d0c-4d7e-9a53-2f4b8d2c1a10"

// fastConfig sends high-priority messages every second.
func fastConfig(t *testing.T, extra string) *twinconfig.Config {
	t.Helper()
	doc := `{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"}` + extra + `}`
	c, problems, err := twinconfig.Decode([]byte(doc))
	require.NoError(t, err)
	require.Empty(t, problems)
	return &c
}

// run starts e.Run in the background and returns a stop function that
// cancels it and waits for it to return.
func run(t *testing.T, e *edgesec.Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return within 15s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type eventLine struct {
	Name         string
	Category     string
	Payload      []map[string]any
	ExtraDetails map[string]string
}

// decode returns the events of the recorded messages, after validating
// every message against the schemas.
func decode(t *testing.T, msgs []transport.Message) []eventLine {
	t.Helper()
	return decodeWith(t, msgs)
}

// decodeWith is decode with a validator that knows the vendor events.
func decodeWith(t *testing.T, msgs []transport.Message, vendor ...event.Info) []eventLine {
	t.Helper()
	v, err := schemas.NewValidatorFor(vendor...)
	require.NoError(t, err)
	var out []eventLine
	for _, m := range msgs {
		require.NoError(t, v.ValidateMessage(m.Body), string(m.Body))
		require.Equal(t, transport.SecurityInterfaceID, m.Properties[transport.PropInterfaceID])
		var env struct {
			AgentID string `json:"AgentId"`
			Events  []eventLine
		}
		require.NoError(t, json.Unmarshal(m.Body, &env))
		require.Equal(t, testAgentID, env.AgentID)
		out = append(out, env.Events...)
	}
	return out
}

func names(evs []eventLine) map[string]int {
	n := map[string]int{}
	for _, e := range evs {
		n[e.Name]++
	}
	return n
}

func sysinfoPoller() collector.Poller {
	return collector.PollerFunc(func(context.Context) ([]event.Event, error) {
		return []event.Event{event.Must(event.SystemInformation, time.Now(), &event.SystemInformationPayload{OSName: "TestOS", HostName: "edge-1"})}, nil
	})
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFirstMessageAfterStartupSnapshot(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: 200 * time.Millisecond})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	run(t, e)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := rec.WaitFor(ctx, 1)
	require.NoError(t, err, "default configuration (PT7M) must still send the start-up snapshot within seconds")
	evs := decode(t, msgs)
	require.Equal(t, 1, names(evs)[event.SystemInformation])
	require.Equal(t, 1, names(evs)[event.Heartbeat])
}

func TestShutdownFlushesAggregationsAndClosesTransport(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: -1})
	proc := &triggered{name: event.ProcessCreate, n: 50, mk: func(i int) event.Event {
		return event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{
			Executable: "/bin/sh", ProcessID: 1000 + i, ParentProcessID: 1, UserID: "0", UserName: "root", CommandLine: "sh -c true",
		})
	}}
	e.AddCollector(proc)
	stop := run(t, e)
	waitFor(t, 5*time.Second, "collector to emit", func() bool { return proc.emitted.Load() == 50 })
	require.Zero(t, rec.Len(), "nothing is due before the PT7M timer")
	stop()

	require.True(t, rec.Closed())
	evs := decode(t, rec.Messages())
	var agg []eventLine
	for _, ev := range evs {
		if ev.Name == event.ProcessCreate {
			agg = append(agg, ev)
		}
	}
	require.Len(t, agg, 1, "50 identical process starts aggregate into one event")
	require.Equal(t, "Triggered", agg[0].Category)
	require.Len(t, agg[0].Payload, 1)
	p := agg[0].Payload[0]
	require.EqualValues(t, 0, p["ProcessId"])
	require.Equal(t, "50", p["ExtraDetails"].(map[string]any)["HitCount"])
}

func TestTransportFailuresAreRetriedWithoutLoss(t *testing.T) {
	rec := transporttest.NewRecorder()
	flaky := transporttest.NewFlaky(rec, transporttest.Fail, 2)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: flaky, Config: fastConfig(t, ""), FirstMessageDelay: 100 * time.Millisecond})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	run(t, e)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := rec.WaitFor(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, 2, flaky.Failures())
	evs := decode(t, msgs)
	require.Equal(t, 1, names(evs)[event.SystemInformation], "the snapshot queued before the failures is delivered exactly once")
	// Failed sends are counted in MessageStatistics (sent on the low timer).
	waitFor(t, 10*time.Second, "MessageStatistics with TotalFailed", func() bool {
		for _, ev := range decode(t, rec.Messages()) {
			if ev.Name == event.MessageStatistics && ev.Payload[0]["TotalFailed"].(float64) >= 2 {
				return true
			}
		}
		return false
	})
}

func TestPermanentTransportErrorDropsTheMessage(t *testing.T) {
	rec := transporttest.NewRecorder()
	flaky := transporttest.NewFlaky(rec, transporttest.FailPermanent, 1)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: flaky, Config: fastConfig(t, ""), FirstMessageDelay: 100 * time.Millisecond})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := rec.WaitFor(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 1, flaky.Failures())
}

// chanSource is a ConfigSource fed by the test.
type chanSource struct{ docs chan []byte }

func (s *chanSource) Watch(ctx context.Context, apply func([]byte, error)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-s.docs:
			apply(d, nil)
		}
	}
}

func TestReconfigurationStopsCollectorsAndReportsErrors(t *testing.T) {
	rec := transporttest.NewRecorder()
	src := &chanSource{docs: make(chan []byte)}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Config: fastConfig(t, ""),
		ConfigSources: []edgesec.ConfigSource{src}, FirstMessageDelay: 100 * time.Millisecond,
		ConfigWait: -1}) // this source has no document until the test sends one
	ticks := &triggered{name: event.ProcessCreate, n: -1, every: 20 * time.Millisecond, mk: func(i int) event.Event {
		return event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{Executable: "/bin/true", ProcessID: i, UserID: "0", CommandLine: "true"})
	}}
	e.AddCollector(ticks)
	run(t, e)
	waitFor(t, 5*time.Second, "collector running", func() bool { return ticks.running.Load() })

	// Turning ProcessCreate Off stops its collector.
	src.docs <- []byte(`{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},"eventPriorityProcessCreate":{"value":"off"}}`)
	waitFor(t, 5*time.Second, "collector stopped", func() bool { return !ticks.running.Load() })
	require.Equal(t, event.Off, e.Config().Priority(event.ProcessCreate))

	// A bad key is reported, keeps its last good value, and the rest of
	// the document applies: ProcessCreate back on restarts its collector.
	src.docs <- []byte(`{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},"maxMessageSizeInBytes":{"value":"huge"},"eventPriorityProcessCreate":{"value":"High"}}`)
	waitFor(t, 10*time.Second, "ConfigurationError event", func() bool {
		return names(decode(t, rec.Messages()))[event.ConfigurationError] > 0
	})
	require.Equal(t, event.High, e.Config().Priority(event.ProcessCreate))
	require.Equal(t, 204800, e.Config().MaxMessageSizeInBytes)
	waitFor(t, 5*time.Second, "collector restarted", func() bool { return ticks.running.Load() })
}

func TestWarningsBecomeDiagnosticEvents(t *testing.T) {
	rec := transporttest.NewRecorder()
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Logger: logger,
		Config: fastConfig(t, `,"eventPriorityDiagnostic":{"value":"High"}`), FirstMessageDelay: -1})
	e.AddCollector(&failing{})
	run(t, e)
	e.Logger().Warn("disk almost full", "path", "/var", "sasToken", "SharedAccessSignature sr=secret")
	e.Logger().Error("connect failed: HostName=h;DeviceId=d;SharedAccessKey=secretkey== and mqtts://user:secretpw@broker:8883 and sr=x&sig=secretsig&se=1",
		"err", "dial SharedAccessSignature sr=hub&sig=secretsig2")
	waitFor(t, 10*time.Second, "Diagnostic events", func() bool {
		n := 0
		for _, ev := range decode(t, rec.Messages()) {
			if ev.Name == event.DiagnosticEvent {
				n++
			}
		}
		return n >= 3 // the two lines above and the failing collector's error
	})
	for _, m := range rec.Messages() {
		require.NotContains(t, string(m.Body), "secret", "secrets never reach an event")
	}
	mu.Lock()
	require.Contains(t, logs.String(), "disk almost full")
	mu.Unlock()
}

func TestFailingCollectorIsRestartedAndReportedInHeartbeat(t *testing.T) {
	rec := transporttest.NewRecorder()
	f := &failing{}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		Config: fastConfig(t, `,"heartbeatFrequency":{"value":"PT1S"}`), FirstMessageDelay: -1})
	e.AddCollector(f)
	run(t, e)
	waitFor(t, 10*time.Second, "a restart", func() bool { return f.runs.Load() >= 2 })
	waitFor(t, 10*time.Second, "heartbeat reporting the failure", func() bool {
		for _, m := range rec.Messages() {
			if strings.Contains(string(m.Body), `"State":"failed","LastError":"device unplugged"`) {
				return true
			}
		}
		return false
	})
}

func TestOnceSendsEverySnapshotAndCloses(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	e.AddCollector(&failing{}) // triggered collectors are not run by Once
	require.NoError(t, e.Once(context.Background()))
	require.True(t, rec.Closed())
	n := names(decode(t, rec.Messages()))
	require.Equal(t, 1, n[event.SystemInformation])
	require.Equal(t, 1, n[event.Heartbeat])
}

func TestRunWithoutTransportFails(t *testing.T) {
	err := edgesec.New(edgesec.Options{}).Run(context.Background())
	require.Error(t, err)
}

// triggered emits n events (n < 0: until stopped), one every `every`.
type triggered struct {
	name    string
	n       int
	every   time.Duration
	mk      func(i int) event.Event
	emitted atomic.Int64
	running atomic.Bool
}

func (c *triggered) Name() string { return c.name }

func (c *triggered) Run(ctx context.Context, sink collector.Sink) error {
	c.running.Store(true)
	defer c.running.Store(false)
	for i := 0; c.n < 0 || i < c.n; i++ {
		if err := sink.Emit(ctx, c.mk(i)); err != nil {
			return nil
		}
		c.emitted.Add(1)
		if c.every > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.every):
			}
		}
	}
	<-ctx.Done()
	return nil
}

// failing is a collector that fails at once every time it runs.
type failing struct{ runs atomic.Int64 }

func (f *failing) Name() string { return "Modbus" }

func (f *failing) Run(context.Context, collector.Sink) error {
	f.runs.Add(1)
	return errors.New("device unplugged")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func openSpool(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path, boltstore.Options{MaxBytes: 16 << 20})
	require.NoError(t, err)
	return st
}

// TestSpoolSurvivesRestart: messages that a failing transport could not
// deliver stay in the durable spool and are sent, with the same message
// ids, by the next run.
func TestSpoolSurvivesRestart(t *testing.T) {
	spoolPath := t.TempDir() + "/spool.db"
	down := transporttest.NewFlaky(transporttest.NewRecorder(), transporttest.Fail, -1)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: down, Store: openSpool(t, spoolPath),
		FirstMessageDelay: 50 * time.Millisecond, ShutdownTimeout: 200 * time.Millisecond})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	stop := run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, down.WaitAttempts(ctx, 1))
	stop()
	attempted := down.Failures()
	require.Positive(t, attempted)

	rec := transporttest.NewRecorder()
	e2 := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Store: openSpool(t, spoolPath), FirstMessageDelay: -1})
	run(t, e2)
	msgs, err := rec.WaitFor(ctx, 1)
	require.NoError(t, err)
	evs := decode(t, msgs[:1])
	require.Equal(t, 1, names(evs)[event.SystemInformation], "the first run's snapshot is delivered by the second run")
}

func TestDamagedSpoolIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	spoolPath := dir + "/spool.db"
	require.NoError(t, os.WriteFile(spoolPath, []byte("this is not a bbolt file, just garbage bytes............"), 0o600))
	rec := transporttest.NewRecorder()
	st, moved, cause, err := boltstore.OpenOrMoveAside(spoolPath, boltstore.Options{MaxBytes: 1 << 20}, time.Now())
	require.NoError(t, err)
	require.Error(t, cause)
	require.NotEmpty(t, moved)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Store: st})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	require.NoError(t, e.Once(context.Background()))
	require.Positive(t, rec.Len())
	matches, err := filepath.Glob(spoolPath + ".damaged-*")
	require.NoError(t, err)
	require.Len(t, matches, 1)
}

// slowSource delivers its document after a delay, like a module twin read
// after connecting to the hub.
type slowSource struct {
	delay time.Duration
	doc   []byte
}

func (s *slowSource) Watch(ctx context.Context, apply func([]byte, error)) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(s.delay):
	}
	apply(s.doc, nil)
	<-ctx.Done()
	return nil
}

// TestCollectorsWaitForTheFirstConfiguration: a collector that the twin
// turns Off never sends its start-up snapshot, even though the twin
// arrives after the engine started.
func TestCollectorsWaitForTheFirstConfiguration(t *testing.T) {
	rec := transporttest.NewRecorder()
	src := &slowSource{delay: 300 * time.Millisecond, doc: []byte(`{"eventPriorityListeningPorts":{"value":"Off"}}`)}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		ConfigSources: []edgesec.ConfigSource{src}, FirstMessageDelay: 100 * time.Millisecond})
	var polls atomic.Int64
	e.AddPoller(event.ListeningPorts, collector.PollerFunc(func(context.Context) ([]event.Event, error) {
		polls.Add(1)
		return []event.Event{event.Must(event.ListeningPorts, time.Now(), &event.ListeningPortsPayload{Protocol: "TCP", LocalPort: "22"})}, nil
	}))
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	stop := run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := rec.WaitFor(ctx, 1)
	require.NoError(t, err)
	stop()
	n := names(decode(t, append(msgs, rec.Messages()...)))
	require.Positive(t, n[event.SystemInformation])
	require.Zero(t, n[event.ListeningPorts], "ListeningPorts is Off in the first configuration")
	require.Zero(t, polls.Load(), "the collector turned Off never ran")
}

// TestFailingTransportIsRetriedWithBackoff: a transport that always fails
// is retried with growing, jittered delays, not in a busy loop.
func TestFailingTransportIsRetriedWithBackoff(t *testing.T) {
	down := transporttest.NewFlaky(transporttest.NewRecorder(), transporttest.Fail, -1)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: down,
		FirstMessageDelay: 10 * time.Millisecond, ShutdownTimeout: 100 * time.Millisecond})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	stop := run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, down.WaitAttempts(ctx, 1))
	time.Sleep(2 * time.Second)
	stop()
	// Delays of 0.5 s doubling (each jittered into [d/2, d)) allow at most
	// 1 + 2 s / 0.25 s attempts even with the shortest draws, and in
	// practice 3-5; a retry loop without backoff makes thousands.
	n := down.Attempts()
	t.Logf("%d attempts in 2 s", n)
	require.GreaterOrEqual(t, n, 2, "the message is retried")
	require.LessOrEqual(t, n, 9, "retries are spaced by backoff")
}

// versionRecorder is a stage that records the twin version of every
// configuration the engine gives it.
type versionRecorder struct {
	mu       sync.Mutex
	versions []int64
}

func (v *versionRecorder) Name() string { return "versions" }
func (v *versionRecorder) Process(_ context.Context, ev *event.Event, emit stage.Emit) error {
	emit(*ev)
	return nil
}
func (v *versionRecorder) ApplyConfig(c twinconfig.Config) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.versions = append(v.versions, c.Version)
	return nil
}
func (v *versionRecorder) seen() []int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]int64(nil), v.versions...)
}

// A new twin version with unchanged settings reaches the stages (a
// refused document's recommendation resolves on it); the same version
// again does not.
func TestNewTwinVersionWithSameSettingsReachesStages(t *testing.T) {
	rec := transporttest.NewRecorder()
	src := &chanSource{docs: make(chan []byte)}
	vr := &versionRecorder{}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Config: fastConfig(t, ""),
		ConfigSources: []edgesec.ConfigSource{src}, FirstMessageDelay: -1, ConfigWait: -1, Stages: []stage.Stage{vr}})
	run(t, e)
	doc := func(v int) []byte {
		return fmt.Appendf(nil, `{"$version":%d,%q:{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"}}}`, v, twinconfig.ObjectName)
	}
	last := func() int64 {
		s := vr.seen()
		if len(s) == 0 {
			return -1
		}
		return s[len(s)-1]
	}
	src.docs <- doc(4)
	waitFor(t, 5*time.Second, "version 4 applied", func() bool { return last() == 4 })
	n := len(vr.seen())
	src.docs <- doc(4)
	src.docs <- doc(6) // the same settings, a new version
	waitFor(t, 5*time.Second, "version 6 applied", func() bool { return last() == 6 })
	for _, v := range vr.seen()[n:] {
		require.Equal(t, int64(6), v, "the repeated version 4 reached the stage again: %v", vr.seen())
	}
}
