package detect

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

// benchMix is a recorded-style mix of benign events: processes of a busy
// device (shell scripts, package tools, services), their terminations,
// connections and logins.
func benchMix(n int) []event.Event {
	cmds := [][2]string{
		{"/usr/bin/bash", "/bin/bash /usr/local/bin/collect.sh --interval 5"},
		{"/usr/bin/cat", "cat /proc/loadavg"},
		{"/usr/bin/grep", "grep -c processor /proc/cpuinfo"},
		{"/usr/bin/python3.11", "python3 /opt/sensor/read.py --bus 1 --addr 0x48"},
		{"/usr/bin/apt-get", "apt-get -q update"},
		{"/usr/bin/dpkg", "dpkg --status libc6"},
		{"/usr/sbin/iptables", "iptables --wait -t nat -L DOCKER"},
		{"/usr/bin/systemctl", "systemctl is-active docker.service"},
		{"/usr/bin/curl", "curl -s -o /var/lib/app/config.json https://example.com/config.json"},
		{"/usr/bin/ssh", "ssh -o BatchMode=yes backup@192.0.2.20 true"},
	}
	evs := make([]event.Event, 0, n)
	for i := range n {
		var ev event.Event
		switch i % 10 {
		case 7:
			ev = event.Must(event.ProcessTerminate, t0, &event.ProcessTerminatePayload{Executable: cmds[i%len(cmds)][0], ProcessID: 20000 + i - 1})
		case 8:
			ev = event.Must(event.ConnectionCreate, t0, &event.ConnectionCreatePayload{RemoteAddress: "192.0.2.20", RemotePort: "443", LocalAddress: "10.0.0.2",
				LocalPort: "51000", Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 20000 + i, Executable: "/usr/bin/curl"})
		case 9:
			if i%100 == 99 {
				ev = event.Must(event.Login, t0, &event.LoginPayload{UserName: "pi", Operation: "Login", Executable: "/usr/sbin/sshd", RemoteAddress: "192.0.2.5", Result: event.LoginFail})
				break
			}
			fallthrough
		default:
			c := cmds[(i*7)%len(cmds)]
			ev = event.Must(event.ProcessCreate, t0, &event.ProcessCreatePayload{Executable: c[0], ProcessID: 20000 + i, ParentProcessID: 19999 + i,
				UserID: "0", UserName: "root", CommandLine: c[1],
				ExtraDetails: event.ExtraDetails{"Source": "netlink", "Comm": base(c[0]), "ParentExecutable": "/usr/bin/bash", "ParentComm": "bash"}})
		}
		evs = append(evs, ev)
	}
	return evs
}

// BenchmarkStage measures events per second through the analysis (every
// built-in rule and three custom alerts) on one goroutine.
func BenchmarkStage(b *testing.B) {
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler), Config: Config{Custom: []CustomAlert{
		{Type: CustomProcessNotAllowed, Allow: []string{"bash", "cat", "grep", "python*", "apt-get", "dpkg", "iptables", "systemctl", "curl", "ssh"}},
		{Type: CustomConnectionToIPNotAllowed, Allow: []string{"192.0.2.0/24"}},
		{Type: CustomProcessesNotInAllowedRange, Min: intp(0), Max: intp(1 << 30), Window: "PT5M"},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	evs := benchMix(4096)
	var alerts []string
	emit := func(ev event.Event) {
		for _, a := range alertsOf([]event.Event{ev}, "") {
			alerts = append(alerts, a.AlertType)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		_ = s.Process(ctx, &ev, emit)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	// On a shared machine wall time includes the time other processes had
	// the core: events per second of this process's CPU time (GC included)
	// is the cost.
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(float64(b.N)/d.Seconds(), "events/cpu-s")
	}
	for _, a := range alerts {
		if a != RuleFailedLocalLogin && a != RuleFailedBruteforce { // the replayed failed login
			b.Fatalf("the benign mix raised %s", a)
		}
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkForkFlood feeds processes that never terminate (a fork bomb
// whose exits are lost) and reports the heap the Stage holds at the end:
// the process table and every other table are capped.
func BenchmarkForkFlood(b *testing.B) {
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	emit := func(event.Event) {}
	ctx := context.Background()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := event.Must(event.ProcessCreate, t0, &event.ProcessCreatePayload{Executable: "/usr/bin/bash", ProcessID: 100 + i, ParentProcessID: 99 + i,
			UserID: "1000", CommandLine: fmt.Sprintf("bash -c :(){ :|:& };: %d", i), ExtraDetails: event.ExtraDetails{"ParentExecutable": "/usr/bin/bash"}})
		_ = s.Process(ctx, &ev, emit)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := s.Stats()
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20), "heapMiB")
	b.ReportMetric(float64(st.Processes), "procs")
	runtime.KeepAlive(s)
}

// BenchmarkNoAnalysis is the baseline: the same events through a Stage
// with no rule at all (NoBuiltin, no custom alert), the cost of the stage
// machinery alone.
func BenchmarkNoAnalysis(b *testing.B) {
	s, err := New(Options{NoBuiltin: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	evs := benchMix(4096)
	emit := func(event.Event) {}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		_ = s.Process(ctx, &ev, emit)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(float64(b.N)/d.Seconds(), "events/cpu-s")
	}
}

// benchKernelMix is a recorded-style mix of benign KernelActivity events
// of a busy device (package upgrades, logins, log rotation, container
// starts) with the ProcessCreate events of their programs.
func benchKernelMix(n int) []event.Event {
	type act struct{ action, path, target, exe, cmd, cid string }
	cid := "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"
	acts := []act{
		{event.ActivityOpenWrite, "/usr/bin/tar.dpkg-new", "", "/usr/bin/dpkg", "dpkg --unpack tar.deb", ""},
		{event.ActivityRename, "/usr/bin/tar.dpkg-new", "/usr/bin/tar", "/usr/bin/dpkg", "dpkg --unpack tar.deb", ""},
		{event.ActivityOpenRead, "/etc/shadow", "", "/usr/sbin/unix_chkpwd", "/usr/sbin/unix_chkpwd pi nullok", ""},
		{event.ActivityOpenRead, "/etc/ssh/ssh_host_ed25519_key", "", "/usr/sbin/sshd", "sshd: pi [priv]", ""},
		{event.ActivityTruncate, "/var/log/syslog", "", "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf", ""},
		{event.ActivityOpenWrite, "/etc/resolv.conf", "", "/usr/lib/systemd/systemd-resolved", "/usr/lib/systemd/systemd-resolved", ""},
		{event.ActivityBPFLoad, "", "", "/usr/bin/runc", "runc init", ""},
		{event.ActivityMemfdCreate, "runc_cloned:/proc/self/exe", "", "/usr/bin/runc", "runc init", cid},
		{event.ActivityOpenWrite, "/tmp/app.state", "", "/opt/app/bin/app", "/opt/app/bin/app", cid},
		{event.ActivityMount, "overlay", "/var/lib/docker/overlay2/x/merged", "/usr/bin/dockerd", "dockerd -H fd://", ""},
	}
	evs := make([]event.Event, 0, n)
	for i := range n {
		a := acts[i%len(acts)]
		x := event.ExtraDetails{"Source": "ebpf", "Comm": base(a.exe)}
		if a.cid != "" {
			x["ContainerId"] = a.cid
		}
		if i%5 == 4 {
			evs = append(evs, event.Must(event.ProcessCreate, t0, &event.ProcessCreatePayload{Executable: a.exe, ProcessID: 30000 + i,
				ParentProcessID: 1, UserID: "0", CommandLine: a.cmd, ExtraDetails: x}))
			continue
		}
		evs = append(evs, event.Must(event.KernelActivity, t0, &event.KernelActivityPayload{Action: a.action, Path: a.path, TargetPath: a.target,
			ProcessID: 30000 + i, ParentProcessID: 1, Executable: a.exe, CommandLine: a.cmd, UserID: "0", ExtraDetails: x}))
	}
	return evs
}

// BenchmarkKernelActivity measures events per second through the
// analysis (every built-in rule) for a benign KernelActivity mix, beside
// BenchmarkStage's process mix.
func BenchmarkKernelActivity(b *testing.B) {
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	evs := benchKernelMix(4096)
	var alerts []string
	emit := func(ev event.Event) {
		for _, a := range alertsOf([]event.Event{ev}, "") {
			alerts = append(alerts, a.AlertType+": "+a.Description)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		_ = s.Process(ctx, &ev, emit)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(float64(b.N)/d.Seconds(), "events/cpu-s")
	}
	for _, a := range alerts {
		b.Fatalf("the benign kernel mix raised %s", a)
	}
}
