package process

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Proc connector constants (linux/connector.h, linux/cn_proc.h).
const (
	cnIdxProc          = 0x1
	cnValProc          = 0x1
	procCnMcastListen  = 1
	procCnMcastIgnore  = 2
	nlmsgHdrLen        = unix.SizeofNlMsghdr // 16
	cnMsgLen           = 20                  // struct cn_msg without data
	procEventHeaderLen = 16                  // what, cpu, timestamp_ns
)

// Kinds of proc connector events (enum proc_cn_event).
const (
	procEventNone   uint32 = 0x00000000
	procEventFork   uint32 = 0x00000001
	procEventExec   uint32 = 0x00000002
	procEventUID    uint32 = 0x00000004
	procEventGID    uint32 = 0x00000040
	procEventSID    uint32 = 0x00000080
	procEventPtrace uint32 = 0x00000100
	procEventComm   uint32 = 0x00000200
	procEventCore   uint32 = 0x40000000
	procEventExit   uint32 = 0x80000000
)

// rawEvent is one decoded proc connector event. It is a small value type
// so that the reader can queue it without allocating.
type rawEvent struct {
	What  uint32
	CPU   uint32
	Seq   uint32
	KTime uint64 // CLOCK_MONOTONIC nanoseconds when the kernel sent it
	// PID and TGID of the process the event is about (fork: the child).
	PID, TGID int32
	// Fork: the parent; exit: the parent (kernels ≥ 4.18, else 0).
	ParentPID, ParentTGID int32
	// Exit: the wait status (exit code << 8 | signal) and the signal
	// sent to the parent.
	ExitCode, ExitSignal uint32
	// Comm: the new command name (NUL padded).
	Comm [16]byte
	// None (subscription acknowledgement): the errno.
	AckErr uint32
}

// errShort is wrapped by parse errors on truncated messages.
var errShort = errors.New("process: short proc connector message")

// parseMessages decodes the netlink messages in one datagram from the proc
// connector and appends the events to out. Messages that are not proc
// connector events are skipped; a malformed datagram returns the events
// decoded so far and an error.
func parseMessages(b []byte, out []rawEvent) ([]rawEvent, error) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if l < nlmsgHdrLen || l > len(b) {
			return out, fmt.Errorf("%w: netlink length %d of %d", errShort, l, len(b))
		}
		msg := b[nlmsgHdrLen:l]
		adv := (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if adv > len(b) {
			adv = len(b)
		}
		b = b[adv:]
		switch typ {
		case unix.NLMSG_NOOP:
			continue
		case unix.NLMSG_ERROR:
			if len(msg) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(msg[0:4])); e != 0 {
					return out, fmt.Errorf("process: netlink error: %w", unix.Errno(-e))
				}
			}
			continue
		case unix.NLMSG_OVERRUN:
			return out, unix.ENOBUFS
		}
		ev, ok, err := parseCnMsg(msg)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// parseCnMsg decodes one cn_msg carrying a struct proc_event. ok is false
// for messages of other connector users.
func parseCnMsg(m []byte) (ev rawEvent, ok bool, err error) {
	if len(m) < cnMsgLen {
		return ev, false, fmt.Errorf("%w: cn_msg %d bytes", errShort, len(m))
	}
	idx := binary.NativeEndian.Uint32(m[0:4])
	val := binary.NativeEndian.Uint32(m[4:8])
	if idx != cnIdxProc || val != cnValProc {
		return ev, false, nil
	}
	ev.Seq = binary.NativeEndian.Uint32(m[8:12])
	dl := int(binary.NativeEndian.Uint16(m[16:18]))
	d := m[cnMsgLen:]
	if dl > len(d) {
		return ev, false, fmt.Errorf("%w: cn_msg data %d of %d", errShort, dl, len(d))
	}
	d = d[:dl]
	if len(d) < procEventHeaderLen {
		return ev, false, fmt.Errorf("%w: proc_event %d bytes", errShort, len(d))
	}
	ev.What = binary.NativeEndian.Uint32(d[0:4])
	ev.CPU = binary.NativeEndian.Uint32(d[4:8])
	ev.KTime = binary.NativeEndian.Uint64(d[8:16])
	d = d[procEventHeaderLen:]
	u32 := func(i int) uint32 {
		if 4*i+4 > len(d) {
			return 0
		}
		return binary.NativeEndian.Uint32(d[4*i:])
	}
	need := func(n int) error {
		if len(d) < n {
			return fmt.Errorf("%w: event %#x has %d bytes, want %d", errShort, ev.What, len(d), n)
		}
		return nil
	}
	switch ev.What {
	case procEventNone:
		ev.AckErr = u32(0)
	case procEventFork:
		if err := need(16); err != nil {
			return ev, false, err
		}
		ev.ParentPID, ev.ParentTGID = int32(u32(0)), int32(u32(1))
		ev.PID, ev.TGID = int32(u32(2)), int32(u32(3))
	case procEventExec:
		if err := need(8); err != nil {
			return ev, false, err
		}
		ev.PID, ev.TGID = int32(u32(0)), int32(u32(1))
	case procEventExit:
		if err := need(16); err != nil {
			return ev, false, err
		}
		ev.PID, ev.TGID = int32(u32(0)), int32(u32(1))
		ev.ExitCode, ev.ExitSignal = u32(2), u32(3)
		// parent_pid and parent_tgid arrived in Linux 4.18.
		ev.ParentPID, ev.ParentTGID = int32(u32(4)), int32(u32(5))
	case procEventComm:
		if err := need(24); err != nil {
			return ev, false, err
		}
		ev.PID, ev.TGID = int32(u32(0)), int32(u32(1))
		copy(ev.Comm[:], d[8:24])
	default:
		// uid, gid, sid, ptrace, coredump: the first two words are
		// process_pid and process_tgid for all of them.
		ev.PID, ev.TGID = int32(u32(0)), int32(u32(1))
	}
	return ev, true, nil
}

// subscribeMessage builds the netlink message that (un)subscribes a socket
// from proc connector events.
func subscribeMessage(op uint32) []byte {
	b := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(b[12:16], uint32(os.Getpid()))
	m := b[nlmsgHdrLen:]
	binary.NativeEndian.PutUint32(m[0:4], cnIdxProc)
	binary.NativeEndian.PutUint32(m[4:8], cnValProc)
	binary.NativeEndian.PutUint16(m[16:18], 4)
	binary.NativeEndian.PutUint32(m[cnMsgLen:], op)
	return b
}

// connSocket is a subscribed proc connector socket. It is not registered
// with the Go netpoller: the reader waits in poll(2) on its own thread, so
// that the kernel wakes that thread directly (and the thread's scheduling
// priority applies) instead of whichever runtime thread runs the netpoller.
// An eventfd ends the wait.
//
// The reader owns the descriptors: [connSocket.stop] may be called from any
// goroutine and only asks the reader to return; the reader then calls
// [connSocket.release].
type connSocket struct {
	fd      int
	wake    int  // eventfd written by stop
	rcvbuf  int  // the receive buffer the kernel granted
	forced  bool // SO_RCVBUFFORCE worked
	closing atomic.Bool

	mu       sync.Mutex
	released bool
}

// errClosed is returned by readBatch once stop was called.
var errClosed = errors.New("process: proc connector socket closed")

// openProcConnector opens a NETLINK_CONNECTOR socket, joins the proc
// connector group, sizes its receive buffer and subscribes. Errors wrap
// the errno (EPERM without CAP_NET_ADMIN, EPROTONOSUPPORT in a network
// namespace other than the host's).
func openProcConnector(rcvbuf int) (*connSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("process: proc connector socket: %w", err)
	}
	s := &connSocket{fd: fd, wake: -1}
	fail := func(what string, err error) (*connSocket, error) {
		_ = unix.Close(fd)
		if s.wake >= 0 {
			_ = unix.Close(s.wake)
		}
		return nil, fmt.Errorf("process: proc connector %s: %w", what, err)
	}
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err == nil {
			s.forced = true
		} else {
			// Without CAP_NET_ADMIN: capped by net.core.rmem_max.
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
		s.rcvbuf = v
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		return fail("bind", err)
	}
	w, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fail("eventfd", err)
	}
	s.wake = w
	msg := subscribeMessage(procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("subscribe", err)
	}
	return s, nil
}

// holdP is how long the reader waits for the next event without giving
// its P (the Go scheduler's right to run Go code) back, after an event. A
// goroutine that blocks in a system call gives up its P; when every P is
// busy (the engine encoding and sending the events of an exec flood), the
// reader then waits for one after each wake-up, often for milliseconds,
// and a short-lived process is gone before /proc is read. Waiting in a
// raw ppoll(2) keeps the P during a burst; a signal (the runtime's
// preemption, a stop-the-world) interrupts it, so the runtime is not held
// up. After holdP without events the reader waits in an ordinary blocking
// poll that gives the P back.
const holdP = 2 * time.Millisecond

// rawPoll is ppoll(2) with a timeout, without telling the Go scheduler
// (the calling goroutine keeps its P).
func rawPoll(fds []unix.PollFd, ts *unix.Timespec) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	return int(n), e
}

// readBatch reads the datagrams sent by the kernel and hands each one to
// fn, calling idle whenever the socket is drained, before it waits for
// more (see holdP). It returns only on a read error: unix.ENOBUFS after
// an overrun (the socket is still usable), errClosed once stop was
// called. Datagrams from another sender than the kernel (a process can
// unicast to our port) are ignored. Only the reader calls it.
func (s *connSocket) readBatch(buf []byte, fn func([]byte), idle func()) error {
	var (
		from unix.RawSockaddrNetlink
		alen uint32
	)
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	hold := unix.NsecToTimespec(int64(holdP))
	busy := false
	for {
		if s.closing.Load() {
			return errClosed
		}
		alen = unix.SizeofSockaddrNetlink
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&alen)))
		switch e {
		case 0:
			if from.Family == unix.AF_NETLINK && from.Pid == 0 {
				fn(buf[:n])
			}
		case unix.EINTR:
		case unix.EAGAIN:
			idle()
			if s.closing.Load() {
				return errClosed
			}
			if busy {
				n, e := rawPoll(fds, &hold)
				switch {
				case e == unix.EINTR:
				case e != 0:
					return fmt.Errorf("process: ppoll: %w", e)
				case n == 0:
					busy = false // quiet: wait giving the P back
				}
				continue
			}
			// At most a second, so that idle runs now and then.
			if _, err := unix.Poll(fds, 1000); err != nil && err != unix.EINTR {
				return fmt.Errorf("process: poll: %w", err)
			}
			busy = true
		default:
			return e
		}
	}
}

// stop asks the reader to return: a blocked readBatch returns errClosed.
// It may be called from any goroutine, more than once.
func (s *connSocket) stop() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.released {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(s.wake, one[:])
	}
}

// release unsubscribes (best effort) and closes the descriptors. The
// reader calls it once it no longer reads.
func (s *connSocket) release() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil
	}
	s.released = true
	_ = unix.Sendto(s.fd, subscribeMessage(procCnMcastIgnore), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	_ = unix.Close(s.wake)
	return unix.Close(s.fd)
}
