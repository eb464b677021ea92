package kernel

import (
	"context"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/evqueue"
	"github.com/edgesec/edgesec/internal/procfs"
)

// ExtraDetails keys set by the collector. The process keys are those of
// collector/process, the connection keys those of collector/connection,
// so that consumers see the same payloads from either source.
const (
	KeySource               = "Source" // "ebpf"
	KeyContainerID          = "ContainerId"
	KeyContainerName        = "ContainerName"
	KeyModuleName           = "ModuleName"
	KeyEnrichment           = "Enrichment" // "partial" when a detail is missing
	KeyCommandLineTruncated = "CommandLineTruncated"
	KeyComm                 = "Comm"
	KeyParentComm           = "ParentComm"
	KeyParentExecutable     = "ParentExecutable"
	KeyEffectiveUserID      = "EffectiveUserId"
	KeyEffectiveUserName    = "EffectiveUserName"
	KeySignal               = "Signal"
	KeyCoreDumped           = "CoreDumped"
	KeyFamily               = "Family"
	KeyIPv4Mapped           = "IPv4Mapped"
	KeyLoopback             = "Loopback"
	KeyState                = "State"
	KeyUserName             = "UserName"
)

// sourceName is the KeySource value of every event.
const sourceName = "ebpf"

// tableCmdline caps the command line remembered per live process (for
// its connections), bounding the table's memory.
const tableCmdline = 1024

// procInfo is what the collector remembers about a live process.
type procInfo struct {
	ppid      int
	comm      string
	exe       string
	cmdline   string
	truncated bool // cmdline was cut
	uid       uint32
	cont      *containerInfo // nil on the host
}

// containerInfo is the container of a cgroup.
type containerInfo struct {
	id, name, module string
}

// table is a bounded map of live processes: two generations, the older
// dropped when the newer is full, so it holds between max/2 and max
// entries and a lookup promotes an entry to the newer one. It is owned by
// the reader goroutine.
type table struct {
	max        int
	cur, older map[int]*procInfo
}

func newTable(max int) *table {
	return &table{max: max, cur: make(map[int]*procInfo), older: make(map[int]*procInfo)}
}

func (t *table) get(pid int) *procInfo {
	if p := t.cur[pid]; p != nil {
		return p
	}
	p := t.older[pid]
	if p != nil {
		delete(t.older, pid)
		t.put(pid, p)
	}
	return p
}

func (t *table) put(pid int, p *procInfo) {
	if len(t.cur) >= t.max/2 {
		t.older, t.cur = t.cur, make(map[int]*procInfo, len(t.cur))
	}
	delete(t.older, pid)
	t.cur[pid] = p
}

func (t *table) remove(pid int) *procInfo {
	p := t.get(pid)
	delete(t.cur, pid)
	return p
}

func (t *table) len() int { return len(t.cur) + len(t.older) }

// Bounds of the caches.
const (
	maxCgroups = 4096
	maxExes    = 1024
)

// enricher turns records into events. It runs on the reader goroutine.
type enricher struct {
	c       *Collector
	ctx     context.Context
	out     *evqueue.Queue
	live    *table
	cgroups map[uint64]*containerInfo // by cgroup id; nil value: the host
	exes    map[string]string         // executable path → symlinks resolved
	rd      *procfs.Reader
	mono0   time.Time
	batch   []event.Event
	free    []*procInfo // of exited processes, reused by forks
}

// maxFree bounds the enricher's list of procInfo to reuse.
const maxFree = 256

// newProc returns a zeroed procInfo, reused when one is free.
func (e *enricher) newProc() *procInfo {
	if n := len(e.free); n > 0 {
		p := e.free[n-1]
		e.free = e.free[:n-1]
		*p = procInfo{}
		return p
	}
	return new(procInfo)
}

// release makes p, out of the table and referenced nowhere else, reusable.
func (e *enricher) release(p *procInfo) {
	if p != nil && len(e.free) < maxFree {
		e.free = append(e.free, p)
	}
}

// The events of a process are allocated with their one-item payload list
// (event.New's variadic items), one allocation instead of two.
type (
	createAlloc struct {
		p     event.ProcessCreatePayload
		items [1]event.Item
	}
	terminateAlloc struct {
		p     event.ProcessTerminatePayload
		items [1]event.Item
	}
	connAlloc struct {
		p     event.ConnectionCreatePayload
		items [1]event.Item
	}
)

func newEnricher(c *Collector, ctx context.Context, out *evqueue.Queue) *enricher {
	e := &enricher{c: c, ctx: ctx, out: out, live: newTable(c.opts.MaxTracked),
		cgroups: make(map[uint64]*containerInfo), exes: make(map[string]string),
		rd: procfs.NewReader(c.opts.HostRoot), batch: make([]event.Event, 0, maxBatch)}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		e.mono0 = time.Now().Add(-time.Duration(ts.Nano()))
	}
	return e
}

func (e *enricher) close() { _ = e.rd.Close() }

// ktime converts a kernel CLOCK_MONOTONIC timestamp to wall time.
func (e *enricher) ktime(ns uint64) time.Time {
	if ns == 0 || e.mono0.IsZero() {
		return time.Now()
	}
	return e.mono0.Add(time.Duration(ns))
}

// flush queues the events built so far for the emitter.
func (e *enricher) flush() {
	if len(e.batch) == 0 {
		return
	}
	if d := e.out.Put(e.batch); d > 0 {
		e.c.dropped.Add(uint64(d))
	}
	clear(e.batch)
	e.batch = e.batch[:0]
}

// seed fills the live table from /proc so that the exits and connections
// of processes started before the collector name their executable.
func (e *enricher) seed() {
	pids, err := procfs.ListPIDs(e.c.opts.HostRoot)
	if err != nil {
		e.c.opts.Logger.Warn("kernel: listing processes", "err", err)
		return
	}
	for _, pid := range pids {
		if e.live.len() >= e.c.opts.MaxTracked/2 || e.ctx.Err() != nil {
			return
		}
		if p := e.readProc(pid); p != nil {
			e.live.put(pid, p)
		}
	}
}

// readProc reads a live process from /proc (nil when it is gone).
func (e *enricher) readProc(pid int) *procInfo {
	p, err := e.rd.Read(pid, procfs.ReadOptions{MaxCmdline: tableCmdline, SkipStat: true})
	if err != nil {
		return nil
	}
	info := &procInfo{ppid: p.PPID, comm: p.Comm, exe: p.Exe, cmdline: p.Cmdline,
		truncated: p.CmdlineTruncated, uid: p.UID}
	if p.ContainerID != "" {
		info.cont = e.resolve(&containerInfo{id: p.ContainerID})
	}
	return info
}

// resolve names the container ci with the resolver, when there is one.
func (e *enricher) resolve(ci *containerInfo) *containerInfo {
	if ci == nil || ci.name != "" || e.c.opts.Resolver == nil {
		return ci
	}
	if name, module, ok := e.c.opts.Resolver.Resolve(e.ctx, ci.id); ok {
		ci.name, ci.module = name, module
	}
	return ci
}

// container returns the container of a cgroup v2 (leaf and parent names),
// cached by cgroup id. ok is false when the cgroup does not tell (cgroup
// v1 host, or no id).
func (e *enricher) container(id uint64, leaf, parent string) (ci *containerInfo, ok bool) {
	if id == 0 || leaf == "" {
		return nil, false
	}
	ci, ok = e.cgroups[id]
	if !ok {
		if cid, _, found := procfs.ContainerRuntimeID([]byte("0::/" + parent + "/" + leaf)); found {
			ci = &containerInfo{id: cid}
		}
		if len(e.cgroups) >= maxCgroups {
			clear(e.cgroups)
		}
		e.cgroups[id] = ci
	}
	return e.resolve(ci), true
}

// executable resolves the symbolic links of the path a host process was
// executed by (/bin/true → /usr/bin/true), as /proc/<pid>/exe shows it.
// Container paths are in another mount namespace, and /proc/self/… or
// /dev/fd/… name the process's own files: they are kept as given.
func (e *enricher) executable(filename string, inContainer bool) string {
	if inContainer || !filepath.IsAbs(filename) ||
		strings.HasPrefix(filename, "/proc/") || strings.HasPrefix(filename, "/dev/fd/") {
		// /proc/self/exe, /dev/fd/3 (fexecve): links of the process
		// itself, which only it can resolve.
		return filename
	}
	if r, ok := e.exes[filename]; ok {
		return r
	}
	r := filename
	root := e.c.opts.HostRoot
	if real, err := filepath.EvalSymlinks(filepath.Join(root, filename)); err == nil {
		if root != "/" {
			real = "/" + strings.TrimPrefix(strings.TrimPrefix(real, root), "/")
		}
		r = real
	}
	if len(e.exes) >= maxExes {
		clear(e.exes)
	}
	e.exes[filename] = r
	return r
}

// handle builds the event of one record.
func (e *enricher) handle(r *record) {
	switch r.Type {
	case recFork:
		e.c.forks.Add(1)
		child := e.newProc()
		child.ppid, child.comm = int(r.PPID), r.Comm
		if parent := e.live.get(int(r.PPID)); parent != nil {
			child.exe, child.cmdline, child.truncated = parent.exe, parent.cmdline, parent.truncated
			child.uid, child.cont = parent.uid, parent.cont
		}
		e.live.put(int(r.TGID), child)
	case recExec:
		e.exec(r)
	case recExit:
		e.exit(r)
	case recConnect, recAccept, recUDP:
		e.conn(r)
	case recActivity:
		e.activity(r)
	}
}

func (e *enricher) exec(r *record) {
	x := &r.Exec
	pid := int(r.TGID)
	prev := e.live.get(pid)
	ci, ok := e.container(r.CgroupID, x.CgroupLeaf, x.CgroupParent)
	if !ok {
		// cgroup v1: inherited from the parent, else read (best effort).
		if prev != nil {
			ci = prev.cont
		} else if cg, err := procfs.ReadCgroup(e.c.opts.HostRoot, pid); err == nil {
			if id, found := procfs.ContainerID(cg); found {
				ci = e.resolve(&containerInfo{id: id})
			}
		}
	}
	cmdline, cut := procfs.ParseCmdline(x.Argv, e.c.opts.MaxCmdline)
	cut = cut || r.Flags&flagArgvTruncated != 0
	exe := e.executable(x.Filename, ci != nil)
	alloc := &createAlloc{p: event.ProcessCreatePayload{
		ProcessID: pid, ParentProcessID: int(r.PPID), Executable: exe, CommandLine: cmdline,
		UserID: strconv.FormatUint(uint64(x.UID), 10), UserName: e.c.users.Name(x.UID),
		ExtraDetails: event.ExtraDetails{KeySource: sourceName, KeyComm: r.Comm},
	}}
	item := &alloc.p
	alloc.items[0] = item
	d := item.ExtraDetails
	if x.ParentComm != "" {
		d[KeyParentComm] = x.ParentComm
	}
	if parent := e.live.get(int(r.PPID)); parent != nil && parent.exe != "" {
		d[KeyParentExecutable] = parent.exe
	}
	if x.EUID != x.UID {
		d[KeyEffectiveUserID] = strconv.FormatUint(uint64(x.EUID), 10)
		if n := e.c.users.Name(x.EUID); n != "" {
			d[KeyEffectiveUserName] = n
		}
	}
	if cut {
		d[KeyCommandLineTruncated] = "true"
	}
	if r.Flags&(flagArgvUnreadable|flagFilenameTruncated) != 0 || exe == "" {
		d[KeyEnrichment] = "partial"
	}
	attribute(d, ci)
	if d[KeyEnrichment] != "" {
		e.c.parts.Add(1)
	}
	tc, tcut := cmdline, cut
	if len(tc) > tableCmdline {
		tc, tcut = tc[:tableCmdline], true
	}
	// The process's entry (from its fork) is updated in place.
	info := prev
	if info == nil {
		info = e.newProc()
	}
	*info = procInfo{ppid: int(r.PPID), comm: r.Comm, exe: exe, cmdline: tc, truncated: tcut,
		uid: x.UID, cont: ci}
	e.live.put(pid, info)
	e.c.created.Add(1)
	e.batch = append(e.batch, event.Must(event.ProcessCreate, e.ktime(r.KTime), alloc.items[:]...))
	if r.Flags&flagExecMemfd != 0 && e.c.l.active {
		// Fileless execution: also a KernelActivity.
		a := &event.KernelActivityPayload{Action: event.ActivityExecMemfd, Path: x.Filename, ProcessID: pid,
			ParentProcessID: int(r.PPID), Executable: exe, CommandLine: cmdline, UserID: item.UserID, UserName: item.UserName,
			ExtraDetails: event.ExtraDetails{KeySource: sourceName, KeyComm: r.Comm}}
		attribute(a.ExtraDetails, ci)
		e.c.acts.Add(1)
		e.batch = append(e.batch, event.Must(event.KernelActivity, e.ktime(r.KTime), a))
	}
}

func attribute(d event.ExtraDetails, ci *containerInfo) {
	if ci == nil {
		return
	}
	d[KeyContainerID] = ci.id
	if ci.name != "" {
		d[KeyContainerName] = ci.name
	}
	if ci.module != "" {
		d[KeyModuleName] = ci.module
	}
}

func (e *enricher) exit(r *record) {
	pid := int(r.TGID)
	info := e.live.remove(pid)
	status, sig, core := procfs.DecodeWaitStatus(r.Code)
	alloc := &terminateAlloc{p: event.ProcessTerminatePayload{ProcessID: pid, ExitStatus: status,
		ExtraDetails: event.ExtraDetails{KeySource: sourceName, KeyComm: r.Comm}}}
	item := &alloc.p
	alloc.items[0] = item
	d := item.ExtraDetails
	if sig != 0 {
		d[KeySignal] = procfs.SignalName(sig)
	}
	if core {
		d[KeyCoreDumped] = "true"
	}
	if info != nil && info.exe != "" {
		item.Executable = info.exe
		attribute(d, e.resolve(info.cont))
	} else {
		d[KeyEnrichment] = "partial"
		e.c.parts.Add(1)
	}
	e.release(info)
	e.c.terminated.Add(1)
	e.batch = append(e.batch, event.Must(event.ProcessTerminate, e.ktime(r.KTime), alloc.items[:]...))
}

func (e *enricher) conn(r *record) {
	c := &r.Conn
	pid := int(r.TGID)
	info := e.live.get(pid)
	if info == nil || info.exe == "" {
		// Started before the collector and not seeded, or forked from
		// such a process: it is alive (it just connected), read it.
		if p := e.readProc(pid); p != nil {
			info = p
			e.live.put(pid, p)
		}
	}
	local, remote := c.Local.Addr(), c.Remote.Addr()
	mapped := local.Is4In6() || remote.Is4In6()
	local, remote = local.Unmap(), remote.Unmap()
	family := "IPv4"
	if c.Family == afINET6 {
		family = "IPv6"
	}
	alloc := &connAlloc{p: event.ConnectionCreatePayload{
		RemoteAddress: remote.String(), RemotePort: strconv.Itoa(int(c.Remote.Port())),
		LocalAddress: local.String(), LocalPort: strconv.Itoa(int(c.Local.Port())),
		Direction: event.DirectionOut, Protocol: "TCP", ProcessID: pid,
		UserID: strconv.FormatUint(uint64(c.UID), 10),
		ExtraDetails: event.ExtraDetails{KeySource: sourceName, KeyFamily: family,
			KeyState: "ESTABLISHED", KeyComm: r.Comm},
	}}
	item := &alloc.p
	alloc.items[0] = item
	if r.Type == recAccept {
		item.Direction = event.DirectionIn
	}
	if r.Type == recUDP {
		udpItem(item, r.Flags)
	}
	d := item.ExtraDetails
	if mapped {
		d[KeyIPv4Mapped] = "true"
	}
	if isLoopback(local) && isLoopback(remote) {
		d[KeyLoopback] = "true"
	}
	if n := e.c.users.Name(c.UID); n != "" {
		d[KeyUserName] = n
	}
	var ci *containerInfo
	if info != nil {
		item.Executable, item.CommandLine = info.exe, info.cmdline
		if info.truncated {
			d[KeyCommandLineTruncated] = "true"
		}
		ci = info.cont
	}
	if cached, ok := e.cgroups[r.CgroupID]; ok && r.CgroupID != 0 {
		ci = cached // where the process is now
	}
	if item.Executable == "" {
		d[KeyEnrichment] = "partial"
		e.c.parts.Add(1)
	}
	attribute(d, e.resolve(ci))
	e.c.conns.Add(1)
	e.batch = append(e.batch, event.Must(event.ConnectionCreate, e.ktime(r.KTime), alloc.items[:]...))
}

// isLoopback reports a loopback address, or an unspecified one (a
// connection to 0.0.0.0 reaches the host itself).
func isLoopback(a netip.Addr) bool { return a.IsLoopback() || a.IsUnspecified() }

// udpItem makes item the first UDP datagram of a process to a peer
// (flags of the record): Protocol UDP, as collector/connection names it;
// State CONNECTED (a connected socket, as there) or UNCONNECTED; and
// Direction In when the local port was bound explicitly (bind(2) with a
// port: a server answering a client), else Out.
func udpItem(item *event.ConnectionCreatePayload, flags uint32) {
	item.Protocol = "UDP"
	item.ExtraDetails[KeyState] = "UNCONNECTED"
	if flags&flagUDPConnected != 0 {
		item.ExtraDetails[KeyState] = "CONNECTED"
	}
	if flags&flagUDPBound != 0 {
		item.Direction = event.DirectionIn
	}
}
