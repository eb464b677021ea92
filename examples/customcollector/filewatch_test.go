package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
)

func TestFileWatchConformance(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plc.conf")
	require.NoError(t, os.WriteFile(path, []byte("v1"), 0o600))
	i := 0
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return &FileWatch{Paths: []string{path}, Interval: 50 * time.Millisecond}
	}, collectortest.WithTrigger(func(t *testing.T) {
		i++
		require.NoError(t, os.WriteFile(path, []byte{byte('a' + i%26)}, 0o600))
	}))
}

// Each kind of change is one event. A change is made in one step, as a
// careful writer does (a new file renamed over the old one): os.WriteFile
// truncates and then writes, and a watcher that looks in between rightly
// sees two changes.
func TestFileWatchReportsEachKindOfChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plc.conf")
	require.NoError(t, os.WriteFile(path, []byte("v1"), 0o600))
	// probe does not exist when Run takes its first fingerprints; its
	// creation, once seen, says they were taken.
	probe := filepath.Join(dir, "probe")
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := &FileWatch{Paths: []string{path, probe}, Interval: 20 * time.Millisecond}
	go func() { done <- w.Run(ctx, rec) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	replace := func(p string, data []byte) {
		tmp := filepath.Join(dir, ".new")
		require.NoError(t, os.WriteFile(tmp, data, 0o600))
		require.NoError(t, os.Rename(tmp, p))
	}
	expect := func(path, change string, act func()) {
		t.Helper()
		n := rec.Len()
		act()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		evs, err := rec.WaitFor(wctx, n+1)
		require.NoError(t, err)
		require.Len(t, evs, n+1, "one event for one change")
		ev := evs[n]
		require.Equal(t, FileIntegrity, ev.Name)
		require.Equal(t, event.Triggered, ev.Category)
		require.Len(t, ev.Payload, 1)
		obj := ev.Payload[0].(event.Object)
		require.Equal(t, path, obj["Path"])
		require.Equal(t, change, obj["Change"])
	}
	// Run may not have started yet: wait for the probe to be seen.
	expect(probe, "created", func() { replace(probe, []byte("x")) })
	expect(path, "content", func() { replace(path, []byte("v2")) })
	expect(path, "mode", func() { require.NoError(t, os.Chmod(path, 0o644)) })
	expect(path, "removed", func() { require.NoError(t, os.Remove(path)) })
	expect(path, "created", func() { replace(path, []byte("v3")) })
	time.Sleep(100 * time.Millisecond) // five more looks
	require.Equal(t, 5, rec.Len(), "nothing else changed")
}
