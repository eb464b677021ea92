package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Record types written by bpf/events.c.
const (
	recExec     = 1
	recExit     = 2
	recFork     = 3
	recConnect  = 4
	recAccept   = 5
	recActivity = 6
	recUDP      = 7
)

// Record flags.
const (
	flagArgvTruncated     = 1 << 0
	flagFilenameTruncated = 1 << 1
	flagArgvUnreadable    = 1 << 2
	flagCgroupTruncated   = 1 << 3
	flagExecMemfd         = 1 << 4
	flagPathTruncated     = 1 << 5
	flagUDPConnected      = 1 << 6 // the UDP socket is connected
	flagUDPBound          = 1 << 7 // its port was bound explicitly (a server)
)

// Layout of the records (pinned by _Static_assert in bpf/events.c).
const (
	taskRecSize    = 56
	commLen        = 16
	cgroupNameMax  = 128
	filenameMax    = 256
	argvMax        = 4096
	execOffUID     = 72
	execOffLens    = 88
	execOffLeaf    = 96
	execOffParent  = execOffLeaf + cgroupNameMax
	execOffFile    = 352
	execOffArgv    = 608
	connRecSize    = 104
	afINET         = 2
	afINET6        = 10
	connOffUID     = taskRecSize
	connOffFamily  = connOffUID + 4
	connOffSAddr   = connOffFamily + 8
	connOffDAddr   = connOffSAddr + 16
	execMaxRecSize = execOffArgv + argvMax
	actRecSize     = 600
	actPathMax     = 256
	actOffKind     = taskRecSize
	actOffPath     = 88
	actOffPath2    = actOffPath + actPathMax
)

// errRecord is wrapped by every parse error.
var errRecord = errors.New("kernel: malformed ring buffer record")

// taskHeader is the part every record starts with.
type taskHeader struct {
	Type     uint32
	Flags    uint32
	KTime    uint64 // CLOCK_MONOTONIC, ns
	PID      uint32 // thread id
	TGID     uint32 // process id
	PPID     uint32 // parent process id
	Code     uint32 // exit: wait(2) status
	CgroupID uint64
	Comm     string
}

// execRecord is a process exec.
type execRecord struct {
	ParentComm           string
	UID, EUID, GID, EGID uint32
	CgroupLeaf           string // name of the process's cgroup (v2)
	CgroupParent         string // and of its parent
	Filename             string // as passed to execve
	Argv                 []byte // NUL-separated; aliases the input
}

// connRecord is a TCP connection established (connect) or accepted, or
// the first UDP datagram of a process to a peer (Remote).
type connRecord struct {
	UID    uint32
	Family uint16 // AF_INET or AF_INET6
	Local  netip.AddrPort
	Remote netip.AddrPort
}

// activityRecord is a watched system call.
type activityRecord struct {
	Kind        uint32
	Ops         uint32 // watched operations matched
	Flags       uint64 // open flags, chmod mode, ptrace request, socket type, mount flags
	Arg         uint64 // ptrace target, socket domain, bpf command, first argument
	UID         uint32
	Path, Path2 string
}

// record is one parsed ring buffer record. Exec is set for recExec, Conn
// for recConnect, recAccept and recUDP, Act for recActivity.
type record struct {
	taskHeader
	Exec execRecord
	Conn connRecord
	Act  activityRecord
	// strs, when set, makes the short strings of records (command
	// names; cgroup names and executable paths of execs) shared with
	// earlier records instead of allocated for each.
	strs *interner
}

// interner hands out one string per distinct short byte sequence: the
// command names, cgroup names and executable paths of process records
// repeat (every /bin/true of a loop), and sharing them saves an
// allocation per string and record. It is bounded: at most
// internMax strings of at most internLen bytes, forgotten all at once
// when full. It is not safe for concurrent use (the reader goroutine
// owns it).
type interner struct {
	m map[string]string
}

// Bounds of the interner (at most internMax*internLen bytes of strings).
const (
	internMax = 1024
	internLen = 64
)

func newInterner() *interner { return &interner{m: make(map[string]string)} }

// str returns b as a string, shared when it was seen before.
func (in *interner) str(b []byte) string {
	if in == nil || len(b) > internLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if len(in.m) >= internMax {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}

var le = binary.LittleEndian

// cstring returns the NUL-terminated string at the start of b (interned
// by in, when not nil).
func cstring(b []byte, in *interner) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return in.str(b)
}

// parseRecord decodes one ring buffer record into r (reusing it). The
// Argv of an exec aliases b. It never panics on any input.
func parseRecord(b []byte, r *record) error {
	if len(b) < taskRecSize {
		return fmt.Errorf("%w: %d bytes, shorter than a header", errRecord, len(b))
	}
	h := &r.taskHeader
	h.Type = le.Uint32(b[0:])
	h.Flags = le.Uint32(b[4:])
	h.KTime = le.Uint64(b[8:])
	h.PID = le.Uint32(b[16:])
	h.TGID = le.Uint32(b[20:])
	h.PPID = le.Uint32(b[24:])
	h.Code = le.Uint32(b[28:])
	h.CgroupID = le.Uint64(b[32:])
	in := r.strs
	h.Comm = cstring(b[40:40+commLen], in)
	switch h.Type {
	case recExit, recFork:
		return nil
	case recExec:
		return parseExec(b, &r.Exec, in)
	case recConnect, recAccept, recUDP:
		return parseConn(b, &r.Conn)
	case recActivity:
		return parseActivity(b, &r.Act)
	}
	return fmt.Errorf("%w: unknown type %d", errRecord, h.Type)
}

func parseExec(b []byte, e *execRecord, in *interner) error {
	if len(b) < execOffArgv {
		return fmt.Errorf("%w: exec record of %d bytes", errRecord, len(b))
	}
	e.ParentComm = cstring(b[taskRecSize:taskRecSize+commLen], in)
	e.UID = le.Uint32(b[execOffUID:])
	e.EUID = le.Uint32(b[execOffUID+4:])
	e.GID = le.Uint32(b[execOffUID+8:])
	e.EGID = le.Uint32(b[execOffUID+12:])
	fileLen := int(le.Uint16(b[execOffLens:]))
	argvLen := int(le.Uint16(b[execOffLens+2:]))
	leafLen := int(le.Uint16(b[execOffLens+4:]))
	parentLen := int(le.Uint16(b[execOffLens+6:]))
	if fileLen >= filenameMax || leafLen >= cgroupNameMax || parentLen >= cgroupNameMax || argvLen > argvMax {
		return fmt.Errorf("%w: exec lengths out of range (file %d, argv %d, cgroup %d/%d)", errRecord, fileLen, argvLen, leafLen, parentLen)
	}
	if len(b) < execOffArgv+argvLen {
		return fmt.Errorf("%w: exec record of %d bytes holds no %d bytes of argv", errRecord, len(b), argvLen)
	}
	e.CgroupLeaf = in.str(b[execOffLeaf : execOffLeaf+leafLen])
	e.CgroupParent = in.str(b[execOffParent : execOffParent+parentLen])
	e.Filename = in.str(b[execOffFile : execOffFile+fileLen])
	e.Argv = b[execOffArgv : execOffArgv+argvLen]
	return nil
}

func parseConn(b []byte, c *connRecord) error {
	if len(b) < connRecSize {
		return fmt.Errorf("%w: connection record of %d bytes", errRecord, len(b))
	}
	c.UID = le.Uint32(b[connOffUID:])
	c.Family = le.Uint16(b[connOffFamily:])
	sport := le.Uint16(b[connOffFamily+2:])
	dport := le.Uint16(b[connOffFamily+4:])
	var s, d netip.Addr
	switch c.Family {
	case afINET:
		s = netip.AddrFrom4([4]byte(b[connOffSAddr : connOffSAddr+4]))
		d = netip.AddrFrom4([4]byte(b[connOffDAddr : connOffDAddr+4]))
	case afINET6:
		s = netip.AddrFrom16([16]byte(b[connOffSAddr : connOffSAddr+16]))
		d = netip.AddrFrom16([16]byte(b[connOffDAddr : connOffDAddr+16]))
	default:
		return fmt.Errorf("%w: address family %d", errRecord, c.Family)
	}
	c.Local = netip.AddrPortFrom(s, sport)
	c.Remote = netip.AddrPortFrom(d, dport)
	return nil
}

func parseActivity(b []byte, a *activityRecord) error {
	if len(b) < actRecSize {
		return fmt.Errorf("%w: activity record of %d bytes", errRecord, len(b))
	}
	a.Kind = le.Uint32(b[actOffKind:])
	a.Ops = le.Uint32(b[actOffKind+4:])
	a.Flags = le.Uint64(b[actOffKind+8:])
	a.Arg = le.Uint64(b[actOffKind+16:])
	a.UID = le.Uint32(b[actOffKind+24:])
	n1 := int(le.Uint16(b[actOffKind+28:]))
	n2 := int(le.Uint16(b[actOffKind+30:]))
	if n1 >= actPathMax || n2 >= actPathMax {
		return fmt.Errorf("%w: activity path lengths %d, %d", errRecord, n1, n2)
	}
	if a.Kind == 0 || a.Kind > actCreat {
		return fmt.Errorf("%w: activity kind %d", errRecord, a.Kind)
	}
	a.Path = string(b[actOffPath : actOffPath+n1])
	a.Path2 = string(b[actOffPath2 : actOffPath2+n2])
	return nil
}
