package edgesec

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

// diagSink collects what a diagHandler emits, holding at most limit events
// (0: no limit) as the engine's channel does.
type diagSink struct {
	mu    sync.Mutex
	evs   []event.Event
	limit int
}

func (s *diagSink) out(level slog.Level) *diagOut {
	return &diagOut{
		level: level,
		on:    func() bool { return true },
		send: func(ev event.Event) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.limit > 0 && len(s.evs) >= s.limit {
				return false
			}
			s.evs = append(s.evs, ev)
			return true
		},
		now: time.Now,
	}
}

func (s *diagSink) payloads(t *testing.T) []*event.DiagnosticPayload {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*event.DiagnosticPayload
	for _, ev := range s.evs {
		require.Equal(t, event.DiagnosticEvent, ev.Name)
		require.Len(t, ev.Payload, 1)
		p, ok := ev.Payload[0].(*event.DiagnosticPayload)
		require.True(t, ok, "payload %T", ev.Payload[0])
		out = append(out, p)
	}
	return out
}

// asMap turns a Diagnostic event into the map slogtest reads: the
// standard keys, and ExtraDetails' dotted keys as nested groups.
func asMap(ev event.Event) map[string]any {
	p := ev.Payload[0].(*event.DiagnosticPayload)
	m := map[string]any{
		slog.TimeKey:    ev.Time,
		slog.LevelKey:   p.Severity,
		slog.MessageKey: p.Message,
	}
	for k, v := range p.ExtraDetails {
		cur := m
		parts := strings.Split(k, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, ok := cur[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				cur[g] = sub
			}
			cur = sub
		}
		cur[parts[len(parts)-1]] = v
	}
	return m
}

// TestDiagHandlerSlogtest runs the standard library's Handler conformance
// cases on the Diagnostic handler, enabled from Info for the purpose.
func TestDiagHandlerSlogtest(t *testing.T) {
	var s *diagSink
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		if strings.HasSuffix(t.Name(), "/zero-time") {
			// An ASC event always has a time (TimeLocal, TimeUTC): a record
			// without one gets the engine's clock, on purpose.
			t.Skip("a Diagnostic event always carries a time; a zero Record.Time becomes the clock's")
		}
		s = &diagSink{}
		return newDiagHandler(s.out(slog.LevelInfo))
	}, func(t *testing.T) map[string]any {
		s.mu.Lock()
		defer s.mu.Unlock()
		require.Len(t, s.evs, 1)
		return asMap(s.evs[0])
	})
}

func TestDiagHandlerZeroTimeGetsTheClock(t *testing.T) {
	s := &diagSink{}
	o := s.out(slog.LevelWarn)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	o.now = func() time.Time { return at }
	r := slog.NewRecord(time.Time{}, slog.LevelWarn, "m", 0)
	require.NoError(t, newDiagHandler(o).Handle(context.Background(), r))
	require.Len(t, s.evs, 1)
	require.True(t, s.evs[0].Time.Equal(at))
}

// redacted is a value that redacts itself when logged.
type redacted string

func (redacted) LogValue() slog.Value { return slog.StringValue("<hidden>") }

func TestDiagHandlerResolvesScrubsAndKeepsStructure(t *testing.T) {
	s := &diagSink{}
	l := slog.New(newDiagHandler(s.out(slog.LevelWarn)))
	l = l.With("collector", "Modbus", "password", "hunter2").WithGroup("dev").With("port", 502)
	l.Info("not a diagnostic")
	l.Warn("poll failed",
		"user", redacted("alice-in-clear"),
		slog.Group("net", slog.String("peer", "10.0.0.9"), slog.Group("tls", "version", "1.3")),
		slog.Group("empty"),
		slog.Attr{},
		"err", "dial mqtts://user:pw-in-clear@broker:8883: refused",
	)
	ps := s.payloads(t)
	require.Len(t, ps, 1, "Info is below the handler's level")
	p := ps[0]
	require.Equal(t, event.DiagWarning, p.Severity)
	require.Equal(t, event.ExtraDetails{
		"collector":           "Modbus", // added before WithGroup: no prefix
		"dev.port":            "502",
		"dev.user":            "<hidden>", // LogValuer resolved
		"dev.net.peer":        "10.0.0.9", // slog.Group keeps its structure
		"dev.net.tls.version": "1.3",
		"dev.err":             "dial mqtts<redacted>broker:8883: refused",
	}, p.ExtraDetails)
	require.NotContains(t, p.ExtraDetails, "password")
}

func TestDiagHandlerBoundsAttributes(t *testing.T) {
	s := &diagSink{}
	l := slog.New(newDiagHandler(s.out(slog.LevelWarn)))
	var args []any
	for i := range diagMaxAttrs + 5 {
		args = append(args, slog.Int("a"+strings.Repeat("x", i), i))
	}
	args = append(args, "long", strings.Repeat("é", diagMaxValue))
	l.Error(strings.Repeat("m", 2*diagMaxValue), args...)
	p := s.payloads(t)[0]
	require.Equal(t, event.DiagError, p.Severity)
	require.Len(t, p.ExtraDetails, diagMaxAttrs+1)
	require.Equal(t, "6", p.ExtraDetails[diagOmittedKey], "5 attributes beyond the limit and the long one")
	require.LessOrEqual(t, len(p.Message), diagMaxValue+len("…"))
}

func TestDiagHandlerCountsDrops(t *testing.T) {
	s := &diagSink{limit: 2}
	o := s.out(slog.LevelWarn)
	l := slog.New(newDiagHandler(o))
	for range 5 {
		l.Warn("w")
	}
	require.Len(t, s.payloads(t), 2)
	require.Equal(t, int64(3), o.dropped.Load())
}

func TestDiagHandlerOff(t *testing.T) {
	s := &diagSink{}
	o := s.out(slog.LevelWarn)
	o.on = func() bool { return false }
	h := newDiagHandler(o)
	require.False(t, h.Enabled(context.Background(), slog.LevelError))
	slog.New(h).Error("e")
	require.Empty(t, s.payloads(t))
}

// BenchmarkDiagHandler measures one warning turned into a Diagnostic event
// (resolve, flatten, scrub, build the event), beside what a user's own
// handler costs for the same record (slog's JSON handler to io.Discard).
func BenchmarkDiagHandler(b *testing.B) {
	warn := func(b *testing.B, l *slog.Logger) {
		l = l.With("collector", "ProcessCreate").WithGroup("proc")
		b.ReportAllocs()
		for b.Loop() {
			l.Warn("proc connector read", "err", "recvmsg: no buffer space available", "pid", 4242,
				slog.Group("buf", "size", 212992, "forced", false))
		}
	}
	b.Run("diagnostic", func(b *testing.B) {
		var n int
		o := &diagOut{level: slog.LevelWarn, on: func() bool { return true },
			send: func(event.Event) bool { n++; return true }, now: time.Now}
		warn(b, slog.New(newDiagHandler(o)))
	})
	b.Run("slog.JSONHandler", func(b *testing.B) {
		warn(b, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	})
}
