package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/backoff"
)

// Defaults of ActivityOptions.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	dedupeWindow      = 4096 // activities remembered for duplicate suppression
)

// ActivityOptions configure the ContainerActivity collector.
type ActivityOptions struct {
	// Resolver, when set, completes the container and module names of
	// events that do not carry them (containerd's), learns names from
	// the events that do, and forgets containers on destroy. Share it
	// with the process and connection collectors.
	Resolver *Resolver
	// MinBackoff and MaxBackoff bound the wait before reconnecting to an
	// engine whose stream broke (DefaultMinBackoff, DefaultMaxBackoff
	// when 0); each wait is jittered.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Activity is the ContainerActivity collector: it follows the event
// streams of its engines and emits one Triggered ContainerActivity event
// per engine event. It implements [collector.Collector].
//
// When a stream breaks (the engine restarted, the socket vanished) it
// reports the error through [collector.ReportError] and reconnects with
// jittered exponential backoff. On reconnection it resumes from the time
// of the last event it saw when the engine can replay (Moby), dropping the
// events it already emitted (same time, container, action and key); when
// the engine cannot replay (containerd) it reports that events between the
// break and the reconnection may have been missed.
type ActivityCollector struct {
	engines  []Backend
	resolver *Resolver
	minB     time.Duration
	maxB     time.Duration
	log      *slog.Logger
}

// NewActivityCollector returns the ContainerActivity collector over
// engines (owned by the caller).
func NewActivityCollector(o ActivityOptions, engines ...Backend) *ActivityCollector {
	c := &ActivityCollector{engines: engines, resolver: o.Resolver, minB: o.MinBackoff, maxB: o.MaxBackoff, log: o.Logger}
	if c.minB <= 0 {
		c.minB = DefaultMinBackoff
	}
	if c.maxB <= 0 {
		c.maxB = DefaultMaxBackoff
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Name implements [collector.Collector].
func (c *ActivityCollector) Name() string { return event.ContainerActivity }

// Run implements [collector.Collector]. It follows every engine in a
// goroutine of its own and returns nil once ctx is cancelled and they
// have all stopped.
func (c *ActivityCollector) Run(ctx context.Context, sink collector.Sink) error {
	if len(c.engines) == 0 {
		collector.ReportError(ctx, sink, c.Name(), fmt.Errorf("container activity: no engine configured: %w", ErrUnreachable))
		<-ctx.Done()
		return nil
	}
	var wg sync.WaitGroup
	for _, e := range c.engines {
		wg.Go(func() { c.follow(ctx, sink, e) })
	}
	wg.Wait()
	return nil
}

// follow watches one engine until ctx is done.
func (c *ActivityCollector) follow(ctx context.Context, sink collector.Sink, e Backend) {
	var (
		last     time.Time // time of the last activity seen
		down     time.Time // when the stream last broke; zero while never connected
		seen     = newRecent(dedupeWindow)
		b        = backoff.Backoff{Min: c.minB, Max: c.maxB}
		replayed int
	)
	for {
		var readyAt time.Time
		since := time.Time{}
		if e.CanReplay() && !last.IsZero() {
			since = last
		}
		replayed = 0
		ready := func() {
			readyAt = time.Now()
			if down.IsZero() {
				return
			}
			if since.IsZero() {
				from := down
				if !last.IsZero() && last.Before(from) {
					from = last
				}
				collector.ReportError(ctx, sink, c.Name(), fmt.Errorf(
					"%s at %s: event stream reconnected; events between %s and %s may have been missed (the engine cannot replay them)",
					e.Runtime(), e.Endpoint(), from.UTC().Format(time.RFC3339), readyAt.UTC().Format(time.RFC3339)))
			} else {
				c.log.Debug("container activity: stream resumed", slog.String("runtime", e.Runtime()), slog.Time("since", since))
			}
		}
		err := e.Watch(ctx, since, ready, func(a Activity) {
			k := a.dedupeKey()
			if seen.has(k) {
				replayed++
				return
			}
			seen.add(k)
			if a.Time.After(last) {
				last = a.Time
			}
			c.emit(ctx, sink, a)
		})
		if ctx.Err() != nil {
			return
		}
		if !readyAt.IsZero() {
			down = time.Now()
			if time.Since(readyAt) > c.maxB {
				b.Reset()
			}
		} else if down.IsZero() && !last.IsZero() {
			down = time.Now()
		}
		if err == nil {
			err = errors.New("stream ended")
		}
		d := b.Next()
		collector.ReportError(ctx, sink, c.Name(), fmt.Errorf("%s at %s: event stream: %w (reconnecting in %v)",
			e.Runtime(), e.Endpoint(), err, d.Round(time.Millisecond)))
		if replayed > 0 {
			c.log.Debug("container activity: duplicates dropped after replay", slog.Int("count", replayed))
		}
		if !backoff.Sleep(ctx, d) {
			return
		}
	}
}

func (c *ActivityCollector) emit(ctx context.Context, sink collector.Sink, a Activity) {
	p := a.Payload
	if p.ExtraDetails != nil {
		p.ExtraDetails = cloneMap(p.ExtraDetails)
	}
	if c.resolver != nil && p.ContainerID != "" {
		if p.ContainerName == "" || (p.ModuleName == "" && p.Runtime == RuntimeContainerd) {
			if id, ok := c.resolver.Identify(ctx, p.ContainerID); ok {
				if p.ContainerName == "" {
					p.ContainerName = id.Name
				}
				if p.ModuleName == "" {
					p.ModuleName = id.Module
				}
				if p.Image == "" {
					p.Image = id.Image
				}
			}
		}
		c.resolver.Observe(&a)
	}
	ev, err := event.New(event.ContainerActivity, a.Time, &p)
	if err != nil {
		collector.ReportError(ctx, sink, c.Name(), err)
		return
	}
	if err := sink.Emit(ctx, ev); err != nil && ctx.Err() == nil {
		collector.ReportError(ctx, sink, c.Name(), fmt.Errorf("emit: %w", err))
	}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// recent is a bounded set of at most n keys: the oldest are forgotten
// first. Its memory grows with the keys it holds (a host with little
// container activity does not pay for the bound).
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
	n    int
}

func newRecent(n int) *recent {
	return &recent{set: map[string]struct{}{}, n: max(n, 1)}
}

func (r *recent) has(k string) bool { _, ok := r.set[k]; return ok }

func (r *recent) add(k string) {
	if len(r.ring) < r.n {
		r.ring = append(r.ring, k)
		r.set[k] = struct{}{}
		return
	}
	delete(r.set, r.ring[r.next])
	r.ring[r.next] = k
	r.set[k] = struct{}{}
	r.next = (r.next + 1) % r.n
}
