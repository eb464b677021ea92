package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/evqueue"
	"github.com/edgesec/edgesec/internal/procfs"
	"github.com/edgesec/edgesec/twinconfig"
)

// Defaults of [Options].
const (
	DefaultRingBufferSize = 256 << 10
	DefaultPollInterval   = 50 * time.Millisecond
	DefaultMaxTracked     = 32768
	DefaultQueueSize      = 8192
	DefaultReportEvery    = 30 * time.Second
	// MaxArgv is the most argv bytes the kernel program copies per exec.
	MaxArgv = argvMax
)

// Name is the collector's name (logs, Diagnostic events, Heartbeat).
const Name = "KernelEvents"

// Options configure [New]. The zero value is usable.
type Options struct {
	// HostRoot is where the host's filesystem (and /proc, from the host
	// PID namespace) is mounted: "/" (default) or "/host". It is used to
	// resolve executable symlinks of host processes, read processes that
	// started before the collector, and /etc/passwd.
	HostRoot string
	// Logger receives the collector's log lines (nil: discarded).
	Logger *slog.Logger
	// Disable makes New return ErrNotAvailable without trying: the
	// switch that forces the proc connector fallback.
	Disable bool
	// Connections adds TCP ConnectionCreate events (connect and accept)
	// and UDP ones (the first datagram a process sends to each peer).
	// Accept and UDP attribution trace the exit of every system call (a
	// few tens of nanoseconds each); they are available on amd64 and
	// arm64 (Stats.Accept, Stats.UDP).
	Connections bool
	// Activity adds KernelActivity events: security-relevant file and
	// system call activity, filtered in the kernel (see the package
	// documentation). It traces the entry of every system call (a lookup
	// in a 512-entry array for most); available on amd64 and arm64, Linux
	// >= 5.17 (bpf_loop).
	Activity bool
	// WatchedPaths are the path prefixes whose operations Activity
	// reports (nil: DefaultWatchedPaths; at most MaxWatchedPaths, each at
	// most MaxWatchedPrefix bytes). New returns an error, not wrapping
	// ErrNotAvailable, when they are invalid. They are also what
	// "defaults" stands for in the kernelWatchedPaths configuration key
	// (see [Collector.ApplyConfig]); [Collector.SetWatchedPaths] replaces
	// them while the collector runs.
	WatchedPaths []WatchedPath
	// RingBufferSize is the size of the ring buffer shared by all CPUs, in
	// bytes, rounded up to a power of two of at least one page (default
	// 256 KiB: about 350 exec records with short command lines, a few
	// hundred milliseconds of the reader being held up at the exec rate
	// of a 2-core device). An exec record takes 608 bytes plus its argv.
	// The reader maps the buffer twice: it counts twice in the RSS once
	// written through.
	RingBufferSize int
	// WakeupBytes is how much queued data makes the kernel wake the
	// reader at once (default a sixteenth of the ring buffer). Below it
	// the reader collects every PollInterval: waking on every event costs
	// tens of microseconds per event.
	WakeupBytes int
	// PollInterval is the reader's deadline between two reads of the ring
	// buffer when the kernel does not wake it (default 50 ms).
	PollInterval time.Duration
	// MaxCmdline caps the command line of an event, in bytes (default and
	// most [MaxArgv]); longer ones are cut and marked CommandLineTruncated.
	MaxCmdline int
	// MaxTracked bounds the table of live processes remembered for exits,
	// children and connections (default 32768).
	MaxTracked int
	// QueueSize bounds the events waiting for the Sink (default 8192); a
	// full queue drops events and counts them (Stats.Dropped).
	QueueSize int
	// Resolver, when set, names the container (and IoT Edge module) of a
	// container id.
	Resolver collector.ContainerResolver
	// ReportEvery is the least time between two reports, through the
	// Sink's collector.ErrorReporter, of lost or dropped events and of
	// activity not interpreted (Stats.CompatSkipped, Stats.UDPUnread);
	// each is reported when its counters changed (default 30 s).
	ReportEvery time.Duration
}

func (o Options) withDefaults() Options {
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	page := os.Getpagesize()
	if o.RingBufferSize <= 0 {
		o.RingBufferSize = DefaultRingBufferSize
	}
	o.RingBufferSize = max(o.RingBufferSize, page)
	if o.RingBufferSize&(o.RingBufferSize-1) != 0 {
		o.RingBufferSize = 1 << bits.Len(uint(o.RingBufferSize))
	}
	if o.WakeupBytes <= 0 || o.WakeupBytes > o.RingBufferSize/2 {
		o.WakeupBytes = o.RingBufferSize / 16
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxCmdline <= 0 || o.MaxCmdline > MaxArgv {
		o.MaxCmdline = MaxArgv
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = DefaultMaxTracked
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = DefaultReportEvery
	}
	if o.WatchedPaths == nil {
		o.WatchedPaths = DefaultWatchedPaths
	}
	o.WatchedPaths = slices.Clone(o.WatchedPaths)
	return o
}

// Stats are the collector's counters since it was created.
type Stats struct {
	// Records counts ring buffer records read; Malformed those that could
	// not be parsed (never expected: a bug).
	Records, Malformed uint64
	// RingBufferFull counts records the kernel could not queue because
	// the ring buffer was full (summed over CPUs): events lost.
	RingBufferFull uint64
	// ArgvFaults counts execs whose arguments could not be read in the
	// kernel (sent without a command line, marked partial).
	ArgvFaults uint64
	// ConnectTableFull counts connects not reported because the kernel's
	// table of connections in progress was full.
	ConnectTableFull uint64
	// PathFaults counts watched system calls whose path could not be
	// read (not reported unless the call is reported whatever its path).
	PathFaults uint64
	// CompatSkipped counts 32-bit system calls (of ia32 processes on
	// amd64, or int $0x80 in a 64-bit one; of AArch32 processes on arm64)
	// whose number is one the programs trace: their numbers and argument
	// registers are not the 64-bit ones, so they are not interpreted (no
	// KernelActivity, accept or UDP event). Not zero means 32-bit system
	// calls are made on the host and that part of their activity is not
	// seen; 32-bit calls of other numbers are not counted (see the
	// package documentation).
	CompatSkipped uint64
	// UDPUnread counts the messages of sendmmsg calls after the eighth,
	// whose addresses the programs do not read: a first datagram to an
	// address given among them is not reported (a connected socket's peer
	// still is, where UDPConnectedSends).
	UDPUnread uint64
	// Dropped counts events dropped because the queue to the Sink was
	// full; EmitErrors the events the Sink refused.
	Dropped, EmitErrors uint64
	// Created, Terminated, Forks, Connections count the events built and
	// fork records read; Partial the events built with missing details.
	Created, Terminated, Forks, Connections, Activities, Partial uint64
	// Accept reports whether inbound connections are attributed (accept
	// tracing is attached); Activity whether system call activity is
	// reported.
	Accept, Activity bool
	// UDP reports whether the first UDP datagram of a process to each
	// peer is reported (sendto, sendmsg and sendmmsg traced at their
	// exit); UDPConnectedSends whether sends on a connected UDP socket by
	// any system call (write, writev, send) are too (the kernel's
	// sock_send_length tracepoint, Linux >= 6.4).
	UDP, UDPConnectedSends bool
}

// Lost is every event lost, whatever the reason: ring buffer full,
// connect table full, queue full, or refused by the Sink.
func (s Stats) Lost() uint64 {
	return s.RingBufferFull + s.ConnectTableFull + s.Dropped + s.EmitErrors
}

// Collector emits ProcessCreate and ProcessTerminate events and, with
// Options.Connections, TCP and UDP ConnectionCreate events, from BPF
// programs in the kernel. Create it with [New] and release it with Close. Run may be
// called again after it returned (not concurrently); the counters
// accumulate.
type Collector struct {
	opts    Options
	l       *loaded
	users   *procfs.UserCache
	self    int
	running atomic.Bool

	mu      sync.Mutex // guards closed, last, watched and l.watched
	closed  bool
	last    [statMax]uint64 // the kernel's counters when last read (kept after Close)
	watched []WatchedPath   // the watched paths in effect

	records, malformed, dropped, emitE             atomic.Uint64
	created, terminated, forks, conns, acts, parts atomic.Uint64
}

// New loads and attaches the BPF programs. The error wraps
// [ErrNotAvailable] when the kernel, the capabilities or the platform do
// not allow it; the caller then uses the proc connector. Close releases
// the programs.
func New(opts Options) (*Collector, error) {
	opts = opts.withDefaults()
	l, err := load(opts)
	if err != nil {
		return nil, err
	}
	opts.Logger.Info("kernel events from eBPF", "ring_buffer", opts.RingBufferSize,
		"wakeup_bytes", opts.WakeupBytes, "poll", opts.PollInterval,
		"connections", opts.Connections, "accept", l.accept, "activity", l.active)
	return &Collector{opts: opts, l: l, users: procfs.NewUserCache(opts.HostRoot, 0), self: os.Getpid(),
		watched: opts.WatchedPaths}, nil
}

// WatchedPaths returns the watched path prefixes in effect (what the
// kernel's filter compares when system call activity is reported).
func (c *Collector) WatchedPaths() []WatchedPath {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.watched)
}

// SetWatchedPaths replaces the watched path prefixes (nil:
// Options.WatchedPaths) in the kernel's filter, without reloading the
// programs: the next system calls are matched against paths. It returns
// an error, and keeps the list in effect, when paths are not valid
// (more than MaxWatchedPaths, a prefix that is not an absolute path of at
// most MaxWatchedPrefix bytes, no operation or an unknown one) or the
// kernel refuses the update (then the filter may hold part of paths, and
// the next call writes what differs). While the filter is rewritten, a
// system call may miss a prefix being replaced, never match a half-written
// one (see the package documentation). It is safe to call at any time,
// also while Run runs; after Close it only records the list.
func (c *Collector) SetWatchedPaths(paths []WatchedPath) error {
	if paths == nil {
		paths = c.opts.WatchedPaths
	}
	entries, err := watchedEntries(paths)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && c.l.active && !slices.Equal(entries, c.l.watched) {
		if err := c.l.setWatched(entries); err != nil {
			return err
		}
		c.opts.Logger.Info("kernel: watched paths changed", "prefixes", len(paths))
	}
	c.watched = slices.Clone(paths)
	return nil
}

// ApplyConfig implements collector.Configurer: it sets the watched paths
// of the kernelWatchedPaths key ([ParseWatchedPaths], where "defaults" is
// Options.WatchedPaths) with [Collector.SetWatchedPaths]. A value it cannot
// use returns a twinconfig.Problem naming the key (the engine sends it as
// a ConfigurationError) and leaves the watched paths as they were.
func (c *Collector) ApplyConfig(cfg twinconfig.Config) error {
	paths, err := ParseWatchedPaths(cfg.KernelWatchedPaths, c.opts.WatchedPaths)
	if err == nil {
		err = c.SetWatchedPaths(paths)
	}
	if err != nil {
		return twinconfig.Problem{Key: twinconfig.KeyKernelWatchedPaths, Kind: event.TypeMismatch, Message: err.Error(),
			Used: FormatWatchedPaths(c.WatchedPaths(), c.opts.WatchedPaths)}
	}
	return nil
}

// Close detaches and unloads the BPF programs. It must not be called
// while Run runs; it is idempotent.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.readCountersLocked()
	c.closed = true
	return c.l.close()
}

// Name implements collector.Collector.
func (c *Collector) Name() string { return Name }

// Events implements collector.Describer: ProcessCreate and
// ProcessTerminate, ConnectionCreate with Options.Connections, and
// KernelActivity with Options.Activity (where available). The list is
// fixed by New.
func (c *Collector) Events() []event.Info {
	names := []string{event.ProcessCreate, event.ProcessTerminate}
	if c.opts.Connections {
		names = append(names, event.ConnectionCreate)
	}
	if c.l.active {
		names = append(names, event.KernelActivity)
	}
	return event.Infos(names...)
}

// Stats returns the counters. It is safe to call at any time.
func (c *Collector) Stats() Stats {
	s := Stats{
		Records: c.records.Load(), Malformed: c.malformed.Load(), Dropped: c.dropped.Load(),
		EmitErrors: c.emitE.Load(), Created: c.created.Load(), Terminated: c.terminated.Load(),
		Forks: c.forks.Load(), Connections: c.conns.Load(), Activities: c.acts.Load(), Partial: c.parts.Load(),
		Accept: c.l.accept, Activity: c.l.active, UDP: c.l.udp, UDPConnectedSends: c.l.udpW,
	}
	c.mu.Lock()
	c.readCountersLocked()
	k := c.last
	c.mu.Unlock()
	s.RingBufferFull, s.ArgvFaults, s.ConnectTableFull = k[statRingbufFull], k[statArgvFault], k[statConnectFull]
	s.PathFaults, s.CompatSkipped, s.UDPUnread = k[statPathFault], k[statCompat], k[statUDPUnread]
	return s
}

// readCountersLocked refreshes c.last from the kernel, while loaded.
func (c *Collector) readCountersLocked() {
	if c.closed || c.l == nil || c.l.stats == nil {
		return
	}
	if k, err := c.l.counters(); err == nil {
		for i := range k {
			c.last[i] = max(c.last[i], k[i])
		}
	}
}

// Dropped implements collector.DropCounter: the events that never reached
// the Sink — records the ring buffer had no room for, connects the
// kernel's table had no room for, and events dropped on a full queue.
// Events the Sink refused are counted by the Sink. It is safe to call at
// any time, also after Close.
func (c *Collector) Dropped() int64 {
	s := c.Stats()
	return int64(s.RingBufferFull + s.ConnectTableFull + s.Dropped)
}

// errRunning is returned by a second concurrent Run.
var errRunning = errors.New("kernel: Run is already running")

// Run implements collector.Collector: it reads the ring buffer until ctx
// is done.
func (c *Collector) Run(ctx context.Context, sink collector.Sink) error {
	if ctx.Err() != nil {
		return nil
	}
	if !c.running.CompareAndSwap(false, true) {
		return errRunning
	}
	defer c.running.Store(false)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("kernel: Run after Close: %w", os.ErrClosed)
	}
	rg, err := newRing(c.l.events.FD(), int(c.l.events.MaxEntries()))
	var w *ringWaiter
	var werr error
	if err == nil {
		// Wait in the network poller; when it does not take the ring
		// buffer (never seen), read it at every PollInterval.
		w, werr = newRingWaiter(c.l.events.FD())
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if werr != nil {
		c.opts.Logger.Warn("kernel: reader not woken by the kernel, reads every poll interval", "err", werr)
	}
	out := evqueue.New(c.opts.QueueSize)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.emitLoop(ctx, sink, out)
	}()
	// Only the wait is ended from here: the reader never blocks elsewhere.
	stop := context.AfterFunc(ctx, func() {
		if w != nil {
			_ = w.close()
		}
	})
	e := newEnricher(c, ctx, out)
	e.seed()
	c.readLoop(ctx, rg, w, e)
	stop()
	if w != nil {
		_ = w.close()
	}
	_ = rg.close()
	e.close()
	wg.Wait()
	// Events still queued when ctx ended were not handed over: count them.
	if n := len(out.Take()); n > 0 {
		c.dropped.Add(uint64(n))
	}
	return nil
}

// readLoop drains the ring buffer, handing batches to the emitter when it
// is drained (and every maxBatch events), and waits in w between drains,
// until w is closed or ctx is done. Without a waiter (nil) it reads at
// every PollInterval.
func (c *Collector) readLoop(ctx context.Context, rg *ring, w *ringWaiter, e *enricher) {
	r := record{strs: newInterner()}
	handle := func(b []byte) {
		c.records.Add(1)
		if perr := parseRecord(b, &r); perr != nil {
			if c.malformed.Add(1) == 1 {
				c.opts.Logger.Error("kernel: ring buffer record", "err", perr)
			}
		} else {
			e.handle(&r)
		}
		if len(e.batch) >= maxBatch {
			e.flush()
		}
	}
	spins := 0
	for {
		_, busy, err := rg.read(handle)
		e.flush()
		if err != nil {
			// Never expected: count it, say it once, start again from
			// what the kernel writes next.
			if c.malformed.Add(1) == 1 {
				c.opts.Logger.Error("kernel: ring buffer", "err", err)
			}
			rg.skip()
		}
		if ctx.Err() != nil {
			return
		}
		if busy {
			// A program is writing the next record (microseconds):
			// come back to it, yielding, then sleeping if it lasts.
			if spins++; spins < 100 {
				runtime.Gosched()
			} else {
				time.Sleep(time.Millisecond)
			}
			continue
		}
		spins = 0
		if !c.waitRecords(ctx, w, rg.available) {
			return
		}
	}
}

// waitRecords waits in w until the ring buffer holds data: woken by the
// kernel (Options.WakeupBytes queued), or at each PollInterval when less
// is queued. An empty ring buffer at the deadline is not read. It returns
// false when w is closed or ctx is done. Without a waiter it waits for
// PollInterval.
func (c *Collector) waitRecords(ctx context.Context, w *ringWaiter, ready func() bool) bool {
	if w == nil {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(c.opts.PollInterval):
			return true
		}
	}
	for {
		switch err := w.wait(time.Now().Add(c.opts.PollInterval), ready); {
		case err == nil:
			return true
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ready() {
				return true
			}
		case errors.Is(err, errWaiterClosed):
			return false
		default:
			// Never expected; read at the poll interval meanwhile.
			c.opts.Logger.Error("kernel: ring buffer wait", "err", err)
			select {
			case <-ctx.Done():
				return false
			case <-time.After(c.opts.PollInterval):
				return true
			}
		}
	}
}

// maxBatch is the most events built before they are queued.
const maxBatch = 128

// emitLoop hands queued events to the sink and reports losses until ctx
// is done.
func (c *Collector) emitLoop(ctx context.Context, sink collector.Sink, out *evqueue.Queue) {
	tick := time.NewTicker(c.opts.ReportEvery)
	defer tick.Stop()
	var last, lastUnseen uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-out.Ready():
			if evs := out.Take(); len(evs) > 0 {
				if err := sink.Emit(ctx, evs...); err != nil && ctx.Err() == nil {
					c.emitE.Add(uint64(len(evs)))
				}
			}
		case <-tick.C:
			s := c.Stats()
			if lost := s.Lost(); lost != last {
				collector.ReportError(ctx, sink, c.Name(), fmt.Errorf(
					"kernel: events lost since start: %d ring buffer full, %d connect table full, %d queue full, %d refused by the sink",
					s.RingBufferFull, s.ConnectTableFull, s.Dropped, s.EmitErrors))
				last = lost
			}
			// What the programs saw but could not interpret: not losses
			// of events the collector would have built, but activity
			// nobody is told about otherwise.
			if unseen := s.CompatSkipped + s.UDPUnread; unseen != lastUnseen {
				collector.ReportError(ctx, sink, c.Name(), fmt.Errorf(
					"kernel: activity not interpreted since start: %d system calls of 32-bit processes, %d sendmmsg messages after the eighth (their peers not read)",
					s.CompatSkipped, s.UDPUnread))
				lastUnseen = unseen
			}
		}
	}
}

// ProgramStats is what the kernel measured of one BPF program: how often
// it ran and for how long in total. The kernel measures only while BPF
// statistics are enabled (sysctl kernel.bpf_stats_enabled=1, or
// [EnableProgramStats]).
type ProgramStats struct {
	Runs    uint64
	RunTime time.Duration
}

// ProgramStats returns the kernel's counters of each attached program, by
// program name ("handle_exec", …). It is safe to call at any time.
func (c *Collector) ProgramStats() (map[string]ProgramStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("kernel: program statistics: %w", os.ErrClosed)
	}
	out := make(map[string]ProgramStats, len(c.l.coll.Programs))
	for name, p := range c.l.coll.Programs {
		s, err := p.Stats()
		if err != nil {
			return nil, fmt.Errorf("kernel: program statistics of %s: %w", name, err)
		}
		out[name] = ProgramStats{Runs: s.RunCount, RunTime: s.Runtime}
	}
	return out, nil
}

// EnableProgramStats makes the kernel measure the run time of every BPF
// program until the returned Closer is closed (BPF_ENABLE_STATS; it costs
// two clock reads per program run). Needs CAP_SYS_ADMIN.
func EnableProgramStats() (io.Closer, error) {
	cl, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("kernel: enabling BPF statistics: %w", err)
	}
	return cl, nil
}
