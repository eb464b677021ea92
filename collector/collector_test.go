package collector_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
)

// countingPoller returns one empty SystemInformation snapshot per poll and
// records when it was polled.
type countingPoller struct {
	mu    sync.Mutex
	times []time.Time
	err   error
}

func (p *countingPoller) Poll(ctx context.Context) ([]event.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.times = append(p.times, time.Now())
	return []event.Event{event.Must(event.SystemInformation, time.Now())}, p.err
}

func (p *countingPoller) polls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.times)
}

// runTicker runs tk until the test ends and checks it returns nil.
func runTicker(t *testing.T, tk collector.Collector, sink collector.Sink) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tk.Run(ctx, sink) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	once := sync.OnceFunc(stop)
	t.Cleanup(once)
	return once
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestEveryConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return collector.Every("SystemInformation", func() time.Duration { return 50 * time.Millisecond },
			collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
				return []event.Event{event.Must(event.SystemInformation, time.Now())}, nil
			}))
	}, collectortest.WithMinEvents(2))
}

func TestEveryPollsOnceAtStart(t *testing.T) {
	p := &countingPoller{}
	tk := collector.Every("SystemInformation", func() time.Duration { return time.Hour }, p)
	if tk.Name() != "SystemInformation" {
		t.Errorf("Name() = %q", tk.Name())
	}
	rec := collectortest.NewRecorder()
	began := time.Now()
	runTicker(t, tk, rec)
	evs, err := rec.WaitFor(waitCtx(t, time.Second), 1)
	if err != nil {
		t.Fatalf("no poll at start: %v", err)
	}
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("first poll after %v", d)
	}
	if evs[0].Name != event.SystemInformation || !evs[0].IsEmpty() {
		t.Errorf("emitted %+v", evs[0])
	}
	time.Sleep(100 * time.Millisecond)
	if n := p.polls(); n != 1 {
		t.Errorf("%d polls with a one-hour interval, want 1", n)
	}
}

func TestEveryIntervalFollowsFunc(t *testing.T) {
	p := &countingPoller{}
	var calls atomic.Int32
	interval := func() time.Duration {
		if calls.Add(1) <= 3 {
			return 20 * time.Millisecond
		}
		return time.Hour
	}
	rec := collectortest.NewRecorder()
	runTicker(t, collector.Every("SystemInformation", interval, p), rec)
	if _, err := rec.WaitFor(waitCtx(t, 2*time.Second), 4); err != nil {
		t.Fatalf("want 4 polls (start + 3 short intervals): %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := p.polls(); n != 4 {
		t.Errorf("%d polls, want 4: the interval func is read before every wait", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 1; i < len(p.times); i++ {
		if d := p.times[i].Sub(p.times[i-1]); d < 15*time.Millisecond {
			t.Errorf("polls %d and %d only %v apart", i-1, i, d)
		}
	}
}

func TestEveryWakeAppliesShorterInterval(t *testing.T) {
	p := &countingPoller{}
	var interval atomic.Int64
	interval.Store(int64(time.Hour))
	tk := collector.Every("SystemInformation", func() time.Duration { return time.Duration(interval.Load()) }, p)
	rec := collectortest.NewRecorder()
	runTicker(t, tk, rec)
	if _, err := rec.WaitFor(waitCtx(t, time.Second), 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	// The new interval has already passed since the last poll: Wake polls
	// at once.
	interval.Store(int64(10 * time.Millisecond))
	woke := time.Now()
	tk.Wake()
	if _, err := rec.WaitFor(waitCtx(t, time.Second), 2); err != nil {
		t.Fatalf("Wake did not apply the shorter interval: %v", err)
	}
	if d := time.Since(woke); d > 300*time.Millisecond {
		t.Errorf("poll %v after Wake", d)
	}
	// A longer one after Wake: no further poll.
	interval.Store(int64(time.Hour))
	tk.Wake()
	n := p.polls()
	time.Sleep(100 * time.Millisecond)
	if p.polls() > n+1 {
		t.Errorf("polls went on after the interval was set back to an hour")
	}
	// Wake never blocks, even when nobody is waiting.
	for i := 0; i < 100; i++ {
		tk.Wake()
	}
}

func TestEveryNonPositiveIntervalWaitsForWake(t *testing.T) {
	p := &countingPoller{}
	var interval atomic.Int64
	tk := collector.Every("SystemInformation", func() time.Duration { return time.Duration(interval.Load()) }, p)
	rec := collectortest.NewRecorder()
	runTicker(t, tk, rec)
	if _, err := rec.WaitFor(waitCtx(t, time.Second), 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := p.polls(); n != 1 {
		t.Fatalf("%d polls with a zero interval, want 1", n)
	}
	interval.Store(int64(time.Millisecond))
	tk.Wake()
	if _, err := rec.WaitFor(waitCtx(t, time.Second), 2); err != nil {
		t.Fatalf("no poll after Wake: %v", err)
	}
}

func TestEveryReportsErrors(t *testing.T) {
	boom := errors.New("cannot read /etc/passwd")
	p := &countingPoller{err: boom}
	rec := collectortest.NewRecorder()
	runTicker(t, collector.Every("LocalUsers", func() time.Duration { return time.Hour }, p), rec)
	errs, err := rec.WaitForErrors(waitCtx(t, time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0].Collector != "LocalUsers" || !errors.Is(errs[0].Err, boom) {
		t.Errorf("reported %q: %v", errs[0].Collector, errs[0].Err)
	}
	// Partial results with an error are still emitted.
	if _, err := rec.WaitFor(waitCtx(t, time.Second), 1); err != nil {
		t.Errorf("partial result not emitted: %v", err)
	}
}

// refusingSink refuses every event and records reported errors.
type refusingSink struct {
	collectortest.Recorder
}

var errFull = errors.New("queue full")

func (s *refusingSink) Emit(context.Context, ...event.Event) error { return errFull }

func TestEveryReportsEmitErrors(t *testing.T) {
	sink := &refusingSink{}
	p := &countingPoller{}
	stop := runTicker(t, collector.Every("SystemInformation", func() time.Duration { return 10 * time.Millisecond }, p), sink)
	errs, err := sink.WaitForErrors(waitCtx(t, time.Second), 3)
	if err != nil {
		t.Fatalf("emit errors not reported: %v", err)
	}
	if !errors.Is(errs[0].Err, errFull) {
		t.Errorf("reported %v", errs[0].Err)
	}
	if p.polls() < 3 {
		t.Errorf("stopped polling after a refused Emit")
	}
	stop()
}

func TestEveryNoReporterIsFine(t *testing.T) {
	p := &countingPoller{err: errors.New("x")}
	var got atomic.Int32
	sink := collector.SinkFunc(func(ctx context.Context, evs ...event.Event) error {
		got.Add(int32(len(evs)))
		return nil
	})
	stop := runTicker(t, collector.Every("SystemInformation", func() time.Duration { return 5 * time.Millisecond }, p), sink)
	deadline := time.Now().Add(time.Second)
	for got.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if got.Load() < 3 {
		t.Errorf("%d events", got.Load())
	}
}

func TestEveryReturnsOnCancel(t *testing.T) {
	t.Run("waiting", func(t *testing.T) {
		stop := runTicker(t, collector.Every("SystemInformation", func() time.Duration { return time.Hour }, &countingPoller{}), collectortest.NewRecorder())
		time.Sleep(20 * time.Millisecond)
		stop()
	})
	t.Run("polling", func(t *testing.T) {
		started := make(chan struct{})
		p := collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		rec := collectortest.NewRecorder()
		stop := runTicker(t, collector.Every("SystemInformation", func() time.Duration { return time.Hour }, p), rec)
		<-started
		stop()
		if len(rec.Errors()) != 0 {
			t.Errorf("cancellation reported as an error: %v", rec.Errors())
		}
	})
	t.Run("emitting", func(t *testing.T) {
		blocked := make(chan struct{}, 1)
		sink := collector.SinkFunc(func(ctx context.Context, evs ...event.Event) error {
			blocked <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		})
		stop := runTicker(t, collector.Every("SystemInformation", func() time.Duration { return time.Hour }, &countingPoller{}), sink)
		<-blocked
		stop()
	})
	t.Run("cancelled before Run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p := &countingPoller{}
		if err := collector.Every("SystemInformation", func() time.Duration { return time.Hour }, p).Run(ctx, collectortest.NewRecorder()); err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestReportErrorWithoutReporter(t *testing.T) {
	// A sink that is not an ErrorReporter: ReportError does nothing.
	collector.ReportError(context.Background(), collector.SinkFunc(func(context.Context, ...event.Event) error { return nil }), "x", errors.New("y"))
	rec := collectortest.NewRecorder()
	collector.ReportError(context.Background(), rec, "x", nil)
	if len(rec.Errors()) != 0 {
		t.Error("nil error reported")
	}
}
