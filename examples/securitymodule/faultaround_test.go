package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestDisableFaultAround maps the same cached file twice, registers one
// mapping with disableFaultAround, touches one byte in every 64 KiB of
// both and counts their present pages (/proc/self/pagemap): the
// registered mapping must hold about the pages touched, the other the
// kernel's fault-around runs.
func TestDisableFaultAround(t *testing.T) {
	const size, stride = 4 << 20, 64 << 10
	path := filepath.Join(t.TempDir(), "data")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	// The page cache must hold the file in single pages, as the
	// executable's are after page faults read them (a file written or
	// read whole is cached in large folios, which a fault maps whole):
	// drop it, then fault every page in through a mapping that reads no
	// more than the page asked for.
	require.NoError(t, f.Sync())
	require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
	warm, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
	require.NoError(t, err)
	require.NoError(t, unix.Madvise(warm, unix.MADV_RANDOM))
	var sum byte
	for off := 0; off < size; off += os.Getpagesize() {
		sum += warm[off]
	}
	require.NoError(t, unix.Munmap(warm))

	mapping := func() ([]byte, exeMapping) {
		m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
		require.NoError(t, err)
		t.Cleanup(func() { _ = unix.Munmap(m) })
		start := uint64(uintptr(unsafe.Pointer(&m[0])))
		return m, exeMapping{start: start, end: start + size}
	}
	plain, _ := mapping()
	registered, em := mapping()
	uffd, err := disableFaultAround([]exeMapping{em, {start: em.start, end: em.end, writable: true}})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
		t.Skipf("this kernel refuses userfaultfd asynchronous write protection (Linux 6.7+): %v", err)
	}
	require.NoError(t, err)
	defer uffd.Close()

	for off := 0; off < size; off += stride {
		sum += plain[off] + registered[off]
	}
	require.Equal(t, byte(0), sum) // every byte read is byte(off), off a multiple of 4096
	touched := size / stride
	nPlain, nReg := presentPages(t, plain), presentPages(t, registered)
	t.Logf("%d pages touched: %d present without the registration, %d with it", touched, nPlain, nReg)
	if nPlain <= touched {
		t.Skipf("this kernel maps no pages around a fault (fault_around_bytes 4096?): %d present for %d touched", nPlain, touched)
	}
	require.GreaterOrEqual(t, nReg, touched)
	require.LessOrEqual(t, nReg, nPlain/2, "the registered mapping must not be faulted around")
}

// presentPages counts m's pages present in this process's page table.
func presentPages(t *testing.T, m []byte) int {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	require.NoError(t, err)
	defer pm.Close()
	pages := len(m) / os.Getpagesize()
	buf := make([]byte, 8*pages)
	_, err = pm.ReadAt(buf, int64(uintptr(unsafe.Pointer(&m[0]))/uintptr(os.Getpagesize())*8))
	require.NoError(t, err)
	n := 0
	for i := range pages {
		if buf[8*i+7]&0x80 != 0 { // bit 63: present
			n++
		}
	}
	return n
}

// TestDisableFaultAroundWithNothingToRegister: without a read-only
// mapping there is nothing to register, and no descriptor is left open.
func TestDisableFaultAroundWithNothingToRegister(t *testing.T) {
	f, err := disableFaultAround([]exeMapping{{start: 0x1000, end: 0x2000, writable: true}})
	require.Error(t, err)
	require.Nil(t, f)
}

// TestDisableFaultAroundPartly: a mapping that cannot be registered (here
// a range nothing maps) is reported, and the descriptor holding the
// others' registration is returned to be kept open.
func TestDisableFaultAroundPartly(t *testing.T) {
	m, err := unix.Mmap(-1, 0, 2*os.Getpagesize(), unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANON)
	require.NoError(t, err)
	defer unix.Munmap(m)
	start := uint64(uintptr(unsafe.Pointer(&m[0])))
	page := uint64(os.Getpagesize())
	// Unmap the second page: the range is no mapping any more.
	_, _, e := unix.Syscall(unix.SYS_MUNMAP, uintptr(start+page), uintptr(page), 0)
	require.Zero(t, e)
	f, err := disableFaultAround([]exeMapping{{start: start, end: start + page}, {start: start + page, end: start + 2*page}})
	if f == nil && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)) {
		t.Skipf("this kernel refuses userfaultfd asynchronous write protection (Linux 6.7+): %v", err)
	}
	require.NotNil(t, f, "the first mapping was registered: %v", err)
	defer f.Close()
	require.ErrorContains(t, err, fmt.Sprintf("register %#x-%#x", start+page, start+2*page))
}
