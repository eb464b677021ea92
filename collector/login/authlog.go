package login

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AuthKind is what an authentication log line says.
type AuthKind int

// The kinds of lines [ParseAuthLine] recognises.
const (
	// AuthFailed is sshd's "Failed <method> for [invalid user ]<user> from <ip> port <n> ssh2".
	AuthFailed AuthKind = iota + 1
	// AuthAccepted is sshd's "Accepted <method> for <user> from <ip> port <n> ssh2".
	AuthAccepted
	// AuthInvalidUser is sshd's "Invalid user <user> from <ip> [port <n>]".
	AuthInvalidUser
	// AuthPAMFailure is a PAM module's "<module>(<service>:auth): authentication failure; ... rhost=<host> user=<user>".
	AuthPAMFailure
)

// String names the kind.
func (k AuthKind) String() string {
	switch k {
	case AuthFailed:
		return "Failed"
	case AuthAccepted:
		return "Accepted"
	case AuthInvalidUser:
		return "InvalidUser"
	case AuthPAMFailure:
		return "PAMFailure"
	}
	return "AuthKind(" + strconv.Itoa(int(k)) + ")"
}

// AuthEvent is one authentication fact from a syslog line of
// /var/log/auth.log or /var/log/secure.
type AuthEvent struct {
	Kind        AuthKind
	Time        time.Time  // from the syslog header
	Host        string     // the syslog host name
	Program     string     // the syslog tag, e.g. "sshd", "sshd-session", "login"
	PID         int        // the tag's [pid], 0 when absent
	Method      string     // sshd's method ("password", "publickey", ...); PAM: the module ("pam_unix")
	Service     string     // the PAM service (PAM failures only), e.g. "sshd", "login", "sudo"
	User        string     // the user name tried; may be empty for PAM failures
	InvalidUser bool       // sshd said the user does not exist
	Addr        netip.Addr // the remote address; invalid when not given or not an IP literal
	RemoteHost  string     // PAM's rhost when it is a host name rather than an address
	Port        int        // the remote port, 0 when not given
	TTY         string     // PAM's tty
	Repeat      int        // how many times the line stands for ("message repeated N times"), at least 1
}

// MaxAuthLine is the longest auth log line the collector parses; longer
// lines are skipped.
const MaxAuthLine = 8 << 10

var months = map[string]time.Month{
	"Jan": time.January, "Feb": time.February, "Mar": time.March, "Apr": time.April,
	"May": time.May, "Jun": time.June, "Jul": time.July, "Aug": time.August,
	"Sep": time.September, "Oct": time.October, "Nov": time.November, "Dec": time.December,
}

// ParseAuthLine parses one syslog line (without its newline) of an
// authentication log, in the traditional format ("Mar  3 10:00:01 host
// sshd[123]: msg", whose year and zone are taken from ref: the year of ref,
// or the year before when that would put the line more than a day after
// ref) or the RFC 3339 format of rsyslog's high-precision template
// ("2024-03-03T10:00:01.123456+00:00 host sshd[123]: msg"). It reports
// false for lines that are not one of the [AuthKind] facts.
func ParseAuthLine(line []byte, ref time.Time) (AuthEvent, bool) {
	if len(line) > MaxAuthLine || !utf8.Valid(line) {
		return AuthEvent{}, false
	}
	s := string(line)
	var ev AuthEvent
	var ok bool
	ev.Time, s, ok = parseStamp(s, ref)
	if !ok {
		return AuthEvent{}, false
	}
	// host
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return AuthEvent{}, false
	}
	ev.Host, s = s[:i], s[i+1:]
	// tag[pid]:
	i = strings.Index(s, ": ")
	if i <= 0 {
		return AuthEvent{}, false
	}
	tag, msg := s[:i], s[i+2:]
	if j := strings.IndexByte(tag, '['); j > 0 && strings.HasSuffix(tag, "]") {
		pid, err := strconv.Atoi(tag[j+1 : len(tag)-1])
		if err != nil || pid < 0 {
			return AuthEvent{}, false
		}
		ev.PID, tag = pid, tag[:j]
	}
	if tag == "" || strings.ContainsAny(tag, " \t") {
		return AuthEvent{}, false
	}
	ev.Program = tag
	ev.Repeat = 1
	// rsyslog's "message repeated 3 times: [ Failed password ...]"
	if rest, ok := strings.CutPrefix(msg, "message repeated "); ok {
		n, after, ok := strings.Cut(rest, " times: [ ")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 1 || !strings.HasSuffix(after, "]") {
			return AuthEvent{}, false
		}
		ev.Repeat = count
		msg = strings.TrimSpace(strings.TrimSuffix(after, "]"))
	}
	if parseMessage(&ev, msg) {
		return ev, true
	}
	return AuthEvent{}, false
}

// parseStamp parses the syslog time stamp at the start of s and returns
// the rest after the following space.
func parseStamp(s string, ref time.Time) (time.Time, string, bool) {
	if len(s) >= 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' && s[12] == ':' && s[15] == ' ' {
		mon, ok := months[s[:3]]
		if !ok {
			return time.Time{}, "", false
		}
		day, err := strconv.Atoi(strings.TrimLeft(s[4:6], " "))
		if err != nil || day < 1 || day > 31 {
			return time.Time{}, "", false
		}
		hh, err1 := strconv.Atoi(s[7:9])
		mm, err2 := strconv.Atoi(s[10:12])
		ss, err3 := strconv.Atoi(s[13:15])
		if err1 != nil || err2 != nil || err3 != nil || hh > 23 || mm > 59 || ss > 60 {
			return time.Time{}, "", false
		}
		loc := ref.Location()
		t := time.Date(ref.Year(), mon, day, hh, mm, ss, 0, loc)
		if t.After(ref.Add(24 * time.Hour)) {
			t = time.Date(ref.Year()-1, mon, day, hh, mm, ss, 0, loc)
		}
		return t, s[16:], true
	}
	i := strings.IndexByte(s, ' ')
	if i < 19 {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, s[:i])
	if err != nil {
		return time.Time{}, "", false
	}
	return t, s[i+1:], true
}

func parseMessage(ev *AuthEvent, msg string) bool {
	switch {
	case strings.HasPrefix(msg, "Failed "), strings.HasPrefix(msg, "Accepted "):
		ev.Kind = AuthFailed
		rest := strings.TrimPrefix(msg, "Failed ")
		if strings.HasPrefix(msg, "Accepted ") {
			ev.Kind = AuthAccepted
			rest = strings.TrimPrefix(msg, "Accepted ")
		}
		method, rest, ok := strings.Cut(rest, " for ")
		if !ok || method == "" || strings.ContainsRune(method, ' ') {
			return false
		}
		ev.Method = method
		if u, ok := strings.CutPrefix(rest, "invalid user "); ok {
			ev.InvalidUser, rest = true, u
		}
		return userFrom(ev, rest, true)
	case strings.HasPrefix(msg, "Invalid user "):
		ev.Kind = AuthInvalidUser
		ev.InvalidUser = true
		return userFrom(ev, strings.TrimPrefix(msg, "Invalid user "), false)
	case strings.Contains(msg, ":auth): authentication failure;"):
		return parsePAM(ev, msg)
	}
	return false
}

// userFrom parses "<user> from <ip>[ port <n>][ ...]"; the user name is
// everything before the last " from " followed by an address, so that
// an attacker-chosen name containing " from " does not shift the fields.
func userFrom(ev *AuthEvent, s string, needPort bool) bool {
	end := len(s)
	for end > 0 {
		i := strings.LastIndex(s[:end], " from ")
		if i < 0 {
			return false
		}
		after := s[i+len(" from "):]
		f := strings.Fields(after)
		if len(f) == 0 {
			end = i
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			end = i
			continue
		}
		port := 0
		if len(f) >= 2 && f[1] == "port" {
			if len(f) < 3 {
				return false
			}
			p, err := strconv.Atoi(f[2])
			if err != nil || p < 0 || p > 65535 {
				return false
			}
			port = p
		} else if needPort {
			end = i
			continue
		}
		ev.User = s[:i]
		ev.Addr = a.WithZone("").Unmap()
		ev.Port = port
		return true
	}
	return false
}

// parsePAM parses "pam_unix(sshd:auth): authentication failure; logname=
// uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root".
func parsePAM(ev *AuthEvent, msg string) bool {
	head, kv, _ := strings.Cut(msg, ": authentication failure;")
	open := strings.IndexByte(head, '(')
	if open <= 0 || !strings.HasSuffix(head, ":auth)") {
		return false
	}
	ev.Kind = AuthPAMFailure
	ev.Method = head[:open]
	ev.Service = head[open+1 : len(head)-len(":auth)")]
	if ev.Service == "" || strings.ContainsAny(ev.Method+ev.Service, " ()") {
		return false
	}
	// The values are not quoted; user= is last and may hold spaces.
	if i := strings.Index(kv, " user="); i >= 0 {
		ev.User = strings.TrimSpace(kv[i+len(" user="):])
		kv = kv[:i]
	}
	for _, f := range strings.Fields(kv) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "rhost":
			if a, err := netip.ParseAddr(v); err == nil {
				ev.Addr = a.WithZone("").Unmap()
			} else {
				ev.RemoteHost = v
			}
		case "tty":
			ev.TTY = v
		}
	}
	return true
}

// splitLines calls f for every complete line of data (ending in "\n") and
// returns how many bytes they took; a trailing partial line is left for
// the next read. Lines longer than MaxAuthLine are passed too (the parser
// rejects them).
func splitLines(data []byte, f func(line []byte)) int {
	used := 0
	for {
		i := bytes.IndexByte(data[used:], '\n')
		if i < 0 {
			return used
		}
		line := data[used : used+i]
		f(bytes.TrimSuffix(line, []byte{'\r'}))
		used += i + 1
	}
}
