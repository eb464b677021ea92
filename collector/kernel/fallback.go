package kernel

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// ErrFallback is reported (wrapping the reason) by a collector returned by
// [WithFallbackNotice].
var ErrFallback = errors.New("kernel: eBPF kernel events not used, falling back")

// WithFallbackNotice wraps the collector used instead of the eBPF source
// (collector/process, collector/connection) so that its first Run says
// once why: collector.ReportError with ErrFallback wrapping reason (the
// engine turns it into a Diagnostic event and the collector's Heartbeat
// state). It then runs c unchanged; the wrapper declares c's events and
// reports its losses (collector.Describer, collector.DropCounter).
func WithFallbackNotice(c collector.Collector, reason error) collector.Collector {
	return &fallback{Collector: c, reason: reason}
}

type fallback struct {
	collector.Collector
	reason error
	once   sync.Once
}

// Events implements collector.Describer with c's declaration.
func (f *fallback) Events() []event.Info {
	if d, ok := f.Collector.(collector.Describer); ok {
		return d.Events()
	}
	return event.Infos(f.Collector.Name())
}

// Dropped implements collector.DropCounter with c's count (0 when c does
// not count its losses).
func (f *fallback) Dropped() int64 {
	if d, ok := f.Collector.(collector.DropCounter); ok {
		return d.Dropped()
	}
	return 0
}

// Run reports the fallback once, then runs the wrapped collector.
func (f *fallback) Run(ctx context.Context, sink collector.Sink) error {
	if ctx.Err() == nil {
		f.once.Do(func() {
			collector.ReportError(ctx, sink, f.Name(), fmt.Errorf("%w: %w", ErrFallback, f.reason))
		})
	}
	return f.Collector.Run(ctx, sink)
}
