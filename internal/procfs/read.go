package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Read limits for the small /proc files. stat is at most ~1 KiB (comm is
// bounded); status grows with the number of supplementary groups and
// cpu/mem lists, 16 KiB covers them; cgroup is one line per hierarchy.
const (
	maxStatBytes   = 4 << 10
	maxStatusBytes = 16 << 10
	maxCgroupBytes = 16 << 10
)

// Process is what edgesec knows about a running process.
type Process struct {
	PID  int
	PPID int
	// Comm is the kernel's command name (up to 15 bytes).
	Comm string
	// Exe is the path of the executable (the /proc/<pid>/exe link). It is
	// empty for kernel threads and when the link could not be read (see
	// Partial). A " (deleted)" suffix the kernel adds when the file was
	// removed is stripped and reported in ExeDeleted.
	Exe        string
	ExeDeleted bool
	// Cmdline is the command line, arguments joined with spaces, cut at
	// the cap given to ReadProcess; CmdlineTruncated says it was cut.
	Cmdline          string
	CmdlineTruncated bool
	// UID and EUID are the real and effective user ids; GID the real
	// group id.
	UID, EUID, GID uint32
	// StartTime is the start time in clock ticks since boot.
	StartTime uint64
	State     byte
	// ContainerID is the container the process runs in, from its cgroup
	// ("" on the host); ContainerRuntime names the runtime when known.
	ContainerID      string
	ContainerRuntime string
	// Partial is set when some of the files could not be read (the process
	// exited while being read, or a privilege was missing), and when the
	// command line of a process other than a kernel thread is empty: the
	// kernel shows none while a process exits (its memory is gone) and
	// between the point of no return of an exec and the new program's
	// arguments being set up. The fields from the files that were read
	// are valid.
	Partial bool
}

// Dir returns the /proc directory of pid under root.
func Dir(root string, pid int) string {
	return filepath.Join(root, "proc", strconv.Itoa(pid))
}

// ReadProcess reads pid's stat, status, cmdline (capped at maxCmdline
// bytes; 0 means [DefaultMaxCmdline]), exe and cgroup under root. It
// returns an error wrapping fs.ErrNotExist when the process does not exist
// (any more); other unreadable files only set Process.Partial.
func ReadProcess(root string, pid int, maxCmdline int) (Process, error) {
	return ReadProcessWith(root, pid, ReadOptions{MaxCmdline: maxCmdline})
}

// ReadOptions tune [ReadProcessWith] for hot paths.
type ReadOptions struct {
	// MaxCmdline caps the command line (0: [DefaultMaxCmdline]).
	MaxCmdline int
	// SkipStat skips /proc/<pid>/stat: StartTime and State stay zero and
	// PID, PPID and Comm come from status. One file less per process.
	SkipStat bool
	// SkipCgroup skips /proc/<pid>/cgroup (the caller knows the
	// container, for example from the parent).
	SkipCgroup bool
}

// ReadProcessWith is [ReadProcess] with options. It is safe for
// concurrent use; a hot path reading many processes saves the path lookup
// of /proc with its own [Reader].
func ReadProcessWith(root string, pid int, o ReadOptions) (Process, error) {
	r := pooledReader(root)
	defer putReader(r)
	return r.Read(pid, o)
}

// isKernelThread reports whether p looks like a kernel thread (kthreadd
// and its children have no executable and no command line).
func isKernelThread(p Process) bool {
	return p.PID == 2 || p.PPID == 2
}

// ReadStat reads and parses /proc/<pid>/stat under root.
func ReadStat(root string, pid int) (Stat, error) {
	return readStatDir(Dir(root, pid))
}

func readStatDir(dir string) (Stat, error) {
	b, err := readLimited(filepath.Join(dir, "stat"), maxStatBytes)
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return st, fmt.Errorf("%s: %w", dir, err)
	}
	return st, nil
}

// ReadStatus reads and parses /proc/<pid>/status under root.
func ReadStatus(root string, pid int) (Status, error) {
	b, err := readLimited(filepath.Join(Dir(root, pid), "status"), maxStatusBytes)
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}

// ReadCmdline reads pid's command line under root, at most max bytes
// (max <= 0 means [DefaultMaxCmdline]); see [ParseCmdline].
func ReadCmdline(root string, pid int, max int) (cmdline string, truncated bool, err error) {
	if max <= 0 {
		max = DefaultMaxCmdline
	}
	b, err := readLimited(filepath.Join(Dir(root, pid), "cmdline"), max+1)
	if err != nil {
		return "", false, err
	}
	cmdline, truncated = ParseCmdline(b, max)
	return cmdline, truncated, nil
}

// ReadCgroup reads /proc/<pid>/cgroup under root (bounded).
func ReadCgroup(root string, pid int) ([]byte, error) {
	return readLimited(filepath.Join(Dir(root, pid), "cgroup"), maxCgroupBytes)
}

// ReadComm reads /proc/<pid>/comm under root.
func ReadComm(root string, pid int) (string, error) {
	b, err := readLimited(filepath.Join(Dir(root, pid), "comm"), 64)
	if err != nil {
		return "", err
	}
	return validString(bytes.TrimSuffix(b, []byte{'\n'})), nil
}

// ReadExe reads the /proc/<pid>/exe link under root. The link target is a
// path in the process's mount namespace (for a container process, inside
// its root filesystem), which is what an analyst wants to see. deleted
// reports the kernel's " (deleted)" mark, which is stripped.
func ReadExe(root string, pid int) (exe string, deleted bool, err error) {
	exe, err = os.Readlink(filepath.Join(Dir(root, pid), "exe"))
	if err != nil {
		return "", false, err
	}
	if s, ok := strings.CutSuffix(exe, " (deleted)"); ok {
		return validStringS(s), true, nil
	}
	return validStringS(exe), false, nil
}

func validStringS(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// ListPIDs returns the pids of the processes (thread group leaders) under
// root's /proc, in directory order.
func ListPIDs(root string) ([]int, error) {
	f, err := os.Open(filepath.Join(root, "proc"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pids []int
	for {
		names, err := f.Readdirnames(512)
		for _, n := range names {
			if n == "" || n[0] < '0' || n[0] > '9' {
				continue
			}
			if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		if errors.Is(err, io.EOF) {
			return pids, nil
		}
		if err != nil {
			return pids, err
		}
	}
}

// BootTime reads the boot time (the btime line of /proc/stat) under root.
// A process started StartTime ticks after boot started at
// BootTime + StartTime/ClockTicks seconds.
func BootTime(root string) (time.Time, error) {
	b, err := readLimited(filepath.Join(root, "proc", "stat"), 1<<20)
	if err != nil {
		return time.Time{}, err
	}
	return ParseBootTime(b)
}

// ParseBootTime finds the btime line of /proc/stat.
func ParseBootTime(b []byte) (time.Time, error) {
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil || n <= 0 {
				return time.Time{}, fmt.Errorf("%w: stat: bad btime %q", ErrFormat, clip(v))
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: stat: no btime line", ErrFormat)
}

// StartedAt converts a start time in clock ticks since boot to wall time.
func StartedAt(boot time.Time, ticks uint64) time.Time {
	return boot.Add(time.Duration(ticks) * (time.Second / ClockTicks))
}

// readLimited reads at most max bytes of a file. /proc files do not report
// a size, so it reads into a growing buffer up to the limit.
func readLimited(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 512
	if max < size {
		size = max
	}
	buf := make([]byte, 0, size)
	for len(buf) < max {
		if len(buf) == cap(buf) {
			n := min(2*cap(buf), max)
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			// ESRCH on a process that just exited, for example.
			if errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if n == 0 {
			return buf, nil
		}
	}
	return buf, nil
}
