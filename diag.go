package edgesec

import (
	"context"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/edgesec/edgesec/event"
)

// diagHandler passes records to the next handler and turns warnings and
// errors into Diagnostic events (when Diagnostic is not Off). It never
// blocks: when the engine is behind, Diagnostic events are dropped and
// counted.
type diagHandler struct {
	next    slog.Handler
	e       *Engine
	attrs   []slog.Attr
	group   string
	dropped *atomic.Int64
}

func (h *diagHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *diagHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && h.e.cfg.Current().Priority(event.DiagnosticEvent) != event.Off {
		h.emit(r)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *diagHandler) emit(r slog.Record) {
	sev := event.DiagWarning
	if r.Level >= slog.LevelError {
		sev = event.DiagError
	}
	extra := make(map[string]string, r.NumAttrs()+len(h.attrs))
	add := func(a slog.Attr) bool {
		k := a.Key
		if h.group != "" {
			k = h.group + "." + k
		}
		if len(extra) < 16 && !sensitive(k) {
			extra[k] = truncate(scrub(a.Value.String()), 1024)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	ev := event.Must(event.DiagnosticEvent, r.Time, &event.DiagnosticPayload{
		Severity:     sev,
		Message:      truncate(scrub(r.Message), 1024),
		ProcessID:    os.Getpid(),
		ThreadID:     os.Getpid(),
		ExtraDetails: extra,
	})
	select {
	case h.e.diag <- ev:
	default:
		if h.dropped != nil {
			h.dropped.Add(1)
		}
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (h *diagHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *diagHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	if c.group != "" {
		c.group += "." + name
	} else {
		c.group = name
	}
	return &c
}
