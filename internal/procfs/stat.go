package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrFormat is wrapped by every parse error of this package.
var ErrFormat = errors.New("procfs: malformed input")

// ClockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. The
// kernel exports 100 to user space on every architecture Linux edge devices
// use (arm, arm64, x86, riscv, mips).
const ClockTicks = 100

// MaxCommBytes is the longest comm the kernel keeps (TASK_COMM_LEN - 1).
const MaxCommBytes = 15

// Stat is the part of /proc/<pid>/stat edgesec uses.
type Stat struct {
	PID   int
	Comm  string // the command name, up to 15 bytes, valid UTF-8
	State byte   // R, S, D, Z, T, t, X, I …
	PPID  int
	// StartTime is when the process started, in clock ticks
	// ([ClockTicks]) since boot. (PID, StartTime) identifies a process
	// across pid reuse.
	StartTime uint64
}

// ParseStat parses the contents of /proc/<pid>/stat. The command name is
// between the first "(" and the last ")", so a comm holding spaces or
// parentheses is handled.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return s, fmt.Errorf("%w: stat: no (comm)", ErrFormat)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid < 0 {
		return s, fmt.Errorf("%w: stat: bad pid %q", ErrFormat, clip(b[:open]))
	}
	s.PID = pid
	s.Comm = validString(b[open+1 : closing])
	// Fields after comm, 1-based from field 3 (state).
	rest := bytes.Fields(b[closing+1:])
	// state(3) ppid(4) … starttime(22): index 0 is field 3.
	if len(rest) < 20 {
		return s, fmt.Errorf("%w: stat: %d fields after comm, want at least 20", ErrFormat, len(rest))
	}
	if len(rest[0]) != 1 {
		return s, fmt.Errorf("%w: stat: bad state %q", ErrFormat, clip(rest[0]))
	}
	s.State = rest[0][0]
	ppid, err := strconv.Atoi(string(rest[1]))
	if err != nil || ppid < 0 {
		return s, fmt.Errorf("%w: stat: bad ppid %q", ErrFormat, clip(rest[1]))
	}
	s.PPID = ppid
	st, err := strconv.ParseUint(string(rest[19]), 10, 64)
	if err != nil {
		return s, fmt.Errorf("%w: stat: bad starttime %q", ErrFormat, clip(rest[19]))
	}
	s.StartTime = st
	return s, nil
}

// Status is the part of /proc/<pid>/status edgesec uses.
type Status struct {
	Name string // comm, with the kernel's escaping of "\n" and "\\" undone
	TGID int
	PID  int
	PPID int
	// UID and GID are the real, effective, saved and filesystem ids.
	UID [4]uint32
	GID [4]uint32
}

// RealUID returns the real user id.
func (s Status) RealUID() uint32 { return s.UID[0] }

// EffectiveUID returns the effective user id.
func (s Status) EffectiveUID() uint32 { return s.UID[1] }

// ParseStatus parses the contents of /proc/<pid>/status. Pid, PPid, Uid and
// Gid lines are required; unknown lines are ignored.
func ParseStatus(b []byte) (Status, error) {
	var s Status
	const need = 1<<0 | 1<<1 | 1<<2 | 1<<3
	have := 0
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		var err error
		switch string(k) {
		case "Name":
			s.Name = unescapeStatusName(v)
		case "Tgid":
			s.TGID, err = atoiNonNeg(v)
		case "Pid":
			s.PID, err = atoiNonNeg(v)
			have |= 1 << 0
		case "PPid":
			s.PPID, err = atoiNonNeg(v)
			have |= 1 << 1
		case "Uid":
			s.UID, err = parseIDs(v)
			have |= 1 << 2
		case "Gid":
			s.GID, err = parseIDs(v)
			have |= 1 << 3
		}
		if err != nil {
			return s, fmt.Errorf("%w: status: %s: %w", ErrFormat, k, err)
		}
	}
	if have != need {
		return s, fmt.Errorf("%w: status: missing Pid, PPid, Uid or Gid", ErrFormat)
	}
	return s, nil
}

func atoiNonNeg(v []byte) (int, error) {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("bad number %q", clip(v))
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number %d", n)
	}
	return n, nil
}

func parseIDs(v []byte) ([4]uint32, error) {
	var ids [4]uint32
	f := bytes.Fields(v)
	if len(f) != 4 {
		return ids, fmt.Errorf("want 4 ids, got %d", len(f))
	}
	for i := range f {
		n, err := strconv.ParseUint(string(f[i]), 10, 32)
		if err != nil {
			return ids, fmt.Errorf("bad id %q", clip(f[i]))
		}
		ids[i] = uint32(n)
	}
	return ids, nil
}

// unescapeStatusName undoes the kernel's escaping of the Name line
// ("\n" for a newline, "\\" for a backslash) and returns valid UTF-8.
func unescapeStatusName(v []byte) string {
	if bytes.IndexByte(v, '\\') < 0 {
		return validString(v)
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case 'n':
				out = append(out, '\n')
				i++
				continue
			case '\\':
				out = append(out, '\\')
				i++
				continue
			}
		}
		out = append(out, v[i])
	}
	return validString(out)
}

// validString returns b as a string of valid UTF-8, replacing invalid
// bytes by U+FFFD.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// clip shortens b for an error message.
func clip(b []byte) string {
	const max = 32
	if len(b) > max {
		b = b[:max]
	}
	return validString(b)
}
