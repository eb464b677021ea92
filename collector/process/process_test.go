package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the kernel proc connector needs CAP_NET_ADMIN (CI runs as root)")
	}
}

// running is a collector started by start.
type running struct {
	c   *process.Collector
	rec *collectortest.Recorder
}

// start runs a collector until the test ends and returns once it receives
// events (it spawns probe processes until one is seen).
func start(t *testing.T, opts process.Options) *running {
	t.Helper()
	c := process.New(opts)
	rec := collectortest.NewRecorder()
	collectortest.Start(t, c, rec)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		cmd := exec.Command("/bin/true", "probe")
		require.NoError(t, cmd.Run())
		if waitPid(rec, cmd.Process.Pid, event.ProcessCreate, 200*time.Millisecond) != nil {
			return &running{c, rec}
		}
	}
	t.Fatalf("collector never reported a probe process; stats %+v, errors %v", c.Stats(), rec.Errors())
	return nil
}

// find returns the payloads of name about pid.
func find(rec *collectortest.Recorder, pid int, name string) []event.Item {
	var out []event.Item
	for _, ev := range rec.Events() {
		if ev.Name != name {
			continue
		}
		for _, it := range ev.Payload {
			switch p := it.(type) {
			case *event.ProcessCreatePayload:
				if p.ProcessID == pid {
					out = append(out, it)
				}
			case *event.ProcessTerminatePayload:
				if p.ProcessID == pid {
					out = append(out, it)
				}
			}
		}
	}
	return out
}

func waitPid(rec *collectortest.Recorder, pid int, name string, d time.Duration) event.Item {
	deadline := time.Now().Add(d)
	for {
		if its := find(rec, pid, name); len(its) > 0 {
			return its[0]
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustWait(t *testing.T, rec *collectortest.Recorder, pid int, name string) event.Item {
	t.Helper()
	it := waitPid(rec, pid, name, 5*time.Second)
	require.NotNil(t, it, "no %s for pid %d", name, pid)
	return it
}

func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	require.NoError(t, err)
	return r
}

func validateAll(t *testing.T, rec *collectortest.Recorder) {
	t.Helper()
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	for _, ev := range rec.Events() {
		require.NoError(t, v.ValidateEvent(ev), "%s", ev.AppendJSON(nil))
		require.True(t, json.Valid(ev.AppendJSON(nil)))
	}
}

func TestExecAndExitStatus(t *testing.T) {
	needRoot(t)
	r := start(t, process.Options{Mode: process.ModeNetlink})

	cmd := exec.Command("/bin/sh", "-c", "sleep 0.2; exit 3")
	err := cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	pid := cmd.Process.Pid

	pc := mustWait(t, r.rec, pid, event.ProcessCreate).(*event.ProcessCreatePayload)
	assert.Equal(t, realPath(t, "/bin/sh"), pc.Executable)
	assert.Equal(t, "/bin/sh -c sleep 0.2; exit 3", pc.CommandLine)
	assert.Equal(t, os.Getpid(), pc.ParentProcessID)
	assert.Equal(t, strconv.Itoa(os.Getuid()), pc.UserID)
	assert.Equal(t, "root", pc.UserName)
	assert.Empty(t, pc.ExtraDetails[process.KeyEnrichment])
	assert.Empty(t, pc.ExtraDetails[process.KeyContainerID])
	assert.Equal(t, "netlink", pc.ExtraDetails[process.KeySource])

	pt := mustWait(t, r.rec, pid, event.ProcessTerminate).(*event.ProcessTerminatePayload)
	assert.Equal(t, 3, pt.ExitStatus)
	assert.Equal(t, realPath(t, "/bin/sh"), pt.Executable)
	assert.Empty(t, pt.ExtraDetails[process.KeySignal])

	// The sleep the shell started: its parent is the shell.
	var sleepPid int
	for _, ev := range r.rec.Events() {
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ProcessCreatePayload); ok && p.ParentProcessID == pid && strings.HasPrefix(p.CommandLine, "sleep") {
				sleepPid = p.ProcessID
				assert.Equal(t, "sleep 0.2", p.CommandLine)
				assert.Equal(t, realPath(t, "/bin/sleep"), p.Executable)
				assert.Equal(t, realPath(t, "/bin/sh"), p.ExtraDetails[process.KeyParentExecutable])
			}
		}
	}
	require.NotZero(t, sleepPid, "no ProcessCreate for the shell's sleep")
	assert.Equal(t, 0, mustWait(t, r.rec, sleepPid, event.ProcessTerminate).(*event.ProcessTerminatePayload).ExitStatus)
	validateAll(t, r.rec)
}

func TestKilledBySignal(t *testing.T) {
	needRoot(t)
	r := start(t, process.Options{})
	cmd := exec.Command("/bin/sleep", "30")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	mustWait(t, r.rec, pid, event.ProcessCreate)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	pt := mustWait(t, r.rec, pid, event.ProcessTerminate).(*event.ProcessTerminatePayload)
	assert.Equal(t, 128+9, pt.ExitStatus)
	assert.Equal(t, "SIGKILL", pt.ExtraDetails[process.KeySignal])
	assert.Equal(t, realPath(t, "/bin/sleep"), pt.Executable)
	assert.Equal(t, "sleep", pt.ExtraDetails[process.KeyComm])
	validateAll(t, r.rec)
}

// A burst of 200 processes that live for a millisecond: every one has its
// ProcessCreate and ProcessTerminate, even when /proc was gone before it
// could be read (then marked partial, with the pid, parent and exit
// status the kernel told).
func TestBurstOfShortLivedProcesses(t *testing.T) {
	needRoot(t)
	r := start(t, process.Options{})
	const n = 200
	pids := make([]int, 0, n)
	for range n {
		cmd := exec.Command("/bin/true")
		require.NoError(t, cmd.Run())
		pids = append(pids, cmd.Process.Pid)
	}
	partial := 0
	for _, pid := range pids {
		pc := mustWait(t, r.rec, pid, event.ProcessCreate).(*event.ProcessCreatePayload)
		assert.Equal(t, os.Getpid(), pc.ParentProcessID, "pid %d", pid)
		assert.Equal(t, "0", pc.UserID)
		if pc.ExtraDetails[process.KeyEnrichment] == "partial" {
			partial++
			assert.Equal(t, process.ErrTextExited, pc.ExtraDetails[process.KeyEnrichmentError])
		} else {
			assert.Equal(t, realPath(t, "/bin/true"), pc.Executable)
			assert.Equal(t, "/bin/true", pc.CommandLine)
		}
		pt := mustWait(t, r.rec, pid, event.ProcessTerminate).(*event.ProcessTerminatePayload)
		assert.Equal(t, 0, pt.ExitStatus)
		assert.Len(t, find(r.rec, pid, event.ProcessCreate), 1)
		assert.Len(t, find(r.rec, pid, event.ProcessTerminate), 1)
	}
	st := r.c.Stats()
	t.Logf("partial enrichment: %d of %d; stats %+v", partial, n, st)
	// Every one of ours is there (above). LostEvents is not asserted: it
	// counts the whole host's events, and the kernel drops one now and
	// then when it cannot allocate the message (a sequence gap without
	// ENOBUFS, seen with both cores loaded); that is counted, not silent.
	assert.GreaterOrEqual(t, st.NoCommandLine, uint64(partial), "every event sent without a command line is counted")
	assert.Zero(t, st.Dropped)
	validateAll(t, r.rec)
}

// Hostile command lines stay bounded and encode to valid JSON.
func TestHostileCommandLines(t *testing.T) {
	needRoot(t)
	r := start(t, process.Options{MaxCmdline: 4096})
	nl := exec.Command("/bin/sh", "-c", "sleep 0.3", "line1\nline2", "\xff\xfe bad utf8")
	require.NoError(t, nl.Start())
	args := []string{"-c", "sleep 0.3", "sh"}
	for range 16 { // 16 × 64 KiB = 1 MiB of argv
		args = append(args, strings.Repeat("A", 64<<10))
	}
	big := exec.Command("/bin/sh", args...)
	require.NoError(t, big.Start())
	require.NoError(t, nl.Wait())
	require.NoError(t, big.Wait())

	p := mustWait(t, r.rec, nl.Process.Pid, event.ProcessCreate).(*event.ProcessCreatePayload)
	assert.Equal(t, "/bin/sh -c sleep 0.3 line1\nline2 \uFFFD\uFFFD bad utf8", p.CommandLine)
	assert.True(t, utf8.ValidString(p.CommandLine))

	p = mustWait(t, r.rec, big.Process.Pid, event.ProcessCreate).(*event.ProcessCreatePayload)
	assert.Len(t, p.CommandLine, 4096)
	assert.True(t, strings.HasPrefix(p.CommandLine, "/bin/sh -c sleep 0.3 sh AAAA"))
	assert.Equal(t, "true", p.ExtraDetails[process.KeyCommandLineTruncated])
	for _, ev := range r.rec.Events() {
		b := ev.AppendJSON(nil)
		require.True(t, json.Valid(b))
		assert.Less(t, len(b), 16<<10)
	}
	validateAll(t, r.rec)
}

// The fallback polls /proc: it sees a long-running process start and
// stop, and says once what it cannot see.
func TestPollFallback(t *testing.T) {
	c := process.New(process.Options{Mode: process.ModePoll, PollInterval: 50 * time.Millisecond})
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, rec) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	time.Sleep(150 * time.Millisecond) // let the baseline scan pass
	var cmd *exec.Cmd
	var pc *event.ProcessCreatePayload
	for attempt := 1; ; attempt++ {
		cmd = exec.Command("/bin/sleep", "0.6")
		require.NoError(t, cmd.Start())
		pc = mustWait(t, rec, cmd.Process.Pid, event.ProcessCreate).(*event.ProcessCreatePayload)
		if pc.Executable == realPath(t, "/bin/sleep") || attempt == 3 {
			break
		}
		// Polling /proc can catch a child between fork and exec, while it
		// is still this test's binary: a limitation of polling (the proc
		// connector and eBPF sources see the exec). Try another child.
		t.Logf("attempt %d: the poll caught pid %d before its exec (%s); again", attempt, cmd.Process.Pid, pc.Executable)
		require.NoError(t, cmd.Wait())
	}
	pid := cmd.Process.Pid
	assert.Equal(t, realPath(t, "/bin/sleep"), pc.Executable)
	assert.Equal(t, "/bin/sleep 0.6", pc.CommandLine)
	assert.Equal(t, os.Getpid(), pc.ParentProcessID)
	assert.Equal(t, strconv.Itoa(os.Getuid()), pc.UserID)
	assert.Equal(t, "poll", pc.ExtraDetails[process.KeySource])
	require.NoError(t, cmd.Wait())
	pt := mustWait(t, rec, pid, event.ProcessTerminate).(*event.ProcessTerminatePayload)
	assert.Equal(t, -1, pt.ExitStatus)
	assert.Equal(t, "false", pt.ExtraDetails[process.KeyExitStatusKnown])
	assert.Equal(t, realPath(t, "/bin/sleep"), pt.Executable)

	errs := rec.Errors()
	require.Len(t, errs, 1, "the limitation is reported exactly once")
	assert.True(t, errors.Is(errs[0].Err, process.ErrPolling), "%v", errs[0].Err)
	assert.Equal(t, "poll", c.Stats().Mode)
	validateAll(t, rec)
}

// A full queue between reader and enricher drops and counts events rather
// than growing without bound.
func TestBoundedQueueCountsDrops(t *testing.T) {
	needRoot(t)
	block := make(chan struct{})
	var once sync.Once
	c := process.New(process.Options{QueueSize: 8, ReportEvery: 50 * time.Millisecond})
	rec := collectortest.NewRecorder()
	// A sink that blocks until released, so the queue fills.
	sink := &blockingSink{rec: rec, block: block}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	defer func() { once.Do(func() { close(block) }); cancel(); require.NoError(t, <-done) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Dropped == 0 && time.Now().Before(deadline) {
		for range 20 {
			_ = exec.Command("/bin/true").Run()
		}
	}
	require.NotZero(t, c.Stats().Dropped)
	once.Do(func() { close(block) })
	_, err := rec.WaitForErrors(ctxTimeout(t, 5*time.Second), 1)
	require.NoError(t, err)
	found := false
	for _, e := range rec.Errors() {
		found = found || strings.Contains(e.Err.Error(), "dropped")
	}
	assert.True(t, found, "drops reported: %v", rec.Errors())
}

type blockingSink struct {
	rec   *collectortest.Recorder
	block chan struct{}
}

func (s *blockingSink) Emit(ctx context.Context, evs ...event.Event) error {
	select {
	case <-s.block:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.rec.Emit(ctx, evs...)
}

func (s *blockingSink) ReportError(ctx context.Context, name string, err error) {
	s.rec.ReportError(ctx, name, err)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type fakeResolver struct{ id string }

func (f fakeResolver) Resolve(_ context.Context, id string) (string, string, bool) {
	if id == f.id {
		return "tempSensor", "tempSensor", true
	}
	return "", "", false
}

// A process in a real Docker container carries the container's id.
func TestContainerAttribution(t *testing.T) {
	needRoot(t)
	host, img := os.Getenv("EDGESEC_TEST_DOCKER"), os.Getenv("EDGESEC_TEST_IMAGE")
	if host == "" || img == "" {
		t.Skip("needs dockerd: run eval \"$(scripts/test-services)\" to set EDGESEC_TEST_DOCKER and EDGESEC_TEST_IMAGE")
	}
	docker := func(args ...string) (string, error) {
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	// The resolver is told the id once docker returns it; until then
	// events carry the id alone.
	res := &lateResolver{}
	r := start(t, process.Options{Resolver: res})
	name := "edgesec-proc-test-" + strconv.Itoa(os.Getpid())
	_, _ = docker("rm", "-f", name)
	id, err := docker("create", "--name", name, "--network", "none", img, "sh", "-c", "sleep 1; exit 7")
	require.NoError(t, err, id)
	t.Cleanup(func() { _, _ = docker("rm", "-f", name) })
	res.set(id)
	out, err := docker("start", "-a", name)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out) // the container exits 7
	require.Equal(t, 7, ee.ExitCode(), out)

	var got *event.ProcessCreatePayload
	deadline := time.Now().Add(5 * time.Second)
	for got == nil && time.Now().Before(deadline) {
		for _, ev := range r.rec.Events() {
			for _, it := range ev.Payload {
				if p, ok := it.(*event.ProcessCreatePayload); ok && strings.HasPrefix(p.CommandLine, "sh -c sleep 1; exit 7") {
					got = p
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NotNil(t, got, "no ProcessCreate for the container's entrypoint")
	assert.Equal(t, id, got.ExtraDetails[process.KeyContainerID])
	assert.Equal(t, "tempSensor", got.ExtraDetails[process.KeyModuleName])
	pt := mustWait(t, r.rec, got.ProcessID, event.ProcessTerminate).(*event.ProcessTerminatePayload)
	assert.Equal(t, 7, pt.ExitStatus)
	assert.Equal(t, id, pt.ExtraDetails[process.KeyContainerID])
	validateAll(t, r.rec)
}

type lateResolver struct {
	mu sync.Mutex
	fakeResolver
}

func (l *lateResolver) set(id string) { l.mu.Lock(); l.id = id; l.mu.Unlock() }
func (l *lateResolver) Resolve(ctx context.Context, id string) (string, string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeResolver.Resolve(ctx, id)
}

func TestConformance(t *testing.T) {
	needRoot(t)
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return process.New(process.Options{})
	}, collectortest.WithMinEvents(2), collectortest.WithTrigger(func(t *testing.T) {
		_ = exec.Command("/bin/true").Run()
	}))
}

func TestConformancePoll(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return process.New(process.Options{Mode: process.ModePoll, PollInterval: 20 * time.Millisecond})
	}, collectortest.WithMinEvents(1), collectortest.WithTrigger(func(t *testing.T) {
		cmd := exec.Command("/bin/sleep", "0.15")
		if cmd.Start() == nil {
			_ = cmd.Wait()
		}
	}))
}

func TestProduces(t *testing.T) {
	c := process.New(process.Options{})
	assert.Equal(t, event.ProcessCreate, c.Name())
	assert.Equal(t, []string{event.ProcessCreate, event.ProcessTerminate}, collector.Produces(c))
}

// An exec flood: 500 processes, each with a unique marker in its command
// line, started as fast as four shells can (from other processes, as a
// real flood comes: a Go test that forks holds the runtime's Ps in
// vfork, which is not what the collector competes with in the module).
// Every one is either captured with its command line, or sent without it
// and counted (Stats.NoCommandLine, marked EnrichmentError), or counted
// as lost by the kernel (Stats.LostEvents) or the queue (Stats.Dropped):
// nothing is lost silently, whatever else loads the machine.
func TestExecFloodCapturedOrCounted(t *testing.T) {
	needRoot(t)
	r := start(t, process.Options{})
	const shells, each = 4, 125
	tag := "edgesec-flood-" + strconv.Itoa(os.Getpid())
	parents := map[int]int{} // shell pid → shell number
	var cmds []*exec.Cmd
	for s := range shells {
		// dash and busybox sh run [ and $((…)) themselves: their only
		// children are the /bin/true processes.
		cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt $2 ]; do /bin/true "$1-$i"; i=$((i+1)); done`,
			"sh", tag+"-"+strconv.Itoa(s), strconv.Itoa(each))
		require.NoError(t, cmd.Start())
		parents[cmd.Process.Pid] = s
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		require.NoError(t, cmd.Wait())
	}

	// Wait until every process is accounted for (or 10 s).
	var withArgv, withoutArgv, missing int
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen := map[string]bool{}
		withArgv, withoutArgv = 0, 0
		for _, ev := range r.rec.Events() {
			for _, it := range ev.Payload {
				p, ok := it.(*event.ProcessCreatePayload)
				if !ok {
					continue
				}
				s, ours := parents[p.ParentProcessID]
				if !ours {
					continue
				}
				m, isTrue := strings.CutPrefix(p.CommandLine, "/bin/true ")
				switch {
				case isTrue && strings.HasPrefix(m, tag+"-"+strconv.Itoa(s)+"-") && !seen[m]:
					seen[m] = true
					withArgv++
				default:
					withoutArgv++
					// Sent with what was known, and said why.
					assert.Equal(t, process.ErrTextExited, p.ExtraDetails[process.KeyEnrichmentError], "%+v", p)
					assert.Equal(t, "partial", p.ExtraDetails[process.KeyEnrichment])
					assert.Empty(t, p.CommandLine)
				}
			}
		}
		missing = shells*each - withArgv - withoutArgv
		st := r.c.Stats()
		if missing <= 0 || uint64(missing) <= st.LostEvents+st.Dropped && time.Now().After(deadline.Add(-8*time.Second)) ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := r.c.Stats()
	t.Logf("%d processes: %d with their command line, %d sent without it (counted %d host-wide), %d missing; stats %+v",
		shells*each, withArgv, withoutArgv, st.NoCommandLine, missing, st)
	assert.GreaterOrEqual(t, missing, 0, "no process reported twice")
	assert.GreaterOrEqual(t, st.NoCommandLine, uint64(withoutArgv), "every event without a command line is counted")
	assert.LessOrEqual(t, int64(missing), int64(st.LostEvents+st.Dropped), "every missing process is counted as lost")
	assert.Equal(t, int64(st.LostEvents+st.Dropped), r.c.Dropped(), "the engine is told the losses")
	assert.NotEmpty(t, st.ReaderScheduling)
	validateAll(t, r.rec)
}
