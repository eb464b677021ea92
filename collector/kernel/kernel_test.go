package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
)

// testRing is the ring buffer size of the tests that assert no loss.
const testRing = 4 << 20

// requireEnv turns the skips of tests that need BPF into failures (CI
// sets it, so that a broken load cannot pass as a skip).
const requireEnv = "EDGESEC_TEST_REQUIRE_BPF"

// newCollector loads the programs, or skips the test when this machine
// cannot (not root, no BTF, old kernel).
func newCollector(t testing.TB, opts Options) *Collector {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		if errors.Is(err, ErrNotAvailable) && os.Getenv(requireEnv) == "" {
			t.Skipf("needs eBPF (root with CAP_BPF+CAP_PERFMON, kernel BTF, Linux >= 5.8): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

// run runs c until the test ends.
func run(t *testing.T, c *Collector) *collectortest.Recorder {
	t.Helper()
	rec := collectortest.NewRecorder()
	collectortest.Start(t, c, rec)
	return rec
}

// payloads returns the payload items of the events named name.
func payloads[T event.Item](rec *collectortest.Recorder, name string) []T {
	var out []T
	for _, ev := range rec.Events() {
		if ev.Name != name {
			continue
		}
		for _, it := range ev.Payload {
			if p, ok := it.(T); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// waitUntil polls cond every 20 ms for up to d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	require.NoError(t, err)
	return r
}

// Every one of 500 short-lived processes is reported with its argv, its
// parent and its exit status.
func TestEveryShortProcessWithArgv(t *testing.T) {
	// A ring buffer with room for bursts of the rest of the host (other
	// builds and tests) as well, so that the test does not depend on them.
	c := newCollector(t, Options{RingBufferSize: testRing})
	rec := run(t, c)
	const n = 500
	marker := fmt.Sprintf("MARKER-%d-%d", os.Getpid(), time.Now().UnixNano())
	pids := make([]int, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				cmd := exec.Command("/bin/true", marker+"-"+strconv.Itoa(i))
				if err := cmd.Run(); err != nil {
					errs <- err
					return
				}
				pids[i] = cmd.Process.Pid
			}
		}()
	}
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)

	trueExe := realPath(t, "/bin/true")
	count := func() (created, exited int) {
		for _, p := range payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate) {
			if strings.Contains(p.CommandLine, marker) {
				created++
			}
		}
		want := make(map[int]bool, n)
		for _, pid := range pids {
			want[pid] = true
		}
		for _, p := range payloads[*event.ProcessTerminatePayload](rec, event.ProcessTerminate) {
			if want[p.ProcessID] && p.ExitStatus == 0 && p.Executable == trueExe {
				exited++
			}
		}
		return
	}
	waitUntil(5*time.Second, func() bool { cr, ex := count(); return cr == n && ex == n })
	created, exited := count()
	assert.Equal(t, n, created, "ProcessCreate with argv; stats %+v", c.Stats())
	assert.Equal(t, n, exited, "ProcessTerminate with executable and status 0")

	byPid := map[int]*event.ProcessCreatePayload{}
	for _, p := range payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate) {
		byPid[p.ProcessID] = p
	}
	for i, pid := range pids {
		p := byPid[pid]
		if !assert.NotNil(t, p, "pid %d", pid) {
			continue
		}
		assert.Equal(t, "/bin/true "+marker+"-"+strconv.Itoa(i), p.CommandLine)
		assert.Equal(t, trueExe, p.Executable)
		assert.Equal(t, os.Getpid(), p.ParentProcessID)
		assert.Equal(t, strconv.Itoa(os.Getuid()), p.UserID)
		assert.Equal(t, "true", p.ExtraDetails[KeyComm])
		assert.Equal(t, "ebpf", p.ExtraDetails[KeySource])
		assert.Empty(t, p.ExtraDetails[KeyEnrichment])
	}
	s := c.Stats()
	assert.Zero(t, s.Lost(), "%+v", s)
	assert.Zero(t, s.Malformed)
}

func TestExitStatusAndSignal(t *testing.T) {
	c := newCollector(t, Options{})
	rec := run(t, c)

	code := exec.Command("/bin/sh", "-c", "exit 3")
	require.Error(t, code.Run())
	sleep := exec.Command("/bin/sleep", "30")
	require.NoError(t, sleep.Start())
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, sleep.Process.Kill())
	_ = sleep.Wait()

	find := func(pid int) *event.ProcessTerminatePayload {
		var got *event.ProcessTerminatePayload
		waitUntil(5*time.Second, func() bool {
			for _, p := range payloads[*event.ProcessTerminatePayload](rec, event.ProcessTerminate) {
				if p.ProcessID == pid {
					got = p
					return true
				}
			}
			return false
		})
		require.NotNil(t, got, "no ProcessTerminate for %d", pid)
		return got
	}
	p := find(code.Process.Pid)
	assert.Equal(t, 3, p.ExitStatus)
	assert.Empty(t, p.ExtraDetails[KeySignal])
	p = find(sleep.Process.Pid)
	assert.Equal(t, 137, p.ExitStatus)
	assert.Equal(t, "SIGKILL", p.ExtraDetails[KeySignal])
	assert.Equal(t, realPath(t, "/bin/sleep"), p.Executable)
}

// The parent of a process forked by a shell is the shell; a child that
// never execs runs the shell's executable, known from the fork.
func TestForkAncestry(t *testing.T) {
	c := newCollector(t, Options{})
	rec := run(t, c)
	marker := fmt.Sprintf("FORK-%d", time.Now().UnixNano())
	sh := exec.Command("/bin/sh", "-c", "/bin/true "+marker+"; (exit 7); :")
	require.NoError(t, sh.Run())
	shExe := realPath(t, "/bin/sh")

	var child *event.ProcessCreatePayload
	var sub *event.ProcessTerminatePayload
	waitUntil(5*time.Second, func() bool {
		for _, p := range payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate) {
			if strings.Contains(p.CommandLine, marker) {
				child = p
			}
		}
		for _, p := range payloads[*event.ProcessTerminatePayload](rec, event.ProcessTerminate) {
			if p.ExitStatus == 7 && p.ProcessID != sh.Process.Pid && p.Executable == shExe {
				sub = p
			}
		}
		return child != nil && sub != nil
	})
	require.NotNil(t, child, "no ProcessCreate for %s", marker)
	assert.Equal(t, sh.Process.Pid, child.ParentProcessID)
	assert.Equal(t, shExe, child.ExtraDetails[KeyParentExecutable])
	assert.Equal(t, "sh", child.ExtraDetails[KeyParentComm])
	require.NotNil(t, sub, "no ProcessTerminate (status 7) of the forked subshell naming the shell's executable")
	assert.Equal(t, "sh", sub.ExtraDetails[KeyComm])
}

// A ring buffer too small for a burst loses records, and every loss is
// counted in the kernel and reported.
func TestRingBufferFullIsCounted(t *testing.T) {
	c := newCollector(t, Options{RingBufferSize: 4096, ReportEvery: 50 * time.Millisecond})
	// No reader yet: the burst fills the ring buffer.
	const n = 100
	marker := fmt.Sprintf("BURST-%d", time.Now().UnixNano())
	for i := range n {
		require.NoError(t, exec.Command("/bin/true", marker+"-"+strconv.Itoa(i)).Run())
	}
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, rec) }()
	defer func() { cancel(); <-done }()
	var got int
	waitUntil(2*time.Second, func() bool {
		got = 0
		for _, p := range payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate) {
			if strings.Contains(p.CommandLine, marker) {
				got++
			}
		}
		return len(rec.Errors()) > 0
	})
	s := c.Stats()
	assert.Less(t, got, n, "a 4 KiB ring buffer cannot hold %d exec records", n)
	assert.GreaterOrEqual(t, s.RingBufferFull, uint64(n-got), "every lost exec is counted: %+v", s)
	require.NotEmpty(t, rec.Errors(), "losses are reported")
	assert.Contains(t, rec.Errors()[0].Err.Error(), "ring buffer full")
	var dc collector.DropCounter = c
	assert.GreaterOrEqual(t, dc.Dropped(), int64(n-got), "and counted for DroppedEventsStatistics")
	cancel()
	require.NoError(t, <-done)
	done <- nil
	require.NoError(t, c.Close())
	assert.GreaterOrEqual(t, dc.Dropped(), int64(n-got), "also after Close")
}

// Every one of 1,000 loopback connections, closed at once, is reported in
// both directions with the process that made it.
func TestShortConnections(t *testing.T) {
	c := newCollector(t, Options{Connections: true, RingBufferSize: testRing})
	if !c.Stats().Accept {
		t.Skip("accept attribution is only built for amd64 and arm64")
	}
	rec := run(t, c)
	for _, tc := range []struct {
		network string
		n       int
	}{{"tcp4", 1000}, {"tcp6", 200}} {
		t.Run(tc.network, func(t *testing.T) {
			pid, port := runHelper(t, tc.n, tc.network)
			p := strconv.Itoa(port)
			var out, in int
			count := func() bool {
				out, in = 0, 0
				for _, it := range payloads[*event.ConnectionCreatePayload](rec, event.ConnectionCreate) {
					switch {
					case it.ProcessID != pid:
					case it.Direction == event.DirectionOut && it.RemotePort == p && it.LocalPort != "0":
						out++
					case it.Direction == event.DirectionIn && it.LocalPort == p && it.RemotePort != "0":
						in++
					}
				}
				return out == tc.n && in == tc.n
			}
			waitUntil(5*time.Second, count)
			assert.Equal(t, tc.n, out, "outbound with the helper's pid; stats %+v", c.Stats())
			assert.Equal(t, tc.n, in, "inbound with the helper's pid")
		})
	}
	var one *event.ConnectionCreatePayload
	for _, it := range payloads[*event.ConnectionCreatePayload](rec, event.ConnectionCreate) {
		if it.Direction == event.DirectionIn && it.ExtraDetails[KeyFamily] == "IPv6" {
			one = it
		}
	}
	require.NotNil(t, one)
	self, err := os.Executable()
	require.NoError(t, err)
	assert.Equal(t, self, one.Executable)
	assert.Equal(t, "::1", one.LocalAddress)
	assert.Equal(t, "TCP", one.Protocol)
	assert.Equal(t, "true", one.ExtraDetails[KeyLoopback])
	assert.Zero(t, c.Stats().Lost())
}

func TestConformance(t *testing.T) {
	newCollector(t, Options{}).Close() // skip early when not available
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return newCollector(t, Options{Connections: true, Activity: true})
	}, collectortest.WithTrigger(func(t *testing.T) {
		_ = exec.Command("/bin/true", "conformance").Run()
	}))
}

func TestDisableForcesFallback(t *testing.T) {
	c, err := New(Options{Disable: true})
	assert.Nil(t, c)
	assert.ErrorIs(t, err, ErrNotAvailable)
}

func TestRunAfterClose(t *testing.T) {
	c := newCollector(t, Options{})
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.Run(context.Background(), collectortest.NewRecorder()), os.ErrClosed)
}

func TestEventsDeclared(t *testing.T) {
	c := newCollector(t, Options{})
	assert.Equal(t, []string{event.ProcessCreate, event.ProcessTerminate}, collector.Produces(c))
	c = newCollector(t, Options{Connections: true, Activity: true})
	want := []string{event.ProcessCreate, event.ProcessTerminate, event.ConnectionCreate}
	if c.Stats().Activity {
		want = append(want, event.KernelActivity)
	}
	assert.Equal(t, want, collector.Produces(c))
}
