package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/evqueue"
	"github.com/edgesec/edgesec/internal/procfs"
)

// Mode selects the event source.
type Mode int

// Modes.
const (
	// ModeAuto uses the kernel proc connector and falls back to /proc
	// polling when it is not available.
	ModeAuto Mode = iota
	// ModeNetlink uses the proc connector only; Run returns an error when
	// it is not available.
	ModeNetlink
	// ModePoll polls /proc (misses processes shorter than the interval and
	// exit statuses).
	ModePoll
)

// String returns "auto", "netlink" or "poll".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeNetlink:
		return "netlink"
	case ModePoll:
		return "poll"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Defaults of [Options].
const (
	DefaultPollInterval  = time.Second
	DefaultMaxTracked    = 32768
	DefaultQueueSize     = 8192
	DefaultReceiveBuffer = 8 << 20
	DefaultReportEvery   = 30 * time.Second
)

// ExtraDetails keys set by the collector.
const (
	KeyContainerID          = "ContainerId"
	KeyContainerName        = "ContainerName"
	KeyModuleName           = "ModuleName"
	KeyEnrichment           = "Enrichment" // "partial" when /proc could not be read in full
	KeyCommandLineTruncated = "CommandLineTruncated"
	KeyComm                 = "Comm"
	KeyParentComm           = "ParentComm"
	KeyParentExecutable     = "ParentExecutable"
	KeyEffectiveUserID      = "EffectiveUserId"
	KeyEffectiveUserName    = "EffectiveUserName"
	KeyExecutableDeleted    = "ExecutableDeleted"
	KeySignal               = "Signal"
	KeyCoreDumped           = "CoreDumped"
	KeyExitStatusKnown      = "ExitStatusKnown"
	KeySource               = "Source" // "netlink" or "poll"
	// KeyEnrichmentError says why a ProcessCreate has no command line or
	// executable: the process exited (or was being replaced) before /proc
	// could be read. The event still carries what the kernel told.
	KeyEnrichmentError = "EnrichmentError"
)

// Values of KeyEnrichmentError.
const (
	// ErrTextExited: /proc/<pid> was gone or empty when the exec event was
	// read.
	ErrTextExited = "exited before /proc was read"
)

// Options configure a [Collector]. The zero value is usable.
type Options struct {
	// HostRoot is where the host's filesystem (and /proc, from the host
	// PID namespace) is mounted: "/" (default) or "/host".
	HostRoot string
	// Logger receives the collector's log lines (nil: discarded).
	Logger *slog.Logger
	// Mode selects the event source (default ModeAuto).
	Mode Mode
	// PollInterval is the /proc polling interval of ModePoll and of the
	// fallback (default 1 s).
	PollInterval time.Duration
	// MaxCmdline caps the command line of an event, in bytes (default
	// procfs.DefaultMaxCmdline, 4 KiB); longer ones are cut and marked
	// with CommandLineTruncated in ExtraDetails.
	MaxCmdline int
	// MaxTracked bounds the table of live processes remembered for exit
	// events (default 32768).
	MaxTracked int
	// QueueSize bounds the events waiting for the Sink (default 8192):
	// the reader enriches events as it reads them and queues them for
	// the goroutine that calls Emit; when the queue is full (a Sink that
	// blocks), events are counted as dropped. The process table stays
	// right meanwhile.
	QueueSize int
	// ReceiveBuffer is the socket receive buffer asked for (default 8 MiB;
	// SO_RCVBUFFORCE as root, else SO_RCVBUF capped by net.core.rmem_max).
	ReceiveBuffer int
	// Resolver, when set, names the container (and IoT Edge module) of a
	// container id.
	Resolver collector.ContainerResolver
	// ReportEvery is the least time between two reports of lost or
	// dropped events (default 30 s). The first loss is reported at once
	// (within a second).
	ReportEvery time.Duration
	// ReaderScheduling is how the thread that reads the proc connector
	// and /proc is scheduled (default SchedulingAuto: real-time priority
	// 1 when allowed). See [Scheduling].
	ReaderScheduling Scheduling
}

func (o Options) withDefaults() Options {
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxCmdline <= 0 {
		o.MaxCmdline = procfs.DefaultMaxCmdline
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = DefaultMaxTracked
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.ReceiveBuffer <= 0 {
		o.ReceiveBuffer = DefaultReceiveBuffer
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = DefaultReportEvery
	}
	return o
}

// Stats are the collector's counters since it was created.
type Stats struct {
	// Received counts proc connector events read from the socket.
	Received uint64
	// LostEvents counts events the kernel could not deliver, from gaps in
	// the per-CPU sequence numbers: because the socket buffer was full
	// (ENOBUFS, Overruns) or because it could not allocate the message
	// (seen on a loaded machine; the kernel says nothing else then).
	LostEvents uint64
	// Overruns counts ENOBUFS errors.
	Overruns uint64
	// Dropped counts events dropped because the queue to the Sink was
	// full.
	Dropped uint64
	// NoCommandLine counts ProcessCreate events sent without a command
	// line (nor executable) because the process exited before /proc
	// could be read; they carry KeyEnrichmentError. They are included in
	// Partial.
	NoCommandLine uint64
	// Created and Terminated count the events emitted; Partial those of
	// them whose /proc enrichment was incomplete.
	Created, Terminated, Partial uint64
	// EmitErrors counts events the Sink refused.
	EmitErrors uint64
	// Mode is the source in use ("netlink", "poll", or "" before Run).
	Mode string
	// ReaderScheduling is what the proc connector reader's thread got:
	// "fifo:1", "nice:-20", "inherit", or "" before it started.
	ReaderScheduling string
}

// Collector emits ProcessCreate and ProcessTerminate events. Create it
// with [New]. Run may be called again after it returned; the counters
// accumulate.
type Collector struct {
	opts   Options
	self   int
	users  *procfs.UserCache
	report sync.Once

	received, lost, overruns, dropped   atomic.Uint64
	created, terminated, partial, emitE atomic.Uint64
	noCmdline                           atomic.Uint64
	mode, sched                         atomic.Value // string
}

// The collector tells the engine how many events it lost.
var _ collector.DropCounter = (*Collector)(nil)

// New returns a process collector.
func New(opts Options) *Collector {
	opts = opts.withDefaults()
	return &Collector{opts: opts, self: os.Getpid(), users: procfs.NewUserCache(opts.HostRoot, 0)}
}

// Name implements collector.Collector.
func (c *Collector) Name() string { return event.ProcessCreate }

// Events implements collector.Describer: the collector emits
// ProcessCreate and ProcessTerminate events.
func (c *Collector) Events() []event.Info {
	return event.Infos(event.ProcessCreate, event.ProcessTerminate)
}

// Stats returns the counters. It is safe to call at any time.
func (c *Collector) Stats() Stats {
	m, _ := c.mode.Load().(string)
	sch, _ := c.sched.Load().(string)
	return Stats{
		Received: c.received.Load(), LostEvents: c.lost.Load(), Overruns: c.overruns.Load(),
		Dropped: c.dropped.Load(), NoCommandLine: c.noCmdline.Load(), Created: c.created.Load(),
		Terminated: c.terminated.Load(), Partial: c.partial.Load(), EmitErrors: c.emitE.Load(),
		Mode: m, ReaderScheduling: sch,
	}
}

// Dropped implements [collector.DropCounter]: the events that never
// reached the Sink, that is those the kernel could not deliver to a full
// socket buffer (Stats.LostEvents) and those dropped on a full queue
// (Stats.Dropped). Events the Sink refused are counted by the Sink, and
// events sent without a command line (Stats.NoCommandLine) were sent.
func (c *Collector) Dropped() int64 {
	return int64(c.lost.Load() + c.dropped.Load())
}

// Run implements collector.Collector.
func (c *Collector) Run(ctx context.Context, sink collector.Sink) error {
	if ctx.Err() != nil {
		return nil
	}
	if c.opts.Mode != ModePoll {
		sock, err := openProcConnector(c.opts.ReceiveBuffer)
		if err == nil {
			c.mode.Store("netlink")
			c.opts.Logger.Info("process events from the kernel proc connector",
				"receive_buffer", sock.rcvbuf, "forced", sock.forced)
			if !sock.forced {
				collector.ReportError(ctx, sink, c.Name(), fmt.Errorf(
					"process: no CAP_NET_ADMIN to size the proc connector buffer: %d bytes granted, events may be lost under load", sock.rcvbuf))
			}
			return c.runNetlink(ctx, sink, sock)
		}
		if c.opts.Mode == ModeNetlink {
			return err
		}
		// reportPolling reports it (one Diagnostic event), with err.
		c.opts.Logger.Debug("proc connector unavailable, polling /proc", "err", err)
		c.reportPolling(ctx, sink, err)
	}
	c.mode.Store("poll")
	if c.opts.Mode == ModePoll {
		c.reportPolling(ctx, sink, nil)
	}
	return c.runPoll(ctx, sink)
}

// ErrPolling is reported (once per collector) when process events come
// from /proc polling.
var ErrPolling = errors.New("process: polling /proc: processes shorter than the poll interval are missed and exit statuses are unknown")

func (c *Collector) reportPolling(ctx context.Context, sink collector.Sink, cause error) {
	c.report.Do(func() {
		err := fmt.Errorf("%w (every %s)", ErrPolling, c.opts.PollInterval)
		if cause != nil {
			err = fmt.Errorf("%w (every %s; proc connector: %w)", ErrPolling, c.opts.PollInterval, cause)
		}
		c.opts.Logger.Debug(err.Error()) // the report is the warning
		collector.ReportError(ctx, sink, c.Name(), err)
	})
}

// emit hands events to the sink, counting refusals.
func (c *Collector) emit(ctx context.Context, sink collector.Sink, evs []event.Event) {
	if len(evs) == 0 {
		return
	}
	if err := sink.Emit(ctx, evs...); err != nil {
		if ctx.Err() != nil {
			return
		}
		c.emitE.Add(uint64(len(evs)))
	}
}

// runNetlink runs the socket reader, which enriches the events inline (so
// that /proc is read while the process most likely still runs), and the
// emitter, which hands them to the sink, until ctx is done.
//
// The reader runs on a thread of its own, locked to its goroutine and
// never given back to the runtime (it ends with the goroutine), whose
// scheduling is raised as Options.ReaderScheduling says.
func (c *Collector) runNetlink(ctx context.Context, sink collector.Sink, sock *connSocket) error {
	out := evqueue.New(c.opts.QueueSize)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.emitLoop(ctx, sink, out)
	}()
	stop := context.AfterFunc(ctx, sock.stop)
	defer stop()
	go func() {
		defer wg.Done()
		defer func() { _ = sock.release() }()
		runtime.LockOSThread() // never unlocked: the thread's scheduling was changed
		got, refused := raiseThread(c.opts.ReaderScheduling)
		c.sched.Store(got)
		switch {
		case got == "inherit" && c.opts.ReaderScheduling != SchedulingInherit:
			err := fmt.Errorf("%w: %w", ErrReaderPriority, errors.Join(refused...))
			c.opts.Logger.Warn(err.Error())
			collector.ReportError(ctx, sink, c.Name(), err)
		case len(refused) > 0:
			c.opts.Logger.Info("proc connector reader: real-time priority refused, runs at nice -20",
				"err", errors.Join(refused...))
		}
		e := c.newEnricher(ctx, out)
		defer e.close()
		e.seed()
		if ctx.Err() == nil {
			c.readLoop(sock, e)
		}
	}()
	// The reader returns once the AfterFunc stopped the socket; the
	// emitter returns on ctx.Done.
	wg.Wait()
	return nil
}

// ErrReaderPriority is reported (once per Run) when the reader's thread
// could not be given a higher priority than the other threads.
var ErrReaderPriority = errors.New("process: the proc connector reader runs at normal priority (needs CAP_SYS_NICE): " +
	"on a busy machine short-lived processes may be reported without their command line")

// ErrLoss is wrapped by the errors the collector reports (through
// collector.ReportError and its log, at most every Options.ReportEvery)
// when it lost events or sent some without a command line.
var ErrLoss = errors.New("process: events lost or incomplete")

// lossReport is the state of the rate-limited loss reports.
type lossReport struct {
	last     time.Time
	reported [3]uint64 // lost, dropped, no command line, at the last report
}

// checkLosses reports the loss counters when they changed since the last
// report and that report is at least Options.ReportEvery old (the first
// one goes at once).
func (c *Collector) checkLosses(ctx context.Context, sink collector.Sink, r *lossReport, now time.Time) {
	cur := [3]uint64{c.lost.Load(), c.dropped.Load(), c.noCmdline.Load()}
	if cur == r.reported || (!r.last.IsZero() && now.Sub(r.last) < c.opts.ReportEvery) {
		return
	}
	err := fmt.Errorf("%w: since start %d events lost to proc connector overruns (%d ENOBUFS; counted from per-CPU sequence gaps), "+
		"%d dropped on a full queue, %d process creations sent without a command line (exited before /proc was read)",
		ErrLoss, cur[0], c.overruns.Load(), cur[1], cur[2])
	c.opts.Logger.Warn(err.Error())
	collector.ReportError(ctx, sink, c.Name(), err)
	r.reported, r.last = cur, now
}

// emitLoop hands queued events to the sink and reports losses until ctx
// is done.
func (c *Collector) emitLoop(ctx context.Context, sink collector.Sink, out *evqueue.Queue) {
	tick := time.NewTicker(min(c.opts.ReportEvery, time.Second))
	defer tick.Stop()
	var r lossReport
	for {
		select {
		case <-ctx.Done():
			return
		case <-out.Ready():
			c.emit(ctx, sink, out.Take())
		case now := <-tick.C:
			c.checkLosses(ctx, sink, &r, now)
		}
	}
}

// maxBatch is the most events the reader builds before queueing them.
const maxBatch = 128

// readLoop reads the socket, enriching the events inline, until it is
// closed.
func (c *Collector) readLoop(sock *connSocket, e *enricher) {
	buf := make([]byte, 16<<10)
	h := &dgramHandler{c: c, e: e, evs: make([]rawEvent, 0, 64)}
	for {
		err := sock.readBatch(buf, h.handle, h.idle)
		e.flush()
		if sock.closing.Load() {
			return
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOBUFS):
			c.overruns.Add(1) // the sequence gap counts what was lost
		case errors.Is(err, errClosed), errors.Is(err, unix.EBADF):
			return
		default:
			c.opts.Logger.Error("proc connector read", "err", err)
			// Avoid a busy loop on a persistent error.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// dgramHandler decodes datagrams and hands their events to the enricher.
type dgramHandler struct {
	c   *Collector
	e   *enricher
	evs []rawEvent // reused
	seq seqTracker
}

// idle runs when the socket is drained (and at least every second): it
// counts the skipped sequence numbers that did not arrive late and queues
// the events built so far.
func (h *dgramHandler) idle() {
	if n := h.seq.expire(time.Now()); n > 0 {
		h.c.lost.Add(n)
	}
	h.e.flush()
}

func (h *dgramHandler) handle(dgram []byte) {
	var err error
	h.evs, err = parseMessages(dgram, h.evs[:0])
	if errors.Is(err, unix.ENOBUFS) {
		h.c.overruns.Add(1)
	}
	now := time.Now()
	for i := range h.evs {
		ev := &h.evs[i]
		if ev.What != procEventNone {
			h.c.received.Add(1)
			if n := h.seq.next(ev.CPU, ev.Seq, now); n > 0 {
				h.c.lost.Add(n)
			}
		}
		h.e.handle(ev)
		if len(h.e.batch) >= maxBatch {
			h.e.flush()
		}
	}
}

// seqTracker finds gaps in the per-CPU sequence numbers of the proc
// connector: the kernel numbers every event per CPU before it sends it,
// so a gap is events it could not deliver (to a full socket buffer, then
// also ENOBUFS, or because it could not allocate the message, which it
// does not report otherwise). Should two events of one CPU be sent in the
// other order than they were numbered (the kernel numbers and sends under
// one per-CPU lock today, not in every version), a number skipped over may
// still arrive: a skipped number is pending while it is
// among the last 64 of its CPU, is forgotten if it arrives, and is counted
// lost when it leaves the window or has been pending for seqPendingMax.
// The count never decreases.
type seqTracker struct {
	last    []uint32 // by CPU, valid where seen
	missing []uint64 // by CPU: bit i set = last-1-i is pending
	seen    []bool
	since   time.Time // when the oldest pending number was skipped; zero: none
}

const (
	maxSeqCPUs    = 4096
	seqPendingMax = time.Second
)

// next records seq for cpu and returns the number of events now known to
// be lost.
func (t *seqTracker) next(cpu, seq uint32, now time.Time) uint64 {
	if cpu >= maxSeqCPUs {
		return 0
	}
	if int(cpu) >= len(t.last) {
		n := max(int(cpu)+1, 2*len(t.last), 8)
		t.last = append(t.last, make([]uint32, n-len(t.last))...)
		t.missing = append(t.missing, make([]uint64, n-len(t.missing))...)
		t.seen = append(t.seen, make([]bool, n-len(t.seen))...)
	}
	if !t.seen[cpu] {
		t.last[cpu], t.seen[cpu] = seq, true
		return 0
	}
	last := t.last[cpu]
	switch d := seq - last; { // modulo 2³², so a wrap-around is a step forward
	case d == 0: // a repeated number
	case d < 1<<31:
		gap := d - 1
		old := t.missing[cpu]
		var lost uint64
		var m uint64
		if d < 64 {
			lost = uint64(bits.OnesCount64(old >> (64 - d)))
			m = old << d
		} else {
			lost = uint64(bits.OnesCount64(old))
		}
		if gap >= 64 {
			m = ^uint64(0)
			lost += uint64(gap - 64)
		} else {
			m |= uint64(1)<<gap - 1
		}
		t.last[cpu], t.missing[cpu] = seq, m
		if gap > 0 && t.since.IsZero() {
			t.since = now
		}
		return lost
	default: // older than the newest: one that was skipped arrives late?
		if back := last - seq; back <= 64 {
			t.missing[cpu] &^= uint64(1) << (back - 1)
		}
	}
	return 0
}

// expire counts as lost, and forgets, the pending numbers once the
// oldest has waited seqPendingMax.
func (t *seqTracker) expire(now time.Time) uint64 {
	if t.since.IsZero() || now.Sub(t.since) < seqPendingMax {
		return 0
	}
	var lost uint64
	for i, m := range t.missing {
		lost += uint64(bits.OnesCount64(m))
		t.missing[i] = 0
	}
	t.since = time.Time{}
	return lost
}

// enricher owns the live process table and builds events. It runs on the
// reader goroutine.
type enricher struct {
	c     *Collector
	ctx   context.Context
	live  *lru
	rd    *procfs.Reader
	out   *evqueue.Queue
	boot  time.Time
	mono0 time.Time // wall time at CLOCK_MONOTONIC zero
	batch []event.Event
}

func (c *Collector) newEnricher(ctx context.Context, out *evqueue.Queue) *enricher {
	e := &enricher{c: c, ctx: ctx, live: newLRU(c.opts.MaxTracked), out: out,
		rd: procfs.NewReader(c.opts.HostRoot), batch: make([]event.Event, 0, maxBatch)}
	if bt, err := procfs.BootTime(c.opts.HostRoot); err == nil {
		e.boot = bt
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		e.mono0 = time.Now().Add(-time.Duration(ts.Nano()))
	}
	return e
}

func (e *enricher) close() { _ = e.rd.Close() }

// flush queues the events built so far for the emitter.
func (e *enricher) flush() {
	if len(e.batch) == 0 {
		return
	}
	if d := e.out.Put(e.batch); d > 0 {
		e.c.dropped.Add(uint64(d))
	}
	clear(e.batch) // the queue holds copies; do not pin payloads here
	e.batch = e.batch[:0]
}

// ktime converts a kernel CLOCK_MONOTONIC timestamp to wall time.
func (e *enricher) ktime(ns uint64) time.Time {
	if ns == 0 || e.mono0.IsZero() {
		return time.Now()
	}
	return e.mono0.Add(time.Duration(ns))
}

// seed fills the live table from /proc so that the exits of processes
// started before the collector name their executable.
func (e *enricher) seed() {
	pids, err := procfs.ListPIDs(e.c.opts.HostRoot)
	if err != nil {
		e.c.opts.Logger.Warn("listing processes", "err", err)
		return
	}
	for _, pid := range pids {
		if e.live.len() >= e.c.opts.MaxTracked/2 || e.ctx.Err() != nil {
			return
		}
		p, err := e.rd.Read(pid, procfs.ReadOptions{MaxCmdline: 1})
		if err != nil {
			continue
		}
		info := e.infoFrom(p)
		e.live.put(info)
	}
}

func (e *enricher) infoFrom(p procfs.Process) *procInfo {
	info := &procInfo{pid: p.PID, ppid: p.PPID, startTicks: p.StartTime, comm: p.Comm, exe: p.Exe,
		uid: strconv.FormatUint(uint64(p.UID), 10), containerID: p.ContainerID, execd: true}
	if prev := e.live.get(p.PID); prev != nil && prev.containerID == p.ContainerID && prev.container != "" {
		info.container, info.module = prev.container, prev.module
	} else if p.ContainerID != "" && e.c.opts.Resolver != nil {
		info.container, info.module, _ = e.c.opts.Resolver.Resolve(e.ctx, p.ContainerID)
	}
	return info
}

// handle processes one proc connector event.
func (e *enricher) handle(ev *rawEvent) {
	switch ev.What {
	case procEventFork:
		if ev.PID != ev.TGID { // a new thread
			return
		}
		child := &procInfo{pid: int(ev.TGID), ppid: int(ev.ParentTGID)}
		if parent := e.live.get(int(ev.ParentTGID)); parent != nil {
			child.comm, child.exe, child.uid = parent.comm, parent.exe, parent.uid
			child.containerID, child.container, child.module = parent.containerID, parent.container, parent.module
		}
		e.live.put(child)
	case procEventExec:
		if int(ev.TGID) == e.c.self {
			return
		}
		e.exec(ev)
	case procEventExit:
		if ev.PID != ev.TGID || int(ev.TGID) == e.c.self {
			return
		}
		e.exit(ev)
	case procEventComm:
		if p := e.live.get(int(ev.TGID)); p != nil && ev.PID == ev.TGID {
			p.comm = commString(ev.Comm[:])
		}
	case procEventNone:
		if ev.AckErr != 0 {
			e.c.opts.Logger.Warn("proc connector subscription", "err", unix.Errno(ev.AckErr))
		}
	}
}

func commString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	s, _ := procfs.ParseCmdline(b, procfs.MaxCommBytes)
	return s
}

func (e *enricher) exec(ev *rawEvent) {
	pid := int(ev.TGID)
	prev := e.live.get(pid) // from the fork (or an earlier exec)
	// A process inherits its parent's cgroup; only a process whose parent
	// is on the host (runc's init, moved into a container cgroup before
	// it execs) can be somewhere else, so the cgroup is read only then.
	inherited := prev != nil && prev.containerID != ""
	p, err := e.rd.Read(pid, procfs.ReadOptions{
		MaxCmdline: e.c.opts.MaxCmdline, SkipStat: true, SkipCgroup: inherited})
	if err == nil && inherited {
		p.ContainerID = prev.containerID
	}
	info := &procInfo{pid: pid, execd: true}
	item := &event.ProcessCreatePayload{ProcessID: pid, ExtraDetails: event.ExtraDetails{KeySource: "netlink"}}
	x := item.ExtraDetails
	var parent *procInfo
	if err == nil {
		info = e.infoFrom(p)
		item.Executable, item.CommandLine = p.Exe, p.Cmdline
		if p.PPID == 0 && prev != nil && prev.ppid != 0 {
			// The kernel shows PPid 0 for a task being released: the
			// process exited while /proc was read. The fork told the
			// parent.
			p.PPID = prev.ppid
			info.ppid = prev.ppid
			x[KeyEnrichment] = "partial"
		}
		item.ParentProcessID = p.PPID
		item.UserID = strconv.FormatUint(uint64(p.UID), 10)
		item.UserName = e.c.users.Name(p.UID)
		x[KeyComm] = p.Comm
		if p.EUID != p.UID {
			x[KeyEffectiveUserID] = strconv.FormatUint(uint64(p.EUID), 10)
			if n := e.c.users.Name(p.EUID); n != "" {
				x[KeyEffectiveUserName] = n
			}
		}
		if p.CmdlineTruncated {
			x[KeyCommandLineTruncated] = "true"
		}
		if p.ExeDeleted {
			x[KeyExecutableDeleted] = "true"
		}
		if p.Partial || p.Exe == "" {
			x[KeyEnrichment] = "partial"
		}
		if p.Exe == "" && prev != nil {
			// Exited before exe could be read: say what the fork knew.
			info.exe = ""
		}
		parent = e.live.get(p.PPID)
	} else {
		// Gone before /proc was read: what the fork event told.
		x[KeyEnrichment] = "partial"
		if prev != nil {
			info.ppid, info.uid = prev.ppid, prev.uid
			info.containerID, info.container, info.module = prev.containerID, prev.container, prev.module
			item.ParentProcessID, item.UserID = prev.ppid, prev.uid
			parent = e.live.get(prev.ppid)
		}
		if item.UserID != "" {
			if uid, err := strconv.ParseUint(item.UserID, 10, 32); err == nil {
				item.UserName = e.c.users.Name(uint32(uid))
			}
		}
	}
	if parent != nil {
		if parent.comm != "" {
			x[KeyParentComm] = parent.comm
		}
		if parent.exe != "" {
			x[KeyParentExecutable] = parent.exe
		}
	}
	if err != nil || (p.Cmdline == "" && p.Partial) {
		// Gone (or its memory already released) before /proc was read:
		// sent with what is known, and counted.
		x[KeyEnrichmentError] = ErrTextExited
		e.c.noCmdline.Add(1)
	}
	e.attribute(x, info)
	if x[KeyEnrichment] != "" {
		e.c.partial.Add(1)
	}
	e.live.put(info)
	e.c.created.Add(1)
	e.batch = append(e.batch, event.Must(event.ProcessCreate, e.ktime(ev.KTime), item))
}

func (e *enricher) attribute(x event.ExtraDetails, info *procInfo) {
	if info.containerID == "" {
		return
	}
	x[KeyContainerID] = info.containerID
	if info.container != "" {
		x[KeyContainerName] = info.container
	}
	if info.module != "" {
		x[KeyModuleName] = info.module
	}
}

func (e *enricher) exit(ev *rawEvent) {
	pid := int(ev.TGID)
	info := e.live.remove(pid)
	status, sig, core := procfs.DecodeWaitStatus(ev.ExitCode)
	item := &event.ProcessTerminatePayload{ProcessID: pid, ExitStatus: status,
		ExtraDetails: event.ExtraDetails{KeySource: "netlink"}}
	x := item.ExtraDetails
	if sig != 0 {
		x[KeySignal] = procfs.SignalName(sig)
	}
	if core {
		x[KeyCoreDumped] = "true"
	}
	if info != nil {
		item.Executable = info.exe
		if info.comm != "" {
			x[KeyComm] = info.comm
		}
		e.attribute(x, info)
		if !info.execd || info.exe == "" {
			// A fork that never exec'd runs its parent's image: the
			// executable is inherited, say so.
			if info.exe == "" {
				x[KeyEnrichment] = "partial"
			}
		}
	} else {
		x[KeyEnrichment] = "partial"
	}
	if x[KeyEnrichment] != "" {
		e.c.partial.Add(1)
	}
	e.c.terminated.Add(1)
	e.batch = append(e.batch, event.Must(event.ProcessTerminate, e.ktime(ev.KTime), item))
}
