package container

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// Defaults of InventoryOptions.
const (
	DefaultMaxContainers    = 1000
	DefaultInventoryTimeout = 30 * time.Second
)

// InventoryOptions configure the ContainerInventory poller.
type InventoryOptions struct {
	// MaxContainers bounds the items taken from one engine
	// (DefaultMaxContainers when 0). Past it the snapshot is cut and an
	// error says so.
	MaxContainers int
	// Timeout bounds one engine's part of a snapshot
	// (DefaultInventoryTimeout when 0); the engines also bound each call.
	Timeout time.Duration
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Inventory takes ContainerInventory snapshots of one or more engines. It
// implements [collector.Poller] and [InventorySource]; it is safe for
// concurrent use.
type Inventory struct {
	engines []Backend
	max     int
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// NewInventory returns an Inventory over engines (the moby and containerd
// sub-packages build them). The engines stay owned by the caller.
func NewInventory(o InventoryOptions, engines ...Backend) *Inventory {
	p := &Inventory{engines: engines, max: o.MaxContainers, timeout: o.Timeout, log: o.Logger, now: time.Now}
	if p.max <= 0 {
		p.max = DefaultMaxContainers
	}
	if p.timeout <= 0 {
		p.timeout = DefaultInventoryTimeout
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// NewInventoryCollector returns the ContainerInventory collector: an
// Inventory over engines polled at start and then every interval().
func NewInventoryCollector(o InventoryOptions, interval func() time.Duration, engines ...Backend) *collector.Ticker {
	return collector.Every(event.ContainerInventory, interval, NewInventory(o, engines...))
}

// Snapshot implements [InventorySource]: the items of every reachable
// engine, sorted by runtime, namespace and name. The engines are asked
// concurrently, each bounded by the Timeout. It returns the items it got
// with an error joining the engines' errors; when no engine answered at
// all the error wraps ErrUnreachable.
func (p *Inventory) Snapshot(ctx context.Context) ([]event.ContainerInventoryPayload, error) {
	if len(p.engines) == 0 {
		return nil, fmt.Errorf("container inventory: no engine configured: %w", ErrUnreachable)
	}
	type result struct {
		items []event.ContainerInventoryPayload
		err   error
	}
	res := make([]result, len(p.engines))
	var wg sync.WaitGroup
	for i, e := range p.engines {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, p.timeout)
			defer cancel()
			items, err := e.Inventory(cctx, p.max)
			if err != nil {
				err = fmt.Errorf("%s at %s: %w", e.Runtime(), e.Endpoint(), err)
			}
			res[i] = result{items, err}
		})
	}
	wg.Wait()
	var items []event.ContainerInventoryPayload
	var errs []error
	reached := 0
	for _, r := range res {
		if r.err == nil || !errors.Is(r.err, ErrUnreachable) {
			reached++
		}
		items = append(items, r.items...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	slices.SortFunc(items, func(a, b event.ContainerInventoryPayload) int {
		return cmp.Or(cmp.Compare(a.Runtime, b.Runtime), cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.ContainerID, b.ContainerID))
	})
	err := errors.Join(errs...)
	if reached == 0 {
		err = fmt.Errorf("container inventory: no container engine reachable: %w", err)
	}
	return items, err
}

// Poll implements [collector.Poller]: one Periodic ContainerInventory
// event with one item per container (IsEmpty when there is none). When no
// engine could be reached it returns no event, only the error, so that an
// unreachable engine is not reported as "no containers".
func (p *Inventory) Poll(ctx context.Context) ([]event.Event, error) {
	items, err := p.Snapshot(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && errors.Is(err, ErrUnreachable) && len(items) == 0 {
		return nil, err
	}
	its := make([]event.Item, len(items))
	for i := range items {
		its[i] = &items[i]
	}
	ev, eerr := event.New(event.ContainerInventory, p.now(), its...)
	if eerr != nil {
		return nil, errors.Join(err, eerr)
	}
	return []event.Event{ev}, err
}
