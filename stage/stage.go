package stage

import (
	"context"
	"errors"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// ErrDrop is returned by Process to drop the event it was given. The engine
// counts every dropped event (per stage, reported in the
// DroppedEventsStatistics event); a stage never drops silently.
var ErrDrop = errors.New("stage: drop event")

// Emit passes an event on to the stages after the one that calls it, and
// then to the aggregator. Events given to Emit belong to the engine: the
// caller must not modify them afterwards.
type Emit func(event.Event)

// Stage processes events between the collectors and the aggregator: it may
// pass an event on unchanged, change it, drop it, or add events.
//
// Concurrency: the engine calls Process for one stage from one goroutine at
// a time, never concurrently with itself, in the order the events reached
// the stage. Process must not block on I/O: it runs on the path of every
// collector's Sink.Emit. It must not retain emit after it returns.
//
// Process receives ev by pointer. It may change the event's fields in place
// (Name, Time, Category, Type, or Payload by assigning a new slice); it must
// not modify the items the Payload slice refers to, since they belong to the
// collector that created them: to change an item, build a new one and put
// it in a new slice. It returns nil to pass ev on, ErrDrop to drop it, or
// another error, which the engine logs and treats as "pass ev on unchanged"
// (a broken stage must not lose events). emit adds events after this stage.
type Stage interface {
	// Name identifies the stage in logs and statistics.
	Name() string
	// Process handles one event; see the type documentation.
	Process(ctx context.Context, ev *event.Event, emit Emit) error
}

// Runner is implemented by stateful stages that also work outside Process,
// for example on a timer (windows that close, recommendations that resolve).
// The engine calls Run once, in a goroutine it owns, before the first event
// reaches the stage, with a context it cancels when it shuts down, and waits
// for Run to return before its final flush. Events given to sink enter the
// chain after this stage. Run returns nil when ctx is cancelled; an error
// return is logged and the stage keeps processing events without Run.
type Runner interface {
	Run(ctx context.Context, sink collector.Sink) error
}

// Func adapts a function to the Stage interface.
type Func struct {
	// StageName is returned by Name.
	StageName string
	// F is called by Process.
	F func(ctx context.Context, ev *event.Event, emit Emit) error
}

// Name implements Stage.
func (f Func) Name() string { return f.StageName }

// Process implements Stage.
func (f Func) Process(ctx context.Context, ev *event.Event, emit Emit) error {
	return f.F(ctx, ev, emit)
}

// Filter returns a stage named name that passes on the events for which keep
// returns true and drops (and so counts) the others. keep must not modify
// the event.
func Filter(name string, keep func(ev *event.Event) bool) Stage {
	return Func{StageName: name, F: func(_ context.Context, ev *event.Event, _ Emit) error {
		if keep(ev) {
			return nil
		}
		return ErrDrop
	}}
}

// Map returns a stage named name that replaces every event with f's result.
// f receives a copy of the event whose Payload slice is its own (the items
// are shared: replace an item rather than changing it). It returns ErrDrop to
// drop the event.
func Map(name string, f func(ev event.Event) (event.Event, error)) Stage {
	return Func{StageName: name, F: func(_ context.Context, ev *event.Event, _ Emit) error {
		in := *ev
		in.Payload = append([]event.Item(nil), ev.Payload...)
		out, err := f(in)
		if err != nil {
			return err
		}
		*ev = out
		return nil
	}}
}

// MapItems returns a stage named name that replaces each payload item of the
// events named names (every event when names is empty) with f's result; an
// item for which f returns nil is removed. A Triggered event left with no
// item is dropped. Use it to redact fields: f builds a changed copy of the
// item.
func MapItems(name string, f func(ev *event.Event, it event.Item) event.Item, names ...string) Stage {
	return Func{StageName: name, F: func(_ context.Context, ev *event.Event, _ Emit) error {
		if len(names) > 0 && !contains(names, ev.Name) {
			return nil
		}
		items := make([]event.Item, 0, len(ev.Payload))
		for _, it := range ev.Payload {
			if n := f(ev, it); n != nil {
				items = append(items, n)
			}
		}
		if len(items) == 0 && len(ev.Payload) > 0 && ev.Category == event.Triggered {
			return ErrDrop
		}
		ev.Payload = items
		return nil
	}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Configurer is implemented by stages that follow the live configuration
// (the detect stage reads its rule settings from the twin). The engine calls
// ApplyConfig with the configuration in effect before the first event
// reaches the stage and after every change, from the engine loop, never
// concurrently with itself (Process may run at the same time). An error is
// logged; the stage keeps its previous settings and reports the problem
// itself (as a ConfigurationError event) when it wants it sent.
type Configurer interface {
	ApplyConfig(c twinconfig.Config) error
}
