package kernel

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// ErrNotAvailable is wrapped by the error [New] returns when the eBPF
// source cannot be used on this machine: no BTF, no BPF ring buffer (Linux
// < 5.8), missing capabilities (CAP_BPF and CAP_PERFMON, or
// CAP_SYS_ADMIN), a verifier or attach refusal, a big-endian platform, or
// [Options.Disable]. Callers fall back to the proc connector
// (collector/process) and sock_diag (collector/connection) on it:
//
//	c, err := kernel.New(opts)
//	if errors.Is(err, kernel.ErrNotAvailable) { /* use collector/process */ }
//
// Any load or attach error is treated as "not available": on locked-down
// kernels feature probes answer EPERM, not "not supported".
var ErrNotAvailable = errors.New("kernel: eBPF event source not available")

// loaded is what New loads: the programs' maps and the attached links.
type loaded struct {
	coll   *ebpf.Collection
	links  []link.Link
	events *ebpf.Map // ring buffer
	stats  *ebpf.Map // counters
	// counts maps the counters (nil until mapped): read with atomic
	// loads, without a system call or the map's Go code, which would stay
	// resident only for this.
	counts []byte
	accept bool // inbound connections attributed at accept exit
	udp    bool // first UDP datagram to each peer, at sendto/sendmsg/sendmmsg exit
	udpW   bool // and at every send on a connected UDP socket (sock_send_length)
	active bool // system call activity reported
	// watched is the list in the watched map (active only); slots from
	// len(watched) on are zero.
	watched []watchedEntry
}

func (l *loaded) close() error {
	var errs []error
	for i := len(l.links) - 1; i >= 0; i-- {
		errs = append(errs, l.links[i].Close())
	}
	l.links = nil
	if l.counts != nil {
		errs = append(errs, unix.Munmap(l.counts))
		l.counts = nil
	}
	if l.coll != nil {
		l.coll.Close()
		l.coll = nil
	}
	return errors.Join(errs...)
}

// notAvailable wraps err as ErrNotAvailable at stage.
func notAvailable(stage string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrNotAvailable, stage, err)
}

// programs of each feature (names in bpf/events.c).
var (
	processPrograms = []string{"handle_exec", "handle_exit", "handle_fork"}
	connectPrograms = []string{"handle_set_state"}
	acceptPrograms  = []string{"handle_sys_exit"}
	// Sends on connected UDP sockets, where the kernel has the
	// sock_send_length tracepoint (Linux >= 6.4): loaded when it can be.
	udpSendPrograms = []string{"handle_sock_send"}
	// System call activity, and the maps only it uses.
	activityPrograms = []string{"handle_sys_enter"}
	activityMaps     = []string{"syscalls", "watched", "activity_scratch"}
)

// load loads and attaches the programs opts asks for.
func load(opts Options) (_ *loaded, err error) {
	if opts.Disable {
		return nil, notAvailable("configuration", errors.New("disabled (proc connector forced)"))
	}
	var watched []watchedEntry
	if opts.Activity {
		var err error
		if watched, err = watchedEntries(opts.WatchedPaths); err != nil {
			return nil, err
		}
	}
	spec, err := objectSpec()
	if err != nil {
		return nil, notAvailable("object", err)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		opts.Logger.Debug("raising RLIMIT_MEMLOCK", "err", err)
	}
	spec.Maps["events"].MaxEntries = uint32(opts.RingBufferSize)
	nrAccept, nrAccept4, x86, acceptOK := acceptSyscalls()
	accept := opts.Connections && acceptOK
	active := opts.Activity && acceptOK
	if !accept && !active {
		nrAccept, nrAccept4 = -1, -1
	}
	sends := udpSyscalls()
	if !accept {
		sends = [3]int32{-1, -1, -1}
	}
	for name, v := range map[string]any{
		"wakeup_bytes": uint64(opts.WakeupBytes),
		"self_tgid":    int32(os.Getpid()),
		"nr_accept":    nrAccept,
		"nr_accept4":   nrAccept4,
		"is_x86":       x86,
		"nr_sendto":    sends[0],
		"nr_sendmsg":   sends[1],
		"nr_sendmmsg":  sends[2],
	} {
		vs, ok := spec.Variables[name]
		if !ok {
			return nil, notAvailable("object", fmt.Errorf("variable %s missing", name))
		}
		if err := vs.Set(v); err != nil {
			return nil, notAvailable("object", fmt.Errorf("setting %s: %w", name, err))
		}
	}
	want := append([]string(nil), processPrograms...)
	udpW := false
	if opts.Connections {
		want = append(want, connectPrograms...)
		if accept {
			want = append(want, acceptPrograms...)
			want = append(want, udpSendPrograms...)
			udpW = true
		}
	}
	if active {
		want = append(want, activityPrograms...)
	} else {
		for _, m := range activityMaps {
			delete(spec.Maps, m)
		}
	}
	for name := range spec.Programs {
		if !contains(want, name) {
			delete(spec.Programs, name)
		}
	}
	if !opts.Connections {
		delete(spec.Maps, "connecting")
	}
	if !accept {
		delete(spec.Maps, "udp_peers")
	}
	// CO-RE relocates against the few kernel types the programs read,
	// not the kernel's whole BTF (see kerneltypes.go).
	wanted, err := localWanted(spec.Types)
	if err != nil {
		return nil, notAvailable("object", err)
	}
	kernelTypes, err := loadKernelTypes(wanted)
	if err != nil {
		return nil, notAvailable("kernel types", err)
	}
	copts := ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kernelTypes}}
	tracepoints := map[string]string{} // program name -> its raw tracepoint
	for name, p := range spec.Programs {
		if p.Type == ebpf.RawTracepoint {
			tracepoints[name] = p.AttachTo
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, copts)
	if err != nil && udpW {
		// A kernel without the sock_send_length tracepoint (< 6.4):
		// UDP sends are still seen at the exit of sendto, sendmsg and
		// sendmmsg, not write(2) on a connected socket.
		opts.Logger.Debug("kernel: UDP sends on connected sockets not traced", "err", err)
		for _, name := range udpSendPrograms {
			delete(spec.Programs, name)
			want = slices.DeleteFunc(want, func(s string) bool { return s == name })
		}
		udpW = false
		coll, err = ebpf.NewCollectionWithOptions(spec, copts)
	}
	// The parsed object and the kernel's BTF (several MB) are no longer
	// needed: drop them and give the memory back now rather than at the
	// next GC cycles.
	spec, kernelTypes, copts = nil, nil, ebpf.CollectionOptions{}
	debug.FreeOSMemory()
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			opts.Logger.Debug("BPF verifier log", "log", fmt.Sprintf("%+v", ve))
		}
		return nil, notAvailable("load", err)
	}
	l := &loaded{coll: coll, events: coll.Maps["events"], stats: coll.Maps["stats"], accept: accept,
		udp: accept, udpW: udpW, active: active}
	if active {
		l.watched = watched
	}
	defer func() {
		if err != nil {
			_ = l.close()
		}
	}()
	l.counts, err = unix.Mmap(l.stats.FD(), 0, os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		l.counts = nil
		return nil, notAvailable("mapping the counters", err)
	}
	if active {
		if err := fillActivityMaps(coll, watched); err != nil {
			return nil, notAvailable("activity maps", err)
		}
	}
	for _, name := range want {
		var lk link.Link
		if tp, ok := tracepoints[name]; ok {
			lk, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp, Program: coll.Programs[name]})
		} else {
			lk, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[name], AttachType: ebpf.AttachTraceRawTp})
		}
		if err != nil && contains(udpSendPrograms, name) {
			opts.Logger.Debug("kernel: UDP sends on connected sockets not traced", "err", err)
			l.udpW = false
			continue
		}
		if err != nil {
			return nil, notAvailable("attach "+name, err)
		}
		l.links = append(l.links, lk)
	}
	return l, nil
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// fillActivityMaps writes this architecture's watched system calls and
// the watched paths into the maps of the activity program.
func fillActivityMaps(coll *ebpf.Collection, watched []watchedEntry) error {
	for nr, info := range activitySyscalls() {
		if nr < 0 || nr >= maxSyscallNr {
			continue
		}
		if err := coll.Maps["syscalls"].Update(uint32(nr), info, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("syscall %d: %w", nr, err)
		}
	}
	for i, w := range watched {
		if err := coll.Maps["watched"].Update(uint32(i), w, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("watched path %d: %w", i, err)
		}
	}
	return nil
}

// setWatched rewrites the watched map, while the programs run, from
// l.watched to w, writing only the slots that change.
//
// The program scans the slots in order, skips a slot whose operations are
// 0 and stops at a slot whose length is 0; a map update is a plain copy
// that a program on another CPU may read half-done. So a slot never goes
// straight from one prefix to another: (1) every slot whose prefix
// changes gets operations 0, keeping its prefix; (2) once no program can
// still be reading the old operations, those slots get their new prefix
// (or the terminator), still with operations 0; (3) once no program can
// still be reading the old prefix, every slot gets its new operations. A
// program therefore sees, in each slot, the old entry, the new entry or
// nothing, never a mix; a call made during the update (a few milliseconds)
// may miss a prefix that is being replaced. Steps with nothing to write
// are skipped: adding prefixes after the existing ones, or removing the
// last ones, is one step plus one wait.
func (l *loaded) setWatched(w []watchedEntry) error {
	m := l.coll.Maps["watched"]
	old := l.watched
	at := func(list []watchedEntry, i int) watchedEntry {
		if i < len(list) {
			return list[i]
		}
		return watchedEntry{}
	}
	n := max(len(old), len(w))
	cur := make([]watchedEntry, n) // what the map holds
	for i := range n {
		cur[i] = at(old, i)
	}
	write := func(i int, e watchedEntry) error {
		if err := m.Update(uint32(i), e, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("kernel: writing watched path %d: %w", i, err)
		}
		cur[i] = e
		return nil
	}
	step := func(next func(i int) (watchedEntry, bool)) (bool, error) {
		wrote := false
		for i := range n {
			if e, ok := next(i); ok && e != cur[i] {
				if err := write(i, e); err != nil {
					return wrote, err
				}
				wrote = true
			}
		}
		return wrote, nil
	}
	moved := func(i int) bool { o, e := at(old, i), at(w, i); return o.Len != e.Len || o.Prefix != e.Prefix }
	// On an error the map holds a mix of both lists: l.watched says
	// what it holds, so the next call writes what differs.
	defer func() { l.watched = trimWatched(cur) }()
	steps := []func(i int) (watchedEntry, bool){
		func(i int) (watchedEntry, bool) { e := cur[i]; e.Ops = 0; return e, moved(i) },
		func(i int) (watchedEntry, bool) { e := at(w, i); e.Ops = 0; return e, moved(i) },
		func(i int) (watchedEntry, bool) { return at(w, i), true },
	}
	for k, next := range steps {
		wrote, err := step(next)
		if err != nil {
			return err
		}
		if wrote && k < len(steps)-1 {
			waitForPrograms()
		}
	}
	return nil
}

// trimWatched drops the zero slots at the end of list.
func trimWatched(list []watchedEntry) []watchedEntry {
	for len(list) > 0 && list[len(list)-1] == (watchedEntry{}) {
		list = list[:len(list)-1]
	}
	return list
}

// membarrierCmdGlobal is MEMBARRIER_CMD_GLOBAL (linux/membarrier.h).
const membarrierCmdGlobal = 1

// waitForPrograms returns once every BPF program that was running has
// returned: tracing programs run inside an RCU read-side critical section,
// and membarrier(MEMBARRIER_CMD_GLOBAL) waits for an RCU grace period.
// Where membarrier is refused (nohz_full kernels, seccomp) it sleeps
// 50 ms, far longer than a program runs unless it is preempted.
func waitForPrograms() {
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno != 0 {
		time.Sleep(50 * time.Millisecond)
	}
}

// counters reads the counters of the stats map.
func (l *loaded) counters() (c [statMax]uint64, err error) {
	if len(l.counts) < statMax*8 {
		return c, errors.New("kernel: reading counters: not mapped")
	}
	for i := range c {
		c[i] = atomic.LoadUint64((*uint64)(unsafe.Pointer(&l.counts[i*8])))
	}
	return c, nil
}

// The counters' slots (enum stat in bpf/events.c).
const (
	statRingbufFull = 0
	statArgvFault   = 1
	statConnectFull = 2
	statPathFault   = 3
	statCompat      = 4
	statUDPUnread   = 5
	statMax         = 6
)
