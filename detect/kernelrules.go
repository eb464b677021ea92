package detect

import (
	"fmt"
	"strings"

	"github.com/edgesec/edgesec/event"
)

// Rule ids of the alerts on kernel activity (KernelActivity events of the
// eBPF source), named after Falco's stable rules.
const (
	RuleReadSensitiveFile       = "ES_ReadSensitiveFileUntrusted"
	RuleWriteBelowEtc           = "ES_WriteBelowEtc"
	RuleWriteBelowBinaryDir     = "ES_WriteBelowBinaryDir"
	RuleSymlinkOverSensitive    = "ES_CreateSymlinkOverSensitiveFiles"
	RuleHardlinkOverSensitive   = "ES_CreateHardlinkOverSensitiveFiles"
	RulePtraceAttached          = "ES_PtraceAttachedToProcess"
	RuleFilelessExecution       = "ES_FilelessExecutionViaMemfd"
	RulePacketSocketContainer   = "ES_PacketSocketCreatedInContainer"
	RuleKernelModuleInjection   = "ES_LinuxKernelModuleInjection"
	RuleBPFProgramLoaded        = "ES_BPFProgramLoadedUnexpected"
	RuleDropAndExecuteNewBinary = "ES_DropAndExecuteNewBinaryInContainer"
	RuleSetuidBit               = "ES_SetSetuidOrSetgidBit"
	RuleMountInContainer        = "ES_MountInContainer"
)

// ExtraDetails keys of the alerts on kernel activity.
const (
	alertKeyPath       = "Path"
	alertKeyTargetPath = "TargetPath"
	alertKeyTargetPID  = "TargetProcessId"
)

const ka = event.KernelActivity

var kernelRuleList = []Rule{
	alertRule(RuleReadSensitiveFile, "Read sensitive file untrusted", event.AlertHigh, "Falco",
		"A sensitive file (password hashes, sudo rules, SSH keys, the IoT Edge identity) was opened for reading by a program that has no reason to (Falco: Read sensitive file untrusted).",
		"open_read of /etc/shadow, /etc/gshadow, /etc/sudoers*, /etc/ssh/ssh_host_*, /root/.ssh/*, /home/*/.ssh/*, /etc/pam.d/*, /etc/aziot/* by a program that is not itself a trusted reader: login and authentication (sshd, login, su, sudo, passwd, unix_chkpwd, systemd, cron, polkitd, ...), the SSH tools, the IoT Edge identity services, edgesec (edgesec, securitymodule: its users and baseline collectors read /etc/shadow); nor a package manager, one of BuiltinOptions.TrustedPrograms, or a descendant of one (maintainer scripts). A trusted reader's children are not trusted: cat /etc/shadow in an SSH session or under sudo is an alert",
		"Find what read the file and why; if it is not a new legitimate tool, treat the secrets as stolen: change the passwords, regenerate the SSH and device keys.", ka),
	alertRule(RuleWriteBelowEtc, "Write below etc", event.AlertMedium, "Falco",
		"A file below /etc was written, created, renamed or removed by a program that is not a package manager or a known configuration tool (Falco: Write below etc).",
		"open_write, truncate, rename or unlink of a path below /etc (the kernel source's watched paths) by a program other than a user-management or network-configuration tool, systemd's own services (systemd-resolved, -networkd, -timesyncd, ...), the IoT Edge services and the container engines; nor a package manager (dpkg, apt, rpm, yum, dnf, apk, opkg, ...), one of BuiltinOptions.TrustedPrograms, a DHCP client, network manager or cloud-init, or a descendant of one of those (their scripts write /etc/resolv.conf and the like). Other programs' children are not trusted: a shell under sshd or sudo writing /etc is an alert",
		"Check what changed in /etc and who changed it; restore the file from the package or a backup.", ka),
	alertRule(RuleWriteBelowBinaryDir, "Write below binary dir", event.AlertHigh, "Falco",
		"A file in a binary directory was written, replaced or removed by a program that is not a package manager (Falco: Write below binary dir): a planted or trojaned binary.",
		"open_write, rename or unlink of a path below /bin, /sbin, /usr/bin, /usr/sbin, /usr/local/bin or /usr/local/sbin by a program (or a child of one) other than a package manager (dpkg, apt, rpm, yum, dnf, apk, opkg, snapd, ...) and BuiltinOptions.TrustedPrograms",
		"Compare the binary with its package (dpkg --verify, rpm -V), remove what was planted and find how.", ka),
	alertRule(RuleSymlinkOverSensitive, "Create Symlink Over Sensitive Files", event.AlertHigh, "Falco",
		"A symbolic link to a sensitive file was created (Falco: Create Symlink Over Sensitive Files): a way to read or overwrite it through a path a careless privileged program follows.",
		"symlink whose target is /etc/shadow, /etc/gshadow, /etc/sudoers*, /etc/pam.d/*, /etc/ssh/ssh_host_*, /root/.ssh/*, /etc/aziot/* (the watched paths with the link operation)",
		"Remove the link and find who created it and which privileged program was meant to follow it.", ka),
	alertRule(RuleHardlinkOverSensitive, "Create Hardlink Over Sensitive Files", event.AlertHigh, "Falco",
		"A hard link to a sensitive file was created (Falco: Create Hardlink Over Sensitive Files).",
		"link whose existing file is /etc/shadow, /etc/gshadow, /etc/sudoers*, /etc/pam.d/*, /etc/ssh/ssh_host_*, /root/.ssh/*, /etc/aziot/* (an attempt: also when the kernel refuses it)",
		"Remove the link and find who created it.", ka),
	alertRule(RulePtraceAttached, "PTRACE attached to process", event.AlertMedium, "Falco",
		"A process attached to another with ptrace (Falco: PTRACE attached to process): code injection, credential theft from memory, or a debugger.",
		"ptrace_attach (PTRACE_ATTACH or PTRACE_SEIZE) by any program; debuggers (gdb, strace, ltrace) included, since a production device does not debug",
		"If nobody was debugging on the device, kill the tracer and inspect the traced process.", ka),
	alertRule(RuleFilelessExecution, "Fileless execution via memfd_create", event.AlertHigh, "Falco",
		"A program was executed from an anonymous in-memory file (Falco: Fileless execution via memfd_create): malware that leaves nothing on disk.",
		"exec_memfd, except the container runtime re-executing itself (runc, crun: comm, executable or command line); memfd_create alone is not an alert",
		"Kill the process and its parent; capture /proc/PID/exe before it exits; find how the payload arrived.", ka),
	alertRule(RulePacketSocketContainer, "Packet socket created in container", event.AlertMedium, "Falco",
		"A container opened a raw link-layer socket (Falco: Packet socket created in container): sniffing, ARP spoofing or raw packet crafting.",
		"packet_socket (socket(AF_PACKET)) by a process with a ContainerId",
		"Check the module's image: a module that needs raw sockets should say so; otherwise remove the container and drop CAP_NET_RAW.", ka),
	alertRule(RuleKernelModuleInjection, "Linux Kernel Module Injection Detected", event.AlertHigh, "Falco",
		"A kernel module was loaded (Falco: Linux Kernel Module Injection Detected): rootkits are kernel modules.",
		"module_load (init_module, finit_module) by any program except the boot-time loaders (systemd-modules-load, systemd-udevd, or modprobe started by them); always in a container",
		"Check the module (lsmod, modinfo) and who loaded it; a device whose modules are fixed should set kernel.modules_disabled=1 after boot.", ka),
	alertRule(RuleBPFProgramLoaded, "BPF program loaded by an unexpected program", event.AlertMedium, "edgesec",
		"A BPF program was loaded by a program that does not normally load any (Falco's stable rules have no equivalent; Falco's BPF Program Not Profiled is similar): eBPF rootkits and credential sniffers load programs.",
		"bpf_prog_load by a program other than systemd, the container runtimes (runc, crun, containerd, dockerd: cgroup device filters) and edgesec themselves (not their descendants: every container process descends from a runtime), or one of BuiltinOptions.TrustedPrograms (or a descendant of one)",
		"Find the program (bpftool prog show) and who loaded it; remove it when it is not expected.", ka),
	alertRule(RuleDropAndExecuteNewBinary, "Drop and execute new binary in container", event.AlertHigh, "Falco",
		"A container ran a program that was written in it after it started, not shipped in its image (Falco: Drop and execute new binary in container).",
		"a ProcessCreate in a container whose executable was opened for writing or renamed into place (open_write, rename target) in the same container within BuiltinOptions.DropTTL (default 1 hour); only writes under the kernel source's watched paths are seen (binary directories by default)",
		"Inspect the dropped file, remove the container and redeploy it from its image; find how the file got there.", pc, ka),
	alertRule(RuleSetuidBit, "Set Setuid or Setgid bit", event.AlertMedium, "Falco",
		"A file was made setuid or setgid (Falco: Set Setuid or Setgid bit): a copy of a shell or an interpreter with the setuid bit is a classic privilege-escalation backdoor.",
		"chmod_setuid (chmod or fchmodat with S_ISUID or S_ISGID in the mode: an attempt) except by a package manager or one of BuiltinOptions.TrustedPrograms (or a descendant of one: maintainer scripts), or by a container engine unpacking image layers itself (dockerd, containerd, buildkitd, podman, ...; not its descendants, which every container's processes are)",
		"Look at the file (ls -l, what it is a copy of); remove the bit or the file, and find who set it (find / -xdev -perm /6000 lists the others).", ka),
	alertRule(RuleMountInContainer, "Mount attempted in container", event.AlertMedium, "Falco",
		"A process in a container called mount (Falco: Mount Launched in Privileged Container): in a privileged container, mounting the host's disk is the classic escape; in any other, the attempt itself is suspect.",
		"mount by a process with a ContainerId (an attempt: also when the kernel refuses it), except the container runtime setting the container up (runc, crun: their executable, comm or runc:[N:INIT] re-exec) and BuiltinOptions.TrustedPrograms. A call that the container's seccomp profile blocks (Docker's default profile blocks mount without CAP_SYS_ADMIN) never reaches the system call tracepoint: the rule sees the containers that can mount, privileged or unconfined ones",
		"Check why the module mounts anything; remove privileged: true and CAP_SYS_ADMIN from its createOptions, and inspect the container.", ka),
}

// Sensitive files: read of them is an alert unless by a trusted reader; a
// link to them always is.
var sensitivePrefixes = []string{"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/pam.d/", "/etc/pam.conf",
	"/etc/security/", "/etc/ssh/ssh_host_", "/root/.ssh/", "/etc/aziot/"}

func sensitiveFile(p string) bool {
	for _, s := range sensitivePrefixes {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	// /home/<user>/.ssh/...
	if rest, ok := strings.CutPrefix(p, "/home/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok && strings.HasPrefix(after, ".ssh/") {
			return true
		}
	}
	return false
}

var binaryDirs = []string{"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/"}

func binaryDir(p string) bool {
	for _, d := range binaryDirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// Program names (normalised with toolName) trusted by the rules.
var (
	packageManagers = []string{"dpkg", "apt", "apt-get", "aptitude", "unattended-upgrade", "rpm", "rpmkeys", "yum", "dnf",
		"microdnf", "zypper", "apk", "opkg", "pacman", "snapd", "packagekitd", "flatpak", "swupdate", "rauc", "mender",
		"update-alternatives", "dpkg-divert", "dpkg-statoverride", "ldconfig", "update-ca-certificates", "ucf"}
	// sensitiveReaders read the sensitive files for a living.
	sensitiveReaders = []string{"sshd", "sshd-session", "sshd-auth", "login", "su", "sudo", "sudoedit", "visudo", "passwd",
		"chpasswd", "chage", "chsh", "chfn", "newgrp", "gpasswd", "unix_chkpwd", "unix_update", "pwck", "grpck", "vipw",
		"useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "pwconv", "grpconv", "systemd", "systemd-logind",
		"systemd-userdbd", "systemd-homed", "systemd-executor", "cron", "crond", "atd", "polkitd", "accounts-daemon", "gdm",
		"lightdm", "sddm", "nscd", "sssd", "dbus-daemon", "ssh", "scp", "sftp", "sftp-server", "ssh-keygen", "ssh-add",
		"ssh-agent", "ssh-keyscan", "aziot-identityd", "aziot-keyd", "aziot-certd", "aziot-tpmd", "aziot-edged", "aziotctl",
		"iotedge", "edgesec", "securitymodule"}
	// etcWriters change configuration below /etc for a living.
	etcWriters = []string{"passwd", "chpasswd", "chage", "chsh", "chfn", "gpasswd", "useradd", "usermod", "userdel",
		"groupadd", "groupmod", "groupdel", "pwconv", "grpconv", "vipw", "visudo", "systemd", "systemd-resolved",
		"systemd-networkd", "systemd-timesyncd", "systemd-machine-id-setup", "systemd-sysusers", "systemd-tmpfiles",
		"systemd-firstboot", "systemd-hostnamed", "systemd-timedated", "systemd-localed", "hostnamectl", "timedatectl",
		"localectl", "NetworkManager", "dhclient", "dhcpcd", "udhcpc", "resolvconf", "netplan", "cloud-init", "wpa_supplicant",
		"chronyd", "ntpd", "aziot-identityd", "aziot-keyd", "aziot-certd", "aziot-tpmd", "aziot-edged", "aziotctl", "iotedge",
		"dockerd", "containerd", "edgesec", "securitymodule"}
	// bpfLoaders load BPF programs for a living.
	bpfLoaders = []string{"systemd", "runc", "crun", "containerd", "containerd-shim", "containerd-shim-runc-v", "dockerd",
		"conmon", "podman", "kubelet", "cilium-agent", "edgesec", "securitymodule"}
	// etcScriptRunners run scripts that write below /etc for a living
	// (dhclient-script, NetworkManager dispatcher scripts, cloud-init
	// modules): their descendants are trusted like them.
	etcScriptRunners = []string{"dhclient", "dhcpcd", "udhcpc", "NetworkManager", "nm-dispatcher", "networkd-dispatcher",
		"cloud-init", "netplan", "resolvconf", "ifup", "ifdown", "wpa_supplicant"}
	// moduleLoaders load modules at boot and on hotplug.
	moduleLoaders = []string{"systemd-modules-load", "systemd-udevd", "udevd"}
	// imageUnpackers extract image layers, setuid files included.
	imageUnpackers = []string{"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v", "buildkitd", "podman",
		"crio", "conmon", "skopeo", "umoci", "ctr"}
)

func nameSet(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, n := range l {
			m[toolName(n)] = true
		}
	}
	return m
}

// kernelRules raise the alerts on KernelActivity events.
type kernelRules struct {
	// Programs trusted themselves (the process's executable or comm).
	readers, etc, bpf, unpackers map[string]bool
	// Programs trusted along with their descendants (the process or a
	// known ancestor): package managers' maintainer scripts, the scripts
	// of network configuration tools, the children of module loaders.
	pkg, etcLine, mods, trustedOnly map[string]bool
	// dropped remembers the files written in containers:
	// container id + "\x00" + path → the writer.
	dropped *Recent
}

func newKernelRules(o BuiltinOptions, n int) *kernelRules {
	return &kernelRules{
		readers:   nameSet(sensitiveReaders),
		etc:       nameSet(etcWriters),
		bpf:       nameSet(bpfLoaders),
		unpackers: nameSet(imageUnpackers),
		pkg:       nameSet(packageManagers, o.TrustedPrograms),
		etcLine:   nameSet(packageManagers, etcScriptRunners, o.TrustedPrograms),
		mods:      nameSet(moduleLoaders),
		// trustedOnly is BuiltinOptions.TrustedPrograms alone.
		trustedOnly: nameSet(o.TrustedPrograms),
		dropped:     NewRecent(o.DropTTL, n),
	}
}

func (r *kernelRules) Rules() []Rule { return kernelRuleList }

func (r *kernelRules) Analyze(env *Env, ev *event.Event) {
	switch ev.Name {
	case ka:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.KernelActivityPayload); ok {
				r.activity(env, p)
			}
		}
	case pc:
		if r.dropped.Len() == 0 {
			return
		}
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ProcessCreatePayload); ok {
				r.process(env, p)
			}
		}
	}
}

// kernelAlert returns an alert payload with the entity of a KernelActivity
// item.
func kernelAlert(env *Env, p *event.KernelActivityPayload, desc string) *event.SecurityAlertPayload {
	x := p.ExtraDetails
	a := &event.SecurityAlertPayload{Executable: p.Executable, CommandLine: p.CommandLine, UserID: p.UserID, UserName: p.UserName,
		ProcessID: p.ProcessID, ParentProcessID: p.ParentProcessID, ContainerID: x[keyContainerID], ModuleName: x[keyModuleName],
		Description: desc}
	if pp, ok := env.Process(p.ParentProcessID); ok {
		a.ParentExecutable = pp.Executable
	}
	d := event.ExtraDetails{}
	if p.Path != "" {
		d[alertKeyPath] = p.Path
	}
	if p.TargetPath != "" {
		d[alertKeyTargetPath] = p.TargetPath
	}
	if p.TargetProcessID != 0 {
		d[alertKeyTargetPID] = event.Itoa(p.TargetProcessID)
	}
	if len(d) > 0 {
		a.ExtraDetails = d
	}
	return a
}

// lineage returns the normalised names of the process of a KernelActivity
// item and of its known ancestors (up to 6), its own first: the executable
// and comm of the process, then what the process table knows of its
// parent and their ancestors.
func lineage(env *Env, p *event.KernelActivityPayload) []string {
	out := make([]string, 0, 8)
	add := func(exe string) {
		if n := toolName(base(exe)); n != "" {
			out = append(out, n)
		}
	}
	add(p.Executable)
	if c := p.ExtraDetails[keyComm]; c != "" {
		out = append(out, toolName(c))
	}
	if pp, ok := env.Process(p.ParentProcessID); ok {
		add(pp.Executable)
		for _, a := range env.Ancestors(pp.PID, 5) {
			add(a.Executable)
		}
	}
	return out
}

// own is the names of the process of p itself (executable and comm), not
// its ancestors.
func own(p *event.KernelActivityPayload) []string {
	return []string{toolName(base(p.Executable)), toolName(p.ExtraDetails[keyComm])}
}

// kernelName names the process of a KernelActivity item for a
// description: its executable, else its comm.
func kernelName(p *event.KernelActivityPayload) string {
	comm := p.ExtraDetails[keyComm]
	switch {
	case p.Executable == "" && comm != "":
		return comm
	case comm != "" && (strings.HasPrefix(p.Executable, "/proc/") || strings.HasPrefix(p.Executable, "/dev/fd/")):
		return comm + " (" + p.Executable + ")" // busybox applets, fexecve
	}
	return orUnknown(p.Executable)
}

// trusted reports whether a program of the lineage is in set.
func trusted(names []string, set map[string]bool) bool {
	for _, n := range names {
		if set[n] {
			return true
		}
	}
	return false
}

func (r *kernelRules) activity(env *Env, p *event.KernelActivityPayload) {
	name := kernelName(p)
	cid := p.ExtraDetails[keyContainerID]
	entity := func(what string) string { return p.Executable + "\x00" + cid + "\x00" + what }
	switch p.Action {
	case event.ActivityOpenRead:
		if sensitiveFile(p.Path) && !trusted(own(p), r.readers) && !trusted(lineage(env, p), r.pkg) {
			env.Alert(RuleReadSensitiveFile, entity(p.Path), kernelAlert(env, p, fmt.Sprintf("%s read the sensitive file %s", name, p.Path)))
		}
	case event.ActivityOpenWrite, event.ActivityRename, event.ActivityUnlink, event.ActivityTruncate:
		r.write(env, p, name, entity)
	case event.ActivitySymlink, event.ActivityLink:
		if !sensitiveFile(p.Path) {
			return
		}
		id, kind := RuleSymlinkOverSensitive, "symbolic"
		if p.Action == event.ActivityLink {
			id, kind = RuleHardlinkOverSensitive, "hard"
		}
		env.Alert(id, entity(p.Path+"\x00"+p.TargetPath), kernelAlert(env, p,
			fmt.Sprintf("%s created a %s link %s to the sensitive file %s", name, kind, orUnknown(p.TargetPath), p.Path)))
	case event.ActivityPtrace:
		target := fmt.Sprintf("pid %d", p.TargetProcessID)
		if tp, ok := env.Process(p.TargetProcessID); ok && tp.Executable != "" {
			target += " (" + tp.Executable + ")"
		}
		env.Alert(RulePtraceAttached, entity(""), kernelAlert(env, p, fmt.Sprintf("%s attached with ptrace to %s", name, target)))
	case event.ActivityExecMemfd:
		if r.runtimeReexec(p) {
			return
		}
		env.Alert(RuleFilelessExecution, entity(p.CommandLine), kernelAlert(env, p,
			fmt.Sprintf("%s was executed from an in-memory file (%s)", orUnknown(p.CommandLine), orUnknown(p.Path))))
	case event.ActivityPacketSocket:
		if cid == "" {
			return
		}
		env.Alert(RulePacketSocketContainer, entity(""), kernelAlert(env, p,
			fmt.Sprintf("%s opened a packet socket in the container %s", name, orName(p.ExtraDetails[keyModuleName], shortID(cid)))))
	case event.ActivityModuleLoad:
		if cid == "" && trusted(lineage(env, p), r.mods) {
			return
		}
		where := ""
		if cid != "" {
			where = " from the container " + orName(p.ExtraDetails[keyModuleName], shortID(cid))
		}
		what := ""
		if p.Path != "" {
			what = " " + p.Path
		}
		env.Alert(RuleKernelModuleInjection, entity(p.Path), kernelAlert(env, p, fmt.Sprintf("%s loaded a kernel module%s%s", name, what, where)))
	case event.ActivityBPFLoad:
		if trusted(own(p), r.bpf) || trusted(lineage(env, p), r.trustedOnly) {
			return
		}
		env.Alert(RuleBPFProgramLoaded, entity(""), kernelAlert(env, p, fmt.Sprintf("%s loaded a BPF program", name)))
	case event.ActivityChmodSetuid:
		// A package manager's maintainer scripts are trusted like it; an
		// image unpacker only itself: every process of a container
		// descends from its runtime's shim.
		if trusted(lineage(env, p), r.pkg) || trusted(own(p), r.unpackers) {
			return
		}
		mode := ""
		if m := p.ExtraDetails[keyMode]; m != "" {
			mode = " (mode " + m + ")"
		}
		env.Alert(RuleSetuidBit, entity(p.Path), kernelAlert(env, p, fmt.Sprintf("%s made %s setuid or setgid%s", name, orUnknown(p.Path), mode)))
	case event.ActivityMount:
		if cid == "" || r.runtimeReexec(p) || trusted(lineage(env, p), r.trustedOnly) {
			return
		}
		env.Alert(RuleMountInContainer, entity(p.TargetPath), kernelAlert(env, p, fmt.Sprintf("%s tried to mount %s on %s in the container %s",
			name, orUnknown(p.Path), orUnknown(p.TargetPath), orName(p.ExtraDetails[keyModuleName], shortID(cid)))))
	}
}

// write handles writes, renames, truncations and removals: the rules on
// /etc and binary directories, and the files dropped in containers.
func (r *kernelRules) write(env *Env, p *event.KernelActivityPayload, name string, entity func(string) string) {
	cid := p.ExtraDetails[keyContainerID]
	// The file that changed: the new name of a rename, else the path;
	// a rename away from a binary directory or /etc removes a file there.
	f, from := p.Path, ""
	if p.Action == event.ActivityRename {
		f, from = p.TargetPath, p.Path
	}
	if cid != "" && f != "" && (p.Action == event.ActivityOpenWrite || p.Action == event.ActivityRename) {
		r.dropped.Put(cid+"\x00"+f, name, env.Now())
	}
	var verb string
	switch p.Action {
	case event.ActivityOpenWrite:
		verb = "wrote " + f
	case event.ActivityUnlink:
		verb = "removed " + f
	case event.ActivityTruncate:
		verb = "truncated " + f
	case event.ActivityRename:
		verb = "renamed " + orUnknown(from) + " to " + orUnknown(f)
	}
	switch {
	case binaryDir(f) || binaryDir(from):
		if !trusted(lineage(env, p), r.pkg) {
			env.Alert(RuleWriteBelowBinaryDir, entity(f), kernelAlert(env, p, fmt.Sprintf("%s %s (a binary directory)", name, verb)))
		}
	case strings.HasPrefix(f, "/etc/") || strings.HasPrefix(from, "/etc/"):
		if !trusted(own(p), r.etc) && !trusted(lineage(env, p), r.etcLine) {
			env.Alert(RuleWriteBelowEtc, entity(f), kernelAlert(env, p, fmt.Sprintf("%s %s (below /etc)", name, verb)))
		}
	}
}

// runtimeReexec reports the container runtime re-executing itself from a
// memfd (runc's protection against CVE-2019-5736).
func (r *kernelRules) runtimeReexec(p *event.KernelActivityPayload) bool {
	if isRuntime(p.Executable, p.ExtraDetails[keyComm]) {
		return true
	}
	f := strings.Fields(p.CommandLine)
	return len(f) > 0 && (strings.HasPrefix(base(f[0]), "runc") || strings.HasPrefix(base(f[0]), "crun"))
}

// process raises the drop-and-execute rule.
func (r *kernelRules) process(env *Env, p *event.ProcessCreatePayload) {
	cid := p.ExtraDetails[keyContainerID]
	if cid == "" || p.Executable == "" {
		return
	}
	writer, ok := r.dropped.Get(cid+"\x00"+p.Executable, env.Now())
	if !ok {
		return
	}
	a := procAlert(p)
	a.Description = fmt.Sprintf("%s was written by %s in the container %s after it started, then executed",
		p.Executable, writer, orName(p.ExtraDetails[keyModuleName], shortID(cid)))
	a.ExtraDetails = event.ExtraDetails{alertKeyPath: p.Executable}
	env.Alert(RuleDropAndExecuteNewBinary, cid+"\x00"+p.Executable, a)
}

// logKeepers rotate, vacuum or own the logs.
var logKeepers = nameSet([]string{"logrotate", "savelog", "systemd-journald", "journalctl", "rsyslogd", "syslog-ng", "syslogd",
	"klogd", "busybox-syslogd", "newsyslog"}, packageManagers)

// kernelLog raises IoT_RemovalOfSystemLogs and IoT_ClearHistoryFile on the
// kernel's evidence: the unlink, truncation or rename away of a log or a
// history file. A process that already raised the rule from its command
// line (rm -f /var/log/x) is not alerted on again.
func (r *procRules) kernelLog(env *Env, p *event.KernelActivityPayload) {
	switch p.Action {
	case event.ActivityUnlink, event.ActivityTruncate, event.ActivityRename:
	default:
		return
	}
	f := p.Path
	id := ""
	switch {
	case strings.HasSuffix(f, "_history"):
		id = RuleClearHistoryFile
	case strings.HasPrefix(f, "/var/log/") || strings.HasPrefix(f, "/var/spool/mail/") || strings.HasPrefix(f, "/var/adm/"):
		id = RuleRemovalOfSystemLogs
	default:
		switch base(f) {
		case "wtmp", "btmp", "lastlog", "utmp":
			id = RuleRemovalOfSystemLogs
		}
	}
	if id == "" {
		return
	}
	if p.Action == event.ActivityRename && (strings.HasPrefix(p.TargetPath, "/var/log/") || strings.HasSuffix(p.TargetPath, "_history")) {
		return // rotated in place (auth.log → auth.log.1)
	}
	if id == RuleRemovalOfSystemLogs && trusted(lineage(env, p), logKeepers) {
		return
	}
	pid := event.Itoa(p.ProcessID)
	if _, dup := r.raised.Get(id+" "+pid, env.Now()); dup && p.ProcessID > 0 {
		env.s.stats.Deduplicated++
		return
	}
	verb := map[string]string{event.ActivityUnlink: "removed", event.ActivityTruncate: "truncated", event.ActivityRename: "renamed away"}[p.Action]
	what := "the system log"
	if id == RuleClearHistoryFile {
		what = "the shell history"
	}
	a := kernelAlert(env, p, fmt.Sprintf("%s %s %s %s (kernel)", kernelName(p), verb, what, f))
	if p.ProcessID > 0 {
		r.raised.Put(id+" "+pid, "", env.Now())
	}
	env.Alert(id, p.Executable+"\x00"+p.CommandLine, a)
}
