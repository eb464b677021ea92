package aggregatetest

import (
	"testing"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/event"
)

// The aggregators below each break one rule of aggregate.Aggregator; the
// suite must report each of them. Most wrap the default Pipeline, which
// passes, so that the defect is the only difference.

// wrapped is a Pipeline with every optional interface; the broken
// aggregators override one method.
type wrapped struct{ *aggregate.Pipeline }

func pipeline() wrapped { return wrapped{aggregate.New(aggregate.Settings{})} }

// bare hides the optional interfaces of an aggregator.
type bare struct{ aggregate.Aggregator }

// configOnly hides Stats but keeps Configure.
type configOnly struct{ aggregate.Aggregator }

func (a configOnly) Configure(s aggregate.Settings) { a.Aggregator.(aggregate.Configurer).Configure(s) }

// firstConfig applies only the first configuration.
type firstConfig struct {
	wrapped
	done bool
}

func (a *firstConfig) Configure(s aggregate.Settings) {
	if !a.done {
		a.wrapped.Configure(s)
		a.done = true
	}
}

// lateFlush flushes nothing until forced.
type lateFlush struct{ wrapped }

func (a lateFlush) Flush(force bool) {
	if force {
		a.wrapped.Flush(true)
	}
}

// silentDrop loses every fifth event without counting it.
type silentDrop struct {
	wrapped
	n int
}

func (a *silentDrop) Add(ev event.Event) {
	if a.n++; a.n%5 == 0 {
		return
	}
	a.wrapped.Add(ev)
}

// bigBodies packs messages twice the configured size.
type bigBodies struct{ wrapped }

func (a bigBodies) Configure(s aggregate.Settings) {
	s.MaxMessageBytes = 2 * max(s.MaxMessageBytes, 1)
	s.MaxCacheBytes = 2 * max(s.MaxCacheBytes, 1)
	a.wrapped.Configure(s)
}

// noAgent writes no agent id in the envelope.
type noAgent struct{ wrapped }

func (a noAgent) Configure(s aggregate.Settings) {
	s.AgentID = ""
	a.wrapped.Configure(s)
}

// highSendsLow packs every queue on the High trigger.
type highSendsLow struct{ wrapped }

func (a highSendsLow) Pack(_ event.Priority, full bool) [][]byte {
	return a.wrapped.Pack(event.Low, full)
}

// lowOnly sends nothing on the High trigger.
type lowOnly struct{ wrapped }

func (a lowOnly) Pack(p event.Priority, full bool) [][]byte {
	if p == event.High {
		return nil
	}
	return a.wrapped.Pack(p, full)
}

// sendsOff ignores the Off priority.
type sendsOff struct{ wrapped }

func (a sendsOff) Configure(s aggregate.Settings) {
	s.Priority = func(string) event.Priority { return event.Low }
	a.wrapped.Configure(s)
}

// weakFlush does not flush the open aggregates on Flush(true).
type weakFlush struct{ wrapped }

func (a weakFlush) Flush(bool) { a.wrapped.Flush(false) }

// mutates changes the events it is given.
type mutates struct{ wrapped }

func (a mutates) Add(ev event.Event) {
	if p, ok := ev.Payload[0].(*event.LocalUsersPayload); ok {
		p.GroupNames = "changed"
	}
	a.wrapped.Add(ev)
}

// reusesBodies returns bodies that share one buffer, rewritten by the next
// Pack.
type reusesBodies struct {
	wrapped
	buf []byte
}

func (a *reusesBodies) Pack(p event.Priority, full bool) [][]byte {
	out := a.wrapped.Pack(p, full)
	for i, b := range out {
		a.buf = append(a.buf[:0], b...)
		out[i] = a.buf
	}
	return out
}

// neverReady never reports a full message.
type neverReady struct{ wrapped }

func (neverReady) Ready() bool { return false }

// partialFull ignores full: it also sends partial messages.
type partialFull struct{ wrapped }

func (a partialFull) Pack(p event.Priority, _ bool) [][]byte { return a.wrapped.Pack(p, false) }

// twice returns every body twice.
type twice struct{ wrapped }

func (a twice) Pack(p event.Priority, full bool) [][]byte {
	out := a.wrapped.Pack(p, full)
	return append(out, out...)
}

// unbounded keeps every event until Pack and sends one event per message,
// and counts nothing.
type unbounded struct {
	s   aggregate.Settings
	evs []event.Event
}

func (a *unbounded) Configure(s aggregate.Settings) { a.s = s }
func (a *unbounded) Add(ev event.Event) {
	if ev.Type != event.Diagnostic && ev.Name != event.SystemInformation {
		a.evs = append(a.evs, ev)
	}
}
func (a *unbounded) Flush(bool)           {}
func (a *unbounded) NextFlush() time.Time { return time.Time{} }
func (a *unbounded) Ready() bool          { return false }
func (a *unbounded) Pack(p event.Priority, _ bool) [][]byte {
	if p != event.Low {
		return nil
	}
	var out [][]byte
	for _, ev := range a.evs {
		if len(ev.AppendJSON(nil))+event.MessageOverhead(a.s.AgentVersion, a.s.AgentID) > a.s.MaxMessageBytes {
			continue
		}
		env := event.Envelope{AgentVersion: a.s.AgentVersion, AgentID: a.s.AgentID, Events: []event.Event{ev}}
		out = append(out, env.AppendJSON(nil))
	}
	a.evs = nil
	return out
}

func TestBrokenAggregatorsFail(t *testing.T) {
	for _, tc := range []struct {
		name     string
		new      func() aggregate.Aggregator
		opts     []Option
		sub, msg string
	}{
		{"silent drop", func() aggregate.Aggregator { return &silentDrop{wrapped: pipeline()} }, nil, "SmallLoad", "lost without being counted"},
		{"silent drop, no stats", func() aggregate.Aggregator { return configOnly{&silentDrop{wrapped: pipeline()}} }, nil, "SmallLoad", "must not lose any"},
		{"silent drop, Collected", func() aggregate.Aggregator { return &silentDrop{wrapped: pipeline()} }, nil, "SmallLoad", "Stats().Collected"},
		{"bodies too big", func() aggregate.Aggregator { return bigBodies{pipeline()} }, nil, "Ready", "more than MaxMessageBytes"},
		{"no agent id", func() aggregate.Aggregator { return noAgent{pipeline()} }, nil, "SmallLoad", "does not validate"},
		{"High sends Low", func() aggregate.Aggregator { return highSendsLow{pipeline()} }, nil, "Priorities", "Low events wait"},
		{"High sends nothing", func() aggregate.Aggregator { return lowOnly{pipeline()} }, nil, "Priorities", "was not sent by Pack(High, false)"},
		{"Off sent", func() aggregate.Aggregator { return sendsOff{pipeline()} }, nil, "SmallLoad", "priority is Off"},
		{"Flush(true) leaves aggregates", func() aggregate.Aggregator { return weakFlush{pipeline()} }, []Option{WithAggregation(time.Hour)}, "Flush", "after Flush(true)"},
		{"input mutated", func() aggregate.Aggregator { return mutates{pipeline()} }, nil, "SmallLoad", "modified after Add"},
		{"bodies reused", func() aggregate.Aggregator { return &reusesBodies{wrapped: pipeline()} }, nil, "SmallLoad", "modified after Pack"},
		{"never ready", func() aggregate.Aggregator { return neverReady{pipeline()} }, nil, "Ready", "Ready() is false"},
		{"partial with full", func() aggregate.Aggregator { return partialFull{pipeline()} }, nil, "Ready", "while Ready() was false"},
		{"duplicates", func() aggregate.Aggregator { return twice{pipeline()} }, nil, "SmallLoad", "a second time"},
		{"reconfiguration ignored", func() aggregate.Aggregator { return &firstConfig{wrapped: pipeline()} }, nil, "Reconfigure", "more than MaxMessageBytes"},
		{"window never flushed", func() aggregate.Aggregator { return lateFlush{pipeline()} }, []Option{WithAggregation(time.Second)}, "Flush", "the aggregates due were not flushed"},
		{"unbounded", func() aggregate.Aggregator { return &unbounded{} }, nil, "Flood", "memory must stay bounded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			only := func(c *config) { c.only = tc.sub }
			wantFailure(t, runFake(t, tc.new, append(tc.opts, only)...), tc.sub, tc.msg)
		})
	}
}

// The wrapper is sound: the unbroken Pipeline behind it, without its
// optional interfaces (so checked against the settings it was built with,
// and required to lose nothing), passes.
func TestBarePipelineConforms(t *testing.T) {
	s := aggregate.Settings{AgentVersion: "bare", AgentID: AgentID, MaxCacheBytes: 128 << 10, MaxMessageBytes: 16 << 10}
	newBare := func() aggregate.Aggregator { return bare{aggregate.New(s)} }
	if f := runFake(t, newBare, WithSettings(s)); len(f) != 0 {
		t.Errorf("a Pipeline without its optional interfaces was reported: %q", f)
	}
}
