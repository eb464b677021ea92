package sockdiag

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// Bounds of the /proc/net parser.
const (
	// MaxProcNetLine is the longest line ParseProcNet accepts (real lines
	// are under 200 bytes).
	MaxProcNetLine = 4096

	procNetReadSize = 256 << 10
)

// ProcNetError reports lines of a /proc/net file that could not be
// parsed. The sockets of the other lines are still delivered.
type ProcNetError struct {
	Skipped int    // number of lines skipped
	First   string // description of the first problem
}

// Error implements error.
func (e *ProcNetError) Error() string {
	return fmt.Sprintf("sockdiag: %d malformed /proc/net lines skipped (first: %s)", e.Skipped, e.First)
}

// ParseProcNet parses a /proc/net/{tcp,tcp6,udp,udp6,raw,raw6} file of
// table t, calling fn for each socket in the given states (the *Socket is
// reused; fn copies what it keeps). Malformed lines are skipped and
// reported in a *ProcNetError; a read error is returned as is.
func ParseProcNet(r io.Reader, t Table, states States, fn func(*Socket)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), MaxProcNetLine)
	var perr *ProcNetError
	bad := func(line int, msg string) {
		if perr == nil {
			perr = &ProcNetError{First: fmt.Sprintf("line %d: %s", line, msg)}
		}
		perr.Skipped++
	}
	var s Socket
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 && bytes.Contains(b, []byte("local_address")) {
			continue
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if msg := parseProcNetLine(b, t, &s); msg != "" {
			bad(line, msg)
			continue
		}
		if states.Has(s.State) {
			fn(&s)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			bad(line+1, "line too long")
			return perr
		}
		return err
	}
	if perr != nil {
		return perr
	}
	return nil
}

// parseProcNetLine decodes one line, returning a description of the
// problem or "".
func parseProcNetLine(b []byte, t Table, s *Socket) string {
	var f [12][]byte
	n := 0
	for _, w := range bytes.Fields(b) {
		if n == len(f) {
			break
		}
		f[n] = w
		n++
	}
	if n < 10 {
		return "too few fields"
	}
	*s = Socket{Family: t.Family, Protocol: t.Protocol}
	var ok bool
	if s.Local, ok = parseHexAddrPort(f[1], t.Family); !ok {
		return "bad local address"
	}
	if s.Remote, ok = parseHexAddrPort(f[2], t.Family); !ok {
		return "bad remote address"
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return "bad state"
	}
	s.State = uint8(st)
	uid, err := strconv.ParseUint(string(f[7]), 10, 32)
	if err != nil {
		return "bad uid"
	}
	s.UID = uint32(uid)
	ino, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return "bad inode"
	}
	s.Inode = ino
	return ""
}

// parseHexAddrPort decodes "0100007F:0277" (IPv4) or the 32-hex-digit
// IPv6 form: 32-bit words printed in host byte order.
func parseHexAddrPort(b []byte, family uint8) (netip.AddrPort, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	hexAddr, hexPort := b[:i], b[i+1:]
	port, err := strconv.ParseUint(string(hexPort), 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	var raw [16]byte
	words := 4
	if family == FamilyIPv4 {
		words = 1
	}
	if len(hexAddr) != 8*words {
		return netip.AddrPort{}, false
	}
	for w := 0; w < words; w++ {
		v, err := strconv.ParseUint(string(hexAddr[8*w:8*w+8]), 16, 32)
		if err != nil {
			return netip.AddrPort{}, false
		}
		binary.NativeEndian.PutUint32(raw[4*w:], uint32(v))
	}
	var a netip.Addr
	if family == FamilyIPv4 {
		a = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		a = netip.AddrFrom16(raw)
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// ReadProcNet reads the /proc/net file of table t from dir (for example
// /proc/self/net, or /host/proc/1/net for the host's namespace seen from
// a container) and calls fn as ParseProcNet does.
func ReadProcNet(dir string, t Table, states States, fn func(*Socket)) error {
	name := filepath.Join(dir, t.procNetName())
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("sockdiag: %w", err)
	}
	defer f.Close()
	// One large read: the kernel prints the table in chunks of the size
	// asked, and sockets created or closed between two reads can shift
	// the ones after them out of the listing.
	if err := ParseProcNet(bufio.NewReaderSize(f, procNetReadSize), t, states, fn); err != nil {
		return fmt.Errorf("sockdiag: %s: %w", name, err)
	}
	return nil
}
