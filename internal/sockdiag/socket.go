package sockdiag

import (
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// Address families and protocols of a [Socket] (the values of the kernel
// constants, repeated here so that callers need not import x/sys/unix).
const (
	FamilyIPv4 = unix.AF_INET
	FamilyIPv6 = unix.AF_INET6

	ProtoTCP = unix.IPPROTO_TCP
	ProtoUDP = unix.IPPROTO_UDP
	ProtoRAW = unix.IPPROTO_RAW
)

// TCP states (include/net/tcp_states.h). UDP and raw sockets use
// StateEstablished when connected and StateClose otherwise.
const (
	StateEstablished = 1
	StateSynSent     = 2
	StateSynRecv     = 3
	StateFinWait1    = 4
	StateFinWait2    = 5
	StateTimeWait    = 6
	StateClose       = 7
	StateCloseWait   = 8
	StateLastAck     = 9
	StateListen      = 10
	StateClosing     = 11
	StateNewSynRecv  = 12
	numStates        = 13
)

// States is a set of socket states, bit i standing for state i, as the
// kernel's idiag_states filter.
type States uint32

// AllStates selects every state.
const AllStates States = 1<<numStates - 1

// StateSet returns the set of the given states.
func StateSet(states ...uint8) States {
	var s States
	for _, st := range states {
		s |= 1 << st
	}
	return s
}

// Has reports whether st is in s.
func (s States) Has(st uint8) bool { return st < 32 && s&(1<<st) != 0 }

var stateNames = [numStates]string{
	"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
}

// StateName returns the kernel name of a TCP state ("ESTABLISHED",
// "LISTEN", …) or the number for an unknown one.
func StateName(st uint8) string {
	if int(st) < len(stateNames) && st != 0 {
		return stateNames[st]
	}
	return strconv.Itoa(int(st))
}

// Socket is one internet socket as the kernel reports it.
type Socket struct {
	// Family is FamilyIPv4 or FamilyIPv6.
	Family uint8
	// Protocol is ProtoTCP, ProtoUDP or ProtoRAW.
	Protocol uint8
	// State is the TCP state (see the State constants).
	State uint8
	// Local and Remote are the socket's addresses. Addresses of IPv6
	// sockets stay IPv6 (IPv4-mapped ones included); for raw sockets the
	// local port is the IP protocol number the socket was opened for.
	Local, Remote netip.AddrPort
	// Inode is the socket inode (0 for sockets no file refers to: time-wait
	// and orphaned sockets).
	Inode uint64
	// UID is the uid of the socket's creator.
	UID uint32
	// Cookie identifies the socket for its whole life in its network
	// namespace (0 when read from /proc/net, which has none).
	Cookie uint64
	// Interface is the index of the interface the socket is bound to (0
	// for none).
	Interface uint32
}

// Key returns an identity for the socket within one network namespace:
// the cookie when known, otherwise a hash of the family, protocol and
// addresses (what /proc/net offers; the inode is left out because an
// accepted connection gets it only when accept(2) returns).
func (s *Socket) Key() uint64 {
	if s.Cookie != 0 {
		return s.Cookie
	}
	// FNV-1a over the fields that identify a socket in /proc/net; the top
	// bit is set so that the key never equals a (small) kernel cookie.
	h := uint64(14695981039346656037)
	mix := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	mix(s.Family)
	mix(s.Protocol)
	for _, ap := range [2]netip.AddrPort{s.Local, s.Remote} {
		a := ap.Addr().As16()
		for _, b := range a {
			mix(b)
		}
		mix(byte(ap.Port() >> 8))
		mix(byte(ap.Port()))
	}
	return h | 1<<63
}

// ProtocolName returns "TCP", "UDP" or "RAW".
func ProtocolName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoRAW:
		return "RAW"
	}
	return strconv.Itoa(int(p))
}

// FamilyName returns "IPv4" or "IPv6".
func FamilyName(f uint8) string {
	switch f {
	case FamilyIPv4:
		return "IPv4"
	case FamilyIPv6:
		return "IPv6"
	}
	return strconv.Itoa(int(f))
}

// Table is one kind of socket table: a protocol and a family.
type Table struct {
	Family   uint8
	Protocol uint8
}

// The six tables.
var (
	TCP4 = Table{FamilyIPv4, ProtoTCP}
	TCP6 = Table{FamilyIPv6, ProtoTCP}
	UDP4 = Table{FamilyIPv4, ProtoUDP}
	UDP6 = Table{FamilyIPv6, ProtoUDP}
	RAW4 = Table{FamilyIPv4, ProtoRAW}
	RAW6 = Table{FamilyIPv6, ProtoRAW}
)

// procNetName returns the /proc/net file name of t ("tcp", "udp6", …).
func (t Table) procNetName() string {
	var n string
	switch t.Protocol {
	case ProtoTCP:
		n = "tcp"
	case ProtoUDP:
		n = "udp"
	case ProtoRAW:
		n = "raw"
	default:
		return ""
	}
	if t.Family == FamilyIPv6 {
		n += "6"
	}
	return n
}

// String returns "tcp", "udp6", … (the /proc/net file name).
func (t Table) String() string {
	if n := t.procNetName(); n != "" {
		return n
	}
	return "table(" + strconv.Itoa(int(t.Family)) + "," + strconv.Itoa(int(t.Protocol)) + ")"
}
