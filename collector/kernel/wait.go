package kernel

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ringWaiter waits for records in the ring buffer in the Go runtime's
// network poller, where a waiting goroutine holds no thread and no P.
//
// The ring buffer reader of cilium/ebpf waits in a blocking epoll_wait
// system call. A goroutine blocked in a system call keeps the Go
// runtime's monitor thread (sysmon) polling every 20 µs to 10 ms, and
// each time the call outlasts 10 ms sysmon takes its P back and restarts
// at 20 µs: at one poll every 50 ms that is about a thousand sysmon
// wakeups a second, which cost more CPU than building the events (about
// 40 ms of CPU a second on a 2-vCPU virtual machine, at any exec rate).
// Parked in the network poller, the reader leaves every P idle and
// sysmon asleep between polls.
//
// The waiter owns a duplicate of the ring buffer's descriptor (it shares
// the map's open file, which it makes non-blocking; BPF map operations
// ignore that flag). Its methods are called by the reader goroutine only,
// except close, which may be called at any time and makes wait return.
type ringWaiter struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// newRingWaiter registers the ring buffer map's descriptor fd with the
// network poller. The error says why it cannot (the reader then reads at
// every poll interval, without the kernel's wakeups).
func newRingWaiter(fd int) (*ringWaiter, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kernel: duplicating the ring buffer descriptor: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		_ = unix.Close(dup)
		return nil, fmt.Errorf("kernel: ring buffer descriptor non-blocking: %w", err)
	}
	// A non-blocking descriptor is added to the poller when the poller
	// takes it; SetReadDeadline fails when it did not.
	f := os.NewFile(uintptr(dup), "bpf-ringbuf")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("kernel: ring buffer descriptor in the network poller: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("kernel: ring buffer descriptor: %w", err)
	}
	return &ringWaiter{f: f, rc: rc}, nil
}

// errWaiterClosed is returned by wait after close.
var errWaiterClosed = errors.New("kernel: ring buffer waiter closed")

// wait returns nil as soon as ready reports data (checked first, then on
// each wakeup of the ring buffer), os.ErrDeadlineExceeded at deadline, or
// errWaiterClosed after close.
func (w *ringWaiter) wait(deadline time.Time, ready func() bool) error {
	err := w.f.SetReadDeadline(deadline)
	if err == nil {
		err = w.rc.Read(func(uintptr) bool { return ready() })
	}
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case w.closed.Load():
		// The file's "use of closed file" is not os.ErrClosed here.
		return errWaiterClosed
	}
	return fmt.Errorf("kernel: waiting for the ring buffer: %w", err)
}

// close releases the descriptor and makes a pending wait return. It is
// idempotent.
func (w *ringWaiter) close() error {
	if w.closed.Swap(true) {
		return nil
	}
	return w.f.Close()
}
