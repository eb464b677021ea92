package listening

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/procfs"
	"github.com/edgesec/edgesec/internal/sockdiag"
	"github.com/edgesec/edgesec/internal/sockowner"
)

// DefaultMaxEventBytes is the default of [Options.MaxEventBytes]: every
// event fits in the smallest message the configuration allows.
const DefaultMaxEventBytes = 7 << 10

// ExtraDetails keys of the ListeningPorts items.
const (
	KeyFamily               = "Family"       // "IPv4" or "IPv6"
	KeyProcessID            = "ProcessId"    // owning process
	KeyExecutable           = "Executable"   // its executable
	KeyCommandLine          = "CommandLine"  // its command line
	KeyUserID               = "UserId"       // its real uid
	KeyUserName             = "UserName"     // name of UserId, when known
	KeySocketUserID         = "SocketUserId" // uid of the socket's creator
	KeyInode                = "Inode"        // socket inode
	KeyRawProtocol          = "RawProtocol"  // raw sockets: the IP protocol ("icmp", "icmpv6", "255", …)
	KeyCommandLineTruncated = "CommandLineTruncated"
	KeyExecutableDeleted    = "ExecutableDeleted"
	KeyAttribution          = "Attribution" // "none" when no process could be found
	KeyContainerID          = "ContainerId"
	KeyContainerName        = "ContainerName"
	KeyModuleName           = "ModuleName"
)

// Options configure the ListeningPorts collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default) or
	// "/host" in a container. Processes are read from HostRoot/proc.
	HostRoot string
	// Logger receives warnings and debug messages; nil discards them.
	Logger *slog.Logger
	// MaxEventBytes bounds the JSON size of each event; a host with more
	// listeners gets several events per snapshot. Zero means
	// DefaultMaxEventBytes.
	MaxEventBytes int
	// Containers, when set, names the containers of processes (ModuleName,
	// ContainerName); without it only ContainerId is reported.
	Containers collector.ContainerResolver
	// NetNS is the network namespace file whose sockets are read; empty
	// means the module's own namespace.
	NetNS string
	// ProcNetDir is the fallback source of the socket tables; empty means
	// HostRoot/proc/self/net.
	ProcNetDir string
}

// Poller takes ListeningPorts snapshots. It implements
// [collector.Poller]; Poll calls are serialized.
type Poller struct {
	o        Options
	log      *slog.Logger
	owners   *sockowner.Resolver
	users    *procfs.UserCache
	maxBytes int

	mu     sync.Mutex
	warned map[sockdiag.Table]bool
}

// New returns a Poller.
func New(o Options) *Poller {
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	o.HostRoot = filepath.Clean(o.HostRoot)
	if o.ProcNetDir == "" {
		o.ProcNetDir = filepath.Join(o.HostRoot, "proc", "self", "net")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBytes := o.MaxEventBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	return &Poller{
		o: o, log: log, maxBytes: maxBytes,
		owners: sockowner.New(sockowner.Options{HostRoot: o.HostRoot, Logger: log}),
		users:  procfs.NewUserCache(o.HostRoot, 0),
		warned: make(map[sockdiag.Table]bool),
	}
}

// NewCollector returns the ListeningPorts collector: New(o) polled once
// at start and then every interval().
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.ListeningPorts, interval, New(o))
}

// Listener is one listening socket with its owner.
type Listener struct {
	Socket sockdiag.Socket
	Owner  *sockowner.Owner // nil when unknown
}

// Tables and states of listening sockets.
var listenTables = []struct {
	t      sockdiag.Table
	states sockdiag.States
}{
	{sockdiag.TCP4, sockdiag.StateSet(sockdiag.StateListen)},
	{sockdiag.TCP6, sockdiag.StateSet(sockdiag.StateListen)},
	{sockdiag.UDP4, sockdiag.StateSet(sockdiag.StateClose)},
	{sockdiag.UDP6, sockdiag.StateSet(sockdiag.StateClose)},
	{sockdiag.RAW4, sockdiag.AllStates},
	{sockdiag.RAW6, sockdiag.AllStates},
}

// Snapshot returns the listening sockets with their owners: TCP sockets
// in LISTEN, UDP sockets bound to a port and not connected, and all raw
// sockets. Tables that could not be read are reported in the error; the
// others are returned.
func (p *Poller) Snapshot(ctx context.Context) ([]Listener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var fallbacks []error
	src := sockdiag.NewSource(sockdiag.SourceOptions{NetNS: p.o.NetNS, ProcNetDir: p.o.ProcNetDir,
		OnFallback: func(t sockdiag.Table, err error) {
			if !p.warned[t] {
				p.warned[t] = true
				p.log.Warn("listening: netlink sock_diag is not usable, reading /proc/net instead", slog.String("table", t.String()), slog.Any("error", err))
				fallbacks = append(fallbacks, err)
			}
		}})
	defer src.Close()

	var ls []Listener
	var errs []error
	for _, lt := range listenTables {
		if _, err := src.Dump(lt.t, lt.states, func(s *sockdiag.Socket) {
			if lt.t.Protocol == sockdiag.ProtoUDP && s.Local.Port() == 0 {
				return // not bound to a port
			}
			sk := *s
			sk.Protocol = lt.t.Protocol
			ls = append(ls, Listener{Socket: sk})
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == len(listenTables) {
		return nil, errors.Join(append(fallbacks, errs...)...)
	}
	qs := make([]sockowner.Query, len(ls))
	for i := range ls {
		qs[i] = sockowner.Query{Inode: ls[i].Socket.Inode, UID: ls[i].Socket.UID}
	}
	owners, err := p.owners.Lookup(ctx, qs)
	if err != nil {
		errs = append(errs, err)
	}
	for i := range owners {
		ls[i].Owner = owners[i]
	}
	SortListeners(ls)
	return ls, errors.Join(append(fallbacks, errs...)...)
}

// SortListeners orders listeners by protocol (TCP, UDP, RAW), family,
// port, address and inode.
func SortListeners(ls []Listener) {
	rank := func(p uint8) int {
		switch p {
		case sockdiag.ProtoTCP:
			return 0
		case sockdiag.ProtoUDP:
			return 1
		}
		return 2
	}
	slices.SortFunc(ls, func(a, b Listener) int {
		x, y := &a.Socket, &b.Socket
		return cmp.Or(cmp.Compare(rank(x.Protocol), rank(y.Protocol)), cmp.Compare(x.Family, y.Family),
			cmp.Compare(x.Local.Port(), y.Local.Port()), x.Local.Addr().Compare(y.Local.Addr()), cmp.Compare(x.Inode, y.Inode))
	})
}

// Poll implements [collector.Poller]: one snapshot as one or more
// ListeningPorts events (an empty snapshot is one event with no item).
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	now := time.Now()
	ls, err := p.Snapshot(ctx)
	if ls == nil && err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	items := make([]event.Item, 0, len(ls))
	for i := range ls {
		var c Container
		var user string
		if o := ls[i].Owner; o != nil {
			user = p.users.Name(o.UID)
			if o.ContainerID != "" {
				c.ID = o.ContainerID
				if p.o.Containers != nil {
					c.Name, c.Module, _ = p.o.Containers.Resolve(ctx, o.ContainerID)
				}
			}
		}
		items = append(items, Item(&ls[i].Socket, ls[i].Owner, c, user))
	}
	if err != nil {
		err = fmt.Errorf("listening: %w", err)
	}
	return p.split(now, items), err
}

// split packs items into ListeningPorts events of at most p.maxBytes each.
func (p *Poller) split(now time.Time, items []event.Item) []event.Event {
	return collector.Split(event.ListeningPorts, now, items, p.maxBytes)
}

// Container is what is known of the container of a listener's process.
type Container struct {
	ID, Name, Module string
}

// Item builds the ListeningPorts payload item of a listening socket owned
// by o (nil when unknown). Item is pure.
func Item(s *sockdiag.Socket, o *sockowner.Owner, c Container, userName string) *event.ListeningPortsPayload {
	p := &event.ListeningPortsPayload{
		Protocol:     sockdiag.ProtocolName(s.Protocol),
		LocalAddress: s.Local.Addr().Unmap().WithZone("").String(),
		LocalPort:    strconv.Itoa(int(s.Local.Port())),
		ExtraDetails: event.ExtraDetails{
			KeyFamily:       sockdiag.FamilyName(s.Family),
			KeySocketUserID: strconv.FormatUint(uint64(s.UID), 10),
		},
	}
	x := p.ExtraDetails
	if s.Inode != 0 {
		x[KeyInode] = strconv.FormatUint(s.Inode, 10)
	}
	if s.Protocol == sockdiag.ProtoRAW {
		x[KeyRawProtocol] = RawProtocolName(s.Local.Port())
	}
	if o == nil {
		x[KeyAttribution] = "none"
		return p
	}
	x[KeyProcessID] = strconv.Itoa(o.PID)
	x[KeyExecutable] = o.Exe
	x[KeyCommandLine] = o.Cmdline
	x[KeyUserID] = strconv.FormatUint(uint64(o.UID), 10)
	if userName != "" {
		x[KeyUserName] = userName
	}
	if o.CmdlineTruncated {
		x[KeyCommandLineTruncated] = "true"
	}
	if o.ExeDeleted {
		x[KeyExecutableDeleted] = "true"
	}
	if c.ID != "" {
		x[KeyContainerID] = c.ID
		if c.Name != "" {
			x[KeyContainerName] = c.Name
		}
		if c.Module != "" {
			x[KeyModuleName] = c.Module
		}
	}
	return p
}

// RawProtocolName names the IP protocol of a raw socket.
func RawProtocolName(proto uint16) string {
	switch proto {
	case 1:
		return "icmp"
	case 2:
		return "igmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 47:
		return "gre"
	case 58:
		return "icmpv6"
	case 89:
		return "ospf"
	case 112:
		return "vrrp"
	case 132:
		return "sctp"
	case 255:
		return "raw"
	}
	return strconv.Itoa(int(proto))
}
