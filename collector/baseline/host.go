package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/edgesec/edgesec/collector/users"
)

// WalkLimits bound the world-writable file search of one poll.
type WalkLimits struct {
	// MaxFiles is how many directory entries the walk may look at; zero
	// means DefaultWalkMaxFiles.
	MaxFiles int
	// MaxDuration is how long the walk may take; zero means
	// DefaultWalkMaxDuration.
	MaxDuration time.Duration
}

// Defaults of [WalkLimits]: far more than the system directories of an
// edge device hold (a Debian server has about 10,000 entries there).
const (
	DefaultWalkMaxFiles    = 200_000
	DefaultWalkMaxDuration = 20 * time.Second
)

// Host is what checks read the host through: its filesystem, plus the
// parsed files several checks share, read at most once per Host. A Host
// is used by one goroutine (one poll) at a time.
type Host struct {
	fsys   fs.FS
	ctx    context.Context
	limits WalkLimits

	cache map[string]cached
}

type cached struct {
	v   any
	err error
}

// NewHost returns a Host reading fsys. ctx bounds long checks (the
// file-system walk); limits bound the walk (zero values: the defaults).
func NewHost(ctx context.Context, fsys fs.FS, limits WalkLimits) *Host {
	if limits.MaxFiles <= 0 {
		limits.MaxFiles = DefaultWalkMaxFiles
	}
	if limits.MaxDuration <= 0 {
		limits.MaxDuration = DefaultWalkMaxDuration
	}
	return &Host{fsys: fsys, ctx: ctx, limits: limits, cache: map[string]cached{}}
}

// FS returns the host filesystem.
func (h *Host) FS() fs.FS { return h.fsys }

func memo[T any](h *Host, key string, load func() (T, error)) (T, error) {
	if c, ok := h.cache[key]; ok {
		v, _ := c.v.(T)
		return v, c.err
	}
	v, err := load()
	h.cache[key] = cached{v, err}
	return v, err
}

// ReadFile reads a host path ("/etc/passwd").
func (h *Host) ReadFile(p string) ([]byte, error) {
	b, err := fs.ReadFile(h.fsys, rel(p))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, &fs.PathError{Op: "read", Path: p, Err: ErrFileTooLarge}
	}
	return b, nil
}

// Stat stats a host path, following symbolic links.
func (h *Host) Stat(p string) (fs.FileInfo, error) { return fs.Stat(h.fsys, rel(p)) }

// Lstat stats a host path without following a final symbolic link.
func (h *Host) Lstat(p string) (fs.FileInfo, error) { return fs.Lstat(h.fsys, rel(p)) }

// Exists reports whether a host path exists (following links).
func (h *Host) Exists(p string) bool {
	_, err := h.Stat(p)
	return err == nil
}

// ReadDir lists a host directory; a missing directory is empty.
func (h *Host) ReadDir(p string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(h.fsys, rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

// Glob returns the host paths matching pattern, sorted.
func (h *Host) Glob(pattern string) []string {
	m, _ := fs.Glob(h.fsys, rel(pattern))
	for i := range m {
		m[i] = "/" + m[i]
	}
	return m
}

// Sysctl reads a kernel parameter ("net.ipv4.ip_forward") from
// <root>/proc/sys. The value is trimmed, with runs of white space (the
// separators of multi-valued parameters) turned into one space.
func (h *Host) Sysctl(name string) (string, error) {
	p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	b, err := h.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !h.Exists("/proc/sys/kernel") {
			return "", fmt.Errorf("read %s: %w (the host's /proc is not mounted under the host root)", p, err)
		}
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return strings.Join(strings.Fields(string(b)), " "), nil
}

// IPv6 reports whether the host kernel has IPv6 (its /proc/sys/net/ipv6).
func (h *Host) IPv6() bool { return h.Exists("/proc/sys/net/ipv6") }

// Mounts returns the parsed <root>/proc/mounts.
func (h *Host) Mounts() ([]Mount, error) {
	return memo(h, "mounts", func() ([]Mount, error) {
		b, err := h.ReadFile("/proc/mounts")
		if err != nil {
			return nil, err
		}
		return ParseMounts(b), nil
	})
}

// SSHD returns the host's sshd configuration; installed is false when
// the host has neither /etc/ssh/sshd_config nor an sshd binary. A host
// with the binary but no configuration file runs with the defaults (an
// empty configuration).
func (h *Host) SSHD() (cfg *SSHDConfig, installed bool, err error) {
	type sshd struct {
		cfg       *SSHDConfig
		installed bool
	}
	v, err := memo(h, "sshd", func() (sshd, error) {
		_, serr := h.Stat(SSHDConfigPath)
		if errors.Is(serr, fs.ErrNotExist) {
			for _, bin := range []string{"/usr/sbin/sshd", "/sbin/sshd", "/usr/bin/sshd", "/usr/local/sbin/sshd"} {
				if h.Exists(bin) {
					return sshd{&SSHDConfig{Global: map[string]SSHDValue{}}, true}, nil
				}
			}
			return sshd{nil, false}, nil
		}
		cfg, err := ReadSSHDConfig(h.fsys, SSHDConfigPath)
		return sshd{cfg, true}, err
	})
	return v.cfg, v.installed, err
}

// Passwd returns the accounts of /etc/passwd.
func (h *Host) Passwd() ([]users.Account, error) {
	return memo(h, "passwd", func() ([]users.Account, error) {
		b, err := h.ReadFile("/etc/passwd")
		if err != nil {
			return nil, err
		}
		a, err := users.ParsePasswd(bytes.NewReader(b))
		if a != nil {
			err = nil // skipped lines do not change what the checks see
		}
		return a, err
	})
}

// Groups returns the groups of /etc/group.
func (h *Host) Groups() ([]users.Group, error) {
	return memo(h, "group", func() ([]users.Group, error) {
		b, err := h.ReadFile("/etc/group")
		if err != nil {
			return nil, err
		}
		g, err := users.ParseGroup(bytes.NewReader(b))
		if g != nil {
			err = nil
		}
		return g, err
	})
}

// Shadow returns what the checks need of /etc/shadow (never the hashes).
func (h *Host) Shadow() ([]ShadowPassword, error) {
	return memo(h, "shadow", func() ([]ShadowPassword, error) {
		b, err := h.ReadFile("/etc/shadow")
		if err != nil {
			return nil, err
		}
		sp := ParseShadow(b)
		clear(b)
		return sp, nil
	})
}

// LoginDefs returns /etc/login.defs; ok is false when it does not exist.
func (h *Host) LoginDefs() (defs map[string]string, ok bool, err error) {
	type ld struct {
		m  map[string]string
		ok bool
	}
	v, err := memo(h, "login.defs", func() (ld, error) {
		b, err := h.ReadFile("/etc/login.defs")
		if errors.Is(err, fs.ErrNotExist) {
			return ld{nil, false}, nil
		}
		if err != nil {
			return ld{}, err
		}
		return ld{ParseLoginDefs(b), true}, nil
	})
	return v.m, v.ok, err
}

// groupName returns the name of gid from /etc/group, or its number.
func (h *Host) groupName(gid uint32) string {
	gs, _ := h.Groups()
	for _, g := range gs {
		if g.GID == gid {
			return g.Name
		}
	}
	return fmt.Sprint(gid)
}

// owner returns the uid and gid of fi; ok is false when the filesystem
// does not say.
func owner(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}

// unitDirs are where systemd looks for enablement symlinks, most specific
// first.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// ServiceEnabled reports whether one of the services is enabled to start
// at boot, and how: a systemd unit ("chrony.service") linked from a
// *.wants directory (or an alias of it), and not masked; an OpenRC
// service in /etc/runlevels/*; or a SysV init script linked as
// /etc/rc[2-5].d/S??name. Names without a "." are tried as
// "name.service" for systemd.
func (h *Host) ServiceEnabled(names ...string) (how string, ok bool) {
	for _, n := range names {
		unit, svc := n, strings.TrimSuffix(n, ".service")
		if !strings.Contains(unit, ".") {
			unit += ".service"
		}
		if h.masked(unit) {
			continue
		}
		for _, w := range h.wantsDirs() {
			p := path.Join(w, unit)
			if _, err := h.Lstat(p); err == nil {
				return p, true
			}
		}
		for _, p := range h.Glob("/etc/runlevels/*/" + svc) {
			return p, true
		}
		for _, rl := range []string{"2", "3", "4", "5"} {
			for _, p := range h.Glob("/etc/rc" + rl + ".d/S[0-9][0-9]" + svc) {
				return p, true
			}
		}
	}
	return "", false
}

// wantsDirs returns the systemd *.wants directories of the host.
func (h *Host) wantsDirs() []string {
	v, _ := memo(h, "wants", func() ([]string, error) {
		var out []string
		for _, d := range unitDirs {
			ents, _ := h.ReadDir(d)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".wants") {
					out = append(out, path.Join(d, e.Name()))
				}
			}
		}
		return out, nil
	})
	return v
}

// masked reports whether a systemd unit is linked to /dev/null in /etc or
// /run.
func (h *Host) masked(unit string) bool {
	for _, d := range []string{"/etc/systemd/system", "/run/systemd/system"} {
		if t, err := fs.ReadLink(h.fsys, rel(path.Join(d, unit))); err == nil && t == "/dev/null" {
			return true
		}
	}
	return false
}

// confFiles returns the *.conf files of the given directories (in the
// order of dirs, a name in an earlier directory hiding the same name in
// later ones), sorted by base name, as systemd, modprobe and sysctl read
// drop-in directories.
func (h *Host) confFiles(suffix string, dirs ...string) []string {
	byName := map[string]string{}
	for _, d := range dirs {
		ents, _ := h.ReadDir(d)
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), suffix) {
				continue
			}
			if _, seen := byName[e.Name()]; !seen {
				byName[e.Name()] = path.Join(d, e.Name())
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out
}

// Modprobe returns the modprobe.d directives of the host, with the file
// each came from, in the order modprobe reads them.
func (h *Host) Modprobe() ([]ModprobeDirective, []string, error) {
	type mp struct {
		d     []ModprobeDirective
		where []string
	}
	v, err := memo(h, "modprobe", func() (mp, error) {
		var out mp
		var errs []error
		for _, f := range h.confFiles(".conf", "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d") {
			b, err := h.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, d := range ParseModprobe(b) {
				out.d = append(out.d, d)
				out.where = append(out.where, f)
			}
		}
		return out, errors.Join(errs...)
	})
	return v.d, v.where, err
}

// LoadedModules returns the names of the loaded kernel modules
// (<root>/proc/modules).
func (h *Host) LoadedModules() (map[string]bool, error) {
	return memo(h, "modules", func() (map[string]bool, error) {
		b, err := h.ReadFile("/proc/modules")
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, l := range lines(b) {
			if f := strings.Fields(l); len(f) > 0 {
				out[normModule(f[0])] = true
			}
		}
		return out, nil
	})
}

// firstExisting returns the first of the host paths that exists.
func (h *Host) firstExisting(paths ...string) (string, bool) {
	i := slices.IndexFunc(paths, h.Exists)
	if i < 0 {
		return "", false
	}
	return paths[i], true
}
