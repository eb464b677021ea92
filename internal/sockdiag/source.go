package sockdiag

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// Method is how a [Source] read a table.
type Method string

// Methods.
const (
	MethodNetlink Method = "netlink"
	MethodProcNet Method = "procnet"
)

// SourceOptions configure a [Source].
type SourceOptions struct {
	// NetNS is the path of a network namespace file whose sockets are
	// read over netlink (for example /host/proc/1/ns/net to see the
	// host's sockets from a container with its own network; needs
	// CAP_SYS_ADMIN). Empty means the namespace of the process.
	NetNS string
	// ProcNetDir is the directory of the fallback files (tcp, tcp6, udp,
	// udp6, raw, raw6). Empty means /proc/self/net. It should show the
	// same namespace as NetNS (for example /host/proc/1/net).
	ProcNetDir string
	// OnFallback, when set, is called (once per table, from Dump) when
	// Source starts reading a table from ProcNetDir because netlink
	// failed with err.
	OnFallback func(t Table, err error)
}

// errNoRawDiag explains the fallback of the raw tables.
var errNoRawDiag = errors.New("the kernel's sock_diag does not report raw sockets (built without CONFIG_INET_RAW_DIAG)")

// Source reads socket tables over netlink sock_diag and falls back to
// /proc/net per table when netlink is not permitted or not supported
// (for example when the kernel lacks the raw_diag module). A Source is
// safe for concurrent use; dumps are serialized.
type Source struct {
	o SourceOptions

	mu       sync.Mutex
	conn     *Conn
	openErr  error
	opened   bool
	fallback map[Table]bool
}

// NewSource returns a Source. The netlink socket is opened on first use.
func NewSource(o SourceOptions) *Source {
	if o.ProcNetDir == "" {
		o.ProcNetDir = "/proc/self/net"
	}
	return &Source{o: o, fallback: make(map[Table]bool)}
}

// Dump calls fn for every socket of table t in the given states (fn gets
// a reused *Socket) and reports how the table was read. An error means
// both netlink and /proc/net failed (or /proc/net had malformed lines, in
// which case the parsed sockets were delivered).
func (s *Source) Dump(t Table, states States, fn func(*Socket)) (Method, error) {
	s.mu.Lock()
	if !s.opened {
		s.opened = true
		s.conn, s.openErr = OpenInNetNS(s.o.NetNS)
	}
	conn, fb := s.conn, s.fallback[t]
	openErr := s.openErr
	s.mu.Unlock()

	if !fb && conn != nil {
		var n int
		count := func(sk *Socket) { n++; fn(sk) }
		err := conn.Dump(t, states, count)
		if err == nil && n == 0 && t.Protocol == ProtoRAW {
			// Kernels built without CONFIG_INET_RAW_DIAG answer a raw
			// dump with nothing rather than an error: an empty answer is
			// checked against /proc/net/raw.
			var m int
			perr := ReadProcNet(s.o.ProcNetDir, t, states, func(*Socket) { m++ })
			if perr != nil || m == 0 {
				return MethodNetlink, nil
			}
			s.startFallback(t, errNoRawDiag)
			return MethodProcNet, ReadProcNet(s.o.ProcNetDir, t, states, fn)
		}
		if err == nil {
			return MethodNetlink, nil
		}
		var errno syscall.Errno
		if !errors.As(err, &errno) || n > 0 {
			return MethodNetlink, err
		}
		s.startFallback(t, err)
	} else if !fb {
		s.startFallback(t, openErr)
	}
	return MethodProcNet, ReadProcNet(s.o.ProcNetDir, t, states, fn)
}

func (s *Source) startFallback(t Table, err error) {
	s.mu.Lock()
	first := !s.fallback[t]
	s.fallback[t] = true
	s.mu.Unlock()
	if first && s.o.OnFallback != nil {
		s.o.OnFallback(t, fmt.Errorf("sockdiag: reading %s from %s: %w", t, s.o.ProcNetDir, err))
	}
}

// Close closes the netlink socket.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	s.openErr = errors.New("sockdiag: source closed")
	return err
}
