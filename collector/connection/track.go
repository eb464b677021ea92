package connection

import (
	"net/netip"

	"github.com/edgesec/edgesec/internal/sockdiag"
)

// Tracker remembers the connections seen in the previous snapshots and
// tells which ones are new. It holds at most a fixed number of
// connections; connections beyond the bound are counted, not tracked (and
// so not reported). A Tracker is not safe for concurrent use.
type Tracker struct {
	max      int
	gen      uint32
	seen     map[uint64]uint32 // socket key → generation last seen
	overflow uint64
}

// NewTracker returns a Tracker of at most max connections (max > 0).
func NewTracker(max int) *Tracker {
	return &Tracker{max: max, seen: make(map[uint64]uint32)}
}

// Begin starts a snapshot.
func (t *Tracker) Begin() { t.gen++ }

// Observe records a connection of the current snapshot and reports
// whether it is new. A new connection that does not fit is counted as
// overflow and reported as not new.
func (t *Tracker) Observe(key uint64) bool {
	if _, ok := t.seen[key]; ok {
		t.seen[key] = t.gen
		return false
	}
	if len(t.seen) >= t.max {
		t.overflow++
		return false
	}
	t.seen[key] = t.gen
	return true
}

// Known reports whether key is tracked.
func (t *Tracker) Known(key uint64) bool {
	_, ok := t.seen[key]
	return ok
}

// End finishes a snapshot: connections not observed in it are forgotten.
func (t *Tracker) End() {
	for k, g := range t.seen {
		if g != t.gen {
			delete(t.seen, k)
		}
	}
}

// Len returns the number of tracked connections.
func (t *Tracker) Len() int { return len(t.seen) }

// Overflow returns the number of new connections that were not tracked
// because the Tracker was full.
func (t *Tracker) Overflow() uint64 { return t.overflow }

// listenKey is a listening port: protocol and port.
type listenKey struct {
	proto uint8
	port  uint16
}

// Listeners indexes the listening sockets of a snapshot (TCP sockets in
// LISTEN, unconnected UDP sockets bound to a port) to find the direction
// of connections. The zero value is empty and ready to use.
type Listeners struct {
	m map[listenKey][]netip.Addr
}

// Reset empties the index, keeping its memory.
func (l *Listeners) Reset() {
	for k, v := range l.m {
		l.m[k] = v[:0]
	}
}

// Add records a listening socket.
func (l *Listeners) Add(s *sockdiag.Socket) {
	if l.m == nil {
		l.m = make(map[listenKey][]netip.Addr)
	}
	k := listenKey{s.Protocol, s.Local.Port()}
	l.m[k] = append(l.m[k], s.Local.Addr().Unmap())
}

// Inbound reports whether a connection's local end is a listening port:
// a listener of the same protocol on its local port, bound to its local
// address or to a wildcard address (an IPv6 wildcard listener also
// accepts IPv4 connections).
func (l *Listeners) Inbound(s *sockdiag.Socket) bool {
	local := s.Local.Addr().Unmap()
	for _, a := range l.m[listenKey{s.Protocol, s.Local.Port()}] {
		if a.IsUnspecified() || a == local {
			return true
		}
	}
	return false
}
