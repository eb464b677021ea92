package users

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/edgesec/edgesec/internal/lines"
)

// Limits that keep the parsers' memory bounded whatever the input.
const (
	// MaxLineBytes is the longest line (newline included) the parsers
	// accept; longer lines are skipped and counted in a [ParseError].
	MaxLineBytes = 64 << 10
	// MaxEntries is the most entries a parser returns. Once it is reached
	// the parser stops parsing: the lines that follow are only counted (as
	// Excess in a [ParseError]), never parsed or kept, so a hostile file
	// (hundreds of thousands of accounts) costs the memory of MaxEntries
	// entries and no more. Ten thousand accounts are far more than an edge
	// device has, and already make a LocalUsers snapshot of about 2.5 MB.
	MaxEntries = 10000
	// maxMembers bounds the member list of one group (a 64 KiB line holds
	// at most 32768 one-letter names anyway).
	maxMembers = 32768
	// MaxKeptBytes bounds the bytes of the lines whose entries a parser
	// keeps (the strings it returns are parts of them): once reached, the
	// following entries are counted as Excess, as after MaxEntries. With
	// MaxEntries it bounds a parser's result to about 8 MiB whatever the
	// file holds (ten thousand ordinary accounts take under 1 MiB).
	MaxKeptBytes = 4 << 20
	// MaxMembers bounds the members of all groups together: beyond it the
	// members of further groups are dropped and counted (ExcessMembers in
	// a [ParseError]). Without it, MaxEntries groups of 32768 members
	// each would be a billion strings.
	MaxMembers = 5 * MaxEntries
)

// PasswordState classifies an account's password without revealing it.
type PasswordState string

// Password states. The parsers turn the password field into one of these
// and drop the field itself, so no hash ever leaves them.
const (
	// PasswordEmpty: the field is empty; whoever can reach a login prompt
	// logs in without a password.
	PasswordEmpty PasswordState = "empty"
	// PasswordLocked: the field starts with "!" or "*" (locked, or no
	// password ever set) or holds something no crypt(3) hash looks like
	// (such as "x" in /etc/shadow), so password logins are impossible.
	PasswordLocked PasswordState = "locked"
	// PasswordSet: the field holds a password hash ("$id$…", or a
	// 13-character traditional DES hash).
	PasswordSet PasswordState = "set"
	// PasswordShadowed: the passwd field is "x"; the state is in
	// /etc/shadow. Only [Account.Password] takes this value.
	PasswordShadowed PasswordState = "shadowed"
	// PasswordUnknown: the state could not be determined (shadow
	// unreadable, or no shadow entry for the account).
	PasswordUnknown PasswordState = "unknown"
)

// classifyPassword maps a password field of /etc/shadow (or of /etc/passwd
// for accounts without a shadow entry) to its state.
func classifyPassword(field []byte) PasswordState {
	switch {
	case len(field) == 0:
		return PasswordEmpty
	case field[0] == '$' || field[0] == '_' || isDESHash(field):
		return PasswordSet
	default:
		return PasswordLocked
	}
}

// isDESHash reports whether field has the form of a traditional crypt(3)
// DES hash: 13 characters of [./0-9A-Za-z].
func isDESHash(field []byte) bool {
	if len(field) != 13 {
		return false
	}
	for _, c := range field {
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// Account is one line of /etc/passwd.
type Account struct {
	Name string
	// Password is the state of the password field: PasswordShadowed for
	// "x" (the usual case), else the state of the hash stored in passwd
	// itself. The field's content is never kept.
	Password PasswordState
	UID      uint32
	GID      uint32 // primary group
	Gecos    string
	Home     string
	Shell    string // empty means /bin/sh
}

// Group is one line of /etc/group.
type Group struct {
	Name    string
	GID     uint32
	Members []string // supplementary members, in file order
}

// ShadowEntry is one line of /etc/shadow, without the password hash.
type ShadowEntry struct {
	Name     string
	Password PasswordState // PasswordEmpty, PasswordLocked or PasswordSet
	// LastChange is the date of the last password change in days since
	// 1970-01-01; 0 means the user must change it at next login, -1 that
	// the field is empty (aging disabled) or invalid.
	LastChange int64
	// Expire is the account expiration date in days since 1970-01-01, or
	// -1 when the account never expires (empty or invalid field).
	Expire int64
}

// ParseError reports what a parser skipped or dropped. The entries
// returned alongside it are valid; the error tells the operator that the
// file holds lines the collector did not understand.
type ParseError struct {
	File      string // "passwd", "group" or "shadow"
	Malformed int    // lines that are not valid entries
	TooLong   int    // lines longer than MaxLineBytes
	// Excess counts the entry lines after the first MaxEntries entries
	// (or MaxKeptBytes of them); they are counted, not parsed (some may be
	// malformed).
	Excess int
	// ExcessMembers counts group members dropped beyond MaxMembers (or
	// beyond 32768 in one group).
	ExcessMembers int
	// FirstLine and FirstReason describe the first malformed line.
	FirstLine   int
	FirstReason string
}

// Error implements error.
func (e *ParseError) Error() string {
	var parts []string
	if e.Malformed > 0 {
		parts = append(parts, fmt.Sprintf("%d malformed line(s) skipped (first: line %d: %s)", e.Malformed, e.FirstLine, e.FirstReason))
	}
	if e.TooLong > 0 {
		parts = append(parts, fmt.Sprintf("%d line(s) longer than %d bytes skipped", e.TooLong, MaxLineBytes))
	}
	if e.Excess > 0 {
		parts = append(parts, fmt.Sprintf("%d entries beyond the limits of %d entries and %d MiB dropped", e.Excess, MaxEntries, MaxKeptBytes>>20))
	}
	if e.ExcessMembers > 0 {
		parts = append(parts, fmt.Sprintf("%d group members beyond the limit of %d dropped", e.ExcessMembers, MaxMembers))
	}
	return e.File + ": " + strings.Join(parts, "; ")
}

func (e *ParseError) malformed(line int, format string, args ...any) {
	if e.Malformed == 0 {
		e.FirstLine = line
		e.FirstReason = fmt.Sprintf(format, args...)
	}
	e.Malformed++
}

// result returns the error to hand back: nil when nothing was skipped,
// the ParseError and/or the read error otherwise.
func (e *ParseError) result(l *lines.Reader) error {
	e.TooLong = l.TooLong()
	var perr error
	if e.Malformed > 0 || e.TooLong > 0 || e.Excess > 0 || e.ExcessMembers > 0 {
		perr = e
	}
	if l.Err() != nil {
		rerr := fmt.Errorf("%s: read: %w", e.File, l.Err())
		if perr == nil {
			return rerr
		}
		return fmt.Errorf("%w; %w", perr, rerr)
	}
	return perr
}

// skippable reports whether a line carries no entry: blank lines, comments
// and NIS compat entries ("+", "+name", "-name", "+@netgroup").
func skippable(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#' || t[0] == '+' || t[0] == '-'
}

// splitFields splits line at ':' into exactly n fields, reporting false
// when the count differs.
func splitFields(line []byte, n int, dst [][]byte) ([][]byte, bool) {
	dst = dst[:0]
	for len(dst) < n-1 {
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			return dst, false
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
	if bytes.IndexByte(line, ':') >= 0 {
		return dst, false
	}
	return append(dst, line), true
}

func parseID(field []byte) (uint32, bool) {
	if len(field) == 0 || len(field) > 10 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(field), 10, 32)
	return uint32(v), err == nil
}

func validName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// ParsePasswd parses passwd(5) lines from r. It skips blank lines,
// comments and NIS "+"/"-" entries, skips and counts malformed lines
// (not seven fields, empty or blank-containing name, non-numeric uid or
// gid) and lines longer than MaxLineBytes, and keeps at most MaxEntries
// accounts (the lines after those are counted, not parsed). It reads r
// line by line: its memory is that of the accounts it returns plus one
// line. It returns the accounts it could parse and, when anything was
// skipped or reading failed, an error (a *ParseError, possibly joined with
// the read error).
func ParsePasswd(r io.Reader) ([]Account, error) {
	l := lines.NewReader(r, MaxLineBytes)
	perr := &ParseError{File: "passwd"}
	kept := 0 // bytes of the lines whose entries are kept
	var out []Account
	var f [][]byte
	for l.Next() {
		if skippable(l.Line()) {
			continue
		}
		if len(out) >= MaxEntries || kept >= MaxKeptBytes {
			perr.Excess++ // counted, not parsed: memory stays within the limits
			continue
		}
		var ok bool
		f, ok = splitFields(l.Line(), 7, f)
		if !ok {
			perr.malformed(l.Num(), "want 7 fields")
			continue
		}
		if !validName(f[0]) {
			perr.malformed(l.Num(), "invalid user name")
			continue
		}
		uid, ok := parseID(f[2])
		if !ok {
			perr.malformed(l.Num(), "invalid uid")
			continue
		}
		gid, ok := parseID(f[3])
		if !ok {
			perr.malformed(l.Num(), "invalid gid")
			continue
		}
		pw := PasswordShadowed
		if string(f[1]) != "x" {
			pw = classifyPassword(f[1])
		}
		kept += len(l.Line())
		out = append(out, Account{
			Name:     string(f[0]),
			Password: pw,
			UID:      uid,
			GID:      gid,
			Gecos:    string(f[4]),
			Home:     string(f[5]),
			Shell:    string(f[6]),
		})
	}
	return out, perr.result(l)
}

// ParseGroup parses group(5) lines from r, with the same tolerance and
// limits as [ParsePasswd]. Members are trimmed of blanks; empty members
// are dropped, at most 32768 are kept per group and MaxMembers in all.
func ParseGroup(r io.Reader) ([]Group, error) {
	l := lines.NewReader(r, MaxLineBytes)
	perr := &ParseError{File: "group"}
	kept := 0 // bytes of the lines whose entries are kept
	var out []Group
	var f [][]byte
	members := 0
	for l.Next() {
		if skippable(l.Line()) {
			continue
		}
		if len(out) >= MaxEntries || kept >= MaxKeptBytes {
			perr.Excess++ // counted, not parsed: memory stays within the limits
			continue
		}
		var ok bool
		f, ok = splitFields(l.Line(), 4, f)
		if !ok {
			perr.malformed(l.Num(), "want 4 fields")
			continue
		}
		if !validName(f[0]) {
			perr.malformed(l.Num(), "invalid group name")
			continue
		}
		gid, ok := parseID(f[2])
		if !ok {
			perr.malformed(l.Num(), "invalid gid")
			continue
		}
		g := Group{Name: string(f[0]), GID: gid}
		for m := range bytes.SplitSeq(f[3], []byte{','}) {
			m = bytes.TrimSpace(m)
			if len(m) == 0 {
				continue
			}
			if len(g.Members) >= maxMembers || members >= MaxMembers {
				perr.ExcessMembers++
				continue
			}
			members++
			g.Members = append(g.Members, string(m))
		}
		kept += len(l.Line())
		out = append(out, g)
	}
	return out, perr.result(l)
}

// ParseShadow parses shadow(5) lines from r, with the same tolerance and
// limits as [ParsePasswd]. A line needs a name and a password field and at
// most nine fields (shorter lines, as some tools write them, are
// accepted). The password hash is classified and dropped at once: it is
// never returned.
func ParseShadow(r io.Reader) ([]ShadowEntry, error) {
	l := lines.NewReader(r, MaxLineBytes)
	perr := &ParseError{File: "shadow"}
	kept := 0 // bytes of the lines whose entries are kept
	var out []ShadowEntry
	for l.Next() {
		if skippable(l.Line()) {
			continue
		}
		if len(out) >= MaxEntries || kept >= MaxKeptBytes {
			perr.Excess++ // counted, not parsed: memory stays within the limits
			continue
		}
		n := bytes.Count(l.Line(), []byte{':'}) + 1
		if n < 2 || n > 9 {
			perr.malformed(l.Num(), "want 2 to 9 fields")
			continue
		}
		var f [9][]byte
		rest := l.Line()
		for i := 0; i < n; i++ {
			j := bytes.IndexByte(rest, ':')
			if j < 0 {
				f[i] = rest
				break
			}
			f[i], rest = rest[:j], rest[j+1:]
		}
		if !validName(f[0]) {
			perr.malformed(l.Num(), "invalid user name")
			continue
		}
		kept += len(l.Line())
		out = append(out, ShadowEntry{
			Name:       string(f[0]),
			Password:   classifyPassword(f[1]),
			LastChange: parseDays(f[2]),
			Expire:     parseDays(f[7]),
		})
	}
	return out, perr.result(l)
}

// parseDays parses a day count of shadow(5); empty or invalid gives -1.
func parseDays(field []byte) int64 {
	if len(field) == 0 || len(field) > 12 {
		return -1
	}
	v, err := strconv.ParseInt(string(field), 10, 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
}
