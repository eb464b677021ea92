package detect

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/event"
)

var procRuleList = []Rule{
	alertRule(RuleReverseShell, "Reverse shells", event.AlertHigh, "ASC",
		"A potential reverse shell: a shell's input and output redirected to a network connection.",
		"a command line with /dev/tcp/ or /dev/udp/, an interpreter (python, perl, ruby, php, lua) opening a socket and spawning a shell, mkfifo piped to nc/telnet/openssl; or a shell that owns an outbound connection to a non-loopback address",
		"Kill the process and its parent, find how it was started (a web shell, a compromised service, a stolen login) and rotate the device's credentials.", pc, cc),
	alertRule(RuleNetcatRCE, "Netcat/socat remote code execution", event.AlertHigh, "Falco",
		"netcat or socat was started with a program to run for whoever connects (Falco: Netcat Remote Code Execution).",
		"nc/ncat/netcat with -e, -c, --exec, --sh-exec or --lua-exec; socat with an EXEC: or SYSTEM: address",
		"Kill the process; netcat/socat with a command execution option gives a shell to whoever connects.", pc),
	alertRule(RuleDownloadThenRun, "Suspicious file download followed by file run", event.AlertMedium, "ASC",
		"A file was downloaded and run in the same command.",
		"one command line with curl, wget, tftp or ftp and a run of what it fetched: a pipe to a shell or interpreter, chmod +x, or ./file, sh file after && or ;",
		"Find the downloaded file and what it did; block the source address; remove the file.", pc),
	alertRule(RuleLinuxBackdoor, "Possible backdoor detected", event.AlertMedium, "ASC",
		"A file was downloaded and later run.",
		"curl -o/--output or wget -O/--output-document wrote a path that a later process executes (as its executable or as the script of a shell or interpreter) within 15 minutes",
		"Inspect the downloaded file, kill the process, remove the file and look for persistence (cron, systemd units, rc files).", pc),
	alertRule(RuleCryptoMiner, "Crypto coin miner image", event.AlertHigh, "ASC",
		"A process associated with digital currency mining was run.",
		"the executable or the command line names a known miner (cpuminer, xmrig, xmr-stak, minerd, ccminer, ethminer, ...) or a mining pool protocol (stratum+tcp://, stratum+ssl://), or --donate-level",
		"Kill the process, remove the miner and find how it got on the device.", pc),
	alertRule(RuleBinaryCommandLine, "Binary Command Line", event.AlertHigh, "ASC",
		"A Linux binary was passed on the command line (an ELF header or a long run of escaped bytes).",
		"a command line containing \\x7fELF, \\177ELF, the base64 ELF header f0VMR, or 32 or more \\xNN escapes",
		"Find what wrote the binary and kill the processes it started.", pc),
	alertRule(RuleDisableFirewall, "Disable firewall", event.AlertHigh, "ASC",
		"The on-host firewall was manipulated to let traffic through.",
		"ufw disable; systemctl/service stop|disable|mask of firewalld, ufw, iptables, nftables or netfilter-persistent; iptables -F (all chains or INPUT/OUTPUT/FORWARD); iptables -P INPUT|OUTPUT|FORWARD ACCEPT; nft flush ruleset; or a FirewallConfiguration snapshot in which a chain's policy changed to Allow, a chain's rules were flushed or every rule vanished",
		"Restore the firewall configuration and find who changed it.", pc, event.FirewallConfiguration),
	alertRule(RuleDisableAuditd, "Possible attempt to disable Auditd logging", event.AlertHigh, "ASC",
		"An attempt to stop or disable the audit daemon.",
		"auditctl -e 0 or -D; systemctl stop|disable|mask auditd; service auditd stop; kill/pkill/killall of auditd; or auditd terminating",
		"Restart auditd, check its rules and find who stopped it.", pc, pt),
	alertRule(RuleRemovalOfSystemLogs, "Removal of system logs files", event.AlertMedium, "ASC",
		"System log files were removed or truncated.",
		"rm, shred, unlink or truncate of a file under /var/log or /var/spool/mail, or of wtmp/btmp/lastlog, or cp /dev/null over one, not by logrotate; or, from the kernel (Falco: Clear Log Activities), an unlink, truncation (truncate(2), O_TRUNC, a shell's > redirection) or rename away of such a file by a program (or a child of one) other than logrotate, savelog, the log daemons (journald, rsyslogd, syslog-ng) and package managers",
		"Find who removed the logs; forward logs off the device so they survive.", pc, ka),
	alertRule(RuleClearHistoryFile, "Bash history cleared", event.AlertLow, "ASC",
		"A shell history file was cleared.",
		"rm, shred, unlink or truncate of a *_history file, ln -sf /dev/null or cp /dev/null over one, or history -c in a command line; or, from the kernel, an unlink, truncation or rename away of a *_history file (the kernel source watches root's .bash_history and .ash_history by default)",
		"Find who cleared the history and what else the session did.", pc, ka),
	alertRule(RulePortForwarding, "Port forwarding detection", event.AlertHigh, "ASC",
		"Port forwarding to another host was started.",
		"ssh -L/-R/-D to a non-loopback host; socat TCP-LISTEN to TCP; iptables DNAT or --to-destination; sysctl net.ipv4.ip_forward=1; a tunnel tool (ngrok, frpc, chisel)",
		"Stop the forwarding; check who started it and which service it exposes.", pc),
	alertRule(RuleExposedDocker, "Exposed Docker daemon by TCP socket", event.AlertMedium, "ASC",
		"The Docker daemon listens on a TCP socket, which by default has no authentication.",
		"dockerd started with -H/--host tcp://..., or a listening TCP socket on 2375 or 2376 owned by dockerd",
		"Remove the tcp:// host from the daemon's configuration, or require TLS client certificates (--tlsverify).", pc, event.ListeningPorts),
	alertRule(RuleShellInContainer, "Terminal shell in container", event.AlertMedium, "Falco",
		"A shell was started inside a running container or module (Falco: Terminal shell in container).",
		"a ContainerActivity exec_start whose command is a shell; or a shell whose parent is the container runtime (runc, crun, shim, conmon) in a container running for more than 2 s",
		"Check who exec'd into the container; modules should not need interactive shells.", pc, event.ContainerActivity),
	alertRule(RuleShellByService, "Shell spawned by a service", event.AlertMedium, "Falco",
		"A service that should never start shells did (Falco: Run shell untrusted); the typical sign of a web shell or an exploited server.",
		"a shell whose parent is a web, database or broker server (httpd, nginx, lighttpd, php-fpm, mosquitto, mysqld, postgres, redis-server, ...)",
		"Investigate the service for a web shell or an exploit; kill the shell.", pc),
	alertRule(RuleCryptoMinerContainer, "Crypto coin miner container image", event.AlertMedium, "ASC",
		"A container runs a known crypto-mining image.",
		"a ContainerInventory or ContainerActivity image naming a miner (xmrig, monero, minergate, cpuminer, ...)",
		"Remove the container and its image; check the deployment that started it.", event.ContainerInventory, event.ContainerActivity),
	alertRule(RulePrivilegedContainer, "Privileged container detected", event.AlertMedium, "ASC",
		"A privileged container is running.",
		"a running container of a ContainerInventory snapshot with Privileged true (once per container start)",
		"Run the container without --privileged, with only the capabilities and devices it needs.", event.ContainerInventory),
}

// minerWords are matched in lower-cased command lines and executables.
var minerWords = []string{"cpuminer", "xmrig", "xmr-stak", "minerd", "ccminer", "ethminer", "nbminer", "cgminer", "bfgminer",
	"nanominer", "lolminer", "phoenixminer", "teamredminer", "minergate", "nicehash", "stratum+tcp://", "stratum+ssl://",
	"stratum+tls://", "stratum2+tcp://", "--donate-level"}

var minerImageWords = []string{"xmrig", "monero", "minergate", "cpuminer", "xmr-stak", "nicehash", "ethminer", "coinhive", "cryptonight"}

var defaultServices = []string{"httpd", "apache2", "nginx", "lighttpd", "php-fpm", "mosquitto", "mysqld", "mariadbd", "postgres",
	"redis-server", "mongod", "smbd", "named", "dnsmasq", "vsftpd", "proftpd", "haproxy", "uwsgi", "gunicorn", "caddy", "traefik"}

var runtimeParents = []string{"runc", "crun", "containerd-shim", "conmon", "runc:[2:INIT]"}

type procRules struct {
	o          BuiltinOptions
	raised     *Recent // "rule pid" of the processes that raised a rule
	downloads  *Recent // path → URL
	containers *Recent // container id → first seen
	services   map[string]bool
}

func newProcRules(o BuiltinOptions, n int) *procRules {
	r := &procRules{o: o, raised: NewRecent(time.Minute, n), downloads: NewRecent(o.DownloadTTL, n), containers: NewRecent(24*time.Hour, n), services: map[string]bool{}}
	for _, s := range append(append([]string(nil), defaultServices...), o.Services...) {
		r.services[toolName(s)] = true
	}
	return r
}

func (r *procRules) Rules() []Rule { return procRuleList }

func (r *procRules) Analyze(env *Env, ev *event.Event) {
	switch ev.Name {
	case pc:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ProcessCreatePayload); ok {
				r.process(env, p)
			}
		}
	case pt:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ProcessTerminatePayload); ok && toolName(base(p.Executable)) == "auditd" {
				a := &event.SecurityAlertPayload{Executable: p.Executable, ProcessID: p.ProcessID,
					Description: fmt.Sprintf("auditd (pid %d) terminated with status %d", p.ProcessID, p.ExitStatus)}
				env.Alert(RuleDisableAuditd, "terminated "+p.Executable, a)
			}
		}
	case cc:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ConnectionCreatePayload); ok {
				r.connection(env, p)
			}
		}
	case event.ContainerActivity:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ContainerActivityPayload); ok {
				r.activity(env, p)
			}
		}
	case event.ContainerInventory:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ContainerInventoryPayload); ok {
				r.inventory(env, p)
			}
		}
	case ka:
		for _, it := range ev.Payload {
			if p, ok := it.(*event.KernelActivityPayload); ok {
				r.kernelLog(env, p)
			}
		}
	}
}

// cmd is a ProcessCreate item prepared for matching.
type cmd struct {
	p     *event.ProcessCreatePayload
	tool  string   // normalised name of the executable
	tool0 string   // normalised name of argv[0]
	lower string   // lower-cased command line
	args  []string // command line split on spaces (see argv)
	split bool
}

// rest returns the arguments after argv[0].
func (c *cmd) rest() []string {
	a := c.argv()
	if len(a) < 2 {
		return nil
	}
	return a[1:]
}

// argv splits the command line on first use.
func (c *cmd) argv() []string {
	if !c.split {
		c.args, c.split = strings.Fields(c.p.CommandLine), true
	}
	return c.args
}

func (c *cmd) is(names ...string) bool {
	for _, n := range names {
		if c.tool == n || c.tool0 == n {
			return true
		}
	}
	return false
}

// hasArg reports whether one of the arguments (after argv[0]) is a.
func (c *cmd) hasArg(as ...string) bool {
	for _, x := range c.rest() {
		for _, a := range as {
			if x == a {
				return true
			}
		}
	}
	return false
}

func (c *cmd) contains(subs ...string) bool {
	for _, s := range subs {
		if strings.Contains(c.lower, s) {
			return true
		}
	}
	return false
}

func (r *procRules) process(env *Env, p *event.ProcessCreatePayload) {
	c := cmd{p: p, tool: toolName(base(p.Executable)), lower: strings.ToLower(p.CommandLine)}
	first := strings.TrimLeft(p.CommandLine, " \t")
	if i := strings.IndexAny(first, " \t"); i >= 0 {
		first = first[:i]
	}
	c.tool0 = toolName(base(first))
	if c.tool == "" {
		c.tool = toolName(p.ExtraDetails[keyComm])
	}
	entity := p.Executable + "\x00" + p.CommandLine
	// A wrapper (sh -c, timeout, sudo, nohup) carries its child's command
	// line: the child raising the rule its parent raised is the same
	// activity, counted but not raised again.
	pid, ppid := strconv.Itoa(p.ProcessID), strconv.Itoa(p.ParentProcessID)
	send := func(id, ent string, a *event.SecurityAlertPayload) {
		if p.ProcessID > 0 {
			if _, dup := r.raised.Get(id+" "+ppid, env.Now()); dup && p.ParentProcessID > 0 {
				r.raised.Put(id+" "+pid, "", env.Now())
				env.s.stats.Deduplicated++
				return
			}
			r.raised.Put(id+" "+pid, "", env.Now())
		}
		env.Alert(id, ent, a)
	}
	alert := func(id, desc string) {
		a := procAlert(p)
		a.Description = desc
		send(id, entity, a)
	}
	name := orUnknown(p.Executable)

	// Reverse shell and netcat.
	if rce := netcatExec(&c); rce != "" {
		alert(RuleNetcatRCE, fmt.Sprintf("%s was started with %s: whoever connects gets a program run", name, rce))
	} else if how, host, port := reverseShell(&c); how != "" {
		a := procAlert(p)
		a.Description = fmt.Sprintf("%s: %s", name, how)
		a.RemoteAddress, a.RemotePort = validIP(host), port
		send(RuleReverseShell, entity, a)
	}
	// Download and run.
	if c.contains("curl ", "wget ", "tftp ", "ftp ", "curl\t") && runsDownload(c.lower) {
		alert(RuleDownloadThenRun, name+" downloads a file and runs it in the same command")
	}
	if c.is("curl", "wget") {
		if out := downloadPath(&c); out != "" {
			r.downloads.Put(out, p.CommandLine, env.Now())
		}
	}
	if r.downloads.Len() > 0 {
		for _, cand := range runCandidates(&c) {
			if from, ok := r.downloads.Get(cand, env.Now()); ok {
				a := procAlert(p)
				a.Description = fmt.Sprintf("%s runs %s, downloaded earlier by: %s", name, cand, from)
				send(RuleLinuxBackdoor, cand, a)
				break
			}
		}
	}
	// Miners.
	if w := firstIn(c.lower, minerWords); w != "" {
		alert(RuleCryptoMiner, fmt.Sprintf("%s names the crypto miner or mining protocol %q", name, w))
	} else if w := firstIn(strings.ToLower(base(p.Executable)), minerWords); w != "" {
		alert(RuleCryptoMiner, fmt.Sprintf("the executable %s is the crypto miner %q", name, w))
	}
	// Binary on the command line.
	if binaryCommandLine(p.CommandLine) {
		alert(RuleBinaryCommandLine, name+" has a Linux binary (ELF) on its command line")
	}
	if how := disablesFirewall(&c); how != "" {
		alert(RuleDisableFirewall, fmt.Sprintf("%s: %s", name, how))
	}
	if how := disablesAuditd(env, &c); how != "" {
		alert(RuleDisableAuditd, fmt.Sprintf("%s: %s", name, how))
	}
	if c.is("rm", "shred", "unlink", "truncate", "srm", "wipe", "cp", "ln", "mv") || c.contains("history -c") {
		if f := historyFile(&c); f != "" {
			alert(RuleClearHistoryFile, fmt.Sprintf("%s clears the shell history %s", name, f))
		} else if f := systemLog(&c); f != "" && !r.byLogrotate(env, p) {
			alert(RuleRemovalOfSystemLogs, fmt.Sprintf("%s removes or truncates the system log %s", name, f))
		}
	}
	if how := portForwarding(&c); how != "" {
		alert(RulePortForwarding, fmt.Sprintf("%s: %s", name, how))
	}
	if c.is("dockerd") {
		if h := dockerTCPHost(&c); h != "" {
			alert(RuleExposedDocker, fmt.Sprintf("dockerd was started with the TCP host %s", h))
		}
	}
	// Shells started by services and in containers.
	if isShell(c.tool) || isShell(c.tool0) && c.tool == "busybox" {
		parent := p.ExtraDetails[keyParentExe]
		if parent == "" {
			if pp, ok := env.Process(p.ParentProcessID); ok {
				parent = pp.Executable
			}
		}
		pb := toolName(base(parent))
		if pb == "" {
			pb = toolName(p.ExtraDetails[keyParentComm])
		}
		if r.services[pb] {
			alert(RuleShellByService, fmt.Sprintf("the service %s started the shell %s", parent, name))
		}
		if cid := p.ExtraDetails[keyContainerID]; cid != "" && isRuntime(parent, p.ExtraDetails[keyParentComm]) {
			if first, ok := r.containers.Get(cid, env.Now()); ok && first != "" {
				t, _ := time.Parse(time.RFC3339Nano, first)
				if env.Now().Sub(t) >= r.o.ContainerGrace {
					a := procAlert(p)
					a.Description = fmt.Sprintf("the shell %s was started in the running container %s", name, shortID(cid))
					send(RuleShellInContainer, cid, a)
				}
			}
		}
	}
	if cid := p.ExtraDetails[keyContainerID]; cid != "" {
		if _, ok := r.containers.Get(cid, env.Now()); !ok {
			r.containers.Put(cid, env.Now().Format(time.RFC3339Nano), env.Now())
		}
	}
}

func isRuntime(parentExe, parentComm string) bool {
	for _, s := range []string{parentExe, parentComm} {
		b := base(s)
		for _, r := range runtimeParents {
			if strings.HasPrefix(b, r) {
				return true
			}
		}
		if strings.Contains(s, "runc") && strings.Contains(s, "memfd") {
			return true
		}
	}
	return false
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// byLogrotate reports whether p descends from logrotate (parent or the
// process table's ancestors).
func (r *procRules) byLogrotate(env *Env, p *event.ProcessCreatePayload) bool {
	if toolName(base(p.ExtraDetails[keyParentExe])) == "logrotate" || p.ExtraDetails[keyParentComm] == "logrotate" {
		return true
	}
	for _, a := range env.Ancestors(p.ProcessID, 4) {
		if toolName(base(a.Executable)) == "logrotate" {
			return true
		}
	}
	return false
}

func (r *procRules) connection(env *Env, p *event.ConnectionCreatePayload) {
	if p.Direction != event.DirectionOut || !isShell(toolName(base(p.Executable))) {
		return
	}
	ip, err := netip.ParseAddr(p.RemoteAddress)
	if err != nil || ip.Unmap().IsLoopback() {
		return
	}
	a := &event.SecurityAlertPayload{Executable: p.Executable, CommandLine: p.CommandLine, UserID: p.UserID, ProcessID: p.ProcessID,
		RemoteAddress: ip.Unmap().String(), RemotePort: p.RemotePort, LocalPort: p.LocalPort,
		ContainerID: p.ExtraDetails[keyContainerID], ModuleName: p.ExtraDetails[keyModuleName],
		Description: fmt.Sprintf("the shell %s (pid %d) connected to %s port %s", p.Executable, p.ProcessID, ip.Unmap(), p.RemotePort)}
	env.Alert(RuleReverseShell, p.Executable+"\x00"+p.CommandLine, a)
}

func (r *procRules) activity(env *Env, p *event.ContainerActivityPayload) {
	if w := firstIn(strings.ToLower(p.Image), minerImageWords); w != "" {
		a := &event.SecurityAlertPayload{ContainerID: p.ContainerID, ModuleName: p.ModuleName, Image: p.Image,
			Description: fmt.Sprintf("container activity %q of the image %s, which names the miner %q", p.Action, p.Image, w)}
		env.Alert(RuleCryptoMinerContainer, p.Image, a)
	}
	if p.ContainerID != "" && !strings.HasPrefix(p.Action, "exec") {
		if _, ok := r.containers.Get(p.ContainerID, env.Now()); !ok && (p.Action == "start" || p.Action == "create") {
			r.containers.Put(p.ContainerID, env.Now().Format(time.RFC3339Nano), env.Now())
		}
	}
	if p.Action == "exec_start" || p.Action == "exec_create" {
		f := strings.Fields(p.Command)
		if len(f) > 0 && (isShell(toolName(base(f[0]))) || toolName(base(f[0])) == "busybox" && len(f) > 1 && isShell(f[1])) {
			a := &event.SecurityAlertPayload{ContainerID: p.ContainerID, ModuleName: p.ModuleName, Image: p.Image, CommandLine: p.Command,
				Description: fmt.Sprintf("%q was exec'd in the container %s", p.Command, orName(p.ContainerName, shortID(p.ContainerID)))}
			env.Alert(RuleShellInContainer, p.ContainerID, a)
		}
	}
}

func (r *procRules) inventory(env *Env, p *event.ContainerInventoryPayload) {
	if p.State != "running" {
		return
	}
	if w := firstIn(strings.ToLower(p.Image), minerImageWords); w != "" {
		a := &event.SecurityAlertPayload{ContainerID: p.ContainerID, ModuleName: p.ModuleName, Image: p.Image,
			Description: fmt.Sprintf("the container %s runs the image %s, which names the miner %q", orName(p.Name, shortID(p.ContainerID)), p.Image, w)}
		env.Alert(RuleCryptoMinerContainer, p.Image, a)
	}
	if _, ok := r.containers.Get(p.ContainerID, env.Now()); !ok && p.ContainerID != "" {
		r.containers.Put(p.ContainerID, env.Now().Format(time.RFC3339Nano), env.Now())
	}
	if !p.Privileged || matchAny(r.o.TrustedImages, p.Image) {
		return
	}
	key := "privileged " + p.ContainerID + " " + p.StartedAt
	if _, seen := r.containers.Get(key, env.Now()); seen {
		return
	}
	r.containers.Put(key, "", env.Now())
	a := &event.SecurityAlertPayload{ContainerID: p.ContainerID, ModuleName: p.ModuleName, Image: p.Image,
		Description: fmt.Sprintf("the container %s (image %s) runs privileged", orName(p.Name, shortID(p.ContainerID)), p.Image)}
	env.Alert(RulePrivilegedContainer, p.ContainerID, a)
}

func orName(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := pathMatch(g, s); ok {
			return true
		}
	}
	return false
}

func firstIn(s string, words []string) string {
	for _, w := range words {
		if strings.Contains(s, w) {
			return w
		}
	}
	return ""
}

// netcatExec returns the execution option of a netcat or socat command.
func netcatExec(c *cmd) string {
	if c.is("nc") {
		for _, a := range c.rest() {
			switch {
			case a == "-e" || a == "-c" || a == "--exec" || a == "--sh-exec" || a == "--lua-exec":
				return a
			case strings.HasPrefix(a, "--exec=") || strings.HasPrefix(a, "--sh-exec="):
				return a
			case len(a) > 2 && a[0] == '-' && a[1] != '-' && strings.ContainsAny(a[len(a)-1:], "ec") && !strings.ContainsAny(a, "0123456789"):
				return a // -nlvpe
			}
		}
	}
	if c.is("socat") {
		for _, a := range c.rest() {
			l := strings.ToLower(a)
			if strings.HasPrefix(l, "exec:") || strings.HasPrefix(l, "system:") || strings.Contains(l, ",exec:") {
				return a
			}
		}
	}
	return ""
}

// reverseShell returns how a command line looks like a reverse shell, and
// the remote host and port when it names them.
func reverseShell(c *cmd) (how, host, port string) {
	for _, dev := range []string{"/dev/tcp/", "/dev/udp/"} {
		if i := strings.Index(c.lower, dev); i >= 0 {
			rest := c.lower[i+len(dev):]
			h, p, _ := strings.Cut(rest, "/")
			p = strings.TrimRightFunc(p, func(r rune) bool { return r < '0' || r > '9' })
			if j := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
				p = p[:j]
			}
			return "redirects a shell to " + dev + h + "/" + p, h, p
		}
	}
	interp := c.is("python", "perl", "ruby", "php", "lua", "node", "awk", "gawk")
	if interp && strings.Contains(c.lower, "socket") &&
		(c.contains("pty", "subprocess", "/bin/sh", "/bin/bash", "dup2", "exec(", "spawn", "system(", "popen")) {
		return "an interpreter opens a socket and spawns a shell", "", ""
	}
	if c.contains("mkfifo", "mknod") && c.contains("nc ", "ncat ", "netcat ", "telnet ", "openssl s_client") {
		return "a named pipe connects a shell to a network tool", "", ""
	}
	if c.contains("openssl s_client") && c.contains("|/bin/sh", "| /bin/sh", "|sh", "| sh", "| bash", "|bash") {
		return "openssl s_client piped to a shell", "", ""
	}
	return "", "", ""
}

var runSigns = []string{"| sh", "|sh", "| bash", "|bash", "| /bin/sh", "|/bin/sh", "| /bin/bash", "|/bin/bash", "| python", "|python",
	"| perl", "|perl", "chmod +x", "chmod 7", "chmod u+x", "chmod a+x", "&& sh ", "; sh ", "&& bash ", "; bash ", "&& ./", "; ./", "&&./", ";./",
	"&& /tmp/", "; /tmp/", "&& /dev/shm/", "; /dev/shm/"}

func runsDownload(lower string) bool { return firstIn(lower, runSigns) != "" }

// downloadPath returns the absolute output path of a curl or wget command.
func downloadPath(c *cmd) string {
	a := c.argv()
	for i := 1; i < len(a); i++ {
		x := a[i]
		var v string
		switch {
		case x == "-o" || x == "--output" || x == "-O" && c.is("wget") || x == "--output-document":
			if i+1 < len(a) {
				v = a[i+1]
			}
		case strings.HasPrefix(x, "--output=") || strings.HasPrefix(x, "--output-document="):
			_, v, _ = strings.Cut(x, "=")
		case len(x) > 2 && strings.HasPrefix(x, "-o") && c.is("curl") || len(x) > 2 && strings.HasPrefix(x, "-O") && c.is("wget"):
			v = x[2:]
		}
		if strings.HasPrefix(v, "/") {
			return v
		}
	}
	return ""
}

// runCandidates returns the paths a process runs: its executable and,
// for a shell or interpreter, its script argument.
func runCandidates(c *cmd) []string {
	out := []string{c.p.Executable}
	if (isShell(c.tool) || c.is("python", "perl", "ruby", "php", "node", "busybox")) && len(c.argv()) > 1 {
		for _, a := range c.rest() {
			if !strings.HasPrefix(a, "-") {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

func binaryCommandLine(s string) bool {
	if strings.Contains(s, `\x7fELF`) || strings.Contains(s, `\x7FELF`) || strings.Contains(s, `\177ELF`) || strings.Contains(s, "f0VMR") {
		return true
	}
	return strings.Count(s, `\x`) >= 32
}

var firewallUnits = map[string]bool{"firewalld": true, "ufw": true, "iptables": true, "ip6tables": true, "nftables": true, "netfilter-persistent": true}

// unitVerb reports whether a systemctl or service command applies one of
// verbs to one of units.
func unitVerb(c *cmd, units map[string]bool, verbs ...string) string {
	if c.is("systemctl") && c.hasArg(verbs...) {
		for _, a := range c.rest() {
			if units[strings.TrimSuffix(a, ".service")] {
				return "systemctl " + strings.Join(c.rest(), " ")
			}
		}
	}
	if c.is("service") && len(c.argv()) >= 3 && units[c.argv()[1]] && c.argv()[2] == "stop" {
		return "service " + c.argv()[1] + " stop"
	}
	return ""
}

var builtinChains = map[string]bool{"INPUT": true, "OUTPUT": true, "FORWARD": true}

func disablesFirewall(c *cmd) string {
	if c.is("ufw") && c.hasArg("disable") {
		return "ufw disable"
	}
	if s := unitVerb(c, firewallUnits, "stop", "disable", "mask", "kill"); s != "" {
		return s + " stops the firewall"
	}
	if c.is("iptables") {
		a := c.argv()
		for i := 1; i < len(a); i++ {
			next := ""
			if i+1 < len(a) {
				next = a[i+1]
			}
			switch a[i] {
			case "-F", "--flush":
				if next == "" || strings.HasPrefix(next, "-") || builtinChains[next] {
					return "flushes the firewall rules"
				}
			case "-P", "--policy":
				if builtinChains[next] && i+2 < len(a) && a[i+2] == "ACCEPT" {
					return "sets the " + next + " policy to ACCEPT"
				}
			}
		}
	}
	if c.is("nft") && (c.contains("flush ruleset") || c.hasArg("delete") && c.hasArg("table")) {
		return "removes the nftables rules"
	}
	return ""
}

var auditdUnit = map[string]bool{"auditd": true}

func disablesAuditd(env *Env, c *cmd) string {
	if c.is("auditctl") {
		for i := 1; i < len(c.argv()); i++ {
			if c.argv()[i] == "-D" {
				return "auditctl -D deletes every audit rule"
			}
			if c.argv()[i] == "-e" && i+1 < len(c.argv()) && c.argv()[i+1] == "0" {
				return "auditctl -e 0 disables auditing"
			}
		}
	}
	if s := unitVerb(c, auditdUnit, "stop", "disable", "mask", "kill"); s != "" {
		return s + " stops auditd"
	}
	if c.is("pkill", "killall") && c.hasArg("auditd") {
		return "kills auditd"
	}
	if c.is("kill") {
		for _, a := range c.rest() {
			if pid, err := strconv.Atoi(a); err == nil && pid > 0 {
				if p, ok := env.Process(pid); ok && toolName(base(p.Executable)) == "auditd" {
					return fmt.Sprintf("kills auditd (pid %d)", pid)
				}
			}
		}
	}
	return ""
}

func historyFile(c *cmd) string {
	if c.contains("history -c") && (isShell(c.tool) || isShell(c.tool0)) {
		return "(history -c)"
	}
	if c.is("mv") {
		return ""
	}
	for _, a := range c.rest() {
		if strings.HasSuffix(a, "_history") && !strings.HasPrefix(a, "-") {
			if c.is("ln", "cp") && !c.hasArg("/dev/null") {
				return ""
			}
			return a
		}
	}
	return ""
}

func systemLog(c *cmd) string {
	if c.is("ln", "mv") {
		return ""
	}
	if c.is("cp") && !c.hasArg("/dev/null") {
		return ""
	}
	for _, a := range c.rest() {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if strings.HasPrefix(a, "/var/log/") || strings.HasPrefix(a, "/var/spool/mail/") || strings.HasPrefix(a, "/var/adm/") {
			return a
		}
		switch base(a) {
		case "wtmp", "btmp", "lastlog", "utmp":
			if strings.HasPrefix(a, "/") {
				return a
			}
		}
	}
	return ""
}

// sshValueOpts are the ssh options that take a value.
const sshValueOpts = "BbcDEeFIiJLlmOopQRSWw"

func portForwarding(c *cmd) string {
	switch {
	case c.is("ngrok", "frpc", "frps", "chisel"):
		return "a tunnel tool"
	case c.is("ssh"):
		fwd, host := "", ""
		a := c.argv()
		for i := 1; i < len(a) && host == ""; i++ {
			x := a[i]
			if !strings.HasPrefix(x, "-") || x == "-" {
				host = x
				break
			}
			for j := 1; j < len(x); j++ {
				o := x[j]
				if strings.IndexByte("LRD", o) >= 0 && fwd == "" {
					fwd = "-" + string(o)
				}
				if strings.IndexByte(sshValueOpts, o) >= 0 {
					if j == len(x)-1 {
						i++ // the value is the next argument
					}
					break
				}
			}
		}
		if fwd == "" || host == "" {
			return ""
		}
		if _, h, ok := strings.Cut(host, "@"); ok {
			host = h
		}
		if isLoopbackHost(host) {
			return ""
		}
		return fmt.Sprintf("ssh %s port forwarding through %s", fwd, host)
	case c.is("socat"):
		if c.contains("tcp-listen:", "tcp4-listen:", "tcp6-listen:") && c.contains(" tcp:", " tcp4:", " tcp6:") {
			return "socat forwards a listening port to another host"
		}
	case c.is("iptables"):
		if c.hasArg("DNAT") || c.hasArg("--to-destination") {
			return "an iptables DNAT rule forwards a port"
		}
	case c.is("sysctl"):
		if c.contains("net.ipv4.ip_forward=1", "net.ipv4.conf.all.forwarding=1", "net.ipv6.conf.all.forwarding=1") {
			return "enables IP forwarding"
		}
	}
	return ""
}

func isLoopbackHost(h string) bool {
	h = strings.Trim(h, "[]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

func dockerTCPHost(c *cmd) string {
	a := c.argv()
	for i := 1; i < len(a); i++ {
		v := ""
		switch {
		case (a[i] == "-H" || a[i] == "--host") && i+1 < len(a):
			v = a[i+1]
		case strings.HasPrefix(a[i], "--host="), strings.HasPrefix(a[i], "-H="):
			_, v, _ = strings.Cut(a[i], "=")
		case strings.HasPrefix(a[i], "-H") && len(a[i]) > 2:
			v = a[i][2:]
		}
		if strings.HasPrefix(v, "tcp://") {
			return v
		}
	}
	return ""
}

// validIP returns s when it is an IP literal, else "".
func validIP(s string) string {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return ""
	}
	return ip.Unmap().String()
}
