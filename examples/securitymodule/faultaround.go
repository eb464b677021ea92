package main

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Fault-around. When a page fault finds its page in the page cache, the
// kernel maps the cached pages around it as well: the aligned 64 KiB
// (fault_around_bytes, sixteen pages) that holds it. For a program that
// runs a little of its code in many places, as the module does between
// two releases (an exec's event path, a garbage collection, a timer),
// every function touched brings its fifteen neighbours into the resident
// set: the executable's resident pages were some thirty 64 KiB runs, most
// of whose pages never ran.
//
// The kernel does not fault around in a mapping registered with a
// userfaultfd for write protection (uffd_disable_fault_around): the
// protection is kept page by page. Asynchronous write protection
// (UFFD_FEATURE_WP_ASYNC, Linux 6.7) is the one mode the kernel accepts on
// any file mapping and needs no thread to serve it: a write to a protected
// page is resolved by the kernel itself, and the executable's read-only
// mappings are never written anyway. So disableFaultAround registers them,
// and each page of code or data the module touches comes back alone.
// Where the kernel or a seccomp profile refuses userfaultfd, nothing
// changes but the resident figure.

// The userfaultfd ABI (linux/userfaultfd.h); the ioctl numbers and the
// structures are the same on every architecture the module is built for.
const (
	uffdAPI              = 0xAA
	uffdUserModeOnly     = 1       // UFFD_USER_MODE_ONLY: no CAP_SYS_PTRACE needed
	uffdFeatureWPAsync   = 1 << 15 // UFFD_FEATURE_WP_ASYNC
	uffdioAPI            = 0xC018AA3F
	uffdioRegister       = 0xC020AA00
	uffdioRegisterModeWP = 1 << 1
)

// uffdioAPIArg is struct uffdio_api.
type uffdioAPIArg struct{ api, features, ioctls uint64 }

// uffdioRegisterArg is struct uffdio_register.
type uffdioRegisterArg struct{ start, len, mode, ioctls uint64 }

// disableFaultAround registers the read-only mappings among ms (the code
// and the read-only data, not the initialised data) with a new
// userfaultfd in asynchronous write-protect mode, so that the kernel maps
// only the page each fault asks for. The registration lasts as long as
// the returned descriptor stays open: the caller keeps it for the life of
// the process. It returns an error, and no descriptor, when the kernel
// has no asynchronous write protection or userfaultfd is not allowed; the
// descriptor and an error when some mappings could not be registered.
func disableFaultAround(ms []exeMapping) (*os.File, error) {
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("userfaultfd: %w", e)
	}
	// The file only owns the descriptor (f.Fd would make it blocking).
	f := os.NewFile(fd, "userfaultfd")
	api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync}
	if err := uffdIoctl(fd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("userfaultfd asynchronous write protection: %w", err)
	}
	var registered int
	var errs []error
	for _, m := range ms {
		if m.writable {
			continue
		}
		reg := uffdioRegisterArg{start: m.start, len: m.end - m.start, mode: uffdioRegisterModeWP}
		if err := uffdIoctl(fd, uffdioRegister, unsafe.Pointer(&reg)); err != nil {
			errs = append(errs, fmt.Errorf("register %#x-%#x: %w", m.start, m.end, err))
			continue
		}
		registered++
	}
	if registered == 0 {
		_ = f.Close()
		errs = append(errs, errors.New("no mapping registered"))
		return nil, errors.Join(errs...)
	}
	return f, errors.Join(errs...)
}

// uffdIoctl runs one userfaultfd ioctl with its argument.
func uffdIoctl(fd, req uintptr, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}
