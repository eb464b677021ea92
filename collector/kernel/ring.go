package kernel

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout of a BPF ring buffer record header (kernel/bpf/ringbuf.c): the
// data length with two flag bits, and a page offset the kernel uses.
const (
	ringHeaderSize = 8
	ringBusyBit    = 1 << 31 // reserved, not yet committed
	ringDiscardBit = 1 << 30 // discarded by the program: skip
)

// errRing is wrapped by the errors of inconsistent ring positions (never
// expected: the kernel keeps them consistent).
var errRing = errors.New("kernel: ring buffer positions out of step")

// ring reads the records of a BPF ring buffer from its memory mapping,
// without system calls. (cilium/ebpf's reader makes two epoll_wait calls
// per drain; every system call a goroutine enters wakes the Go runtime's
// sysmon thread from its sleep, and then sysmon polls every 20 µs while
// the reader works.) The kernel's producer position and the records are
// mapped read-only, the consumer position read-write.
//
// The data pages are mapped once. (libbpf and cilium/ebpf map them twice
// in a row, which the kernel offers so that a record that wraps around is
// contiguous; both mappings become resident, and every page counts twice
// in the process's RSS: 512 KiB for the default 256 KiB buffer.) The few
// records that wrap around are reassembled in a buffer of the ring's own
// instead, at most one record long.
//
// Only the reader goroutine uses a ring.
type ring struct {
	cons, prod []byte   // the two mappings (nil when not mapped)
	consPos    *uintptr // the kernel's unsigned long positions
	prodPos    *uintptr
	data       []byte // size bytes
	mask       uintptr
	wrapped    []byte // reassembles a record that wraps around
}

// newRing maps the ring buffer map fd of size bytes (a power of two).
func newRing(fd, size int) (*ring, error) {
	page := os.Getpagesize()
	cons, err := unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("kernel: mapping the ring buffer's consumer page: %w", err)
	}
	prod, err := unix.Mmap(fd, int64(page), page+size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		_ = unix.Munmap(cons)
		return nil, fmt.Errorf("kernel: mapping the ring buffer's data pages: %w", err)
	}
	r := ringOver(cons, prod[:page], prod[page:], size)
	r.cons, r.prod = cons, prod
	return r, nil
}

// ringOver reads a ring buffer laid out in memory: the consumer and
// producer positions at the start of consPage and prodPage, and data
// holding the size data bytes.
func ringOver(consPage, prodPage, data []byte, size int) *ring {
	return &ring{
		consPos: (*uintptr)(unsafe.Pointer(&consPage[0])),
		prodPos: (*uintptr)(unsafe.Pointer(&prodPage[0])),
		data:    data[:size],
		mask:    uintptr(size - 1),
	}
}

// close unmaps the ring buffer.
func (r *ring) close() error {
	var errs []error
	if r.prod != nil {
		errs = append(errs, unix.Munmap(r.prod))
	}
	if r.cons != nil {
		errs = append(errs, unix.Munmap(r.cons))
	}
	r.cons, r.prod, r.data = nil, nil, nil
	return errors.Join(errs...)
}

// available reports whether records are queued (committed or not).
func (r *ring) available() bool {
	return atomic.LoadUintptr(r.prodPos) != atomic.LoadUintptr(r.consPos)
}

// read hands the data of each committed record queued when it is called
// to fn, in order, and releases the record to the kernel when fn returns:
// the slice aliases the mapping (or the ring's buffer) and must not be
// kept. It stops at a record still being written (busy) and reports it; a
// discarded record is skipped. n is the records handed to fn.
func (r *ring) read(fn func([]byte)) (n int, busy bool, err error) {
	prod := atomic.LoadUintptr(r.prodPos)
	cons := atomic.LoadUintptr(r.consPos)
	for cons != prod {
		if prod-cons < ringHeaderSize {
			return n, false, fmt.Errorf("%w: %d bytes queued, shorter than a header", errRing, prod-cons)
		}
		// Records are 8-byte aligned, so a header never wraps around.
		start := cons & r.mask
		// The length is read atomically: the kernel commits a record by
		// clearing the busy bit with a release store, after its data.
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[start])))
		if hdr&ringBusyBit != 0 {
			return n, true, nil
		}
		size := uintptr(hdr &^ (ringBusyBit | ringDiscardBit))
		next := cons + ringHeaderSize + (size+7)&^7
		if next-cons > prod-cons || ringHeaderSize+size > uintptr(len(r.data)) {
			return n, false, fmt.Errorf("%w: a record of %d bytes, %d queued", errRing, size, prod-cons)
		}
		if hdr&ringDiscardBit == 0 {
			fn(r.record((cons+ringHeaderSize)&r.mask, size))
			n++
		}
		cons = next
		atomic.StoreUintptr(r.consPos, cons)
	}
	return n, false, nil
}

// record returns the size bytes of data at offset begin: in place, or
// reassembled in r.wrapped when they wrap around the end.
func (r *ring) record(begin, size uintptr) []byte {
	if end := begin + size; end <= uintptr(len(r.data)) {
		return r.data[begin:end:end]
	}
	if uintptr(cap(r.wrapped)) < size {
		r.wrapped = make([]byte, size)
	}
	b := r.wrapped[:size:size]
	k := copy(b, r.data[begin:])
	copy(b[k:], r.data)
	return b
}

// skip releases everything queued (after errRing: resynchronise).
func (r *ring) skip() {
	atomic.StoreUintptr(r.consPos, atomic.LoadUintptr(r.prodPos))
}
