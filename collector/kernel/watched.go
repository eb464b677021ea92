package kernel

import (
	"fmt"
	"strings"
)

// Op is a set of file operations reported under a watched path prefix.
type Op uint32

// Operations (enum op in bpf/events.c).
const (
	// OpRead reports opens for reading.
	OpRead Op = 1 << 0
	// OpWrite reports opens for writing (write, read-write, create or
	// truncate flags) and creat(2).
	OpWrite Op = 1 << 1
	// OpDelete reports unlink, and rename from or over the path.
	OpDelete Op = 1 << 2
	// OpTruncate reports truncate(2) and opens with O_TRUNC.
	OpTruncate Op = 1 << 3
	// OpLink reports hard and symbolic links from or to the path.
	OpLink Op = 1 << 4
)

// opNames are the names of the operations, in bit order.
var opNames = []string{"read", "write", "delete", "truncate", "link"}

// String returns the operations joined with "|": "read|write".
func (o Op) String() string {
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// ParseOp parses operations written as by [Op.String] ("read|write").
func ParseOp(s string) (Op, error) {
	var o Op
	for p := range strings.SplitSeq(s, "|") {
		found := false
		for i, n := range opNames {
			if strings.TrimSpace(p) == n {
				o |= 1 << i
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("kernel: unknown operation %q (want %s)", p, strings.Join(opNames, ", "))
		}
	}
	return o, nil
}

// WatchedPath is a path prefix whose operations Ops are reported as
// KernelActivity events. The prefix is compared byte for byte with the
// absolute path a system call is given ("/etc/" matches "/etc/passwd";
// "/etc/shadow" matches "/etc/shadow-" too). Relative paths are not
// matched.
type WatchedPath struct {
	Prefix string
	Ops    Op
}

// Limits of the watched paths the kernel program compares.
const (
	MaxWatchedPaths  = 32
	MaxWatchedPrefix = 64
)

// DefaultWatchedPaths are the sensitive files of a Linux device: secrets
// read or changed, configuration and binaries written or replaced, logs
// and shell history removed or truncated.
var DefaultWatchedPaths = []WatchedPath{
	{"/etc/shadow", OpRead | OpWrite | OpDelete | OpTruncate | OpLink},
	{"/etc/gshadow", OpRead | OpWrite | OpDelete | OpTruncate | OpLink},
	{"/etc/sudoers", OpRead | OpWrite | OpDelete | OpTruncate | OpLink},
	{"/etc/ssh/ssh_host_", OpRead | OpWrite | OpDelete | OpLink},
	{"/root/.ssh/", OpRead | OpWrite | OpDelete | OpTruncate | OpLink},
	{"/etc/aziot/", OpRead | OpWrite | OpDelete | OpLink},
	{"/etc/", OpWrite | OpDelete | OpTruncate | OpLink},
	{"/usr/bin/", OpWrite | OpDelete | OpLink},
	{"/usr/sbin/", OpWrite | OpDelete | OpLink},
	{"/usr/local/bin/", OpWrite | OpDelete | OpLink},
	{"/usr/local/sbin/", OpWrite | OpDelete | OpLink},
	{"/bin/", OpWrite | OpDelete | OpLink},
	{"/sbin/", OpWrite | OpDelete | OpLink},
	{"/usr/lib/systemd/", OpWrite | OpDelete | OpLink},
	{"/var/log/", OpDelete | OpTruncate | OpLink},
	{"/root/.bash_history", OpDelete | OpTruncate | OpLink},
	{"/root/.ash_history", OpDelete | OpTruncate | OpLink},
}

// watchedEntry is the value of the watched map (struct watched_prefix).
type watchedEntry struct {
	Len    uint32
	Ops    uint32
	Prefix [MaxWatchedPrefix]byte
}

// watchedEntries checks paths and returns the map values.
func watchedEntries(paths []WatchedPath) ([]watchedEntry, error) {
	if len(paths) > MaxWatchedPaths {
		return nil, fmt.Errorf("kernel: %d watched paths, at most %d", len(paths), MaxWatchedPaths)
	}
	out := make([]watchedEntry, 0, len(paths))
	for _, p := range paths {
		if !strings.HasPrefix(p.Prefix, "/") || len(p.Prefix) > MaxWatchedPrefix {
			return nil, fmt.Errorf("kernel: watched path %q: want an absolute path of at most %d bytes", p.Prefix, MaxWatchedPrefix)
		}
		if p.Ops == 0 || p.Ops >= 1<<len(opNames) {
			return nil, fmt.Errorf("kernel: watched path %q: operations %#x", p.Prefix, uint32(p.Ops))
		}
		e := watchedEntry{Len: uint32(len(p.Prefix)), Ops: uint32(p.Ops)}
		copy(e.Prefix[:], p.Prefix)
		out = append(out, e)
	}
	return out, nil
}
