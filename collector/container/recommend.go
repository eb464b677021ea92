package container

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// SourceRuntime is the Source of the DeploymentRecommendation items
// derived from the running containers.
const SourceRuntime = "runtime"

// InventorySource gives the current container inventory: the containers
// that run on the device. [*Inventory] implements it; the DeploymentRecommendation
// analysis (manifest.Options.Inventory) reads it. It must honour ctx and be
// safe for use by one goroutine at a time.
type InventorySource interface {
	Snapshot(ctx context.Context) ([]event.ContainerInventoryPayload, error)
}

// InventoryFunc adapts a function to InventorySource.
type InventoryFunc func(ctx context.Context) ([]event.ContainerInventoryPayload, error)

// Snapshot calls f.
func (f InventoryFunc) Snapshot(ctx context.Context) ([]event.ContainerInventoryPayload, error) {
	return f(ctx)
}

// Analyzer turns a container inventory into findings. The manifest
// package's analyser is the one the reference module plugs in; it must not
// keep or modify the slice it is given.
type Analyzer func(inventory []event.ContainerInventoryPayload) []event.DeploymentRecommendationPayload

// Recommendations is the runtime-risk poller: each Poll takes an
// inventory from its source, runs the Analyzer on it and returns one
// Periodic DeploymentRecommendation event with its findings (IsEmpty when
// there are none). It implements [collector.Poller].
type Recommendations struct {
	src     InventorySource
	analyse Analyzer
	now     func() time.Time
}

// NewRecommendations returns the runtime-risk poller.
func NewRecommendations(src InventorySource, analyse Analyzer) *Recommendations {
	return &Recommendations{src: src, analyse: analyse, now: time.Now}
}

// NewRecommendationCollector returns the DeploymentRecommendation
// collector for the running containers: NewRecommendations polled at start
// and then every interval().
func NewRecommendationCollector(src InventorySource, analyse Analyzer, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.DeploymentRecommendation, interval, NewRecommendations(src, analyse))
}

// Poll implements [collector.Poller]. When no engine could be reached it
// returns only the error: no findings is not the same as not knowing. A
// panicking Analyzer is recovered and reported as an error.
func (r *Recommendations) Poll(ctx context.Context) ([]event.Event, error) {
	if r.analyse == nil {
		return nil, errors.New("container recommendations: no analyser")
	}
	inv, err := r.src.Snapshot(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && errors.Is(err, ErrUnreachable) && len(inv) == 0 {
		return nil, err
	}
	findings, aerr := r.run(inv)
	if aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	items := make([]event.Item, 0, len(findings))
	for i := range findings {
		f := findings[i]
		if f.Source == "" {
			f.Source = SourceRuntime
		}
		if f.ExtraDetails != nil {
			f.ExtraDetails = cloneMap(f.ExtraDetails)
		}
		items = append(items, &f)
	}
	ev, eerr := event.New(event.DeploymentRecommendation, r.now(), items...)
	if eerr != nil {
		return nil, errors.Join(err, eerr)
	}
	return []event.Event{ev}, err
}

func (r *Recommendations) run(inv []event.ContainerInventoryPayload) (out []event.DeploymentRecommendationPayload, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("container recommendations: analyser panicked: %v", p)
		}
	}()
	return r.analyse(inv), nil
}
