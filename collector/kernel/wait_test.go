package kernel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/event"
)

// The waiter works on any descriptor the network poller takes; a pipe
// stands in for the ring buffer here (no BPF needed): the wait ends at
// the deadline while nothing is ready, at once when the descriptor
// becomes readable and the readiness check agrees, and on close.
func TestRingWaiter(t *testing.T) {
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	t.Cleanup(func() { _ = unix.Close(p[0]); _ = unix.Close(p[1]) })
	w, err := newRingWaiter(p[0])
	require.NoError(t, err)

	var ready atomic.Bool
	check := func() bool { return ready.Load() }
	start := time.Now()
	err = w.wait(time.Now().Add(30*time.Millisecond), check)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	// Ready before the wait: no wakeup needed.
	ready.Store(true)
	require.NoError(t, w.wait(time.Now().Add(time.Hour), check))

	// Ready later, signalled by the descriptor.
	ready.Store(false)
	done := make(chan error, 1)
	go func() { done <- w.wait(time.Now().Add(time.Hour), check) }()
	time.Sleep(20 * time.Millisecond)
	ready.Store(true)
	_, err = unix.Write(p[1], []byte{1})
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end when the descriptor became readable")
	}

	// Close ends a pending wait; later waits fail the same way.
	ready.Store(false)
	go func() { done <- w.wait(time.Now().Add(time.Hour), check) }()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, w.close())
	require.NoError(t, w.close(), "idempotent")
	select {
	case err := <-done:
		assert.ErrorIs(t, err, errWaiterClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("close did not end the wait")
	}
	assert.ErrorIs(t, w.wait(time.Now().Add(time.Hour), check), errWaiterClosed)
}

// A descriptor the poller does not take (a regular file) is refused, and
// the collector then waits in the reader instead.
func TestRingWaiterRefusesUnpollable(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	_, err = newRingWaiter(int(f.Fd()))
	require.Error(t, err)
	assert.False(t, errors.Is(err, errWaiterClosed))
}

// The reader parked in the network poller is woken by the kernel: with a
// poll interval far longer than the test, an exec is reported at once
// when the kernel wakes the reader on every record (WakeupBytes 1), and
// Run still returns at once when cancelled.
func TestReaderWokenByTheKernel(t *testing.T) {
	c := newCollector(t, Options{RingBufferSize: testRing, WakeupBytes: 1, PollInterval: time.Hour})
	require.True(t, execReported(t, c, "WAKE"), "the exec was not reported: the reader was not woken")
}

// execReported runs c, execs /bin/true with a unique marker and reports
// whether c reported the exec within 10 s.
func execReported(t *testing.T, c *Collector, tag string) bool {
	t.Helper()
	rec := run(t, c)
	marker := fmt.Sprintf("%s-%d-%d", tag, os.Getpid(), time.Now().UnixNano())
	require.NoError(t, exec.Command("/bin/true", marker).Run())
	return waitUntil(10*time.Second, func() bool {
		for _, p := range payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate) {
			if strings.Contains(p.CommandLine, marker) {
				return true
			}
		}
		return false
	})
}

// Below WakeupBytes the kernel does not wake the reader: the records are
// read at the poll interval.
func TestReaderPollsBelowWakeupBytes(t *testing.T) {
	c := newCollector(t, Options{RingBufferSize: testRing, WakeupBytes: testRing / 2, PollInterval: 20 * time.Millisecond})
	require.True(t, execReported(t, c, "POLL"), "the exec was not reported at the poll interval")
}
