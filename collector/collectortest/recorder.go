package collectortest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// ReportedError is one problem a collector reported through
// [collector.ReportError].
type ReportedError struct {
	Collector string
	Err       error
}

// Recorder is a [collector.Sink] that records every event it is given, and
// a [collector.ErrorReporter] that records every reported error. Emit never
// blocks and never fails. The zero value is ready to use; a Recorder is
// safe for concurrent use and must not be copied after first use.
type Recorder struct {
	mu      sync.Mutex
	events  []event.Event
	errs    []ReportedError
	changed chan struct{} // closed and replaced on every change
}

var (
	_ collector.Sink          = (*Recorder)(nil)
	_ collector.ErrorReporter = (*Recorder)(nil)
)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Emit implements [collector.Sink]: it appends events to the record and
// returns nil.
func (r *Recorder) Emit(_ context.Context, events ...event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	r.notifyLocked()
	return nil
}

// ReportError implements [collector.ErrorReporter]: it records err.
func (r *Recorder) ReportError(_ context.Context, collector string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, ReportedError{Collector: collector, Err: err})
	r.notifyLocked()
}

func (r *Recorder) notifyLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// waitChan returns a channel closed at the next change.
func (r *Recorder) waitChanLocked() <-chan struct{} {
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

// Events returns a copy of the events recorded so far, in the order they
// were emitted.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// Len returns the number of events recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Errors returns a copy of the errors reported so far.
func (r *Recorder) Errors() []ReportedError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReportedError(nil), r.errs...)
}

// Reset forgets every recorded event and error.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events, r.errs = nil, nil
	r.notifyLocked()
}

// WaitFor waits until at least n events have been recorded and returns
// them (all of them, which may be more than n). If ctx is done first it
// returns what was recorded and ctx.Err(). Use context.WithTimeout for a
// deadline.
func (r *Recorder) WaitFor(ctx context.Context, n int) ([]event.Event, error) {
	return r.waitFor(ctx, func() bool { return len(r.events) >= n })
}

// WaitForErrors waits until at least n errors have been reported and
// returns them; if ctx is done first it returns what was reported and
// ctx.Err().
func (r *Recorder) WaitForErrors(ctx context.Context, n int) ([]ReportedError, error) {
	_, err := r.waitFor(ctx, func() bool { return len(r.errs) >= n })
	return r.Errors(), err
}

func (r *Recorder) waitFor(ctx context.Context, done func() bool) ([]event.Event, error) {
	for {
		r.mu.Lock()
		if done() {
			evs := append([]event.Event(nil), r.events...)
			r.mu.Unlock()
			return evs, nil
		}
		ch := r.waitChanLocked()
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Events(), ctx.Err()
		}
	}
}

// Start runs c with sink in a goroutine until the test ends: at cleanup it
// cancels Run's context and fails the test if Run returns an error or does
// not return within 5 seconds.
func Start(t testing.TB, c collector.Collector, sink collector.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run returned %v", c.Name(), err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: Run did not return after its context was cancelled", c.Name())
		}
	})
}
