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

func TestFileWatchReportsEachKindOfChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plc.conf")
	require.NoError(t, os.WriteFile(path, []byte("v1"), 0o600))
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := &FileWatch{Paths: []string{path}, Interval: 20 * time.Millisecond}
	go func() { done <- w.Run(ctx, rec) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	time.Sleep(200 * time.Millisecond) // let Run take its first fingerprints

	expect := func(change string, act func()) {
		t.Helper()
		n := rec.Len()
		act()
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		evs, err := rec.WaitFor(wctx, n+1)
		require.NoError(t, err)
		ev := evs[len(evs)-1]
		require.Equal(t, FileIntegrity, ev.Name)
		require.Equal(t, event.Triggered, ev.Category)
		obj := ev.Payload[0].(event.Object)
		require.Equal(t, path, obj["Path"])
		require.Equal(t, change, obj["Change"])
	}
	expect("content", func() { require.NoError(t, os.WriteFile(path, []byte("v2"), 0o600)) })
	expect("mode", func() { require.NoError(t, os.Chmod(path, 0o644)) })
	expect("removed", func() { require.NoError(t, os.Remove(path)) })
	expect("created", func() { require.NoError(t, os.WriteFile(path, []byte("v3"), 0o600)) })
}
