package sockowner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/internal/procfs"
)

// Defaults of the Options bounds.
const (
	DefaultMaxInodes    = 1 << 18
	DefaultMaxProcesses = 1 << 15
	DefaultMaxScanFDs   = 1 << 20
)

// Options configure a [Resolver].
type Options struct {
	// HostRoot is where the host's filesystem is ("/" when empty); the
	// processes are read from HostRoot/proc.
	HostRoot string
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// MaxInodes bounds the inode cache (and the set of inodes known to
	// have no readable owner). Zero means DefaultMaxInodes.
	MaxInodes int
	// MaxProcesses bounds the processes tracked. Zero means
	// DefaultMaxProcesses.
	MaxProcesses int
	// MaxScanFDs bounds the descriptors read by one Lookup. Zero means
	// DefaultMaxScanFDs.
	MaxScanFDs int
	// MaxCmdline caps command lines (bytes); zero means
	// procfs.DefaultMaxCmdline.
	MaxCmdline int
}

// Query is a socket whose owner is wanted.
type Query struct {
	Inode uint64
	// UID is the socket creator's uid (from sock_diag); processes of that
	// uid are searched first.
	UID uint32
}

// Owner is the process that holds a socket. An Owner is shared and must
// not be modified.
type Owner struct {
	PID              int
	Exe              string
	ExeDeleted       bool
	Cmdline          string
	CmdlineTruncated bool
	Comm             string
	UID              uint32 // real uid
	ContainerID      string
}

// Stats are the Resolver's counters since it was created.
type Stats struct {
	Lookups       uint64 // Lookup calls
	Hits          uint64 // queries answered from the cache
	ProcessScans  uint64 // /proc/<pid>/fd directories read
	FDsRead       uint64 // descriptors examined (readlink)
	FullScans     uint64 // Lookups that had to re-read already known processes
	Rescans       uint64 // known processes whose descriptors were read again (by FullScans)
	Unresolved    uint64 // queries left without an owner after a complete scan
	BudgetHits    uint64 // Lookups stopped by MaxScanFDs
	ProcessLimit  uint64 // processes not tracked because of MaxProcesses
	InodeLimit    uint64 // inodes not cached because of MaxInodes
	ProcessErrors uint64 // processes whose details could not be read
	FDDirErrors   uint64 // /proc/<pid>/fd directories that could not be read (other than gone)
}

// proc is a tracked process.
type proc struct {
	owner   *Owner // nil until one of its sockets was asked for
	uid     uint32 // effective uid (owner of its fd directory)
	lastHit uint64 // generation of its last attribution
	seen    uint64 // generation it was last listed in /proc
	scanned uint64 // generation its descriptors were last read
}

// Resolver attributes socket inodes to the processes holding them, from
// /proc/<pid>/fd, with a cache refreshed incrementally (see the package
// documentation). It is safe for concurrent use; Lookups are serialized.
type Resolver struct {
	o       Options
	procDir string
	log     *slog.Logger

	mu         sync.Mutex
	gen        uint64
	inodes     map[uint64]int // inode → pid
	unresolved map[uint64]struct{}
	procs      map[int]*proc
	scanner    *fdScanner
	stats      Stats
	universe   map[uint64]struct{}
}

// New returns a Resolver.
func New(o Options) *Resolver {
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	if o.MaxInodes <= 0 {
		o.MaxInodes = DefaultMaxInodes
	}
	if o.MaxProcesses <= 0 {
		o.MaxProcesses = DefaultMaxProcesses
	}
	if o.MaxScanFDs <= 0 {
		o.MaxScanFDs = DefaultMaxScanFDs
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{
		o: o, log: log,
		procDir:    filepath.Join(filepath.Clean(o.HostRoot), "proc"),
		inodes:     make(map[uint64]int),
		unresolved: make(map[uint64]struct{}),
		procs:      make(map[int]*proc),
		scanner:    newFDScanner(),
		universe:   make(map[uint64]struct{}),
	}
}

// Stats returns the counters.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Lookup returns the owner of each queried socket (nil when unknown: a
// socket no process holds, such as a time-wait one, or a process that
// could not be read), in the order of qs.
//
// qs must list all the sockets the caller cares about now: cache entries
// of other inodes are dropped, so the cache follows the live sockets. The
// cost is a map lookup per cached socket; /proc is read only when some
// socket is not cached yet: first the processes started since the last
// scan, then (if still needed) the known ones, those of the sockets' uids
// and recently attributed ones first, stopping when all are found or
// MaxScanFDs descriptors were read. Sockets still without an owner after
// a complete scan are remembered and do not cause another scan.
func (r *Resolver) Lookup(ctx context.Context, qs []Query) ([]*Owner, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.stats.Lookups++
	out := make([]*Owner, len(qs))

	clear(r.universe)
	var missing map[uint64]struct{}
	var missingUIDs map[uint32]bool
	for _, q := range qs {
		if q.Inode == 0 {
			continue
		}
		r.universe[q.Inode] = struct{}{}
		if _, ok := r.inodes[q.Inode]; ok {
			continue
		}
		if _, ok := r.unresolved[q.Inode]; ok {
			continue
		}
		if missing == nil {
			missing, missingUIDs = make(map[uint64]struct{}), make(map[uint32]bool)
		}
		missing[q.Inode] = struct{}{}
		missingUIDs[q.UID] = true
	}
	// Forget what is no longer alive.
	for ino := range r.inodes {
		if _, ok := r.universe[ino]; !ok {
			delete(r.inodes, ino)
		}
	}
	for ino := range r.unresolved {
		if _, ok := r.universe[ino]; !ok {
			delete(r.unresolved, ino)
		}
	}

	var err error
	if len(missing) > 0 {
		err = r.refresh(ctx, missing, missingUIDs)
	}
	for i, q := range qs {
		pid, ok := r.inodes[q.Inode]
		if !ok || q.Inode == 0 {
			continue
		}
		p := r.procs[pid]
		if p == nil {
			continue
		}
		if p.owner == nil {
			r.readOwner(pid, p)
		}
		out[i] = p.owner
		if _, fresh := missing[q.Inode]; !fresh {
			r.stats.Hits++
		}
	}
	return out, err
}

// refresh scans /proc for the missing inodes.
func (r *Resolver) refresh(ctx context.Context, missing map[uint64]struct{}, uids map[uint32]bool) error {
	pids, err := procfs.ListPIDs(filepath.Dir(r.procDir))
	if err != nil {
		return fmt.Errorf("sockowner: list processes: %w", err)
	}
	budget := r.o.MaxScanFDs
	var fresh []int
	for _, pid := range pids {
		if p, ok := r.procs[pid]; ok {
			p.seen = r.gen
			continue
		}
		fresh = append(fresh, pid)
	}
	// Processes that exited: forget them and their sockets.
	dead := false
	for pid, p := range r.procs {
		if p.seen != r.gen {
			delete(r.procs, pid)
			dead = true
		}
	}
	if dead {
		for ino, pid := range r.inodes {
			if _, ok := r.procs[pid]; !ok {
				delete(r.inodes, ino)
				if _, live := r.universe[ino]; live {
					missing[ino] = struct{}{}
				}
			}
		}
	}

	// 1. Processes not seen before.
	exhausted := false
	for _, pid := range fresh {
		if len(r.procs) >= r.o.MaxProcesses {
			r.stats.ProcessLimit++
			continue
		}
		p := &proc{seen: r.gen}
		r.procs[pid] = p
		if budget <= 0 {
			exhausted = true
			continue // tracked; read by the next scan
		}
		if budget -= r.scanPID(pid, p, budget, missing); budget <= 0 {
			exhausted = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// 2. Processes known before, most likely owners first.
	r.stats.FullScans++
	known := make([]int, 0, len(r.procs))
	for pid, p := range r.procs {
		if p.scanned != r.gen {
			known = append(known, pid)
		}
	}
	slices.SortFunc(known, func(a, b int) int {
		pa, pb := r.procs[a], r.procs[b]
		ua, ub := uids[pa.uid], uids[pb.uid]
		switch {
		case ua != ub:
			if ua {
				return -1
			}
			return 1
		case pa.lastHit != pb.lastHit:
			if pa.lastHit > pb.lastHit {
				return -1
			}
			return 1
		}
		return a - b
	})
	for i, pid := range known {
		if len(missing) == 0 {
			return nil
		}
		if budget <= 0 {
			exhausted = true
			break
		}
		if i%64 == 63 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r.stats.Rescans++
		if budget -= r.scanPID(pid, r.procs[pid], budget, missing); budget <= 0 {
			exhausted = true
		}
	}
	if exhausted && len(missing) > 0 {
		r.stats.BudgetHits++
		r.log.Debug("sockowner: descriptor budget exhausted", slog.Int("missing", len(missing)), slog.Int("maxScanFDs", r.o.MaxScanFDs))
		return nil
	}
	// A complete scan did not find them: remember, do not scan again.
	for ino := range missing {
		if len(r.unresolved) >= r.o.MaxInodes {
			break
		}
		r.unresolved[ino] = struct{}{}
		r.stats.Unresolved++
	}
	return nil
}

// scanPID reads pid's descriptors, records the inodes of the universe it
// holds, and reports how many descriptors it read. When it finds one of
// the missing inodes, the process's details are read at once (a process
// may exec between scans, and short-lived ones must be caught now).
func (r *Resolver) scanPID(pid int, p *proc, budget int, missing map[uint64]struct{}) int {
	r.stats.ProcessScans++
	p.scanned = r.gen
	found := false
	n, uid, err := r.scanner.scan(r.procDir, pid, budget, func(ino uint64) {
		if _, ok := r.universe[ino]; !ok {
			return
		}
		if old, ok := r.inodes[ino]; ok && old <= pid {
			// Shared socket (fork, SO_REUSEPORT workers): keep the
			// lowest pid, usually the parent.
			if _, want := missing[ino]; !want {
				return
			}
		}
		if _, want := missing[ino]; want {
			delete(missing, ino)
			found = true
		}
		if _, ok := r.inodes[ino]; !ok && len(r.inodes) >= r.o.MaxInodes {
			r.stats.InodeLimit++
			return
		}
		r.inodes[ino] = pid
	})
	r.stats.FDsRead += uint64(n)
	switch {
	case err == nil:
		p.uid = uid
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ESRCH):
		r.stats.FDDirErrors++
		if r.stats.FDDirErrors == 1 {
			r.log.Warn("sockowner: cannot read a process's descriptors; its sockets stay unattributed (needs root or CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE)",
				slog.Int("pid", pid), slog.Any("error", err))
		}
	}
	if found {
		p.lastHit = r.gen
		r.readOwner(pid, p)
	}
	return n
}

// readOwner (re)reads the details of a process.
func (r *Resolver) readOwner(pid int, p *proc) {
	pr, err := procfs.ReadProcess(filepath.Dir(r.procDir), pid, r.o.MaxCmdline)
	if err != nil || pr.Partial {
		r.stats.ProcessErrors++
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.Debug("sockowner: process details", slog.Int("pid", pid), slog.Any("error", err))
		}
	}
	if err != nil && p.owner != nil {
		return // keep what was known
	}
	p.owner = &Owner{
		PID: pid, Exe: pr.Exe, ExeDeleted: pr.ExeDeleted, Cmdline: pr.Cmdline, CmdlineTruncated: pr.CmdlineTruncated,
		Comm: pr.Comm, UID: pr.UID, ContainerID: pr.ContainerID,
	}
}
