package manifest

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgesec/edgesec/collector/container"
	"log/slog"
	"strconv"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// MaxItemsPerEvent bounds the payload of one DeploymentRecommendation
// event, so that an event always fits a message.
const MaxItemsPerEvent = 40

// Events turns findings into DeploymentRecommendation events (Periodic,
// Security) of at most [MaxItemsPerEvent] items each, taken at now.
// Suppressed findings are left out. source, when not empty, replaces the
// findings' Source (the file the collector was given, say). With no
// finding left, Events returns one empty snapshot, so that the cloud sees
// the analysis ran and found nothing.
//
// Evidence never holds secret values: the secret rules redact them.
func Events(findings []Finding, source string, now time.Time) []event.Event {
	var items []event.Item
	for _, f := range findings {
		if f.Suppression != nil {
			continue
		}
		p := &event.DeploymentRecommendationPayload{
			RuleID: f.RuleID, Severity: f.Severity.String(), Title: f.Title, Module: f.Module,
			Pointer: f.Pointer, Evidence: f.Evidence, Remediation: f.Remediation, Source: f.Source,
		}
		if source != "" {
			p.Source = source
		}
		if f.Line > 0 {
			p.ExtraDetails = event.ExtraDetails{"Line": strconv.Itoa(f.Line), "Column": strconv.Itoa(f.Column)}
		}
		items = append(items, p)
	}
	if len(items) == 0 {
		return []event.Event{event.Must(event.DeploymentRecommendation, now)}
	}
	var out []event.Event
	for len(items) > 0 {
		n := min(len(items), MaxItemsPerEvent)
		out = append(out, event.Must(event.DeploymentRecommendation, now, items[:n]...))
		items = items[n:]
	}
	return out
}

// Options configure the deployment analysis collector.
type Options struct {
	// ManifestPath is a deployment manifest file to analyse on every
	// poll (as seen by the module: mount it into the container). It is
	// read each time, so changes are picked up. "" skips it.
	ManifestPath func() string
	// Inventory lists the running containers; nil skips the runtime
	// analysis and the drift report.
	Inventory container.InventorySource
	// Config returns the analysis configuration (disabled rules,
	// severities, suppressions) at each poll; nil runs every rule.
	Config func() Config
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Poller analyses the configured manifest and the running containers. It
// implements [collector.Poller]; use it from one goroutine at a time.
type Poller struct {
	o Options
}

// NewPoller returns a Poller for o.
func NewPoller(o Options) *Poller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Poller{o: o}
}

// NewCollector returns the DeploymentRecommendation collector: the Poller
// of o run once at start and then every interval().
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.DeploymentRecommendation, interval, NewPoller(o))
}

// Analyze runs one analysis and returns its findings, suppressed ones
// included: the manifest's (Source: its path), the running deployment's
// (Source: "runtime") and, when both are available, the drift between
// them. Problems (an unreadable manifest, an inventory error) are
// returned joined next to whatever could be analysed.
func (p *Poller) Analyze(ctx context.Context) ([]Finding, error) {
	fs, _, err := p.analyze(ctx)
	return fs, err
}

// analyze also counts the deployments it could analyse.
func (p *Poller) analyze(ctx context.Context) ([]Finding, int, error) {
	analysed := 0
	var cfg Config
	if p.o.Config != nil {
		cfg = p.o.Config()
	}
	an := Analyzer{Config: cfg, Now: p.o.Now}
	var (
		errs     []error
		findings []Finding
		declared *Deployment
	)
	if p.o.ManifestPath != nil {
		if path := p.o.ManifestPath(); path != "" {
			d, err := LoadFile(path, LoadOptions{})
			if err != nil {
				errs = append(errs, err)
			} else {
				declared = d
				analysed++
				findings = append(findings, an.Analyze(d)...)
			}
		}
	}
	if p.o.Inventory != nil {
		inv, err := p.o.Inventory.Snapshot(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("manifest: container inventory: %w", err))
		} else {
			running, _, err := Reconstruct(inv)
			if err != nil {
				errs = append(errs, err)
			}
			if running != nil {
				analysed++
				findings = append(findings, an.Analyze(running)...)
				if declared != nil {
					findings = append(findings, an.Drift(declared, running)...)
				}
			}
		}
	}
	if p.o.ManifestPath == nil && p.o.Inventory == nil {
		errs = append(errs, errors.New("manifest: nothing to analyse: neither a manifest path nor a container inventory is configured"))
	}
	p.o.Logger.Debug("deployment analysis", "findings", len(findings), "errors", len(errs))
	return findings, analysed, errors.Join(errs...)
}

// Poll implements [collector.Poller]: it returns the findings of
// [Poller.Analyze] as DeploymentRecommendation events (an empty snapshot
// when there are none) and its problems as the error. It returns no
// event when ctx is done.
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	findings, analysed, err := p.analyze(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if analysed == 0 {
		return nil, err // an empty snapshot would claim a clean deployment
	}
	return Events(findings, "", p.o.Now()), err
}
