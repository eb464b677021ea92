package collectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/subtest"
	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/twinconfig"
)

// Defaults of the options.
const (
	// DefaultWait is how long a collector is given to produce its events.
	DefaultWait = 2 * time.Second
	// DefaultMinEvents is the number of events a collector must produce.
	DefaultMinEvents = 1
	// CancelTimeout is how soon Run must return after its context is
	// cancelled.
	CancelTimeout = 2 * time.Second
)

// triggerEvery is how often the trigger is repeated while waiting.
const triggerEvery = 100 * time.Millisecond

// Option configures [Run].
type Option func(*config)

type config struct {
	wait          time.Duration
	minEvents     int
	trigger       func(t *testing.T)
	leakOpts      []goleak.Option
	cancelTimeout time.Duration // CancelTimeout; shortened by this package's own tests
	lateGrace     time.Duration // how long to watch for calls after Run returned
}

// WithWait sets how long the collector may take to produce the events
// WithMinEvents asks for (default [DefaultWait]). Each sub-test stops
// waiting as soon as they have arrived.
func WithWait(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.wait = d
		}
	}
}

// WithMinEvents sets how many events the collector must emit within the
// wait (default [DefaultMinEvents]). Zero accepts a collector that emits
// nothing (for example one whose source is missing on the test machine).
func WithMinEvents(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.minEvents = n
		}
	}
}

// WithTrigger sets a function that makes something happen for the
// collector to report (start a process, log in, start a container). It is
// called from the test goroutine right after Run starts, and again every
// 100ms until enough events have arrived or the wait is over, so that a
// collector still subscribing when it first ran does not miss everything.
// It must be cheap, and must clean up what it starts before returning (or
// with t.Cleanup) so that nothing looks like a goroutine leak.
func WithTrigger(f func(t *testing.T)) Option {
	return func(c *config) { c.trigger = f }
}

// WithLeakOptions adds goleak options to the goroutine leak check, for
// goroutines a collector legitimately leaves behind (for example an HTTP
// client's idle connections owned by the caller): goleak.IgnoreTopFunction,
// goleak.IgnoreAnyFunction.
func WithLeakOptions(opts ...goleak.Option) Option {
	return func(c *config) { c.leakOpts = append(c.leakOpts, opts...) }
}

// Run checks that the collectors newCollector returns behave as a
// [collector.Collector] must; see the package documentation for the list of
// checks. newCollector is called once per sub-test for a fresh collector.
// Failures are reported with t.Errorf in named sub-tests.
//
// Run must not be called from a parallel test.
func Run(t *testing.T, newCollector func(t *testing.T) collector.Collector, opts ...Option) {
	t.Helper()
	run(subtest.Testing(t), newCollector, opts...)
}

// reporter is where the checks report: the sub-test's testing.T, or the
// recorder of this package's own tests (internal/subtest).
type reporter = subtest.Reporter

func run(s subtest.Suite, newCollector func(t *testing.T) collector.Collector, opts ...Option) {
	s.Helper()
	cfg := config{
		wait:          DefaultWait,
		minEvents:     DefaultMinEvents,
		cancelTimeout: CancelTimeout,
		lateGrace:     150 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := validator()
	if err != nil {
		s.Errorf("collectortest: %v", err)
		return
	}
	s.Run("Declarations", func(t *testing.T, r reporter) { v = checkDeclarations(t, r, v, newCollector) })
	s.Run("Collect", func(t *testing.T, r reporter) { checkCollect(t, r, &cfg, v, newCollector) })
	s.Run("SinkErrors", func(t *testing.T, r reporter) { checkSinkErrors(t, r, &cfg, newCollector) })
	s.Run("BlockingSink", func(t *testing.T, r reporter) { checkBlockingSink(t, r, &cfg, newCollector) })
	s.Run("CancelledBeforeRun", func(t *testing.T, r reporter) { checkCancelledBeforeRun(t, r, &cfg, newCollector) })
	s.Run("Configuration", func(t *testing.T, r reporter) { checkConfiguration(t, r, &cfg, newCollector) })
}

var validator = sync.OnceValues(schemas.NewValidator)

// checkDeclarations checks the events a collector declares
// (collector.Describer) and returns the validator to check its events
// with: one that knows its vendor events and their payload schemas.
func checkDeclarations(t *testing.T, r reporter, v *schemas.Validator, newCollector func(t *testing.T) collector.Collector) *schemas.Validator {
	r.Helper()
	c := newCollector(t)
	if c == nil {
		return v
	}
	d, ok := c.(collector.Describer)
	if !ok {
		return v
	}
	infos := d.Events()
	if len(infos) == 0 {
		r.Errorf("%s: Events() declares no event", c.Name())
		return v
	}
	var vendor []event.Info
	for _, in := range infos {
		if cat, ok := event.Lookup(in.Name); ok {
			if in.Category != cat.Category || in.Type != cat.Type {
				r.Errorf("%s: declares %s as %s/%s, but the catalogue says %s/%s (use event.Infos)", c.Name(), in.Name, in.Category, in.Type, cat.Category, cat.Type)
			}
			continue
		}
		vendor = append(vendor, in)
	}
	if _, err := twinconfig.NewSchema(infos...); err != nil {
		r.Errorf("%s: Events(): %v", c.Name(), err)
		return v
	}
	if len(vendor) == 0 {
		return v
	}
	vv, err := schemas.NewValidatorFor(vendor...)
	if err != nil {
		r.Errorf("%s: Events(): %v", c.Name(), err)
		return v
	}
	return vv
}

// sinkMode is how the suite's Sink answers Emit.
type sinkMode int

const (
	modeRecord sinkMode = iota // accept and record
	modeFail                   // return an error
	modeBlock                  // block until the Emit context is done
)

// errRefused is what the failing sink returns.
var errRefused = errors.New("collectortest: sink refuses the events (deliberately)")

// emitted is one Emit call: the slice as given and the encodings at the
// time of the call.
type emitted struct {
	events []event.Event
	enc    [][]byte
}

// checkSink is the Sink the suite hands to Run.
type checkSink struct {
	mode    sinkMode
	release chan struct{} // closed when the suite gives up on Run; unblocks modeBlock

	mu       sync.Mutex
	returned bool
	calls    int // Emit calls
	blocked  int // Emit calls currently blocked
	late     []string
	emits    []emitted
	count    int
	errs     []ReportedError
	changed  chan struct{}
}

func newCheckSink(mode sinkMode) *checkSink {
	return &checkSink{mode: mode, release: make(chan struct{})}
}

func (s *checkSink) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Emit implements collector.Sink.
func (s *checkSink) Emit(ctx context.Context, events ...event.Event) error {
	s.mu.Lock()
	s.calls++
	if s.returned {
		s.late = append(s.late, fmt.Sprintf("Emit(%d events) called after Run returned", len(events)))
		s.mu.Unlock()
		return errors.New("collectortest: Emit after Run returned")
	}
	switch s.mode {
	case modeFail:
		s.notifyLocked()
		s.mu.Unlock()
		return errRefused
	case modeBlock:
		s.blocked++
		s.notifyLocked()
		s.mu.Unlock()
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.release:
			err = errors.New("collectortest: released by the suite")
		}
		s.mu.Lock()
		s.blocked--
		s.mu.Unlock()
		return err
	}
	enc := make([][]byte, len(events))
	for i := range events {
		enc[i] = events[i].AppendJSON(nil)
	}
	s.emits = append(s.emits, emitted{events: events, enc: enc})
	s.count += len(events)
	s.notifyLocked()
	s.mu.Unlock()
	return nil
}

// ReportError implements collector.ErrorReporter.
func (s *checkSink) ReportError(_ context.Context, collector string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.returned {
		s.late = append(s.late, fmt.Sprintf("ReportError(%q, %v) called after Run returned", collector, err))
		return
	}
	s.errs = append(s.errs, ReportedError{collector, err})
}

func (s *checkSink) markReturned() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.returned = true
}

// waitUntil waits for cond (evaluated under the lock) or ctx.
func (s *checkSink) waitUntil(ctx context.Context, cond func() bool) bool {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return true
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// running is one Run of a collector under test.
type running struct {
	c      collector.Collector
	sink   *checkSink
	cancel context.CancelFunc
	done   chan error
	leak   goleak.Option
	start  time.Time
	early  bool // Run returned before cancel (already reported)
}

func start(ctx context.Context, c collector.Collector, sink *checkSink) *running {
	ctx, cancel := context.WithCancel(ctx)
	rn := &running{c: c, sink: sink, cancel: cancel, done: make(chan error, 1), leak: goleak.IgnoreCurrent(), start: time.Now()}
	go func() {
		err := c.Run(ctx, sink)
		sink.markReturned()
		rn.done <- err
	}()
	return rn
}

// waitActive lets the collector run until cond holds (checked under the
// sink's lock), the wait is over, or Run returns, calling the trigger
// meanwhile. It reports whether Run returned early (and reports that).
func (rn *running) waitActive(t *testing.T, r reporter, cfg *config, cond func() bool) (returned bool) {
	r.Helper()
	deadline := rn.start.Add(cfg.wait)
	for {
		if cfg.trigger != nil {
			cfg.trigger(t)
		}
		ctx, cancel := context.WithDeadline(context.Background(), minTime(deadline, time.Now().Add(triggerEvery)))
		ok := rn.sink.waitUntil(ctx, cond)
		cancel()
		select {
		case err := <-rn.done:
			r.Errorf("%s: Run returned before its context was cancelled (after %v): %v", rn.c.Name(), time.Since(rn.start).Round(time.Millisecond), err)
			rn.early = true
			rn.done <- err
			return true
		default:
		}
		if ok || !time.Now().Before(deadline) {
			return false
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// stop cancels Run and checks that it returns nil in time, that it leaves
// no goroutine behind and that the sink is not called afterwards. It
// reports whether Run returned.
func (rn *running) stop(r reporter, cfg *config) bool {
	r.Helper()
	rn.cancel()
	timer := time.NewTimer(cfg.cancelTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-rn.done:
	case <-timer.C:
		r.Errorf("%s: Run did not return within %v after its context was cancelled", rn.c.Name(), cfg.cancelTimeout)
		close(rn.sink.release)
		return false
	}
	close(rn.sink.release)
	if err != nil && !rn.early {
		r.Errorf("%s: Run returned %v after its context was cancelled, want nil", rn.c.Name(), err)
	}
	// Watch for late calls, then look for goroutines Run left behind
	// (goleak retries for a while before it reports).
	time.Sleep(cfg.lateGrace)
	if lerr := goleak.Find(append([]goleak.Option{rn.leak}, cfg.leakOpts...)...); lerr != nil {
		r.Errorf("%s: goroutines started by Run are still running after it returned: %v", rn.c.Name(), lerr)
	}
	rn.sink.mu.Lock()
	late := append([]string(nil), rn.sink.late...)
	rn.sink.mu.Unlock()
	for _, l := range late {
		r.Errorf("%s: %s", rn.c.Name(), l)
	}
	return true
}

func checkCollect(t *testing.T, r reporter, cfg *config, v *schemas.Validator, newCollector func(t *testing.T) collector.Collector) {
	r.Helper()
	c := newCollector(t)
	if c == nil {
		r.Errorf("newCollector returned nil")
		return
	}
	if c.Name() == "" {
		r.Errorf("Name() is empty")
	}
	sink := newCheckSink(modeRecord)
	rn := start(context.Background(), c, sink)
	rn.waitActive(t, r, cfg, func() bool { return sink.count >= cfg.minEvents && sink.count > 0 })
	// Let it run a little longer, so a collector that reuses what it
	// emitted (on its next poll or event) is caught by the mutation check.
	time.Sleep(min(cfg.wait/10, 100*time.Millisecond))
	if !rn.stop(r, cfg) {
		return // Run is still running: reading its events would race
	}

	sink.mu.Lock()
	emits, count, reported := sink.emits, sink.count, sink.errs
	sink.mu.Unlock()
	for _, e := range reported {
		r.Logf("%s reported: %v", e.Collector, e.Err)
	}
	if count < cfg.minEvents {
		r.Errorf("%s emitted %d events in %v, want at least %d", c.Name(), count, cfg.wait, cfg.minEvents)
	}
	const maxReports = 5
	bad, validated := 0, 0
	declared := map[string]bool{}
	for _, n := range collector.Produces(c) {
		declared[n] = true
	}
	_, describes := c.(collector.Describer)
	for _, em := range emits {
		for i := range em.events {
			ev := em.events[i]
			if describes && !declared[ev.Name] {
				if bad++; bad <= maxReports {
					r.Errorf("%s: emitted %s, which its Events() does not declare", c.Name(), ev.Name)
				}
				continue
			}
			if now := ev.AppendJSON(nil); !bytes.Equal(now, em.enc[i]) {
				if bad++; bad <= maxReports {
					r.Errorf("%s: event %s %s was modified after Emit:\n at Emit: %s\n    now: %s", c.Name(), ev.Name, ev.ID, em.enc[i], now)
				}
				continue
			}
			if validated >= 10000 {
				continue // enough: bounded test time for chatty collectors
			}
			validated++
			if err := checkEvent(v, ev, em.enc[i], describes); err != nil {
				if bad++; bad <= maxReports {
					r.Errorf("%s: invalid event: %v", c.Name(), err)
				}
			}
		}
	}
	if bad > maxReports {
		r.Errorf("%s: %d more invalid or modified events", c.Name(), bad-maxReports)
	}
}

// checkEvent validates one event: catalogued names against the schemas,
// other (vendor) names for the structure every event needs.
func checkEvent(v *schemas.Validator, ev event.Event, enc []byte, declared bool) error {
	if _, ok := event.Lookup(ev.Name); ok || declared {
		return v.ValidateEvent(ev)
	}
	var errs []error
	if !json.Valid(enc) {
		return fmt.Errorf("event %q encodes to invalid JSON: %s", ev.Name, enc)
	}
	if ev.Name == "" {
		errs = append(errs, errors.New("empty Name"))
	}
	if !event.ValidID(ev.ID) {
		errs = append(errs, fmt.Errorf("field Id %q is not a GUID", ev.ID))
	}
	if ev.Category != event.Periodic && ev.Category != event.Triggered {
		errs = append(errs, fmt.Errorf("field Category %q is neither Periodic nor Triggered", ev.Category))
	}
	switch ev.Type {
	case event.Security, event.Operational, event.Diagnostic:
	default:
		errs = append(errs, fmt.Errorf("field EventType %q is not Security, Operational or Diagnostic", ev.Type))
	}
	if ev.Category == event.Triggered && len(ev.Payload) == 0 {
		errs = append(errs, errors.New("triggered event without payload"))
	}
	for i, it := range ev.Payload {
		b := bytes.TrimSpace(it.AppendJSON(nil))
		if !json.Valid(b) || len(b) == 0 || b[0] != '{' {
			errs = append(errs, fmt.Errorf("payload item %d is not a JSON object: %s", i, b))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vendor event %q: %w", ev.Name, err)
	}
	return nil
}

func checkSinkErrors(t *testing.T, r reporter, cfg *config, newCollector func(t *testing.T) collector.Collector) {
	r.Helper()
	c := newCollector(t)
	if c == nil {
		r.Errorf("newCollector returned nil")
		return
	}
	sink := newCheckSink(modeFail)
	rn := start(context.Background(), c, sink)
	// Wait for a refused call, then see that the collector goes on.
	want := min(cfg.minEvents, 1)
	if !rn.waitActive(t, r, cfg, func() bool { return sink.calls >= want }) {
		time.Sleep(min(cfg.wait/10, 100*time.Millisecond))
		select {
		case err := <-rn.done:
			r.Errorf("%s: Run returned after Emit failed, before its context was cancelled: %v", c.Name(), err)
			rn.early = true
			rn.done <- err
		default:
		}
	}
	rn.stop(r, cfg)
}

func checkBlockingSink(t *testing.T, r reporter, cfg *config, newCollector func(t *testing.T) collector.Collector) {
	r.Helper()
	c := newCollector(t)
	if c == nil {
		r.Errorf("newCollector returned nil")
		return
	}
	sink := newCheckSink(modeBlock)
	rn := start(context.Background(), c, sink)
	want := min(cfg.minEvents, 1)
	rn.waitActive(t, r, cfg, func() bool { return sink.blocked >= want })
	rn.stop(r, cfg)
}

func checkCancelledBeforeRun(t *testing.T, r reporter, cfg *config, newCollector func(t *testing.T) collector.Collector) {
	r.Helper()
	c := newCollector(t)
	if c == nil {
		r.Errorf("newCollector returned nil")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rn := start(ctx, c, newCheckSink(modeRecord))
	rn.stop(r, cfg)
}

// checkConfiguration checks a collector that follows the configuration
// (collector.Configurer): it accepts the default configuration, before
// Run and while Run runs (as the engine calls it).
func checkConfiguration(t *testing.T, r reporter, cfg *config, newCollector func(t *testing.T) collector.Collector) {
	r.Helper()
	c := newCollector(t)
	if c == nil {
		r.Errorf("newCollector returned nil")
		return
	}
	cf, ok := c.(collector.Configurer)
	if !ok {
		return
	}
	if err := cf.ApplyConfig(twinconfig.Default()); err != nil {
		r.Errorf("%s: ApplyConfig(twinconfig.Default()) before Run = %v, want nil", c.Name(), err)
	}
	sink := newCheckSink(modeRecord)
	rn := start(context.Background(), c, sink)
	if err := cf.ApplyConfig(twinconfig.Default()); err != nil {
		r.Errorf("%s: ApplyConfig(twinconfig.Default()) while Run runs = %v, want nil", c.Name(), err)
	}
	rn.stop(r, cfg)
}
