package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"32MiB": 32 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "100B": 100, "4096": 4096, "off": 0, "0": 0, " 8MiB ": 8 << 20} {
		got, err := parseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "lots", "-1MiB", "12MB", "1.5MiB", "99999999999GiB"} {
		_, err := parseBytes(bad)
		require.Error(t, err, bad)
	}
}

func rssFileKB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestPageOutExecutable: advising the executable's read-only mappings
// covers the test binary's code and data, lowers its resident file pages,
// and leaves the read-only data mapping marked for random access (VmFlags
// "rr"), so that what is read again comes back a page at a time.
func TestPageOutExecutable(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	syncExecutable(t)
	data := exeMappingOf(t, exe, func(m exeMapping) bool { return !m.exec && !m.writable })
	cacheFileRange(t, data) // whatever earlier tests dropped
	cachedBefore := cachedPages(t, data)
	before := rssFileKB(t)
	rssBefore, _ := mappingFlags(t, exe)
	_, n, err := pageOutExecutable(true)
	if err != nil && n == 0 {
		t.Skipf("MADV_PAGEOUT not available here: %v", err)
	}
	require.NoError(t, err)
	require.Positive(t, n)
	after := rssFileKB(t)
	rssAfter, flags := mappingFlags(t, exe)
	t.Logf("RssFile %d kB -> %d kB (%d bytes advised); by mapping %v -> %v", before, after, n, rssBefore, rssAfter)
	require.Less(t, after, before)
	require.Contains(t, strings.Fields(flags["r--p"]), "rr", "read-only data: %s", flags["r--p"])
	require.NotContains(t, strings.Fields(flags["r-xp"]), "rr", "code: %s", flags["r-xp"])
	require.Less(t, rssAfter["r--p"], rssBefore["r--p"])
	cachedAfter := cachedPages(t, data)
	t.Logf("read-only data in the page cache: %d -> %d pages", cachedBefore, cachedAfter)
	require.Less(t, cachedAfter, cachedBefore/2, "the read-only data is dropped from the page cache")
}

// syncExecutable writes this test binary's pages to disk, as an installed
// binary's are: the kernel cannot evict pages the linker just wrote.
func syncExecutable(t *testing.T) {
	t.Helper()
	f, err := os.Open("/proc/self/exe")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Sync())
}

// cacheFileRange reads m's part of this test binary, which brings it into
// the page cache.
func cacheFileRange(t *testing.T, m exeMapping) {
	t.Helper()
	f, err := os.Open("/proc/self/exe")
	require.NoError(t, err)
	defer f.Close()
	_, err = io.Copy(io.Discard, io.NewSectionReader(f, int64(m.offset), int64(m.end-m.start)))
	require.NoError(t, err)
}

// exeMappingOf returns this process's mapping of exe that keep selects.
func exeMappingOf(t *testing.T, exe string, keep func(exeMapping) bool) exeMapping {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	require.NoError(t, err)
	for _, m := range parseExeMappings(smaps, exe) {
		if keep(m) {
			return m
		}
	}
	t.Fatalf("no such mapping of %s", exe)
	return exeMapping{}
}

// TestUnmapKeepsPageCache: a release that does not drop (the one every
// minute) unmaps the code, which lowers what the process has resident,
// and leaves the pages in the page cache, so running that code again
// reads nothing from storage.
func TestUnmapKeepsPageCache(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	syncExecutable(t) // so that an eviction would show
	code := exeMappingOf(t, exe, func(m exeMapping) bool { return m.exec })
	cachedBefore := cachedPages(t, code)
	rssBefore, _ := mappingFlags(t, exe)
	ms, n, err := pageOutExecutable(false)
	require.NoError(t, err)
	pageOut(ms)
	rssAfter, _ := mappingFlags(t, exe)
	cachedAfter := cachedPages(t, code)
	t.Logf("code: resident %d -> %d kB, in the page cache %d -> %d pages (%d bytes advised)",
		rssBefore["r-xp"], rssAfter["r-xp"], cachedBefore, cachedAfter, n)
	require.Less(t, rssAfter["r-xp"], rssBefore["r-xp"])
	require.GreaterOrEqual(t, cachedAfter, cachedBefore*9/10, "the code stays in the page cache")
	for _, m := range ms {
		if m.writable {
			require.Equal(t, -1, m.advice, "the initialised data is left alone")
		} else if !m.modified {
			require.Equal(t, unix.MADV_DONTNEED, m.advice)
		}
	}
}

// cachedPages counts the pages of m in the page cache (mincore(2)).
func cachedPages(t *testing.T, m exeMapping) int {
	t.Helper()
	page := uint64(os.Getpagesize())
	vec := make([]byte, (m.end-m.start+page-1)/page)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(m.start), uintptr(m.end-m.start), uintptr(unsafe.Pointer(&vec[0])))
	require.Zero(t, e, "mincore: %v", e)
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestWriteMemoryReport: the report carries the runtime's memory classes
// and the kernel's figures, and they describe this process (a live heap
// holding at least what the test keeps, a resident set larger than it).
func TestWriteMemoryReport(t *testing.T) {
	keep := make([]byte, 4<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	var buf bytes.Buffer
	require.NoError(t, writeMemoryReport(&buf))
	runtime.KeepAlive(keep)
	v := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		k, n, ok := strings.Cut(l, " ")
		require.True(t, ok, l)
		f, err := strconv.ParseFloat(n, 64)
		require.NoError(t, err, l)
		v[k] = int64(f)
	}
	for _, k := range memoryClasses {
		require.Contains(t, v, k)
	}
	require.GreaterOrEqual(t, v["/memory/classes/heap/objects:bytes"], int64(4<<20))
	require.GreaterOrEqual(t, v["/memory/classes/total:bytes"], v["/memory/classes/heap/objects:bytes"])
	require.Greater(t, v["/proc/self/status/VmRSS"], int64(4<<20))
	require.GreaterOrEqual(t, v["/proc/self/status/VmHWM"], v["/proc/self/status/VmRSS"])
}

// TestMemoryReportOnSignal: the module writes the report and the heap
// profile when it receives SIGUSR1.
func TestMemoryReportOnSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mem")
	ctx, cancel := context.WithCancel(context.Background())
	sig := notifyMemoryReport()
	defer signal.Stop(sig)
	done := make(chan struct{})
	go func() {
		defer close(done)
		memoryReports(ctx, sig, path, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		st, err := os.Stat(path)
		return err == nil && st.Size() > 0
	}, 10*time.Second, 50*time.Millisecond)
	if heapProfile != nil {
		require.Eventually(t, func() bool {
			st, err := os.Stat(path + ".pprof")
			return err == nil && st.Size() > 0
		}, 10*time.Second, 50*time.Millisecond)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), "/gc/heap/live:bytes ")
	require.Contains(t, string(b), "/proc/self/status/RssAnon ")
}

// TestResidentByKind: the smaps fixture's resident memory is split into
// the executable, the heap arenas (by address), other anonymous memory,
// the BPF ring buffer, the spool and other files; nothing is lost.
func TestResidentByKind(t *testing.T) {
	sm, err := os.ReadFile("testdata/smaps")
	require.NoError(t, err)
	lo := uint64(0x1f4c000000)
	got := residentByKind(sm, "/usr/local/bin/securitymodule", lo, lo+4*heapArenaSize)
	want := map[string]int64{
		"executable": (3100 + 1200 + 180) << 10,
		"heap":       5000 << 10,
		"anonymous":  (100 + 900 + 20 + 4) << 10,
		"bpf":        516 << 10,
		"spool":      248 << 10,
		"files":      4 << 10,
	}
	require.Equal(t, want, got)
}

// TestReleaseInterval: memory is released at least every releaseEvery,
// and after each snapshot when snapshots are more frequent.
func TestReleaseInterval(t *testing.T) {
	for _, c := range []struct{ snapshot, want time.Duration }{
		{13 * time.Hour, releaseEvery},
		{releaseEvery, releaseEvery},
		{time.Minute, time.Minute},
		{0, releaseEvery},
		{-time.Second, releaseEvery},
	} {
		require.Equal(t, c.want, releaseInterval(c.snapshot), "snapshot period %v", c.snapshot)
	}
}

// TestSetMaxProcs: one thread runs Go code by default, --max-procs sets
// another count, GOMAXPROCS in the environment is left as the runtime
// applied it, and a bad count is refused.
func TestSetMaxProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	runtime.GOMAXPROCS(3)
	require.NoError(t, setMaxProcs("", log))
	require.Equal(t, defaultMaxProcs, runtime.GOMAXPROCS(0))

	require.NoError(t, setMaxProcs("2", log))
	require.Equal(t, 2, runtime.GOMAXPROCS(0))

	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3) // as the runtime does at start-up
	require.NoError(t, setMaxProcs("", log))
	require.Equal(t, 3, runtime.GOMAXPROCS(0), "GOMAXPROCS from the environment is kept")

	for _, bad := range []string{"0", "-1", "two"} {
		require.Error(t, setMaxProcs(bad, log), bad)
	}
}

// TestUnmapWhileStarting: the start-up unmaps lower the executable's
// resident pages, stop after their duration and at once when the context
// ends.
func TestUnmapWhileStarting(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	rssBefore, _ := mappingFlags(t, exe)
	start := time.Now()
	unmapWhileStarting(context.Background(), 100*time.Millisecond, log)
	took := time.Since(start)
	rssAfter, _ := mappingFlags(t, exe)
	t.Logf("code resident %d -> %d kB; returned after %v", rssBefore["r-xp"], rssAfter["r-xp"], took)
	require.Less(t, rssAfter["r-xp"], rssBefore["r-xp"])
	require.GreaterOrEqual(t, took, 100*time.Millisecond)
	require.Less(t, took, 5*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	unmapWhileStarting(ctx, time.Hour, log)
	require.Less(t, time.Since(start), 5*time.Second, "returns when the context ends")
}

// TestGCNotifier: an armed notifier sends its generation once after the
// next garbage collection, and only when armed.
func TestGCNotifier(t *testing.T) {
	n := newGCNotifier()
	runtime.GC()
	select {
	case <-n.c:
		t.Fatal("a notice without arm")
	case <-time.After(100 * time.Millisecond):
	}
	for want := uint64(1); want <= 3; want++ {
		n.arm()
		require.Equal(t, want, n.gen)
		runtime.GC()
		select {
		case gen := <-n.c:
			require.Equal(t, want, gen)
		case <-time.After(5 * time.Second):
			t.Fatal("no notice after a collection")
		}
	}
	runtime.GC()
	select {
	case <-n.c:
		t.Fatal("a second notice for one arm")
	case <-time.After(100 * time.Millisecond):
	}
}
