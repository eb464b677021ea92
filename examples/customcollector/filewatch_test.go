package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
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

// Each kind of change is reported once. A change is made in one step, as
// a careful writer does (a new file renamed over the old one): os.WriteFile
// truncates and then writes, and a watcher that looks in between rightly
// sees two changes.
func TestFileWatchReportsEachKindOfChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plc.conf")
	require.NoError(t, os.WriteFile(path, []byte("v1"), 0o600))
	// probe is changed until the watcher reports it: then Run has taken
	// its first fingerprints (however late the goroutine started).
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
	// items returns the reported changes of p, in order.
	items := func(p string) []event.Object {
		var out []event.Object
		for _, ev := range rec.Events() {
			require.Equal(t, FileIntegrity, ev.Name)
			require.Equal(t, event.Triggered, ev.Category)
			for _, it := range ev.Payload {
				if obj := it.(event.Object); obj["Path"] == p {
					out = append(out, obj)
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; len(items(probe)) == 0; i++ {
		require.True(t, time.Now().Before(deadline), "the watcher never reported the probe")
		replace(probe, []byte(strconv.Itoa(i)))
		time.Sleep(20 * time.Millisecond)
	}

	expect := func(change string, act func()) {
		t.Helper()
		n := len(items(path))
		act()
		deadline := time.Now().Add(10 * time.Second)
		for len(items(path)) <= n {
			require.True(t, time.Now().Before(deadline), "no %s reported", change)
			time.Sleep(5 * time.Millisecond)
		}
		got := items(path)
		require.Len(t, got, n+1, "one change reported once")
		require.Equal(t, change, got[n]["Change"])
	}
	expect("content", func() { replace(path, []byte("v2")) })
	expect("mode", func() { require.NoError(t, os.Chmod(path, 0o644)) })
	expect("removed", func() { require.NoError(t, os.Remove(path)) })
	expect("created", func() { replace(path, []byte("v3")) })
	time.Sleep(100 * time.Millisecond) // more looks
	require.Len(t, items(path), 4, "nothing else changed")
}
