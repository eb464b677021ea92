package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgesec/edgesec/event"
)

// Collector produces events and pushes them into a Sink.
type Collector interface {
	// Name identifies the collector in logs, Diagnostic events and the
	// Heartbeat; it is usually the event name it produces.
	Name() string
	// Run collects until ctx is cancelled, then returns nil. It returns an
	// error only when it cannot go on; the engine then restarts it with
	// backoff. See the package documentation for the rules Run follows.
	Run(ctx context.Context, sink Sink) error
}

// Sink receives events from collectors.
//
// Emit may be called concurrently by many collectors. It returns nil once
// the events are queued. It may block to apply backpressure; it returns
// ctx.Err() if ctx is cancelled while blocked, or another error when the
// events are refused. A collector that gets an error may drop the events
// (they are counted by whoever refused them) and go on.
type Sink interface {
	Emit(ctx context.Context, events ...event.Event) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(ctx context.Context, events ...event.Event) error

// Emit calls f.
func (f SinkFunc) Emit(ctx context.Context, events ...event.Event) error { return f(ctx, events...) }

// ErrorReporter is implemented by Sinks that want to hear about problems a
// collector works around (the engine's Sink does). Collectors call
// [ReportError] rather than using it directly. The engine's Sink turns
// each report into one warning in its log and so one Diagnostic event: a
// collector that reports a problem does not also log it at warning level.
type ErrorReporter interface {
	ReportError(ctx context.Context, collector string, err error)
}

// ReportError tells the sink, when it implements ErrorReporter, that the
// named collector hit a problem it worked around. It does nothing
// otherwise.
func ReportError(ctx context.Context, sink Sink, collector string, err error) {
	if r, ok := sink.(ErrorReporter); ok && err != nil {
		r.ReportError(ctx, collector, err)
	}
}

// DropCounter is implemented by collectors that can lose events before
// they reach the Sink (a kernel buffer that overflowed, a bounded queue
// that was full). The engine adds the count to DroppedEventsStatistics, so
// that no loss is silent; the collector should also say so through
// [ReportError], rate-limited.
//
// Dropped returns the number of events lost since the collector was
// created: it never decreases, is not reset by Run returning and being
// called again, and is safe to call from any goroutine at any time.
// Events the Sink refused are not included (the Sink counts those).
type DropCounter interface {
	Dropped() int64
}

// Poller takes one snapshot. Poll is never called concurrently with itself
// by Every. It returns the snapshot's events (a Periodic event with no
// payload item is a valid empty snapshot) or an error; partial results with
// an error are allowed and are emitted.
type Poller interface {
	Poll(ctx context.Context) ([]event.Event, error)
}

// PollerFunc adapts a function to the Poller interface.
type PollerFunc func(ctx context.Context) ([]event.Event, error)

// Poll calls f.
func (f PollerFunc) Poll(ctx context.Context) ([]event.Event, error) { return f(ctx) }

// Ticker is the Collector returned by Every.
type Ticker struct {
	name     string
	interval func() time.Duration
	poller   Poller
	wake     chan struct{}
}

// Every returns a Collector that calls p.Poll once as soon as it runs and
// then every interval(), emitting what each poll returns. interval is
// called before every wait, so it may follow live configuration; call
// [Ticker.Wake] after the configuration changed to apply the new interval to
// the wait in progress. A non-positive interval polls once and then waits
// for Wake.
func Every(name string, interval func() time.Duration, p Poller) *Ticker {
	return &Ticker{name: name, interval: interval, poller: p, wake: make(chan struct{}, 1)}
}

// Name implements Collector.
func (t *Ticker) Name() string { return t.name }

// Wake makes a running Ticker re-read its interval now: if the time since
// the last poll already exceeds the new interval it polls at once. Wake
// never blocks and may be called from any goroutine.
func (t *Ticker) Wake() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Run implements Collector.
func (t *Ticker) Run(ctx context.Context, sink Sink) error {
	for {
		last := time.Now()
		if err := t.pollOnce(ctx, sink); err != nil {
			return nil // ctx cancelled while emitting
		}
		if !t.wait(ctx, last) {
			return nil
		}
	}
}

// wait blocks until the interval since last has passed (re-reading it on
// every Wake) and reports false when ctx was cancelled.
func (t *Ticker) wait(ctx context.Context, last time.Time) bool {
	for {
		d := t.interval()
		var timer *time.Timer
		var fire <-chan time.Time
		if d > 0 {
			left := d - time.Since(last)
			if left <= 0 {
				return true
			}
			timer = time.NewTimer(left)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			stop(timer)
			return false
		case <-fire:
			return true
		case <-t.wake:
			stop(timer)
		}
	}
}

func stop(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// PollOnce polls once and emits the result, as Run does at start. It is
// used for one-shot snapshots (the reference module's --once). It returns
// ctx.Err() when ctx was cancelled, and nil otherwise: poll and emit errors
// go to ReportError.
func (t *Ticker) PollOnce(ctx context.Context, sink Sink) error { return t.pollOnce(ctx, sink) }

func (t *Ticker) pollOnce(ctx context.Context, sink Sink) error {
	evs, err := t.poller.Poll(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		ReportError(ctx, sink, t.name, fmt.Errorf("poll: %w", err))
	}
	if len(evs) == 0 {
		return nil
	}
	if err := sink.Emit(ctx, evs...); err != nil {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return ctx.Err()
		}
		ReportError(ctx, sink, t.name, fmt.Errorf("emit: %w", err))
	}
	return nil
}

// ContainerResolver maps a container id (as found in a process's cgroup)
// to the container's name and, for IoT Edge modules, the module name.
// Process and connection collectors use it to attribute events; the
// container collectors provide implementations backed by the engines'
// APIs, cached and invalidated on destroy events.
//
// Resolve must be safe for concurrent use, must not block for long (it
// should answer from a cache and refresh in the background or with a short
// timeout), and reports ok=false when it does not know the id.
type ContainerResolver interface {
	Resolve(ctx context.Context, containerID string) (name, module string, ok bool)
}

// LoggerProvider is implemented by Sinks that give collectors a logger. The
// engine's Sink does: its logger is the engine's, tagged with the
// collector's name ("collector" attribute), and what a collector logs there
// at warning level or above becomes one Diagnostic event.
type LoggerProvider interface {
	Logger() *slog.Logger
}

// Logger returns the logger of sink when it provides one (see
// [LoggerProvider]), and a logger that discards everything otherwise. A
// collector calls it in Run instead of carrying a logger of its own.
func Logger(sink Sink) *slog.Logger {
	if p, ok := sink.(LoggerProvider); ok {
		if l := p.Logger(); l != nil {
			return l
		}
	}
	return slog.New(slog.DiscardHandler)
}
