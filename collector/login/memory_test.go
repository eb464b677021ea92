package login

import (
	"bufio"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// A hostile host root (issue #15): a wtmp and a btmp of random bytes, an
// 18 MB auth log of logins and a 46 MB /etc/passwd. The collector reports
// the two unreadable files, reads the whole auth log, and the heap it
// holds while the sink takes each batch stays small: one step reads at
// most MaxReadBytes. With steps of 1 MiB it held 11,397 events (12 MB
// live) at once; with 256 KiB, about a quarter of that.
func TestHostileFilesMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 90 MB of files")
	}
	root := newRoot(t)
	noise := make([]byte, 50<<20)
	_, err := rand.Read(noise)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/log/wtmp"), noise, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/log/btmp"), noise[:20<<20], 0o644))
	noise = nil
	const logins = 200_000
	line := "Mar  3 10:00:01 host sshd[1234]: Accepted password for alice from 192.0.2.10 port 5000 ssh2\n"
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/log/auth.log"), []byte(strings.Repeat(line, logins)), 0o644))
	runtime.KeepAlive(noise)
	f, err := os.Create(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range 615_000 {
		n := strconv.Itoa(1_000_000 + i)
		_, err = w.WriteString("user" + n + ":x:" + n + ":" + n + ":User,,,:/home/user" + n + ":/bin/bash\n")
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())

	var (
		got, batches int
		maxBatch     int
		maxLive      uint64
		reported     []error
	)
	sink := reportingSink{
		emit: func(evs []event.Event) {
			got += len(evs)
			batches++
			maxBatch = max(maxBatch, len(evs))
			var ms runtime.MemStats
			runtime.GC() // what is live while the sink holds the batch
			runtime.ReadMemStats(&ms)
			runtime.KeepAlive(evs)
			maxLive = max(maxLive, ms.HeapAlloc)
		},
		report: func(err error) { reported = append(reported, err) },
	}
	c := New(Options{HostRoot: root, FromStart: true})
	r := c.newRun(context.Background(), sink)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		require.NoError(t, r.poll(context.Background()))
		if got >= logins {
			break
		}
	}
	live := maxLive - min(maxLive, before.HeapAlloc)
	t.Logf("heap before %d KB, max while emitting %d KB", before.HeapAlloc>>10, maxLive>>10)
	t.Logf("%d logins in %d batches of at most %d events; at most %.1f MB live while a batch was emitted; %d files reported",
		got, batches, maxBatch, float64(live)/(1<<20), len(reported))
	require.Equal(t, logins, got)
	require.Len(t, reported, 2, "wtmp and btmp: %v", reported)
	for _, err := range reported {
		require.ErrorContains(t, err, "not utmp records of a known layout")
	}
	require.Less(t, live, uint64(6<<20), "live heap while a batch is emitted")
}

// reportingSink is a collector.Sink that also hears reported errors.
type reportingSink struct {
	emit   func([]event.Event)
	report func(error)
}

func (s reportingSink) Emit(_ context.Context, evs ...event.Event) error {
	s.emit(evs)
	return nil
}

func (s reportingSink) ReportError(_ context.Context, _ string, err error) { s.report(err) }

var _ collector.Sink = reportingSink{}
