package kernel

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/edgesec/edgesec/twinconfig"
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
		if err := checkPrefix(p.Prefix); err != nil {
			return nil, fmt.Errorf("kernel: watched path: %w", err)
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

// ParseWatchedPaths parses the value of the kernelWatchedPaths
// configuration key (twinconfig.Config.KernelWatchedPaths): a JSON array
// whose elements are "defaults", which stands for defaults, or objects
// {"prefix": "/opt/app/secrets/", "ops": "read|write"} (ops may also be an
// array of operation names). "" (null, [] or ["defaults"] in a document)
// is defaults. A prefix given twice counts once, with the union of its
// operations, and keeps its first place. It returns an error when the
// value is not of that form, a prefix is not an absolute path of at most
// MaxWatchedPrefix bytes, an operation is unknown, or the list has more
// than MaxWatchedPaths prefixes once expanded and merged.
func ParseWatchedPaths(s string, defaults []WatchedPath) ([]WatchedPath, error) {
	entries, err := twinconfig.ParseWatchedPaths(s)
	if err != nil {
		return nil, fmt.Errorf("kernel: watched paths: %w", err)
	}
	if len(entries) == 0 {
		return append([]WatchedPath(nil), defaults...), nil
	}
	var out []WatchedPath
	index := make(map[string]int)
	add := func(p WatchedPath) {
		if i, ok := index[p.Prefix]; ok {
			out[i].Ops |= p.Ops
			return
		}
		index[p.Prefix] = len(out)
		out = append(out, p)
	}
	withDefaults := false
	for i, e := range entries {
		if e.Defaults {
			withDefaults = true
			for _, p := range defaults {
				add(p)
			}
			continue
		}
		if err := checkPrefix(e.Prefix); err != nil {
			return nil, fmt.Errorf("kernel: watched paths: element %d: %w", i, err)
		}
		var ops Op
		for _, name := range e.Ops {
			o, err := ParseOp(name)
			if err != nil {
				return nil, fmt.Errorf("kernel: watched paths: element %d (%q): %w", i, e.Prefix, err)
			}
			ops |= o
		}
		add(WatchedPath{Prefix: e.Prefix, Ops: ops})
	}
	if len(out) > MaxWatchedPaths {
		if withDefaults {
			return nil, fmt.Errorf("kernel: watched paths: %d prefixes with the %d of \"defaults\", at most %d", len(out), len(defaults), MaxWatchedPaths)
		}
		return nil, fmt.Errorf("kernel: watched paths: %d prefixes, at most %d", len(out), MaxWatchedPaths)
	}
	return out, nil
}

// checkPrefix accepts an absolute path of at most MaxWatchedPrefix bytes
// without NUL bytes.
func checkPrefix(p string) error {
	if !strings.HasPrefix(p, "/") || len(p) > MaxWatchedPrefix || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("prefix %q: want an absolute path of at most %d bytes", p, MaxWatchedPrefix)
	}
	return nil
}

// FormatWatchedPaths writes paths as a kernelWatchedPaths value: the
// compact JSON array of {"prefix", "ops"} objects, or ["defaults"] when
// paths are defaults.
func FormatWatchedPaths(paths, defaults []WatchedPath) string {
	if slices.Equal(paths, defaults) {
		return `["` + twinconfig.WatchedPathsDefaults + `"]`
	}
	type entry struct {
		Prefix string `json:"prefix"`
		Ops    string `json:"ops"`
	}
	list := make([]entry, len(paths))
	for i, p := range paths {
		list[i] = entry{p.Prefix, p.Ops.String()}
	}
	b, err := json.Marshal(list)
	if err != nil { // strings and a slice of them: cannot happen
		return fmt.Sprint(paths)
	}
	return string(b)
}
