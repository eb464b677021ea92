//go:build fault && linux

package faulttest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec/internal/mqtttest"
)

const mib = 1 << 20

// Bounds the module must keep on this campaign's loads (its soft memory
// limit is 32 MiB; RSS adds the binary's pages and the runtime).
const (
	maxRSS     = 96 * mib
	maxThreads = 64
)

func checkBounded(t *testing.T, mod *module, what string) {
	t.Helper()
	rss, thr := mod.peakRSS.Load(), mod.peakThreads.Load()
	t.Logf("%s: module peak VmRSS %.1f MiB, peak threads %d", what, float64(rss)/mib, thr)
	if rss > maxRSS {
		t.Errorf("%s: module VmRSS peaked at %.1f MiB (bound %d MiB)", what, float64(rss)/mib, maxRSS/mib)
	}
	if thr > maxThreads {
		t.Errorf("%s: module threads peaked at %d (bound %d)", what, thr, maxThreads)
	}
}

// checkDelivered checks that the processes in want were delivered: a
// process missing at the subscriber must be accounted for (accounted: the
// growth over the scenario of the drops counted in DroppedEventsStatistics
// plus the ProcessCreate events reported without a command line), and a run of maxRun or more consecutive processes missing is
// a lost message, never acceptable. Duplicates may only be whole messages
// delivered again.
func checkDelivered(t *testing.T, what string, c counts, want []string, accounted int64) {
	t.Helper()
	const maxRun = 10 // 20 exec/s packed every second: a lost message loses ~20 in a row
	missing := map[string]bool{}
	for _, mk := range c.missing {
		missing[mk] = true
	}
	run, longest := 0, 0
	for _, mk := range want {
		if missing[mk] {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	t.Logf("%s: produced %d, delivered %d, missing %d (longest run %d), accounted for (drops counted + reported without command line) %d, messages %d, duplicate messages %d",
		what, len(want), c.delivered, len(c.missing), longest, accounted, c.messages, c.duplicates)
	if longest >= maxRun {
		t.Errorf("%s: %d consecutive processes never delivered: a message was lost (first missing: %v)", what, longest, head(c.missing, 5))
	}
	if int64(len(c.missing)) > accounted {
		t.Errorf("%s: %d of %d processes never delivered, only %d accounted for (DroppedEventsStatistics, EnrichmentError): %d lost silently (first: %v)",
			what, len(c.missing), len(want), accounted, int64(len(c.missing))-accounted, head(c.missing, 5))
	}
	if len(c.multi) > 0 {
		t.Errorf("%s: %d processes delivered in two different messages (duplicates other than a redelivered message), e.g. %v",
			what, len(c.multi), head(c.multi, 5))
	}
	if c.badEvents > 0 {
		t.Errorf("%s: %d event ids arrived in two different messages", what, c.badEvents)
	}
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TestBrokerDown: the broker goes away for a while under a steady
// 20 exec/s load, then comes back: every process is delivered, duplicates
// are only whole messages sent again, and the time from the broker's
// return to the first delivery is reported.
func TestBrokerDown(t *testing.T) {
	needRoot(t)
	down := shortLong(10*time.Second, 5*time.Minute)
	m := mqtttest.StartMosquitto(t)
	sub := newSubscriber(t, m, "fault/#")
	mod := startModule(t, m, moduleOpts{})
	if d, ok := waitDelivery(t, sub, "warmdown", 90*time.Second); !ok {
		t.Fatalf("no delivery within %v: %s", d, mod.log.String())
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d0 := sub.accountedNow()
	l := execSteady(ctx, "down", 20)
	time.Sleep(3 * time.Second)
	m.Restart(down)
	back := time.Now()
	time.Sleep(3 * time.Second)
	stop()
	l.wait()
	c := sub.waitAll(l.list(), 3*time.Minute)
	checkDelivered(t, fmt.Sprintf("broker down %v", down), c, l.list(), sub.accountedNow()-d0)
	if first, ok := sub.firstArrivalAfter(back); ok {
		d := first.Sub(back)
		t.Logf("broker down %v: first delivery %.1f s after the broker's return", down, d.Seconds())
		// The reconnection backoff is capped at 60 s, plus a connection
		// and a send on a loaded machine.
		if d > 90*time.Second {
			t.Errorf("broker down %v: first delivery %v after the broker's return (bound 90 s: backoff cap 60 s)", down, d)
		}
	} else {
		t.Errorf("nothing delivered after the broker's return")
	}
	checkBounded(t, mod, "broker down")
	if !mod.running() {
		t.Errorf("module exited: %s", mod.log.String())
	}
}

// TestKill9: the module is killed with SIGKILL while sending (broker up)
// and while the broker is down, and restarted on the same state dir:
// what it had spooled is delivered. Events still in memory (aggregated,
// not yet packed into a message: up to one message period) die with the
// process; their count is reported.
func TestKill9(t *testing.T) {
	needRoot(t)
	const inMemory = 4 * time.Second // PT2S low-priority period plus scheduling slack
	for _, brokerDown := range []bool{false, true} {
		name := "broker-up"
		if brokerDown {
			name = "broker-down"
		}
		t.Run(name, func(t *testing.T) {
			m := mqtttest.StartMosquitto(t)
			sub := newSubscriber(t, m, "fault/#")
			mod := startModule(t, m, moduleOpts{})
			if d, ok := waitDelivery(t, sub, "warmkill", 90*time.Second); !ok {
				t.Fatalf("no delivery within %v: %s", d, mod.log.String())
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			scen := "killup"
			if brokerDown {
				scen = "killdown"
			}
			d0 := sub.accountedNow()
			l := execSteady(ctx, scen, 20)
			if brokerDown {
				time.Sleep(2 * time.Second)
				m.Stop()
			}
			time.Sleep(shortLong(8*time.Second, 60*time.Second))
			killedAt := time.Now()
			mod.kill9()
			stop()
			l.wait()
			if brokerDown {
				m.Restart(0)
			}
			mod.start()
			want := l.before(killedAt.Add(-inMemory))
			c := sub.waitAll(want, 3*time.Minute)
			checkDelivered(t, name+": processes started before the kill (minus the in-memory window)", c, want, sub.accountedNow()-d0)
			all := sub.count(l.list())
			t.Logf("%s: of all %d processes (including the last %v before the kill) %d delivered", name, len(l.list()), inMemory, all.delivered)
			if d, ok := waitDelivery(t, sub, scen+"after", 90*time.Second); !ok {
				t.Errorf("no delivery after the restart within %v", d)
			}
		})
	}
}

// TestDiskFull: the state dir is on a 1 MiB tmpfs, filled up, while the
// broker is down; the broker returns: no resend loop, the module says so
// in a bounded number of log lines, and delivery recovers once space is
// back.
func TestDiskFull(t *testing.T) {
	needRoot(t)
	state := t.TempDir()
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		t.Skipf("needs a tmpfs mount (root, not in a restricted container): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(state, syscall.MNT_DETACH) })

	m := mqtttest.StartMosquitto(t)
	sub := newSubscriber(t, m, "fault/#")
	mod := startModule(t, m, moduleOpts{stateDir: state})
	if d, ok := waitDelivery(t, sub, "warmfull", 90*time.Second); !ok {
		t.Fatalf("no delivery within %v: %s", d, mod.log.String())
	}
	m.Stop()
	filler := filepath.Join(state, "filler")
	fillDisk(t, filler)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	l := execSteady(ctx, "full", 20)
	time.Sleep(shortLong(6*time.Second, 60*time.Second))
	msgsBefore := sub.messagesNow()
	m.Restart(0)
	back := time.Now()
	observe := shortLong(10*time.Second, 60*time.Second)
	time.Sleep(observe)
	stop()
	l.wait()
	window := sub.messagesNow() - msgsBefore
	c := sub.count(l.list())
	t.Logf("disk full: %d processes while full, %d delivered, %d messages in the %v after the broker's return, %d duplicate messages, drops counted %d",
		len(l.list()), c.delivered, window, observe, c.duplicates, c.dropped)
	// 20 exec/s packed once a second is ~2 messages/s with statistics;
	// a resend loop sends thousands.
	if limit := int(observe/time.Second) * 10; window > limit {
		t.Errorf("disk full: %d messages in %v after the broker came back (bound %d): a resend loop", window, observe, limit)
	}
	if len(c.missing) > 0 && c.dropped == 0 {
		t.Errorf("disk full: %d processes lost and no drop counted in DroppedEventsStatistics", len(c.missing))
	}
	if c.duplicates > 20 {
		t.Errorf("disk full: %d duplicate messages: a resend loop", c.duplicates)
	}
	lines := mod.logLines("space", "full", "cannot store", "ENOSPC")
	t.Logf("disk full: %d log lines about it in %v", len(lines), time.Since(back)+10*time.Second)
	if len(lines) == 0 {
		t.Errorf("disk full: the module never said so in its log: %s", tail(mod.log.String(), 3000))
	}
	if limit := 60; len(lines) > limit {
		t.Errorf("disk full: %d log lines about it (bound %d): not rate-limited; e.g. %v", len(lines), limit, head(lines, 3))
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if d, ok := waitDelivery(t, sub, "fullafter", 2*time.Minute); !ok {
		t.Errorf("disk full: no delivery within %v after space returned: %s", d, tail(mod.log.String(), 3000))
	} else {
		t.Logf("disk full: delivery %.1f s after space returned", d.Seconds())
	}
	checkBounded(t, mod, "disk full")
}

func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestSlowBroker: a broker that accepts TCP and never answers, and one
// whose every byte (PUBACKs included) arrives seconds late: the module's
// memory and threads stay bounded under a 20 exec/s load, and everything
// is delivered once the real broker is reachable.
func TestSlowBroker(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name  string
		mode  proxyMode
		delay time.Duration
	}{
		{"blackhole", modeBlackhole, 0},
		{"delayed-puback", modeDelay, shortLong(3*time.Second, 10*time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mqtttest.StartMosquitto(t)
			sub := newSubscriber(t, m, "fault/#")
			p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", m.Port))
			p.set(tc.mode, tc.delay)
			mod := startModule(t, m, moduleOpts{broker: "mqtts://localhost:" + strconv.Itoa(p.port())})
			// Nothing can be delivered yet: wait for the process events'
			// source (eBPF, else the proc connector) to say it started.
			if !mod.waitLog("events from", time.Minute) {
				t.Fatalf("the process collector did not start: %s", tail(mod.log.String(), 3000))
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			d0 := sub.accountedNow()
			l := execSteady(ctx, "slow"+strings.ReplaceAll(tc.name, "-", ""), 20)
			time.Sleep(shortLong(8*time.Second, 3*time.Minute))
			stop()
			l.wait()
			delivered := sub.count(l.list()).delivered
			t.Logf("%s: %d of %d processes delivered while the broker was slow", tc.name, delivered, len(l.list()))
			p.set(modePass, 0)
			back := time.Now()
			c := sub.waitAll(l.list(), 4*time.Minute)
			if first, ok := sub.firstArrivalAfter(back); ok {
				d := first.Sub(back)
				t.Logf("%s: first delivery %.1f s after the broker became reachable", tc.name, d.Seconds())
				// A hung attempt ends at the 30 s connect timeout, then the
				// backoff (capped at 60 s) runs.
				if d > 2*time.Minute {
					t.Errorf("%s: first delivery %v after the broker became reachable (bound 2 min)", tc.name, d)
				}
			}
			checkDelivered(t, tc.name, c, l.list(), sub.accountedNow()-d0)
			checkBounded(t, mod, tc.name)
		})
	}
}

// TestHostileState: a corrupt spool.db, a garbage agent-id, a
// configuration file replaced by garbage while running, and a host root
// with a 50 MB /etc/passwd and a random-bytes wtmp: the module says what
// is wrong, keeps running, keeps delivering, and its memory is bounded.
func TestHostileState(t *testing.T) {
	needRoot(t)
	m := mqtttest.StartMosquitto(t)
	sub := newSubscriber(t, m, "fault/#")

	t.Run("corrupt-spool", func(t *testing.T) {
		state := t.TempDir()
		writeRandom(t, filepath.Join(state, "spool.db"), 256<<10)
		mod := startModule(t, m, moduleOpts{stateDir: state})
		if d, ok := waitDelivery(t, sub, "corruptspool", 90*time.Second); !ok {
			t.Fatalf("no delivery within %v: %s", d, mod.log.String())
		}
		if !mod.running() {
			t.Fatalf("module exited: %s", mod.log.String())
		}
		lines := mod.logLines("spool unusable")
		t.Logf("corrupt spool: %v", head(lines, 3))
		if len(lines) == 0 {
			t.Errorf("nothing logged about the corrupt spool: %s", tail(mod.log.String(), 2000))
		}
		checkBounded(t, mod, "corrupt spool")
	})

	t.Run("garbage-agent-id", func(t *testing.T) {
		state := t.TempDir()
		writeRandom(t, filepath.Join(state, "agent-id"), 4096)
		mod := startModule(t, m, moduleOpts{stateDir: state})
		if d, ok := waitDelivery(t, sub, "garbageid", 90*time.Second); !ok {
			t.Fatalf("no delivery within %v: %s", d, mod.log.String())
		}
		uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
		sub.mu.Lock()
		for a := range sub.agents {
			if !uuid.MatchString(a) {
				t.Errorf("a message carried AgentId %q", a)
			}
		}
		sub.mu.Unlock()
		lines := mod.logLines("agent id replaced")
		t.Logf("garbage agent-id: %v", head(lines, 3))
		if len(lines) == 0 {
			t.Errorf("nothing logged about the garbage agent-id: %s", tail(mod.log.String(), 2000))
		}
		if !mod.running() {
			t.Errorf("module exited: %s", mod.log.String())
		}
	})

	t.Run("config-garbage", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(cfg, []byte(fastConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		mod := startModule(t, m, moduleOpts{config: cfg})
		if d, ok := waitDelivery(t, sub, "cfgbefore", 90*time.Second); !ok {
			t.Fatalf("no delivery within %v: %s", d, mod.log.String())
		}
		errsBefore := sub.events("ConfigurationError")
		writeRandom(t, cfg, 8192)
		for deadline := time.Now().Add(time.Minute); sub.events("ConfigurationError") == errsBefore && time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
		}
		if sub.events("ConfigurationError") == errsBefore {
			t.Errorf("no ConfigurationError delivered within a minute of the configuration becoming garbage")
		}
		// The last good configuration (1 s messages) is kept: a process
		// is still delivered within seconds, not the default 7 minutes.
		if d, ok := waitDelivery(t, sub, "cfgafter", 60*time.Second); !ok {
			t.Errorf("no delivery within %v after the configuration became garbage: %s", d, tail(mod.log.String(), 2000))
		}
		lines := mod.logLines("configuration problems", "configuration not readable")
		t.Logf("config garbage: %v", head(lines, 4))
		if len(lines) == 0 {
			t.Errorf("nothing logged about the bad configuration: %s", tail(mod.log.String(), 2000))
		}
		if !mod.running() {
			t.Errorf("module exited: %s", mod.log.String())
		}
	})

	t.Run("hostile-host-root", func(t *testing.T) {
		root := fakeHostRoot(t)
		mod := startModule(t, m, moduleOpts{hostRoot: root})
		if d, ok := waitDelivery(t, sub, "hostroot", 2*time.Minute); !ok {
			t.Fatalf("no delivery within %v: %s", d, mod.log.String())
		}
		time.Sleep(5 * time.Second) // the snapshot collectors have run
		hwm := vmHWM(mod.cmd.Process.Pid)
		t.Logf("hostile host root: module VmHWM %.1f MiB; log: %v", float64(hwm)/mib, head(mod.logLines("passwd", "wtmp", "users", "login"), 4))
		if hwm > maxRSS {
			t.Errorf("hostile host root: VmHWM %.1f MiB (bound %d MiB)", float64(hwm)/mib, maxRSS/mib)
		}
		if !mod.running() {
			t.Errorf("module exited: %s", mod.log.String())
		}
		checkBounded(t, mod, "hostile host root")
	})
}

func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v * 1024
		}
	}
	return 0
}

// fakeHostRoot builds a host root with a 50 MB /etc/passwd, a matching
// shadow and group, and a wtmp of random bytes; /proc, /sys and /dev are
// the real ones so the live collectors still work.
func fakeHostRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "var/log", "var/run", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"proc", "sys", "dev"} {
		if err := os.Symlink("/"+d, filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	w := make([]byte, 0, 1<<20)
	for i, n := 0, 0; n < 50_000_000; i++ {
		line := fmt.Sprintf("user%d:x:%d:%d:User %d,,,:/home/user%d:/bin/sh\n", i, 10000+i, 10000+i, i, i)
		w = append(w, line...)
		n += len(line)
		if len(w) > 1<<20-128 {
			if _, err := f.Write(w); err != nil {
				t.Fatal(err)
			}
			w = w[:0]
		}
	}
	if _, err := f.Write(w); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nusers:x:100:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, filepath.Join(root, "var/log/wtmp"), 1<<20)
	writeRandom(t, filepath.Join(root, "var/log/btmp"), 256<<10)
	return root
}

// TestExecFlood: processes started as fast as two shell loops allow for a
// few seconds: the module's memory stays bounded, every process it did
// not deliver is counted in DroppedEventsStatistics, and delivery resumes.
func TestExecFlood(t *testing.T) {
	needRoot(t)
	m := mqtttest.StartMosquitto(t)
	sub := newSubscriber(t, m, "fault/#")
	mod := startModule(t, m, moduleOpts{})
	if d, ok := waitDelivery(t, sub, "warmflood", 90*time.Second); !ok {
		t.Fatalf("no delivery within %v: %s", d, mod.log.String())
	}
	accountedBefore := sub.accountedNow()
	dir := t.TempDir()
	flag := filepath.Join(dir, "run")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `i=0; while [ -e "$1" ]; do /bin/true "$2-$i"; i=$((i+1)); done; echo $i > "$3"`
	// The shell is a copy named after this run, so that a process it
	// started is known as ours even when reported without a command line.
	sh := filepath.Join(dir, "fm"+runID)
	shBin, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sh, shBin, 0o755); err != nil {
		t.Fatal(err)
	}
	loops := []string{"floodA", "floodB"}
	var cmds []*exec.Cmd
	for _, name := range loops {
		c := exec.Command(sh, "-c", script, "sh", flag, "FM"+runID+"-"+name, filepath.Join(dir, name))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	dur := shortLong(3*time.Second, 10*time.Second)
	time.Sleep(dur)
	_ = os.Remove(flag)
	var want []string
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, loops[i]))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		for j := 0; j < n; j++ {
			want = append(want, marker(loops[i], j))
		}
	}
	rate := float64(len(want)) / dur.Seconds()
	// Wait until deliveries stop changing (and a statistics period or two
	// has passed).
	var c counts
	for last, stable := -1, 0; stable < 8; {
		time.Sleep(time.Second)
		c = sub.count(want)
		if c.delivered == last {
			stable++
		} else {
			stable = 0
		}
		last = c.delivered
	}
	accounted := sub.accountedNow() - accountedBefore
	t.Logf("exec flood: %d processes in %v (%.0f/s), %d delivered (%.2f%%), %d missing (%v), accounted for (DroppedEventsStatistics, reported without command line) %d",
		len(want), dur, rate, c.delivered, 100*float64(c.delivered)/float64(len(want)), len(c.missing), head(c.missing, 5), accounted)
	if int64(len(c.missing)) > accounted {
		t.Errorf("exec flood: %d processes lost but only %d accounted for: %d lost silently",
			len(c.missing), accounted, int64(len(c.missing))-accounted)
	}
	if len(c.multi) > 0 {
		t.Errorf("exec flood: %d processes delivered in two different messages", len(c.multi))
	}
	if d, ok := waitDelivery(t, sub, "floodafter", 90*time.Second); !ok {
		t.Errorf("exec flood: no delivery within %v after the flood", d)
	}
	checkBounded(t, mod, "exec flood")
}
