package baseline

import (
	"strconv"
	"strings"
)

// maxParsedLines bounds what the line-oriented parsers keep of one file.
const maxParsedLines = 1 << 16

// lines splits data into lines without their "\r\n" or "\n", at most
// maxParsedLines of them.
func lines(data []byte) []string {
	s := string(data)
	out := make([]string, 0, min(strings.Count(s, "\n")+1, maxParsedLines))
	for len(s) > 0 && len(out) < maxParsedLines {
		var l string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			l, s = s[:i], s[i+1:]
		} else {
			l, s = s, ""
		}
		out = append(out, strings.TrimRight(l, "\r"))
	}
	return out
}

// stripComment removes a "#" comment and surrounding white space.
func stripComment(l string) string {
	if i := strings.IndexByte(l, '#'); i >= 0 {
		l = l[:i]
	}
	return strings.TrimSpace(l)
}

// Mount is one line of /proc/mounts.
type Mount struct {
	Device  string
	Point   string
	Type    string
	Options []string
}

// Has reports whether the mount has option opt.
func (m Mount) Has(opt string) bool {
	for _, o := range m.Options {
		if o == opt {
			return true
		}
	}
	return false
}

// ParseMounts parses /proc/mounts (or /proc/self/mounts, mtab). Octal
// escapes (\040 for a space) are decoded; malformed lines are skipped.
func ParseMounts(data []byte) []Mount {
	var out []Mount
	for _, l := range lines(data) {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		out = append(out, Mount{
			Device: unescapeMount(f[0]), Point: unescapeMount(f[1]), Type: f[2],
			Options: strings.Split(f[3], ","),
		})
	}
	return out
}

// MountAt returns the mount in effect at point: the last one listed
// (later mounts hide earlier ones on the same point).
func MountAt(mounts []Mount, point string) (Mount, bool) {
	for i := len(mounts) - 1; i >= 0; i-- {
		if mounts[i].Point == point {
			return mounts[i], true
		}
	}
	return Mount{}, false
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ModprobeDirective is one "install" or "blacklist" line of a modprobe.d
// file.
type ModprobeDirective struct {
	Kind    string // "install" or "blacklist"
	Module  string // normalised: "-" replaced by "_"
	Command string // install only: the command, arguments joined by a space
}

// ParseModprobe parses a modprobe.d(5) file, keeping the install and
// blacklist directives. Continuation lines (ending in "\") are joined.
func ParseModprobe(data []byte) []ModprobeDirective {
	var out []ModprobeDirective
	var cont string
	for _, l := range lines(data) {
		if strings.HasSuffix(l, `\`) {
			cont += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		l, cont = cont+l, ""
		f := strings.Fields(stripComment(l))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "install":
			out = append(out, ModprobeDirective{Kind: "install", Module: normModule(f[1]), Command: strings.Join(f[2:], " ")})
		case "blacklist":
			out = append(out, ModprobeDirective{Kind: "blacklist", Module: normModule(f[1])})
		}
	}
	return out
}

func normModule(m string) string { return strings.ReplaceAll(m, "-", "_") }

// disablingInstall reports whether an install command makes loading the
// module fail or do nothing (/bin/true, /bin/false, /usr/bin/false, …).
func disablingInstall(cmd string) bool {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "/bin/true", "/bin/false", "/usr/bin/true", "/usr/bin/false", "true", "false", "/sbin/nologin", "/usr/sbin/nologin", "/bin/nologin":
		return true
	}
	return false
}

// ParseLoginDefs parses login.defs(5): "NAME value" lines. Later
// definitions override earlier ones, as in shadow-utils. Names are kept as
// written (they are upper case by convention).
func ParseLoginDefs(data []byte) map[string]string {
	out := map[string]string{}
	for _, l := range lines(data) {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Fields(l)
		v := ""
		if len(f) > 1 {
			v = strings.Trim(f[1], `"`)
		}
		out[f[0]] = v
	}
	return out
}

// ParseINI parses a systemd-style configuration file and returns the
// values of section (e.g. "Journal"), later assignments overriding
// earlier ones. Keys are case-sensitive, as in systemd.
func ParseINI(data []byte, section string) map[string]string {
	out := map[string]string{}
	in := false
	for _, l := range lines(data) {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			in = strings.TrimSpace(strings.Trim(l, "[]")) == section
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// Limit is one line of limits.conf(5).
type Limit struct {
	Domain, Type, Item, Value string
}

// ParseLimits parses limits.conf(5).
func ParseLimits(data []byte) []Limit {
	var out []Limit
	for _, l := range lines(data) {
		f := strings.Fields(stripComment(l))
		if len(f) != 4 {
			continue
		}
		out = append(out, Limit{Domain: f[0], Type: f[1], Item: f[2], Value: f[3]})
	}
	return out
}

// PAMLine is one rule of a PAM configuration file.
type PAMLine struct {
	Type    string // password, auth, account, session (without a leading "-")
	Control string
	Module  string // base name, e.g. pam_unix.so
	Args    []string
}

// ParsePAM parses a pam.d(5) file. Control values in brackets may contain
// spaces; "@include" lines and continuation lines are handled.
func ParsePAM(data []byte) []PAMLine {
	var out []PAMLine
	var cont string
	for _, l := range lines(data) {
		if strings.HasSuffix(l, `\`) {
			cont += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		l, cont = strings.TrimSpace(cont+l), ""
		if l == "" || l[0] == '#' || l[0] == '@' {
			continue
		}
		i := strings.IndexAny(l, " \t")
		if i < 0 {
			continue
		}
		typ, rest := l[:i], strings.TrimSpace(l[i:])
		typ = strings.TrimPrefix(typ, "-")
		var control string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				continue
			}
			control, rest = rest[:end+1], strings.TrimSpace(rest[end+1:])
		} else {
			f := strings.Fields(rest)
			if len(f) == 0 {
				continue
			}
			control, rest = f[0], strings.TrimSpace(strings.TrimPrefix(rest, f[0]))
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		mod := f[0]
		if i := strings.LastIndexByte(mod, '/'); i >= 0 {
			mod = mod[i+1:]
		}
		if mod == "" {
			continue
		}
		out = append(out, PAMLine{Type: typ, Control: control, Module: mod, Args: f[1:]})
	}
	return out
}

// ShadowPassword is what the checks need of one /etc/shadow line: the
// account and the kind of password it has. The hash itself is never kept.
type ShadowPassword struct {
	Name string
	// State is "empty", "locked" (starts with "!" or "*") or "set".
	State string
	// Algorithm names the hashing scheme of a set password: "yescrypt",
	// "sha512", "sha256", "md5", "bcrypt", "des", "gost-yescrypt",
	// "scrypt", "sunmd5", "bsdicrypt", "nthash" or "unknown".
	Algorithm string
}

// ParseShadow parses /etc/shadow, keeping only each account's
// ShadowPassword. Malformed lines are skipped.
func ParseShadow(data []byte) []ShadowPassword {
	var out []ShadowPassword
	for _, l := range lines(data) {
		if l == "" || l[0] == '#' || l[0] == '+' || l[0] == '-' {
			continue
		}
		name, rest, ok := strings.Cut(l, ":")
		if !ok || name == "" {
			continue
		}
		hash, _, _ := strings.Cut(rest, ":")
		sp := ShadowPassword{Name: name}
		switch {
		case hash == "":
			sp.State = "empty"
		case hash[0] == '!' || hash[0] == '*':
			sp.State = "locked"
		default:
			sp.State = "set"
			sp.Algorithm = HashAlgorithm(hash)
		}
		out = append(out, sp)
	}
	return out
}

// HashAlgorithm names the crypt(5) scheme of a password hash from its
// prefix.
func HashAlgorithm(hash string) string {
	switch {
	case strings.HasPrefix(hash, "$y$"):
		return "yescrypt"
	case strings.HasPrefix(hash, "$gy$"):
		return "gost-yescrypt"
	case strings.HasPrefix(hash, "$7$"):
		return "scrypt"
	case strings.HasPrefix(hash, "$6$"):
		return "sha512"
	case strings.HasPrefix(hash, "$5$"):
		return "sha256"
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"), strings.HasPrefix(hash, "$2x$"):
		return "bcrypt"
	case strings.HasPrefix(hash, "$md5"):
		return "sunmd5"
	case strings.HasPrefix(hash, "$1$"):
		return "md5"
	case strings.HasPrefix(hash, "$3$"):
		return "nthash"
	case strings.HasPrefix(hash, "_"):
		return "bsdicrypt"
	case len(hash) == 13 && !strings.HasPrefix(hash, "$"):
		return "des"
	}
	return "unknown"
}

// strongHash reports whether a crypt(5) scheme is acceptable for new
// passwords today.
func strongHash(alg string) bool {
	switch alg {
	case "yescrypt", "gost-yescrypt", "scrypt", "sha512", "bcrypt":
		return true
	}
	return false
}

// ParseUmask parses an octal umask ("027", "0027", "77").
func ParseUmask(s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, false
	}
	return uint32(n), true
}

// umaskFromShell returns the umask value set by a shell startup file: the
// last "umask NNN" command found at the start of a line (or after "then",
// ";", "&&"). Symbolic umasks are ignored.
func umaskFromShell(data []byte) (string, bool) {
	val, found := "", false
	for _, l := range lines(data) {
		l = stripComment(l)
		for _, part := range strings.FieldsFunc(l, func(r rune) bool { return r == ';' || r == '&' || r == '|' }) {
			f := strings.Fields(part)
			for len(f) > 0 && (f[0] == "then" || f[0] == "else" || f[0] == "do") {
				f = f[1:]
			}
			if len(f) == 2 && f[0] == "umask" {
				if _, ok := ParseUmask(f[1]); ok {
					val, found = f[1], true
				}
			}
		}
	}
	return val, found
}
