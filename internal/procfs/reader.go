package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Initial sizes of a Reader's buffers; they grow up to the file's limit.
const (
	initialFileBuf = 4 << 10
	initialLinkBuf = 256
	maxLinkBytes   = 64 << 10
)

// Reader reads processes under one /proc with reused buffers and plain
// system calls: a file costs openat (relative to a descriptor of /proc kept
// open), one read and close, and the only allocations are the strings of
// the result. It is meant for hot paths such as the process collector,
// which reads every new process.
//
// A Reader is not safe for concurrent use; [ReadProcess] and
// [ReadProcessWith] take Readers from a pool and are. Close releases the
// /proc descriptor.
type Reader struct {
	procDir string
	dirfd   int // descriptor of procDir, or -1: absolute paths

	buf  []byte // file contents, reused
	link []byte // readlink target, reused
	path []byte // "<pid>/<file>\x00" (or the absolute path), reused

	// The last cgroup file read and what it named, to skip the parse
	// when a process sits where the previous one did.
	lastCgroup         []byte
	lastID, lastRTName string
}

// NewReader returns a Reader of <root>/proc. It keeps a descriptor of the
// directory open when it can (else it uses absolute paths).
func NewReader(root string) *Reader {
	r := newReader(root)
	if fd, err := unix.Open(r.procDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		r.dirfd = fd
	}
	return r
}

func newReader(root string) *Reader {
	return &Reader{procDir: filepath.Join(root, "proc"), dirfd: -1}
}

// Close closes the /proc descriptor. The Reader must not be used after.
func (r *Reader) Close() error {
	if r.dirfd < 0 {
		return nil
	}
	err := unix.Close(r.dirfd)
	r.dirfd = -1
	return err
}

// readerPool serves the one-shot functions (no /proc descriptor, just the
// buffers).
var readerPool sync.Pool

func pooledReader(root string) *Reader {
	r, _ := readerPool.Get().(*Reader)
	if r == nil {
		return newReader(root)
	}
	r.procDir = filepath.Join(root, "proc")
	return r
}

func putReader(r *Reader) {
	// Do not keep a huge buffer (a large MaxCmdline) alive in the pool.
	if cap(r.buf) > maxStatusBytes {
		r.buf = nil
	}
	readerPool.Put(r)
}

// Read is [ReadProcessWith] on the Reader's /proc: the same result and the
// same errors.
func (r *Reader) Read(pid int, o ReadOptions) (Process, error) {
	maxCmdline := o.MaxCmdline
	if maxCmdline <= 0 {
		maxCmdline = DefaultMaxCmdline
	}
	var p Process
	if !o.SkipStat {
		b, err := r.readFile(pid, "stat", maxStatBytes)
		if err != nil {
			return Process{PID: pid}, err
		}
		st, err := ParseStat(b)
		if err != nil {
			return Process{PID: pid}, fmt.Errorf("%s: %w", r.dir(pid), err)
		}
		p = Process{PID: st.PID, PPID: st.PPID, Comm: st.Comm, StartTime: st.StartTime, State: st.State}
	}
	if b, err := r.readFile(pid, "status", maxStatusBytes); err == nil {
		if s, err := ParseStatus(b); err == nil {
			p.UID, p.EUID, p.GID = s.RealUID(), s.EffectiveUID(), s.GID[0]
			if o.SkipStat {
				p.PID, p.PPID, p.Comm = s.PID, s.PPID, s.Name
			}
		} else if o.SkipStat {
			return Process{PID: pid}, fmt.Errorf("%s: %w", r.dir(pid), err)
		} else {
			p.Partial = true
		}
	} else if o.SkipStat {
		return Process{PID: pid}, err
	} else {
		p.Partial = true
	}
	if b, err := r.readFile(pid, "cmdline", maxCmdline+1); err == nil {
		p.Cmdline, p.CmdlineTruncated = ParseCmdline(b, maxCmdline)
		if len(b) == 0 && !isKernelThread(p) {
			p.Partial = true // no memory: exiting, or in the middle of an exec
		}
	} else {
		p.Partial = true
	}
	if exe, deleted, err := r.readExe(pid); err == nil {
		p.Exe, p.ExeDeleted = exe, deleted
	} else if !isKernelThread(p) {
		p.Partial = true
	}
	if !o.SkipCgroup {
		if b, err := r.readFile(pid, "cgroup", maxCgroupBytes); err == nil {
			p.ContainerID, p.ContainerRuntime = r.container(b)
		} else {
			p.Partial = true
		}
	}
	return p, nil
}

// container parses a cgroup file, reusing the previous result when the
// file is the same as last time (most processes sit where their parent
// does).
func (r *Reader) container(b []byte) (id, runtime string) {
	if r.lastCgroup != nil && bytes.Equal(b, r.lastCgroup) {
		return r.lastID, r.lastRTName
	}
	id, runtime, _ = ContainerRuntimeID(b)
	if len(b) <= 4<<10 {
		r.lastCgroup = append(r.lastCgroup[:0], b...)
		r.lastID, r.lastRTName = id, runtime
	} else {
		r.lastCgroup = nil
	}
	return id, runtime
}

func (r *Reader) dir(pid int) string {
	return filepath.Join(r.procDir, strconv.Itoa(pid))
}

// setPath writes the NUL-terminated path of pid's file into r.path:
// relative to the /proc descriptor, or absolute without one.
func (r *Reader) setPath(pid int, name string) {
	r.path = r.path[:0]
	if r.dirfd < 0 {
		r.path = append(r.path, r.procDir...)
		r.path = append(r.path, '/')
	}
	r.path = strconv.AppendInt(r.path, int64(pid), 10)
	r.path = append(r.path, '/')
	r.path = append(r.path, name...)
	r.path = append(r.path, 0)
}

// pathString is the path of the last setPath, for error messages.
func (r *Reader) pathString(pid int, name string) string {
	return filepath.Join(r.dir(pid), name)
}

func (r *Reader) at() int {
	if r.dirfd < 0 {
		return unix.AT_FDCWD
	}
	return r.dirfd
}

// openat opens r.path read-only without allocating.
func (r *Reader) openat() (int, error) {
	for {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(r.at()), uintptr(unsafe.Pointer(&r.path[0])),
			uintptr(unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

// readFile reads at most max bytes of pid's file into the reused buffer;
// the result is valid until the next call. A read shorter than asked ends
// the file: /proc's files produce their contents in one go (seq files of a
// single record, cmdline up to the end of the argument area) and regular
// files (test fixtures) are read to the end anyway.
func (r *Reader) readFile(pid int, name string, max int) ([]byte, error) {
	r.setPath(pid, name)
	fd, err := r.openat()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: r.pathString(pid, name), Err: err}
	}
	defer unix.Close(fd)
	if cap(r.buf) == 0 {
		r.buf = make([]byte, 0, min(initialFileBuf, max))
	}
	buf := r.buf[:0]
	for len(buf) < max {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*cap(buf), max))
			copy(nb, buf)
			buf = nb
			r.buf = nb
		}
		want := min(cap(buf), max) - len(buf)
		n, err := unix.Read(fd, buf[len(buf):len(buf)+want])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// ESRCH on a process that just exited, for example.
			perr := &fs.PathError{Op: "read", Path: r.pathString(pid, name), Err: err}
			if errors.Is(err, fs.ErrNotExist) {
				return nil, perr
			}
			return nil, fmt.Errorf("read %s: %w", perr.Path, perr)
		}
		buf = buf[:len(buf)+n]
		if n < want {
			break
		}
	}
	return buf, nil
}

// readExe reads pid's exe link as [ReadExe] does.
func (r *Reader) readExe(pid int) (exe string, deleted bool, err error) {
	r.setPath(pid, "exe")
	if cap(r.link) == 0 {
		r.link = make([]byte, initialLinkBuf)
	}
	for {
		r.link = r.link[:cap(r.link)]
		n, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(r.at()), uintptr(unsafe.Pointer(&r.path[0])),
			uintptr(unsafe.Pointer(&r.link[0])), uintptr(len(r.link)), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return "", false, &fs.PathError{Op: "readlink", Path: r.pathString(pid, "exe"), Err: e}
		}
		if int(n) == len(r.link) && len(r.link) < maxLinkBytes {
			r.link = make([]byte, 2*len(r.link))
			continue
		}
		b := r.link[:n]
		if s, ok := bytes.CutSuffix(b, []byte(" (deleted)")); ok {
			return validString(s), true, nil
		}
		return validString(b), false, nil
	}
}
