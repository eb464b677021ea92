package login

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Record types of utmp(5) (ut_type).
const (
	Empty        = 0 // EMPTY: no valid information
	RunLevel     = 1 // RUN_LVL: change in system run level
	BootTime     = 2 // BOOT_TIME: time of system boot
	NewTime      = 3 // NEW_TIME: time after a clock change
	OldTime      = 4 // OLD_TIME: time before a clock change
	InitProcess  = 5 // INIT_PROCESS: process spawned by init
	LoginProcess = 6 // LOGIN_PROCESS: session leader of a logged-in user (getty)
	UserProcess  = 7 // USER_PROCESS: normal process (a login)
	DeadProcess  = 8 // DEAD_PROCESS: terminated process (a logout)
	Accounting   = 9 // ACCOUNTING: not implemented
)

// Layout is the binary layout of a utmp/wtmp/btmp file: the record size,
// the width of the time fields and the byte order.
//
// glibc on x86_64, aarch64, arm and i386 uses a 384-byte record whose
// ut_session and ut_tv fields are 32-bit (__WORDSIZE_TIME64_COMPAT32);
// musl and glibc on some other 64-bit ports use 64-bit ut_session and
// ut_tv.tv_sec/tv_usec, which moves ut_tv and ut_addr_v6 and makes the
// record 400 bytes.
type Layout struct {
	// Size is the record size in bytes: 384 or 400.
	Size int
	// Time64 is true when ut_tv has 64-bit fields (the 400-byte layout).
	Time64 bool
	// BigEndian selects the byte order of the integer fields.
	BigEndian bool
}

// The layouts ParseUtmp knows.
var (
	Layout32    = Layout{Size: 384}                                // glibc x86_64/aarch64/arm/i386
	Layout64    = Layout{Size: 400, Time64: true}                  // musl, glibc without time compat
	Layout32BE  = Layout{Size: 384, BigEndian: true}               // glibc on big-endian 32-bit-time ports
	Layout64BE  = Layout{Size: 400, Time64: true, BigEndian: true} // big-endian 64-bit time
	knownLayout = []Layout{Layout32, Layout64, Layout32BE, Layout64BE}
)

// String names the layout, for logs.
func (l Layout) String() string {
	s := fmt.Sprintf("utmp%d", l.Size)
	if l.Time64 {
		s += "/time64"
	} else {
		s += "/time32"
	}
	if l.BigEndian {
		s += "/be"
	}
	return s
}

func (l Layout) order() binary.ByteOrder {
	if l.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (l Layout) valid() bool {
	for _, k := range knownLayout {
		if l == k {
			return true
		}
	}
	return false
}

// Field offsets shared by both layouts.
const (
	offType    = 0
	offPID     = 4
	offLine    = 8
	lenLine    = 32
	offID      = 40
	lenID      = 4
	offUser    = 44
	lenUser    = 32
	offHost    = 76
	lenHost    = 256
	offExit    = 332
	offSession = 336
	// 32-bit time layout
	offTV32   = 340
	offAddr32 = 348
	// 64-bit time layout
	offTV64   = 344
	offAddr64 = 360
)

// Record is one decoded utmp record. Text fields are trimmed at their
// first NUL byte; invalid UTF-8 is replaced, so that every field is safe to
// put in an event.
type Record struct {
	Type     int        // ut_type: UserProcess, DeadProcess, ...
	PID      int        // ut_pid
	Line     string     // ut_line: device name without "/dev/", e.g. "pts/0", "ssh:notty"
	ID       string     // ut_id: terminal name suffix or inittab id
	User     string     // ut_user
	Host     string     // ut_host: remote host name or address, or kernel version for BOOT_TIME
	Addr     netip.Addr // ut_addr_v6 as an address; invalid when all zero
	ExitTerm int        // ut_exit.e_termination
	ExitCode int        // ut_exit.e_exit
	Session  int64      // ut_session
	Time     time.Time  // ut_tv, UTC; the zero Time when ut_tv is zero
}

// ErrNotUtmp is returned by [DetectLayout] when data does not look like
// records of any known layout.
var ErrNotUtmp = errors.New("login: not utmp records of a known layout")

// DetectLayout guesses the layout of utmp data from its first records: it
// decodes up to 64 records with every known layout and picks the one
// whose records are the most plausible (known record type, sane pid,
// NUL-padded text fields, a time between 1980 and next year). Data whose
// length is a multiple of only one record size favours that size. Empty
// data (or data shorter than one record) returns [Layout32], the common
// layout, and no error.
func DetectLayout(data []byte) (Layout, error) {
	if len(data) < Layout32.Size {
		return Layout32, nil
	}
	best, bestScore := Layout{}, -1.0
	for _, l := range knownLayout {
		n := min(len(data)/l.Size, 64)
		if n == 0 {
			continue
		}
		good := 0
		for i := range n {
			if plausible(data[i*l.Size:(i+1)*l.Size], l) {
				good++
			}
		}
		score := float64(good) / float64(n)
		if len(data)%l.Size == 0 {
			score += 0.01 // a tie breaker, never more than one bad record's worth
		}
		if score > bestScore {
			best, bestScore = l, score
		}
	}
	if bestScore < 0.5 {
		return Layout{}, ErrNotUtmp
	}
	return best, nil
}

// plausible reports whether b decodes as a sane record under l.
func plausible(b []byte, l Layout) bool {
	o := l.order()
	typ := int16(o.Uint16(b[offType:]))
	if typ < Empty || typ > Accounting {
		return false
	}
	if pid := int32(o.Uint32(b[offPID:])); pid < 0 {
		return false
	}
	if l.Time64 {
		// The padding (musl) or the high half (glibc) of the 64-bit
		// ut_session is zero for every real session id; in the 32-bit
		// layout the same bytes hold tv_sec.
		hi := offSession + 4
		if l.BigEndian {
			hi = offSession
		}
		if o.Uint32(b[hi:]) != 0 {
			return false
		}
	}
	for _, f := range [][2]int{{offLine, lenLine}, {offUser, lenUser}, {offHost, lenHost}} {
		if !nulPadded(b[f[0] : f[0]+f[1]]) {
			return false
		}
	}
	if typ == Empty {
		return true
	}
	sec, usec := tv(b, l)
	if usec < 0 || usec >= 1_000_000 {
		return false
	}
	return sec >= 315532800 && sec <= time.Now().AddDate(1, 0, 0).Unix() // 1980 .. next year
}

// nulPadded reports whether the bytes after the first NUL are all NUL and
// the text before it holds no control characters.
func nulPadded(f []byte) bool {
	i := bytes.IndexByte(f, 0)
	if i < 0 {
		i = len(f)
	}
	for _, c := range f[:i] {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, c := range f[i:] {
		if c != 0 {
			return false
		}
	}
	return true
}

func tv(b []byte, l Layout) (sec, usec int64) {
	o := l.order()
	if l.Time64 {
		return int64(o.Uint64(b[offTV64:])), int64(o.Uint64(b[offTV64+8:]))
	}
	// glibc stores a signed 32-bit tv_sec; read it unsigned so that
	// times after 2038 (which glibc ≥ 2.40 writes as unsigned) decode.
	return int64(o.Uint32(b[offTV32:])), int64(int32(o.Uint32(b[offTV32+4:])))
}

// DecodeRecord decodes one record of layout l; b must be exactly l.Size
// bytes long.
func DecodeRecord(b []byte, l Layout) (Record, error) {
	if !l.valid() {
		return Record{}, fmt.Errorf("login: unknown utmp layout %+v", l)
	}
	if len(b) != l.Size {
		return Record{}, fmt.Errorf("login: utmp record is %d bytes, want %d", len(b), l.Size)
	}
	o := l.order()
	r := Record{
		Type:     int(int16(o.Uint16(b[offType:]))),
		PID:      int(int32(o.Uint32(b[offPID:]))),
		Line:     cstring(b[offLine : offLine+lenLine]),
		ID:       cstring(b[offID : offID+lenID]),
		User:     cstring(b[offUser : offUser+lenUser]),
		Host:     cstring(b[offHost : offHost+lenHost]),
		ExitTerm: int(int16(o.Uint16(b[offExit:]))),
		ExitCode: int(int16(o.Uint16(b[offExit+2:]))),
	}
	addrOff := offAddr32
	if l.Time64 {
		addrOff = offAddr64
		r.Session = int64(o.Uint64(b[offSession:]))
	} else {
		r.Session = int64(int32(o.Uint32(b[offSession:])))
	}
	sec, usec := tv(b, l)
	if sec != 0 || usec != 0 {
		if usec < 0 || usec >= 1_000_000 {
			usec = 0
		}
		r.Time = time.Unix(sec, usec*1000).UTC()
	}
	r.Addr = decodeAddr(b[addrOff : addrOff+16])
	return r, nil
}

// decodeAddr turns ut_addr_v6 into an address: an IPv4 address when only
// the first word is set (glibc stores IPv4 there, in network byte order),
// an IPv4-mapped IPv6 address unmapped, an IPv6 address otherwise, and the
// invalid Addr when all zero.
func decodeAddr(a []byte) netip.Addr {
	var b16 [16]byte
	copy(b16[:], a)
	if b16 == [16]byte{} {
		return netip.Addr{}
	}
	if bytes.Equal(b16[4:], make([]byte, 12)) {
		return netip.AddrFrom4([4]byte(b16[:4]))
	}
	return netip.AddrFrom16(b16).Unmap()
}

// cstring returns the text of a NUL-padded field, valid UTF-8.
func cstring(f []byte) string {
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	if utf8.Valid(f) {
		return string(f)
	}
	return strings.ToValidUTF8(string(f), "\uFFFD")
}

// ParseUtmp decodes every whole record of data with layout l (use
// [DetectLayout] to find it). A trailing partial record is not decoded;
// its length is reported as rest, so that a reader can wait for the
// writer to finish it.
func ParseUtmp(data []byte, l Layout) (recs []Record, rest int, err error) {
	if !l.valid() {
		return nil, 0, fmt.Errorf("login: unknown utmp layout %+v", l)
	}
	n := len(data) / l.Size
	recs = make([]Record, 0, n)
	for i := range n {
		r, err := DecodeRecord(data[i*l.Size:(i+1)*l.Size], l)
		if err != nil {
			return recs, 0, err
		}
		recs = append(recs, r)
	}
	return recs, len(data) - n*l.Size, nil
}

// EncodeRecord is the inverse of [DecodeRecord]: it encodes r in layout l.
// Text fields longer than their field are truncated. It is used to build
// test fixtures and by tools that write wtmp files; the collector only
// reads.
func EncodeRecord(r Record, l Layout) ([]byte, error) {
	if !l.valid() {
		return nil, fmt.Errorf("login: unknown utmp layout %+v", l)
	}
	o := l.order()
	b := make([]byte, l.Size)
	o.PutUint16(b[offType:], uint16(int16(r.Type)))
	o.PutUint32(b[offPID:], uint32(int32(r.PID)))
	copy(b[offLine:offLine+lenLine], r.Line)
	copy(b[offID:offID+lenID], r.ID)
	copy(b[offUser:offUser+lenUser], r.User)
	copy(b[offHost:offHost+lenHost], r.Host)
	o.PutUint16(b[offExit:], uint16(int16(r.ExitTerm)))
	o.PutUint16(b[offExit+2:], uint16(int16(r.ExitCode)))
	var sec, usec int64
	if !r.Time.IsZero() {
		sec, usec = r.Time.Unix(), int64(r.Time.Nanosecond()/1000)
	}
	addrOff := offAddr32
	if l.Time64 {
		addrOff = offAddr64
		o.PutUint64(b[offSession:], uint64(r.Session))
		o.PutUint64(b[offTV64:], uint64(sec))
		o.PutUint64(b[offTV64+8:], uint64(usec))
	} else {
		o.PutUint32(b[offSession:], uint32(int32(r.Session)))
		o.PutUint32(b[offTV32:], uint32(sec))
		o.PutUint32(b[offTV32+4:], uint32(usec))
	}
	if r.Addr.IsValid() {
		if r.Addr.Is4() {
			a := r.Addr.As4()
			copy(b[addrOff:], a[:])
		} else {
			a := r.Addr.As16()
			copy(b[addrOff:], a[:])
		}
	}
	return b, nil
}
