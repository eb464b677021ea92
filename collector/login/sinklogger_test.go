package login

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// loggingSink is a Sink that provides a logger (collector.LoggerProvider).
type loggingSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *loggingSink) Emit(context.Context, ...event.Event) error { return nil }

func (s *loggingSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *loggingSink) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (s *loggingSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestLoggerFromTheSink: without Options.Logger the collector logs through
// the Sink's logger; with it, through its own.
func TestLoggerFromTheSink(t *testing.T) {
	run := func(o Options, sink collector.Sink) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		require.NoError(t, New(o).Run(ctx, sink))
	}
	// Only a systemd journal: the collector reports it (and logs it).
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "var/log/journal/m"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/log/journal/m/system.journal"), nil, 0o600))
	sink := &loggingSink{}
	run(Options{HostRoot: root}, sink)
	require.Contains(t, sink.String(), "login:")

	own := &loggingSink{}
	sink = &loggingSink{}
	run(Options{HostRoot: root, Logger: own.Logger()}, sink)
	require.Empty(t, sink.String())
	require.Contains(t, own.String(), "login:")
}
