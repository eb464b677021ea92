package collector

import (
	"context"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// Describer is implemented by collectors that declare the events they
// produce. A collector that does not implement it produces the catalogued
// event of its Name (event.Lookup).
//
// The engine builds its event catalogue from the declarations: a vendor
// event declared here gets an eventPriority<Name> twin key (with
// DefaultPriority as its default), is reported in the twin's reported
// properties, and validates against PayloadSchema when one is given. The
// engine stops a collector when every event it declares is configured Off.
// Events must return the same list on every call.
type Describer interface {
	Events() []event.Info
}

// Produces returns the event names c produces: its declared events when it
// implements [Describer], else its Name.
func Produces(c Collector) []string {
	if d, ok := c.(Describer); ok {
		infos := d.Events()
		names := make([]string, 0, len(infos))
		for _, in := range infos {
			names = append(names, in.Name)
		}
		return names
	}
	return []string{c.Name()}
}

// Waker is implemented by collectors that wait on a timer that follows the
// live configuration: the engine calls Wake after every configuration
// change so that they re-read their interval. Wake must not block and may
// be called from any goroutine. [Ticker] implements it.
type Waker interface {
	Wake()
}

// Snapshotter is implemented by periodic collectors that can take one
// snapshot on demand: the engine's Once calls Snapshot on every enabled
// collector that implements it, and runs no other collector. Snapshot
// emits the snapshot's events into sink and returns; it returns ctx.Err()
// when ctx was cancelled and nil otherwise (problems go to ReportError).
// [Ticker] implements it.
type Snapshotter interface {
	Snapshot(ctx context.Context, sink Sink) error
}

// Snapshot implements [Snapshotter]: it polls once and emits the result.
func (t *Ticker) Snapshot(ctx context.Context, sink Sink) error { return t.pollOnce(ctx, sink) }

// Configurer is implemented by collectors that follow the live
// configuration (the eBPF kernel source takes its watched paths from the
// kernelWatchedPaths key). The engine calls ApplyConfig with the
// configuration in effect before it first starts the collector, and again
// after every configuration it applies (new settings, or a new twin
// version with the same ones), whether the collector runs or not (one
// turned Off starts again on the latest settings). The calls
// come from the engine loop, never concurrently with each other, but
// concurrently with Run: ApplyConfig must be safe to call while Run runs,
// and must not block for long.
//
// ApplyConfig returns nil when the collector uses c. An error means it
// refused what it cannot use and keeps its last good settings for it. The
// engine logs the error and sends a ConfigurationError event: one item
// per [twinconfig.Problem] the error holds (found with errors.As, in each
// error of an errors.Join), naming its key, else one item named
// twinconfig.ObjectName with the error's text. A collector should return
// the same error again while the configuration it refuses stays in effect.
type Configurer interface {
	ApplyConfig(c twinconfig.Config) error
}

var (
	_ Waker       = (*Ticker)(nil)
	_ Snapshotter = (*Ticker)(nil)
)
