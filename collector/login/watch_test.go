package login

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
)

// countingSink counts the Emit calls (one per check that found records).
type countingSink struct {
	*collectortest.Recorder
	calls atomic.Int64
}

func (s *countingSink) Emit(ctx context.Context, evs ...event.Event) error {
	s.calls.Add(1)
	return s.Recorder.Emit(ctx, evs...)
}

// runCollector runs c until the test ends and returns its recorder.
func runCollector(t *testing.T, c *Collector) *collectortest.Recorder {
	t.Helper()
	return runCounted(t, c).Recorder
}

func runCounted(t *testing.T, c *Collector) *countingSink {
	t.Helper()
	rec := &countingSink{Recorder: collectortest.NewRecorder()}
	collectortest.Start(t, c, rec)
	return rec
}

// waitPIDs waits until the recorder holds Login events of the given pids,
// in that order.
func waitPIDs(t *testing.T, rec *collectortest.Recorder, want ...string) {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = got[:0]
		for _, ev := range rec.Events() {
			if ev.Name == event.Login {
				got = append(got, pids([]string{describe(ev)})...)
			}
		}
		if len(got) >= len(want) {
			break
		}
	}
	assert.Equal(t, want, got)
}

// Watched files are read when they change, not at the next poll (here an
// hour away): a line appended, a rotation (the rest of the old file, then
// the new one), and a file that appears.
func TestWatchedFilesAreReadWhenTheyChange(t *testing.T) {
	root := newRoot(t)
	auth := filepath.Join(root, "var/log/auth.log")
	appendFile(t, auth, nil)
	c := New(Options{HostRoot: root, PollInterval: time.Hour, FromStart: true})
	rec := runCollector(t, c)
	// Read by the first check or, written after it, on its change: once
	// it is seen, the first check is done (the watches were added before
	// it) and what follows can only be seen through inotify.
	appendFile(t, auth, []byte(line1))
	waitPIDs(t, rec, "pid=1")

	appendFile(t, auth, []byte(line2))
	require.NoError(t, os.Rename(auth, auth+".1"))
	appendFile(t, auth, []byte(line3))
	waitPIDs(t, rec, "pid=1", "pid=2", "pid=3")

	secure := filepath.Join(root, "var/log/secure")
	appendFile(t, secure, []byte(line1))
	waitPIDs(t, rec, "pid=1", "pid=2", "pid=3", "pid=1")
}

// A burst of writes is read in a few checks, not one per write.
func TestWatchedBurstIsBatched(t *testing.T) {
	root := newRoot(t)
	auth := filepath.Join(root, "var/log/auth.log")
	appendFile(t, auth, nil)
	c := New(Options{HostRoot: root, PollInterval: time.Hour, FromStart: true})
	sink := runCounted(t, c)
	start := time.Now()
	var want []string
	for time.Since(start) < 600*time.Millisecond {
		appendFile(t, auth, []byte(line1))
		want = append(want, "pid=1")
		time.Sleep(2 * time.Millisecond)
	}
	waitPIDs(t, sink.Recorder, want...)
	// Emit is called once per check that found records.
	elapsed := time.Since(start)
	checks := sink.calls.Load()
	assert.LessOrEqual(t, checks, int64(elapsed/minCheckGap)+2, "%d writes read in %d checks over %v", len(want), checks, elapsed)
}

// NoWatch: the files are polled every PollInterval.
func TestNoWatchPolls(t *testing.T) {
	root := newRoot(t)
	auth := filepath.Join(root, "var/log/auth.log")
	appendFile(t, auth, nil)
	c := New(Options{HostRoot: root, PollInterval: 20 * time.Millisecond, NoWatch: true, FromStart: true})
	rec := runCollector(t, c)
	appendFile(t, auth, []byte(line2))
	waitPIDs(t, rec, "pid=2")
}
