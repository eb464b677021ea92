package edgesec

import (
	"context"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/edgesec/edgesec/event"
)

// ExtraDiagnosticDropped is the ExtraDetails key of the
// DroppedEventsStatistics Low item that counts the Diagnostic events
// dropped since the previous report because the engine was behind.
const ExtraDiagnosticDropped = "DiagnosticDroppedEvents"

// Limits of one Diagnostic event built from a log record.
const (
	diagMaxAttrs = 16   // ExtraDetails entries taken from attributes
	diagMaxValue = 1024 // bytes of a message or value
	// diagOmittedKey counts the attributes beyond diagMaxAttrs.
	diagOmittedKey = "omittedAttrs"
)

// diagOut is what every handler derived from one diagHandler shares: where
// the events go and the drop counter.
type diagOut struct {
	level slog.Leveler
	// on reports whether Diagnostic events are wanted (not Off).
	on func() bool
	// send queues ev without blocking and reports false when it could not.
	send    func(ev event.Event) bool
	now     func() time.Time
	pid     int // ProcessID and ThreadID of the events; newDiagHandler sets it
	dropped atomic.Int64
}

// diagHandler is a slog.Handler that turns each record at or above its
// level into one Diagnostic event. It is standalone: the engine composes it
// with the user's handler (slog.NewMultiHandler), so the user's handler
// sees every record unchanged.
//
// Attributes are resolved (slog.LogValuer), flattened to dotted keys
// (groups, WithGroup), scrubbed of credentials (sensitive keys are left
// out, secrets inside values are replaced) and bounded (diagMaxAttrs
// entries, diagMaxValue bytes each). Empty attributes and empty groups are
// dropped. A record with a zero time gets the engine's clock: an event
// always has a time.
//
// Handle never blocks: when the engine is behind, the event is dropped and
// counted (ExtraDiagnosticDropped). It is safe for concurrent use.
type diagHandler struct {
	out    *diagOut
	prefix string     // group prefix of the attributes of later calls, "G.H."
	attrs  []diagAttr // from WithAttrs, resolved, prefixed and scrubbed
}

type diagAttr struct{ key, val string }

func newDiagHandler(out *diagOut) *diagHandler {
	if out.pid == 0 {
		out.pid = os.Getpid()
	}
	return &diagHandler{out: out}
}

// Enabled implements slog.Handler.
func (h *diagHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.out.level.Level() && h.out.on()
}

// Handle implements slog.Handler.
func (h *diagHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.Enabled(ctx, r.Level) {
		return nil
	}
	extra := make(event.ExtraDetails, min(len(h.attrs)+r.NumAttrs(), diagMaxAttrs))
	omitted := 0
	put := func(a diagAttr) {
		if _, ok := extra[a.key]; !ok && len(extra) >= diagMaxAttrs {
			omitted++
			return
		}
		extra[a.key] = a.val
	}
	for _, a := range h.attrs {
		put(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		flatten(h.prefix, a, put)
		return true
	})
	if omitted > 0 {
		extra[diagOmittedKey] = strconv.Itoa(omitted)
	}
	if len(extra) == 0 {
		extra = nil
	}
	t := r.Time
	if t.IsZero() {
		t = h.out.now()
	}
	pid := h.out.pid
	ev := event.Must(event.DiagnosticEvent, t, &event.DiagnosticPayload{
		Severity:     severity(r.Level),
		Message:      truncate(scrub(r.Message), diagMaxValue),
		ProcessID:    pid,
		ThreadID:     pid,
		ExtraDetails: extra,
	})
	if !h.out.send(ev) {
		h.out.dropped.Add(1)
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (h *diagHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	c := *h
	c.attrs = append([]diagAttr(nil), h.attrs...)
	for _, a := range as {
		flatten(h.prefix, a, func(d diagAttr) { c.attrs = append(c.attrs, d) })
	}
	return &c
}

// WithGroup implements slog.Handler.
func (h *diagHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

// flatten resolves a and calls put for every leaf attribute in it, keyed
// by its dotted path under prefix. Empty attributes and groups yield
// nothing; a group with an empty key is inlined.
func flatten(prefix string, a slog.Attr, put func(diagAttr)) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range a.Value.Group() {
			flatten(p, g, put)
		}
		return
	}
	k := prefix + a.Key
	if sensitive(k) {
		return
	}
	var v string
	if a.Value.Kind() == slog.KindTime {
		v = a.Value.Time().UTC().Format(time.RFC3339Nano)
	} else {
		v = a.Value.String()
	}
	put(diagAttr{key: k, val: truncate(scrub(v), diagMaxValue)})
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return event.DiagError
	case l >= slog.LevelWarn:
		return event.DiagWarning
	case l >= slog.LevelInfo:
		return event.DiagInformation
	default:
		return event.DiagDebug
	}
}

// sensitive reports attribute keys that may carry secrets; their values
// never reach an event.
func sensitive(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"key", "token", "password", "secret", "sas", "connectionstring"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// secretValue matches credentials inside text: SAS tokens, shared access
// keys of connection strings, signature parameters, passwords in URLs.
var secretValue = regexp.MustCompile(`(?i)(SharedAccessSignature\s+[^\s"]+|SharedAccessKey=[^;\s"]+|\bsig=[^&\s"]+|://[^/@\s:]+:[^/@\s]+@)`)

// scrub replaces credentials found in s, so that an error message that
// quotes one (a broker URL with a password, a connection string) never
// reaches a Diagnostic event.
func scrub(s string) string {
	if !strings.ContainsAny(s, "=@") {
		return s
	}
	return secretValue.ReplaceAllString(s, "<redacted>")
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// diagDroppedDelta returns the Diagnostic events dropped since the previous
// call. Callers hold e.mu.
func (e *Engine) diagDroppedDelta() int64 {
	n := e.diagOut.dropped.Load()
	d := n - e.diagLast
	e.diagLast = n
	return d
}
