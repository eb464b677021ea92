package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sizes of the kernel structures (include/uapi/linux/inet_diag.h).
const (
	nlmsgHdrLen   = 16
	sockIDLen     = 48
	reqV2Len      = 8 + sockIDLen      // struct inet_diag_req_v2
	diagMsgLen    = 4 + sockIDLen + 20 // struct inet_diag_msg
	sockDiagByFam = 20                 // SOCK_DIAG_BY_FAMILY
	recvBufLen    = 64 << 10
)

// ErrMalformed is wrapped by the errors of [ParseMessages] for answers
// that are not well-formed netlink inet_diag messages.
var ErrMalformed = errors.New("sockdiag: malformed netlink message")

// MarshalRequest returns the netlink message that asks the kernel for a
// dump of the sockets of table t in the given states, with sequence
// number seq.
func MarshalRequest(t Table, states States, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+reqV2Len)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFam)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], seq)
	// pid 0: the kernel.
	r := b[nlmsgHdrLen:]
	r[0] = t.Family
	r[1] = t.Protocol
	r[2] = 0 // no extensions: the fixed header has all we need
	ne.PutUint32(r[4:], uint32(states))
	// The socket id stays zero: no filter on ports, addresses or cookie.
	return b
}

// ParseMessages parses a buffer of netlink messages answering a dump
// request with sequence number seq, calling fn for each socket. It
// reports done when the buffer held the end of the dump (NLMSG_DONE). A
// netlink error message is returned as a *syscall.Errno wrapped in the
// error; structural problems wrap [ErrMalformed]. Messages of other
// sequence numbers (stale answers) are skipped.
func ParseMessages(b []byte, seq uint32, fn func(*Socket)) (done bool, err error) {
	ne := binary.NativeEndian
	var s Socket
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return false, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
		}
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		mseq := ne.Uint32(b[8:])
		if l < nlmsgHdrLen || l > len(b) {
			return false, fmt.Errorf("%w: message length %d with %d bytes left", ErrMalformed, l, len(b))
		}
		body := b[nlmsgHdrLen:l]
		next := (l + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
		if mseq != seq {
			continue
		}
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return false, fmt.Errorf("%w: short error message", ErrMalformed)
			}
			code := int32(ne.Uint32(body))
			if code == 0 {
				continue // an acknowledgement
			}
			return false, fmt.Errorf("sockdiag: netlink: %w", syscall.Errno(-code))
		case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			continue
		case sockDiagByFam:
			if err := parseDiagMsg(body, &s); err != nil {
				return false, err
			}
			fn(&s)
		}
	}
	return false, nil
}

// parseDiagMsg decodes one struct inet_diag_msg (attributes are ignored).
func parseDiagMsg(m []byte, s *Socket) error {
	if len(m) < diagMsgLen {
		return fmt.Errorf("%w: inet_diag_msg of %d bytes, want %d", ErrMalformed, len(m), diagMsgLen)
	}
	ne := binary.NativeEndian
	*s = Socket{Family: m[0], State: m[1]}
	id := m[4 : 4+sockIDLen]
	sport := binary.BigEndian.Uint16(id[0:])
	dport := binary.BigEndian.Uint16(id[2:])
	switch s.Family {
	case unix.AF_INET:
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[4:8])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[20:24])), dport)
	case unix.AF_INET6:
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[4:20])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[20:36])), dport)
	default:
		return fmt.Errorf("%w: address family %d", ErrMalformed, s.Family)
	}
	s.Interface = ne.Uint32(id[36:])
	s.Cookie = uint64(ne.Uint32(id[40:])) | uint64(ne.Uint32(id[44:]))<<32
	rest := m[4+sockIDLen:]
	// expires, rqueue, wqueue, uid, inode
	s.UID = ne.Uint32(rest[12:])
	s.Inode = uint64(ne.Uint32(rest[16:]))
	return nil
}

// Conn is a NETLINK_SOCK_DIAG socket. Its dumps see the network namespace
// the socket was opened in. A Conn serializes its dumps: it may be used
// by several goroutines, one dump at a time.
type Conn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
}

// Open opens a sock_diag netlink socket in the calling thread's network
// namespace. It needs no privilege; see the package documentation.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sockdiag: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sockdiag: netlink bind: %w", err)
	}
	// A bigger receive buffer lets the kernel fill larger batches.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return &Conn{fd: fd}, nil
}

// OpenInNetNS opens the socket inside the network namespace of the file
// nsPath (for example /proc/1/ns/net, or /run/netns/<name>); it needs
// CAP_SYS_ADMIN. An empty nsPath is Open.
func OpenInNetNS(nsPath string) (*Conn, error) {
	if nsPath == "" {
		return Open()
	}
	var c *Conn
	err := InNetNS(nsPath, func() error {
		var err error
		c, err = Open()
		return err
	})
	return c, err
}

// InNetNS runs fn on a locked OS thread switched into the network
// namespace of nsPath, and switches back afterwards. Sockets fn creates
// stay in that namespace. If the thread cannot be switched back it is
// left locked, so that the runtime retires it.
func InNetNS(nsPath string, fn func() error) error {
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sockdiag: network namespace %s: %w", nsPath, err)
	}
	defer unix.Close(target)
	runtime.LockOSThread()
	orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("sockdiag: own network namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("sockdiag: setns %s: %w", nsPath, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return errors.Join(ferr, fmt.Errorf("sockdiag: setns back: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Close closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Dump asks the kernel for the sockets of table t in the given states and
// calls fn for each, in the kernel's order. The *Socket passed to fn is
// reused: fn must copy what it keeps. Errors of the kernel (EPERM,
// ENOENT when the diag module of a protocol is missing, …) are returned
// wrapped.
func (c *Conn) Dump(t Table, states States, fn func(*Socket)) error {
	return c.dumpRaw(t, states, func(b []byte, seq uint32) (bool, error) {
		return ParseMessages(b, seq, fn)
	})
}

// dumpRaw sends the request and hands every datagram of the answer to
// handle until it reports done or an error.
func (c *Conn) dumpRaw(t Table, states States, handle func(b []byte, seq uint32) (bool, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return fmt.Errorf("sockdiag: dump %s: %w", t, os.ErrClosed)
	}
	c.seq++
	seq := c.seq
	req := MarshalRequest(t, states, seq)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sockdiag: dump %s: send: %w", t, err)
	}
	if c.buf == nil {
		c.buf = make([]byte, recvBufLen)
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("sockdiag: dump %s: receive: %w", t, err)
		}
		if n == 0 {
			return fmt.Errorf("sockdiag: dump %s: %w: empty read", t, ErrMalformed)
		}
		done, err := handle(c.buf[:n], seq)
		if err != nil {
			c.drain()
			return fmt.Errorf("sockdiag: dump %s: %w", t, err)
		}
		if done {
			return nil
		}
	}
}

// drain discards the rest of a failed dump so that the next one starts
// clean (answers of other sequence numbers are skipped anyway).
func (c *Conn) drain() {
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, unix.MSG_DONTWAIT)
		if err != nil || n == 0 {
			return
		}
	}
}
