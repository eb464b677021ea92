package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/procfs"
	"github.com/edgesec/edgesec/internal/sockdiag"
	"github.com/edgesec/edgesec/internal/sockowner"
)

// Defaults of the Options.
const (
	DefaultInterval   = time.Second
	DefaultMaxTracked = 1 << 16
)

// overflowReportEvery rate-limits the reports of untracked connections.
const overflowReportEvery = time.Minute

// Options configure the ConnectionCreate collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default) or
	// "/host" in a container with the host's / mounted there. Processes
	// are read from HostRoot/proc, user names from HostRoot/etc/passwd.
	HostRoot string
	// Logger receives warnings and debug messages; nil means the Sink's
	// logger (collector.Logger: the engine's, tagged with the collector's
	// name), or none.
	Logger *slog.Logger
	// Interval is how often the socket tables are compared; zero means
	// DefaultInterval. Connections opened and closed within one interval
	// are seen only if they linger (TIME_WAIT) — see the package
	// documentation.
	Interval time.Duration
	// MaxTracked bounds the connections remembered between snapshots;
	// zero means DefaultMaxTracked. New connections beyond it are counted
	// (Stats.Overflow) and reported as a problem, not as events.
	MaxTracked int
	// ReportExisting makes the first snapshot report the connections open
	// when the collector starts (normally they are only the baseline).
	ReportExisting bool
	// ExcludeUDP leaves out connected UDP sockets.
	ExcludeUDP bool
	// ExcludeTCP leaves out TCP connections, for a module that takes them
	// from a source that sees every one (the eBPF kernel source,
	// collector/kernel) and keeps this collector for UDP.
	ExcludeTCP bool
	// Containers, when set, names the containers of processes (ModuleName,
	// ContainerName); without it only ContainerId is reported.
	Containers collector.ContainerResolver
	// NetNS is the network namespace file whose sockets are read (see
	// sockdiag); empty means the module's own namespace.
	NetNS string
	// ProcNetDir is the fallback source of the socket tables when netlink
	// cannot be used; empty means HostRoot/proc/self/net.
	ProcNetDir string
}

// Stats are the collector's counters.
type Stats struct {
	Snapshots   uint64 // socket table snapshots taken
	Connections uint64 // new connections reported
	Unowned     uint64 // of which without an attributed process
	Overflow    uint64 // new connections not tracked (MaxTracked)
	Tracked     int    // connections currently tracked
	Fallback    bool   // a socket table is read from /proc/net
}

// Collector is the ConnectionCreate collector. Run may be called again
// after it returned (it then starts with a new baseline), but not
// concurrently.
type Collector struct {
	o     Options
	log   *slog.Logger
	users *procfs.UserCache

	snapshots, connections, unowned, overflow atomic.Uint64
	tracked                                   atomic.Int64
	fallback                                  atomic.Bool

	mu        sync.Mutex // guards fallbacks
	fallbacks []error
}

// New returns the ConnectionCreate collector.
func New(o Options) *Collector {
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	o.HostRoot = filepath.Clean(o.HostRoot)
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = DefaultMaxTracked
	}
	if o.ProcNetDir == "" {
		o.ProcNetDir = filepath.Join(o.HostRoot, "proc", "self", "net")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{o: o, log: log, users: procfs.NewUserCache(o.HostRoot, 0)}
}

// Name implements collector.Collector.
func (c *Collector) Name() string { return event.ConnectionCreate }

// Stats returns the counters. It may be called at any time.
func (c *Collector) Stats() Stats {
	return Stats{
		Snapshots: c.snapshots.Load(), Connections: c.connections.Load(), Unowned: c.unowned.Load(),
		Overflow: c.overflow.Load(), Tracked: int(c.tracked.Load()), Fallback: c.fallback.Load(),
	}
}

// run is the state of one Run.
type run struct {
	c           *Collector
	src         *sockdiag.Source
	owners      *sockowner.Resolver
	tracker     *Tracker
	listeners   Listeners
	previous    Listeners      // the listeners of the previous snapshot
	pending     map[uint64]int // connections waiting for an inode → snapshots seen
	nextPending map[uint64]int
	fresh       []sockdiag.Socket
	conns       []sockdiag.Socket
	queries     []sockowner.Query

	baselined        bool // the first snapshot was taken
	lastOverflow     uint64
	lastOverflowSent time.Time
}

// Run implements collector.Collector: it takes a snapshot of the socket
// tables every Options.Interval and emits a ConnectionCreate event for
// each connection not seen in the previous one.
func (c *Collector) Run(ctx context.Context, sink collector.Sink) error {
	if c.o.Logger == nil {
		c.log = collector.Logger(sink) // Run is never called concurrently with itself
	}
	r := &run{
		c: c,
		src: sockdiag.NewSource(sockdiag.SourceOptions{NetNS: c.o.NetNS, ProcNetDir: c.o.ProcNetDir,
			OnFallback: c.onFallback}),
		owners:  sockowner.New(sockowner.Options{HostRoot: c.o.HostRoot, Logger: c.log}),
		tracker: NewTracker(c.o.MaxTracked),
	}
	defer r.src.Close()
	tick := time.NewTicker(c.o.Interval)
	defer tick.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		evs, err := r.snapshot(ctx, !r.baselined && !c.o.ReportExisting)
		c.reportFallbacks(ctx, sink)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			collector.ReportError(ctx, sink, c.Name(), err)
		}
		if len(evs) > 0 {
			if err := sink.Emit(ctx, evs...); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				collector.ReportError(ctx, sink, c.Name(), fmt.Errorf("emit: %w", err))
			}
		}
		r.reportOverflow(ctx, sink)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (c *Collector) onFallback(t sockdiag.Table, err error) {
	c.fallback.Store(true)
	// reportFallbacks reports it (the warning and the one Diagnostic event).
	c.log.Debug("connection: netlink sock_diag is not usable, reading /proc/net instead (slower; no socket cookies)",
		slog.String("table", t.String()), slog.Any("error", err))
	c.mu.Lock()
	c.fallbacks = append(c.fallbacks, fmt.Errorf("connection: netlink sock_diag (%s) is not usable, reading /proc/net instead (slower; no socket cookies): %w", t, err))
	c.mu.Unlock()
}

func (c *Collector) reportFallbacks(ctx context.Context, sink collector.Sink) {
	c.mu.Lock()
	errs := c.fallbacks
	c.fallbacks = nil
	c.mu.Unlock()
	for _, err := range errs {
		collector.ReportError(ctx, sink, c.Name(), err)
	}
}

func (r *run) reportOverflow(ctx context.Context, sink collector.Sink) {
	n := r.tracker.Overflow()
	if n == r.lastOverflow || time.Since(r.lastOverflowSent) < overflowReportEvery {
		return
	}
	collector.ReportError(ctx, sink, r.c.Name(), fmt.Errorf("connection: %d new connections were not reported because %d connections are tracked (Options.MaxTracked)",
		n-r.lastOverflow, r.c.o.MaxTracked))
	r.lastOverflow, r.lastOverflowSent = n, time.Now()
}

// TCP states dumped: the connection states, and then LISTEN for
// direction.
var (
	tcpStates = sockdiag.StateSet(sockdiag.StateEstablished, sockdiag.StateSynSent, sockdiag.StateFinWait1,
		sockdiag.StateFinWait2, sockdiag.StateTimeWait, sockdiag.StateCloseWait, sockdiag.StateLastAck,
		sockdiag.StateClosing)
	tcpListenStates = sockdiag.StateSet(sockdiag.StateListen)
)

// pendingSnapshots is how many snapshots a connection without inode
// waits for accept(2) before it is reported unattributed.
const pendingSnapshots = 3

// awaitsAccept reports a TCP socket in a state where it may sit in a
// listener's accept queue.
func awaitsAccept(s *sockdiag.Socket) bool {
	return s.Protocol == sockdiag.ProtoTCP && (s.State == sockdiag.StateEstablished || s.State == sockdiag.StateCloseWait)
}

// UDP states: connected (ESTABLISHED), and then unconnected (CLOSE, the
// "listeners").
var (
	udpStates       = sockdiag.StateSet(sockdiag.StateEstablished)
	udpListenStates = sockdiag.StateSet(sockdiag.StateClose)
)

// snapshot reads the tables and returns the events of the new
// connections (none when baseline is set).
func (r *run) snapshot(ctx context.Context, baseline bool) ([]event.Event, error) {
	c := r.c
	now := time.Now()
	r.listeners, r.previous = r.previous, r.listeners
	r.listeners.Reset()
	r.conns = r.conns[:0]
	var errs []error
	collect := func(s *sockdiag.Socket) {
		switch {
		case s.State == sockdiag.StateListen, s.Protocol == sockdiag.ProtoUDP && s.State == sockdiag.StateClose:
			if s.Local.Port() != 0 {
				r.listeners.Add(s)
			}
		default:
			r.conns = append(r.conns, *s)
		}
	}
	var tables []sockdiag.Table
	if !c.o.ExcludeTCP {
		tables = append(tables, sockdiag.TCP4, sockdiag.TCP6)
	}
	if !c.o.ExcludeUDP {
		tables = append(tables, sockdiag.UDP4, sockdiag.UDP6)
	}
	// Connections first, listeners after: a dump is not atomic, and a
	// listener that accepted a connection seen in the first pass existed
	// before it, so the second pass sees it (unless it was closed
	// meanwhile; the previous snapshot's listeners cover that). Dumped the
	// other way round, a listener opened during the dump would be missed
	// and its accepted connection reported as outbound.
	failed := 0
	for pass := range 2 {
		for _, t := range tables {
			states := tcpStates
			switch {
			case t.Protocol == sockdiag.ProtoUDP && pass == 0:
				states = udpStates
			case t.Protocol == sockdiag.ProtoUDP:
				states = udpListenStates
			case pass == 1:
				states = tcpListenStates
			}
			if _, err := r.src.Dump(t, states, func(s *sockdiag.Socket) {
				s.Protocol = t.Protocol
				collect(s)
			}); err != nil {
				errs = append(errs, err)
				if pass == 0 {
					failed++
				}
			}
		}
	}
	if failed == len(tables) && failed > 0 {
		return nil, errors.Join(errs...)
	}
	c.snapshots.Add(1)

	r.tracker.Begin()
	r.fresh = r.fresh[:0]
	// pending is rebuilt from this snapshot: connections that went away
	// before accept(2) are dropped with it.
	pending := r.nextPending
	clear(pending)
	if pending == nil {
		pending = make(map[uint64]int)
	}
	for i := range r.conns {
		s := &r.conns[i]
		k := s.Key()
		if !baseline && s.Inode == 0 && awaitsAccept(s) && !r.tracker.Known(k) && len(pending) < c.o.MaxTracked {
			// Accepted by the kernel but not yet by the process: it has
			// no file (no inode, no owner) until accept(2). Wait a few
			// snapshots for it, then report it as it is.
			if n := r.pending[k]; n < pendingSnapshots {
				pending[k] = n + 1
				continue
			}
		}
		if r.tracker.Observe(k) && !baseline {
			r.fresh = append(r.fresh, *s)
		}
	}
	r.tracker.End()
	r.pending, r.nextPending = pending, r.pending
	r.baselined = true
	c.tracked.Store(int64(r.tracker.Len()))
	c.overflow.Store(r.tracker.Overflow())
	if len(r.fresh) == 0 {
		return nil, errors.Join(errs...)
	}

	r.queries = r.queries[:0]
	for i := range r.fresh {
		r.queries = append(r.queries, sockowner.Query{Inode: r.fresh[i].Inode, UID: r.fresh[i].UID})
	}
	owners, err := r.owners.Lookup(ctx, r.queries)
	if err != nil {
		errs = append(errs, err)
	}
	evs := make([]event.Event, 0, len(r.fresh))
	for i := range r.fresh {
		s := &r.fresh[i]
		var o *sockowner.Owner
		if owners != nil {
			o = owners[i]
		}
		var ct Container
		var user string
		if o != nil {
			user = c.users.Name(o.UID)
			if o.ContainerID != "" {
				ct.ID = o.ContainerID
				if c.o.Containers != nil {
					ct.Name, ct.Module, _ = c.o.Containers.Resolve(ctx, o.ContainerID)
				}
			}
		} else {
			c.unowned.Add(1)
		}
		inbound := r.listeners.Inbound(s) || r.previous.Inbound(s)
		evs = append(evs, event.Must(event.ConnectionCreate, now, Item(s, inbound, o, ct, user)))
	}
	c.connections.Add(uint64(len(evs)))
	return evs, errors.Join(errs...)
}
