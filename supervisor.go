package edgesec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/backoff"
	"github.com/edgesec/edgesec/twinconfig"
)

// ErrStopped is returned by the engine's Sink after the engine has stopped.
var ErrStopped = errors.New("edgesec: engine stopped")

// Collector states reported in the Heartbeat.
const (
	stateRunning  = "running"
	stateStopped  = "stopped"
	stateFailed   = "failed"
	stateDegraded = "degraded"
)

// managed is one collector under the engine's supervision. It is also the
// Sink handed to that collector, so events are counted per collector.
type managed struct {
	e *Engine
	c collector.Collector

	// Guarded by the engine loop (reconcile runs there only).
	cancel context.CancelFunc
	done   chan struct{}

	events      atomic.Int64
	lastDropped int64 // collector.DropCounter at the previous statistics report; guarded by the engine's mu
	mu          sync.Mutex
	state       string
	lastErr     string
}

func (e *Engine) newManaged(c collector.Collector) *managed {
	return &managed{e: e, c: c, state: stateStopped}
}

// produces returns the event names the collector produces.
func (m *managed) produces() []string { return collector.Produces(m.c) }

// enabled reports whether any event the collector produces is not Off.
func (m *managed) enabled(c twinconfig.Config) bool {
	for _, n := range m.produces() {
		if c.Priority(n) != event.Off {
			return true
		}
	}
	return false
}

func (m *managed) setState(state, lastErr string) {
	m.mu.Lock()
	worse := m.state == stateRunning && (state == stateDegraded || state == stateFailed)
	if worse {
		select {
		case m.e.healthCh <- struct{}{}:
		default:
		}
	}
	m.state = state
	if lastErr != "" || state == stateRunning {
		m.lastErr = lastErr
	}
	m.mu.Unlock()
}

func (m *managed) health() event.CollectorHealth {
	m.mu.Lock()
	defer m.mu.Unlock()
	return event.CollectorHealth{Name: m.c.Name(), State: m.state, LastError: m.lastErr, Events: m.events.Load()}
}

// Emit implements collector.Sink.
func (m *managed) Emit(ctx context.Context, evs ...event.Event) error {
	select {
	case <-m.e.stopped:
		return ErrStopped
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.events.Add(int64(len(evs)))
	m.e.add(evs...)
	return nil
}

// Logger implements collector.LoggerProvider: the engine's logger tagged
// with the collector's name.
func (m *managed) Logger() *slog.Logger { return m.e.log.With("collector", m.c.Name()) }

// ReportError implements collector.ErrorReporter: the collector is
// "degraded" in the Heartbeat, and the problem becomes one warning in the
// engine's log and so one Diagnostic event.
func (m *managed) ReportError(_ context.Context, name string, err error) {
	m.setState(stateDegraded, err.Error())
	m.e.log.Warn("collector problem", "collector", name, "err", err)
}

// reconcile starts the collectors that the configuration enables and
// stops those it turns Off, and wakes periodic collectors so that they pick
// up a new interval. It runs on the engine loop only.
func (e *Engine) reconcile(ctx context.Context, c twinconfig.Config) {
	for _, m := range e.collectors {
		on := m.enabled(c)
		switch {
		case on && m.cancel == nil:
			m.start(ctx)
		case !on && m.cancel != nil:
			m.stop()
			e.log.Info("collector stopped by configuration", "collector", m.c.Name())
		case on:
			if w, ok := m.c.(collector.Waker); ok {
				w.Wake()
			}
		}
	}
}

func (m *managed) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	m.cancel = cancel
	m.done = make(chan struct{})
	m.setState(stateRunning, "")
	go func() {
		defer close(m.done)
		m.run(ctx)
	}()
}

func (m *managed) stop() {
	m.cancel()
	<-m.done
	m.cancel = nil
	m.setState(stateStopped, "")
}

// wait blocks until a started collector has returned.
func (m *managed) wait() {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
}

// run runs the collector, restarting it with exponential backoff and
// jitter when it fails, until ctx is cancelled. A collector whose error is
// permanent (collector.ErrPermanent) is not restarted: it stays "failed".
func (m *managed) run(ctx context.Context) {
	b := backoff.Backoff{Min: time.Second, Max: 5 * time.Minute}
	for {
		started := time.Now()
		err := m.c.Run(ctx, m)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("returned before it was stopped")
		}
		if errors.Is(err, collector.ErrPermanent) {
			m.setState(stateFailed, err.Error())
			m.e.log.Error("collector failed permanently; not restarting", "collector", m.c.Name(), "err", err)
			return
		}
		if time.Since(started) > b.Max {
			b.Reset()
		}
		d := b.Next()
		m.setState(stateFailed, err.Error())
		m.e.log.Error("collector failed; restarting", "collector", m.c.Name(), "err", err, "retry_in", d.Round(time.Millisecond))
		if !backoff.Sleep(ctx, d) {
			return
		}
		m.setState(stateRunning, "")
	}
}

// pollHeartbeat is the engine's own periodic collector.
func (e *Engine) pollHeartbeat(context.Context) ([]event.Event, error) {
	now := e.now()
	hb := &event.HeartbeatPayload{
		AgentVersion:         e.opts.AgentVersion,
		StartTimeUTC:         event.FormatUTC(e.started),
		UptimeSeconds:        int64(now.Sub(e.started) / time.Second),
		ConfigurationVersion: e.cfg.Current().Version,
	}
	for _, m := range e.collectors {
		hb.Collectors = append(hb.Collectors, m.health())
	}
	ev, err := event.New(event.Heartbeat, now, hb)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return []event.Event{ev}, nil
}
