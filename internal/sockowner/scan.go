package sockowner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ParseSocketLink returns the inode of a /proc/<pid>/fd link target of
// the form "socket:[12345]", and false for any other target.
func ParseSocketLink(b []byte) (uint64, bool) {
	const prefix = "socket:["
	if len(b) < len(prefix)+2 || string(b[:len(prefix)]) != prefix || b[len(b)-1] != ']' {
		return 0, false
	}
	digits := b[len(prefix) : len(b)-1]
	if len(digits) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// ErrBadDirent is returned by ParseDirents for a malformed buffer.
var ErrBadDirent = errors.New("sockowner: malformed getdents64 record")

// ParseDirents walks a buffer filled by getdents64(2), calling fn with
// each entry's NUL-terminated name (the slice includes the NUL, ready for
// a system call; it aliases buf). "." and ".." are skipped.
func ParseDirents(buf []byte, fn func(nameZ []byte)) error {
	const hdr = 19 // d_ino 8, d_off 8, d_reclen 2, d_type 1
	for len(buf) > 0 {
		if len(buf) < hdr {
			return ErrBadDirent
		}
		reclen := int(binary.NativeEndian.Uint16(buf[16:]))
		if reclen < hdr+1 || reclen > len(buf) {
			return ErrBadDirent
		}
		name := buf[hdr:reclen]
		i := bytes.IndexByte(name, 0)
		if i < 0 {
			return ErrBadDirent
		}
		name = name[:i+1]
		buf = buf[reclen:]
		if i == 0 || (i == 1 && name[0] == '.') || (i == 2 && name[0] == '.' && name[1] == '.') {
			continue
		}
		fn(name)
	}
	return nil
}

// fdScanner reads the socket inodes of a process's open files with as few
// system calls and allocations as possible: one open of /proc/<pid>/fd,
// one fstat, getdents64 into a reused buffer and one readlinkat per
// descriptor, on names that are already NUL-terminated.
type fdScanner struct {
	dents []byte
	link  []byte
	path  []byte
}

// direntBufSize is the getdents64 buffer's size: 8 KiB holds some 340
// entries of a /proc/<pid>/fd directory (a name of up to 4 digits), so a
// busier process costs another system call per 340 descriptors, and every
// resolver keeps one page rather than eight.
const direntBufSize = 8 << 10

func newFDScanner() *fdScanner {
	return &fdScanner{dents: make([]byte, direntBufSize), link: make([]byte, 128)}
}

// scan calls fn for each socket inode among pid's descriptors, reads at
// most budget descriptors, and returns how many it read and the owner uid
// of the fd directory (the process's effective uid).
func (s *fdScanner) scan(procDir string, pid int, budget int, fn func(inode uint64)) (fds int, uid uint32, err error) {
	s.path = append(s.path[:0], procDir...)
	s.path = append(s.path, '/')
	s.path = appendInt(s.path, pid)
	s.path = append(s.path, "/fd\x00"...)
	dfd, err := openZ(s.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err == nil {
		uid = st.Uid
	}
	for fds < budget {
		n, err := unix.Getdents(dfd, s.dents)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return fds, uid, err
		}
		if n <= 0 {
			break
		}
		perr := ParseDirents(s.dents[:n], func(name []byte) {
			if fds >= budget {
				return
			}
			fds++
			l, err := readlinkatZ(dfd, name, s.link)
			if err != nil {
				return // closed meanwhile
			}
			if ino, ok := ParseSocketLink(s.link[:l]); ok {
				fn(ino)
			}
		})
		if perr != nil {
			return fds, uid, perr
		}
	}
	return fds, uid, nil
}

// atFDCWD is a variable so that its negative value converts to uintptr.
var atFDCWD = unix.AT_FDCWD

// openZ is open(2) on a NUL-terminated path without allocating.
func openZ(pathZ []byte, flags int) (int, error) {
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&pathZ[0])), uintptr(flags), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// readlinkatZ is readlinkat(2) on a NUL-terminated name without
// allocating.
func readlinkatZ(dirfd int, nameZ []byte, buf []byte) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&nameZ[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func appendInt(b []byte, n int) []byte {
	var tmp [20]byte
	i := len(tmp)
	if n == 0 {
		return append(b, '0')
	}
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}
