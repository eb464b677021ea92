package baseline

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/collector/users"
	"github.com/edgesec/edgesec/event"
)

const (
	critical      = event.SeverityCritical
	important     = event.SeverityImportant
	warning       = event.SeverityWarning
	informational = event.SeverityInformational
)

// Builtin returns the built-in checks, in the order they run and are
// reported. Each call returns a new slice; the checks hold no state.
func Builtin() []Check {
	return []Check{
		// sshd
		{"CCE-80901-2", "SSH root login is disabled (sshd PermitRootLogin no)", important,
			sshdOption("PermitRootLogin", "prohibit-password", "no", func(v string) bool { return strings.EqualFold(v, "no") })},
		{"EDGESEC-SSH-1", "SSH password authentication is disabled (sshd PasswordAuthentication no)", important,
			sshdOption("PasswordAuthentication", "yes", "no", func(v string) bool { return strings.EqualFold(v, "no") })},
		{"CCE-80896-4", "SSH logins with empty passwords are refused (sshd PermitEmptyPasswords no)", critical,
			sshdOption("PermitEmptyPasswords", "no", "no", func(v string) bool { return strings.EqualFold(v, "no") })},
		{"CCE-80894-9", "Only SSH protocol 2 is allowed (sshd Protocol 2)", critical,
			sshdOption("Protocol", "2", "2", func(v string) bool {
				return !slices.Contains(strings.Split(strings.ReplaceAll(v, " ", ""), ","), "1")
			})},
		{"CCE-82354-2", "SSH authentication attempts per connection are limited to 4 or fewer (sshd MaxAuthTries)", warning,
			sshdOption("MaxAuthTries", "6", "4 or less", func(v string) bool {
				n, err := strconv.Atoi(v)
				return err == nil && n >= 1 && n <= 4
			})},
		{"CCE-83360-8", "SSH X11 forwarding is disabled (sshd X11Forwarding no)", warning,
			sshdOption("X11Forwarding", "no", "no", func(v string) bool { return strings.EqualFold(v, "no") })},
		{"EDGESEC-SSH-2", "SSH host-based authentication is disabled (sshd HostbasedAuthentication no)", important,
			sshdOption("HostbasedAuthentication", "no", "no", func(v string) bool { return strings.EqualFold(v, "no") })},
		{"EDGESEC-SSH-3", "SSH ignores .rhosts files (sshd IgnoreRhosts yes)", important,
			sshdOption("IgnoreRhosts", "yes", "yes", func(v string) bool { return strings.EqualFold(v, "yes") })},
		{"EDGESEC-SSH-4", "SSH users cannot set environment options (sshd PermitUserEnvironment no)", warning,
			sshdOption("PermitUserEnvironment", "no", "no", func(v string) bool { return strings.EqualFold(v, "no") })},
		{"EDGESEC-SSH-5", "sshd configuration files are owned by root and not writable by group or others", important, checkSSHDFilePerms},
		{"EDGESEC-SSH-6", "SSH host private keys are owned by root and not readable by others", critical, checkSSHHostKeys},

		// account databases
		{"CCE-80813-9", "/etc/shadow is owned by root, group root or shadow, mode 0640 or stricter", critical,
			filePerm("/etc/shadow", 0o640, []string{"root", "shadow"}, true)},
		{"EDGESEC-FILE-1", "/etc/gshadow is owned by root, group root or shadow, mode 0640 or stricter", critical,
			filePerm("/etc/gshadow", 0o640, []string{"root", "shadow"}, false)},
		{"EDGESEC-FILE-2", "/etc/passwd is owned by root:root, mode 0644 or stricter", important,
			filePerm("/etc/passwd", 0o644, []string{"root"}, true)},
		{"EDGESEC-FILE-3", "/etc/group is owned by root:root, mode 0644 or stricter", important,
			filePerm("/etc/group", 0o644, []string{"root"}, true)},
		{"EDGESEC-FILE-4", "No world-writable files or directories (without the sticky bit) in /etc, /bin, /sbin, /usr/bin, /usr/sbin", important, checkWorldWritable},
		{"EDGESEC-FILE-5", "Cron configuration is owned by root and not accessible to group or others (/etc/crontab 0600, /etc/cron.* 0700)", warning, checkCron},

		// accounts
		{"CCE-85972-8", "No account has an empty password", critical, checkEmptyPasswords},
		{"CCE-80649-7", "Only root has user id 0", critical, checkUID0},
		{"EDGESEC-ACCT-1", "Every password hash in /etc/shadow uses a strong algorithm (yescrypt, SHA-512, bcrypt)", important, checkShadowHashes},
		{"EDGESEC-ACCT-2", "New passwords are hashed with a strong algorithm (ENCRYPT_METHOD SHA512 or YESCRYPT in /etc/login.defs)", important, checkEncryptMethod},
		{"EDGESEC-ACCT-3", "pam_unix is not configured with a weak password hash (md5, bigcrypt, descrypt)", important, checkPAMHash},
		{"EDGESEC-ACCT-4", "The default umask is 027 or stricter (login.defs, /etc/profile, shell startup files)", warning, checkUmask},

		// kernel
		{"CCE-80916-0", "Address space layout randomization is fully enabled (kernel.randomize_va_space = 2)", important,
			sysctlAll(nil, "2", eq("2"), "kernel.randomize_va_space")},
		{"CCE-80912-9", "Core dumps of setuid programs are disabled (fs.suid_dumpable = 0)", warning,
			sysctlAll(nil, "0", eq("0"), "fs.suid_dumpable")},
		{"EDGESEC-KERN-1", "Core dumps are disabled for all users (hard core 0 in limits.conf)", warning, checkCoreLimits},
		{"CCE-80913-7", "Unprivileged users cannot read the kernel log (kernel.dmesg_restrict = 1)", warning,
			sysctlAll(nil, "1", eq("1"), "kernel.dmesg_restrict")},
		{"EDGESEC-KERN-2", "Kernel pointers are hidden from unprivileged users (kernel.kptr_restrict = 1 or 2)", warning,
			sysctlAll(nil, "1 or 2", eq("1", "2"), "kernel.kptr_restrict")},
		{"EDGESEC-KERN-3", "Symbolic and hard link protections are enabled (fs.protected_symlinks = 1, fs.protected_hardlinks = 1)", warning,
			sysctlAll(nil, "1", eq("1"), "fs.protected_symlinks", "fs.protected_hardlinks")},

		// network
		{"CCE-81024-2", "IP forwarding is disabled (net.ipv4.ip_forward = 0, net.ipv6.conf.all.forwarding = 0); container engines need it for bridge networking", informational,
			sysctlAll([]string{"net.ipv6.conf.all.forwarding"}, "0", eq("0"), "net.ipv4.ip_forward")},
		{"CCE-80918-6", "Sending ICMP redirects is disabled (net.ipv4.conf.{all,default}.send_redirects = 0)", warning,
			sysctlAll(nil, "0", eq("0"), "net.ipv4.conf.all.send_redirects", "net.ipv4.conf.default.send_redirects")},
		{"CCE-80917-8", "Accepting ICMP redirects is disabled (net.ipv4/ipv6.conf.{all,default}.accept_redirects = 0)", warning,
			sysctlAll([]string{"net.ipv6.conf.all.accept_redirects", "net.ipv6.conf.default.accept_redirects"}, "0", eq("0"),
				"net.ipv4.conf.all.accept_redirects", "net.ipv4.conf.default.accept_redirects")},
		{"EDGESEC-NET-1", "Source-routed packets are refused (net.ipv4/ipv6.conf.{all,default}.accept_source_route = 0)", warning,
			sysctlAll([]string{"net.ipv6.conf.all.accept_source_route", "net.ipv6.conf.default.accept_source_route"}, "0", eq("0"),
				"net.ipv4.conf.all.accept_source_route", "net.ipv4.conf.default.accept_source_route")},
		{"CCE-80923-6", "TCP SYN cookies are enabled (net.ipv4.tcp_syncookies = 1)", warning,
			sysctlAll(nil, "1", eq("1"), "net.ipv4.tcp_syncookies")},
		{"EDGESEC-NET-2", "Strict reverse path filtering is enabled (net.ipv4.conf.{all,default}.rp_filter = 1)", warning,
			sysctlAll(nil, "1", eq("1"), "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter")},

		// unused filesystems
		{"CCE-81031-7", "Mounting of cramfs filesystems is disabled", informational, moduleDisabled("cramfs")},
		{"EDGESEC-MOD-1", "Mounting of freevxfs filesystems is disabled", informational, moduleDisabled("freevxfs")},
		{"EDGESEC-MOD-2", "Mounting of jffs2 filesystems is disabled (unless the device uses jffs2 flash storage)", informational, moduleDisabled("jffs2")},
		{"EDGESEC-MOD-3", "Mounting of hfs filesystems is disabled", informational, moduleDisabled("hfs")},
		{"EDGESEC-MOD-4", "Mounting of hfsplus filesystems is disabled", informational, moduleDisabled("hfsplus")},
		{"EDGESEC-MOD-5", "Mounting of udf filesystems is disabled", informational, moduleDisabled("udf")},

		// mounts
		{"CCE-82139-7", "/tmp is a separate mount with noexec", warning, mountOptions("/tmp", "noexec")},
		{"EDGESEC-MNT-1", "/tmp is a separate mount with nosuid", warning, mountOptions("/tmp", "nosuid")},
		{"EDGESEC-MNT-2", "/tmp is a separate mount with nodev", warning, mountOptions("/tmp", "nodev")},
		{"EDGESEC-MNT-3", "/dev/shm is mounted with noexec, nosuid and nodev", warning, mountOptions("/dev/shm", "noexec", "nosuid", "nodev")},

		// logging, auditing, time
		{"EDGESEC-LOG-1", "System logs persist across reboots (journald Storage=persistent or /var/log/journal, or a syslog daemon)", warning, checkJournald},
		{"EDGESEC-LOG-2", "The audit daemon (auditd) is installed and enabled", informational, checkAuditd},
		{"EDGESEC-TIME-1", "Time synchronization is configured and enabled (systemd-timesyncd, chrony or ntp)", warning, checkTimeSync},
	}
}

// ---- sshd

func sshdOption(keyword, def, expected string, ok func(string) bool) func(h *Host) Result {
	return func(h *Host) Result {
		cfg, installed, err := h.SSHD()
		if !installed {
			return notApplicable("sshd is not installed")
		}
		if err != nil {
			return Error(fmt.Errorf("sshd configuration: %w", err))
		}
		v, set := cfg.Get(keyword)
		where := "default"
		if set {
			where = v.Where()
		} else {
			v.Value = def
		}
		var bad []string
		for _, m := range cfg.Matches {
			if mv, set := m.Values[strings.ToLower(keyword)]; set && !ok(mv.Value) {
				bad = append(bad, fmt.Sprintf("Match %s (%s:%d): %s %s", m.Criteria, m.File, m.Line, keyword, mv.Value))
			}
		}
		kv := []string{KeyActual, v.Value, KeyLocation, where, KeyExpected, expected}
		switch {
		case !ok(v.Value):
			ev := fmt.Sprintf("%s is %s (%s)", keyword, v.Value, where)
			if len(bad) > 0 {
				s, _ := list(bad)
				ev += "; also " + s
			}
			return Fail(ev, kv...)
		case len(bad) > 0:
			s, _ := list(bad)
			return Fail(fmt.Sprintf("%s is %s globally but a Match block overrides it: %s", keyword, v.Value, s), kv...)
		}
		return Pass(fmt.Sprintf("%s is %s (%s)", keyword, v.Value, where), kv...)
	}
}

func checkSSHDFilePerms(h *Host) Result {
	cfg, installed, err := h.SSHD()
	if !installed {
		return notApplicable("sshd is not installed")
	}
	if cfg == nil {
		return Error(fmt.Errorf("sshd configuration: %w", err))
	}
	var bad []string
	var errs []error
	for _, f := range cfg.Files {
		fi, err := h.Stat(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if p := permProblem(h, fi, 0o755, []string{"root"}); p != "" {
			bad = append(bad, f+": "+p)
		}
	}
	if len(bad) > 0 {
		return failList("sshd configuration files with weak permissions", bad)
	}
	if len(errs) > 0 {
		return Error(errors.Join(errs...))
	}
	return Pass(fmt.Sprintf("%d sshd configuration files checked", len(cfg.Files)))
}

func checkSSHHostKeys(h *Host) Result {
	if _, installed, _ := h.SSHD(); !installed {
		return notApplicable("sshd is not installed")
	}
	keys := h.Glob("/etc/ssh/ssh_host_*_key")
	var bad []string
	for _, k := range keys {
		fi, err := h.Stat(k)
		if err != nil {
			return Error(err)
		}
		// Debian and Fedora use 0600 root:root, RHEL 0640 root:ssh_keys.
		if p := permProblem(h, fi, 0o640, []string{"root", "ssh_keys"}); p != "" {
			bad = append(bad, k+": "+p)
		}
	}
	if len(bad) > 0 {
		return failList("SSH host keys with weak permissions", bad)
	}
	if len(keys) == 0 {
		return Pass("no host keys in /etc/ssh yet (sshd generates them on first start)")
	}
	return Pass(fmt.Sprintf("%d host keys checked", len(keys)))
}

// ---- file permissions

// permProblem describes what is wrong with fi: an owner other than root,
// a group not in groups, or mode bits beyond maxMode. "" when nothing is.
func permProblem(h *Host, fi fs.FileInfo, maxMode fs.FileMode, groups []string) string {
	var probs []string
	mode := fi.Mode().Perm()
	if extra := mode &^ maxMode; extra != 0 {
		probs = append(probs, fmt.Sprintf("mode %04o (allowed %04o)", mode, maxMode))
	}
	if uid, gid, ok := owner(fi); ok {
		if uid != 0 {
			probs = append(probs, fmt.Sprintf("owner uid %d", uid))
		}
		if g := h.groupName(gid); gid != 0 && !slices.Contains(groups, g) {
			probs = append(probs, "group "+g)
		}
	}
	return strings.Join(probs, ", ")
}

func filePerm(p string, maxMode fs.FileMode, groups []string, required bool) func(h *Host) Result {
	return func(h *Host) Result {
		fi, err := h.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && !required {
			return notApplicable(p + " does not exist")
		}
		if err != nil {
			return Error(err)
		}
		kv := []string{KeyLocation, p, KeyActual, fmt.Sprintf("%04o", fi.Mode().Perm())}
		if uid, gid, ok := owner(fi); ok {
			kv[3] += fmt.Sprintf(" uid=%d group=%s", uid, h.groupName(gid))
		}
		if prob := permProblem(h, fi, maxMode, groups); prob != "" {
			return Fail(p+": "+prob, kv...)
		}
		return Pass(p+" has mode "+kv[3], kv...)
	}
}

// worldWritableRoots are the system directories searched for world-writable
// entries.
var worldWritableRoots = []string{"/etc", "/bin", "/sbin", "/usr/bin", "/usr/sbin"}

func checkWorldWritable(h *Host) Result {
	deadline := time.Now().Add(h.limits.MaxDuration)
	seen := map[string]bool{} // real roots already walked (merged /usr)
	var found []string
	n := 0
	var stopped error
	var errs []error
	for _, root := range worldWritableRoots {
		real, err := realPath(h, root)
		if err != nil {
			continue // missing directory
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		err = fs.WalkDir(h.fsys, rel(real), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
				return nil
			}
			n++
			if n > h.limits.MaxFiles {
				stopped = fmt.Errorf("search stopped after %d entries (limit)", h.limits.MaxFiles)
				return fs.SkipAll
			}
			if n%256 == 0 {
				if err := h.ctx.Err(); err != nil {
					stopped = err
					return fs.SkipAll
				}
				if time.Now().After(deadline) {
					stopped = fmt.Errorf("search stopped after %v (limit) and %d entries", h.limits.MaxDuration, n)
					return fs.SkipAll
				}
			}
			t := d.Type()
			if t&fs.ModeSymlink != 0 || (t&fs.ModeType != 0 && !d.IsDir()) {
				return nil // links are always 0777; devices and sockets are not files to run
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			m := fi.Mode()
			if m.Perm()&0o002 != 0 && !(m.IsDir() && m&fs.ModeSticky != 0) {
				found = append(found, fmt.Sprintf("/%s (%04o)", p, m.Perm()))
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
		if stopped != nil {
			break
		}
	}
	kv := []string{"EntriesChecked", strconv.Itoa(n)}
	if len(found) > 0 {
		if stopped != nil {
			kv = append(kv, "Incomplete", stopped.Error())
		}
		return failList("world-writable entries", found, kv...)
	}
	if stopped != nil {
		return Error(stopped, kv...)
	}
	if len(errs) > 0 && n == 0 {
		return Error(errors.Join(errs...), kv...)
	}
	return Pass(fmt.Sprintf("no world-writable entries among %d", n), kv...)
}

// realPath resolves the symbolic links of a host path inside the host
// root, returning the host path of the directory it names.
func realPath(h *Host, p string) (string, error) {
	cur := ""
	todo := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join("/", cur, c)
		fi, err := h.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		t, err := fs.ReadLink(h.fsys, rel(next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(t, "/") {
			cur = ""
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	if _, err := h.Stat(path.Join("/", cur)); err != nil {
		return "", err
	}
	return path.Join("/", cur), nil
}

func checkCron(h *Host) Result {
	type item struct {
		p    string
		mode fs.FileMode
	}
	items := []item{{"/etc/crontab", 0o600}, {"/etc/cron.hourly", 0o700}, {"/etc/cron.daily", 0o700},
		{"/etc/cron.weekly", 0o700}, {"/etc/cron.monthly", 0o700}, {"/etc/cron.d", 0o700}}
	var bad []string
	checked := 0
	for _, it := range items {
		fi, err := h.Stat(it.p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Error(err)
		}
		checked++
		if p := permProblem(h, fi, it.mode, []string{"root"}); p != "" {
			bad = append(bad, it.p+": "+p)
		}
	}
	if checked == 0 {
		return notApplicable("no cron configuration (/etc/crontab, /etc/cron.*)")
	}
	if len(bad) > 0 {
		return failList("cron paths with weak permissions", bad)
	}
	return Pass(fmt.Sprintf("%d cron paths checked", checked))
}

// ---- accounts

func checkEmptyPasswords(h *Host) Result {
	accounts, err := h.Passwd()
	if err != nil {
		return Error(err)
	}
	var empty []string
	for _, a := range accounts {
		if a.Password == users.PasswordEmpty {
			empty = append(empty, a.Name+" (in /etc/passwd)")
		}
	}
	shadow, err := h.Shadow()
	if err != nil {
		if len(empty) > 0 {
			return failList("accounts with an empty password", empty)
		}
		return Error(fmt.Errorf("%w (reading /etc/shadow needs root or CAP_DAC_READ_SEARCH)", err))
	}
	for _, s := range shadow {
		if s.State == "empty" {
			empty = append(empty, s.Name)
		}
	}
	if len(empty) > 0 {
		return failList("accounts with an empty password", empty)
	}
	return Pass(fmt.Sprintf("%d accounts, none with an empty password", len(accounts)))
}

func checkUID0(h *Host) Result {
	accounts, err := h.Passwd()
	if err != nil {
		return Error(err)
	}
	var others []string
	for _, a := range accounts {
		if a.UID == 0 && a.Name != "root" {
			others = append(others, a.Name)
		}
	}
	if len(others) > 0 {
		return failList("accounts other than root with uid 0", others)
	}
	return Pass("only root has uid 0")
}

func checkShadowHashes(h *Host) Result {
	shadow, err := h.Shadow()
	if err != nil {
		return Error(fmt.Errorf("%w (reading /etc/shadow needs root or CAP_DAC_READ_SEARCH)", err))
	}
	var weak []string
	set := 0
	for _, s := range shadow {
		if s.State != "set" {
			continue
		}
		set++
		if !strongHash(s.Algorithm) {
			weak = append(weak, s.Name+" ("+s.Algorithm+")")
		}
	}
	if len(weak) > 0 {
		return failList("accounts with a weak password hash", weak)
	}
	return Pass(fmt.Sprintf("%d passwords set, all with strong hashes", set))
}

func checkEncryptMethod(h *Host) Result {
	defs, ok, err := h.LoginDefs()
	if err != nil {
		return Error(err)
	}
	if !ok {
		return notApplicable("/etc/login.defs does not exist (shadow-utils not installed)")
	}
	v, set := defs["ENCRYPT_METHOD"]
	if !set {
		if defs["MD5_CRYPT_ENAB"] == "yes" {
			v = "MD5"
		} else {
			v = "DES"
		}
		return Fail("ENCRYPT_METHOD is not set: shadow-utils falls back to "+v,
			KeyActual, v, KeyLocation, "default", KeyExpected, "SHA512 or YESCRYPT")
	}
	kv := []string{KeyActual, v, KeyLocation, "/etc/login.defs", KeyExpected, "SHA512 or YESCRYPT"}
	switch strings.ToUpper(v) {
	case "SHA512", "YESCRYPT", "BCRYPT":
		return Pass("ENCRYPT_METHOD is "+v, kv...)
	}
	return Fail("ENCRYPT_METHOD is "+v, kv...)
}

var pamPasswordFiles = []string{"/etc/pam.d/common-password", "/etc/pam.d/system-auth", "/etc/pam.d/password-auth", "/etc/pam.d/passwd", "/etc/pam.d/base-passwd"}

func checkPAMHash(h *Host) Result {
	var bad []string
	read := 0
	for _, f := range pamPasswordFiles {
		b, err := h.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Error(err)
		}
		read++
		for _, l := range ParsePAM(b) {
			if l.Type != "password" || (l.Module != "pam_unix.so" && l.Module != "pam_unix2.so") {
				continue
			}
			for _, a := range l.Args {
				switch a {
				case "md5", "bigcrypt", "descrypt":
					bad = append(bad, fmt.Sprintf("%s: %s %s", f, l.Module, a))
				}
			}
		}
	}
	if read == 0 {
		return notApplicable("no PAM password configuration")
	}
	if len(bad) > 0 {
		return failList("weak pam_unix hashing options", bad)
	}
	return Pass(fmt.Sprintf("%d PAM password files checked", read))
}

func checkUmask(h *Host) Result {
	type setting struct{ where, value string }
	var settings []setting
	defs, ok, err := h.LoginDefs()
	if err != nil {
		return Error(err)
	}
	if ok {
		if v, set := defs["UMASK"]; set {
			settings = append(settings, setting{"/etc/login.defs UMASK", v})
		}
	}
	files := []string{"/etc/profile", "/etc/bash.bashrc", "/etc/bashrc"}
	files = append(files, h.Glob("/etc/profile.d/*.sh")...)
	for _, f := range files {
		b, err := h.ReadFile(f)
		if err != nil {
			continue
		}
		if v, found := umaskFromShell(b); found {
			settings = append(settings, setting{f, v})
		}
	}
	if len(settings) == 0 {
		return Fail("no default umask is set: the system default 022 applies", KeyActual, "022", KeyLocation, "default", KeyExpected, "027 or stricter")
	}
	var weak, all []string
	for _, s := range settings {
		all = append(all, s.where+"="+s.value)
		m, ok := ParseUmask(s.value)
		if !ok || m&0o027 != 0o027 {
			weak = append(weak, s.where+"="+s.value)
		}
	}
	if len(weak) > 0 {
		return failList("umask settings weaker than 027", weak, KeyExpected, "027 or stricter")
	}
	s, _ := list(all)
	return Pass("umask settings: "+s, KeyExpected, "027 or stricter")
}

// ---- kernel parameters

func eq(vals ...string) func(string) bool {
	return func(v string) bool { return slices.Contains(vals, v) }
}

// sysctlAll checks that every named parameter satisfies ok. The v6
// parameters are checked only on hosts with IPv6.
func sysctlAll(v6 []string, expected string, ok func(string) bool, names ...string) func(h *Host) Result {
	return func(h *Host) Result {
		all := slices.Clone(names)
		if len(v6) > 0 && h.IPv6() {
			all = append(all, v6...)
		}
		var bad, good []string
		for _, n := range all {
			v, err := h.Sysctl(n)
			if err != nil {
				return Error(err, KeyLocation, n)
			}
			if ok(v) {
				good = append(good, n+"="+v)
			} else {
				bad = append(bad, n+"="+v)
			}
		}
		kv := []string{KeyExpected, expected}
		if len(bad) > 0 {
			return Fail(strings.Join(bad, ", "), append(kv, KeyActual, strings.Join(bad, ", "))...)
		}
		return Pass(strings.Join(good, ", "), kv...)
	}
}

func checkCoreLimits(h *Host) Result {
	files := append([]string{"/etc/security/limits.conf"}, h.confFiles(".conf", "/etc/security/limits.d")...)
	var last, where string
	read := 0
	for _, f := range files {
		b, err := h.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Error(err)
		}
		read++
		for _, l := range ParseLimits(b) {
			if l.Domain == "*" && (l.Type == "hard" || l.Type == "-") && l.Item == "core" {
				last, where = l.Value, f
			}
		}
	}
	if read == 0 {
		return Fail("no limits.conf: core dumps are not limited", KeyExpected, "* hard core 0")
	}
	if last == "" {
		return Fail("no \"* hard core\" limit is set", KeyExpected, "* hard core 0")
	}
	kv := []string{KeyActual, last, KeyLocation, where, KeyExpected, "* hard core 0"}
	if last != "0" {
		return Fail("hard core limit is "+last+" ("+where+")", kv...)
	}
	return Pass("hard core limit is 0 ("+where+")", kv...)
}

// ---- kernel modules

func moduleDisabled(mod string) func(h *Host) Result {
	return func(h *Host) Result {
		dirs, where, err := h.Modprobe()
		if err != nil && len(dirs) == 0 {
			return Error(err)
		}
		// modprobe runs the first install command given for a module;
		// a blacklist line anywhere stops loading by alias (fs-<name>,
		// which is how mount loads filesystem modules).
		how, install, blacklist := "", -1, -1
		for i, d := range dirs {
			switch {
			case d.Module != mod:
			case d.Kind == "install" && install < 0:
				install = i
			case d.Kind == "blacklist" && blacklist < 0:
				blacklist = i
			}
		}
		switch {
		case install >= 0 && disablingInstall(dirs[install].Command):
			how = "install " + dirs[install].Command + " (" + where[install] + ")"
		case blacklist >= 0:
			how = "blacklist (" + where[blacklist] + ")"
		}
		loaded, lerr := h.LoadedModules()
		if lerr == nil && loaded[mod] {
			return Fail(mod+" is loaded", KeyActual, "loaded")
		}
		if how == "" {
			return Fail(mod+" is neither blacklisted nor disabled by an install command in modprobe.d",
				KeyExpected, "install "+mod+" /bin/false")
		}
		return Pass(mod+" is disabled: "+how, KeyLocation, how)
	}
}

// ---- mounts

func mountOptions(point string, opts ...string) func(h *Host) Result {
	return func(h *Host) Result {
		mounts, err := h.Mounts()
		if err != nil {
			return Error(err)
		}
		m, ok := MountAt(mounts, point)
		want := strings.Join(opts, ",")
		if !ok {
			return Fail(point+" is not a separate mount", KeyExpected, want)
		}
		var missing []string
		for _, o := range opts {
			if !m.Has(o) {
				missing = append(missing, o)
			}
		}
		kv := []string{KeyActual, strings.Join(m.Options, ","), KeyExpected, want, KeyLocation, m.Type + " " + point}
		if len(missing) > 0 {
			return Fail(point+" is mounted without "+strings.Join(missing, ","), kv...)
		}
		return Pass(point+" is mounted with "+want, kv...)
	}
}

// ---- logging, audit, time

func checkJournald(h *Host) Result {
	_, journald := h.firstExisting("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald", "/etc/systemd/journald.conf")
	if !journald {
		if p, ok := h.firstExisting("/etc/rsyslog.conf", "/etc/syslog-ng/syslog-ng.conf", "/etc/syslog.conf"); ok {
			return Pass("syslog daemon configured: "+p, KeyLocation, p)
		}
		return Fail("neither journald nor a syslog daemon is configured")
	}
	storage, where := "auto", "default"
	files := []string{"/etc/systemd/journald.conf"}
	files = append(files, h.confFiles(".conf", "/etc/systemd/journald.conf.d", "/run/systemd/journald.conf.d", "/usr/local/lib/systemd/journald.conf.d", "/usr/lib/systemd/journald.conf.d", "/lib/systemd/journald.conf.d")...)
	for _, f := range files {
		b, err := h.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Error(err)
		}
		if v, ok := ParseINI(b, "Journal")["Storage"]; ok {
			storage, where = v, f
		}
	}
	kv := []string{KeyActual, "Storage=" + storage, KeyLocation, where, KeyExpected, "Storage=persistent, or auto with /var/log/journal"}
	switch storage {
	case "persistent":
		return Pass("journald Storage=persistent", kv...)
	case "auto":
		if fi, err := h.Stat("/var/log/journal"); err == nil && fi.IsDir() {
			return Pass("journald Storage=auto and /var/log/journal exists", kv...)
		}
		if p, ok := h.firstExisting("/etc/rsyslog.conf", "/etc/syslog-ng/syslog-ng.conf"); ok {
			return Pass("journald is volatile (no /var/log/journal) but a syslog daemon is configured: "+p, kv...)
		}
		return Fail("journald Storage=auto without /var/log/journal: logs are lost at reboot", kv...)
	}
	return Fail("journald Storage="+storage+": logs are lost at reboot", kv...)
}

func checkAuditd(h *Host) Result {
	if !h.Exists("/etc/audit/auditd.conf") {
		return Fail("auditd is not installed (no /etc/audit/auditd.conf)")
	}
	if how, ok := h.ServiceEnabled("auditd.service", "auditd"); ok {
		return Pass("auditd is enabled: "+how, KeyLocation, how)
	}
	return Fail("auditd is installed but not enabled")
}

func checkTimeSync(h *Host) Result {
	type daemon struct {
		name     string
		services []string
		configs  []string // files one of which must name a server (empty: built-in defaults suffice)
	}
	daemons := []daemon{
		{"chrony", []string{"chrony.service", "chronyd.service", "chronyd", "chrony"}, []string{"/etc/chrony.conf", "/etc/chrony/chrony.conf"}},
		{"ntp", []string{"ntp.service", "ntpd.service", "ntpsec.service", "ntpd", "ntp", "ntpsec", "openntpd.service", "openntpd"}, []string{"/etc/ntp.conf", "/etc/ntpsec/ntp.conf", "/etc/openntpd/ntpd.conf", "/etc/ntpd.conf"}},
		{"systemd-timesyncd", []string{"systemd-timesyncd.service", "dbus-org.freedesktop.timesync1.service"}, nil},
	}
	var notes []string
	for _, d := range daemons {
		how, enabled := h.ServiceEnabled(d.services...)
		if !enabled {
			continue
		}
		if len(d.configs) == 0 {
			return Pass(d.name+" is enabled: "+how, KeyLocation, how)
		}
		for _, c := range d.configs {
			b, err := h.ReadFile(c)
			if err != nil {
				continue
			}
			for _, l := range lines(b) {
				f := strings.Fields(stripComment(l))
				if len(f) >= 2 && (f[0] == "server" || f[0] == "pool" || f[0] == "servers" || f[0] == "sourcedir" || f[0] == "peer") {
					return Pass(d.name+" is enabled ("+how+") and "+c+" names a time source", KeyLocation, c)
				}
			}
		}
		notes = append(notes, d.name+" is enabled but names no time source")
	}
	if len(notes) > 0 {
		return Fail(strings.Join(notes, "; "))
	}
	return Fail("no time synchronization service (systemd-timesyncd, chrony, ntp) is enabled")
}
