package aggregate

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/event"
)

// The aggregatable event names.
const (
	kindPC   = iota // ProcessCreate
	kindCC          // ConnectionCreate
	kindPT          // ProcessTerminate
	numKinds        // number of aggregatable names
)

var kindNames = [numKinds]string{event.ProcessCreate, event.ConnectionCreate, event.ProcessTerminate}

// kindOf returns the aggregation kind of an event name, or -1.
func kindOf(name string) int {
	switch name {
	case event.ProcessCreate:
		return kindPC
	case event.ConnectionCreate:
		return kindCC
	case event.ProcessTerminate:
		return kindPT
	}
	return -1
}

// ExtraDetails keys of an aggregated payload item.
const (
	ExtraHitCount       = "HitCount"
	ExtraStartTimeLocal = "StartTimeLocal"
	ExtraStartTimeUtc   = "StartTimeUtc"
	ExtraEndTimeLocal   = "EndTimeLocal"
	ExtraEndTimeUtc     = "EndTimeUtc"
	// ExtraContainerID is the ExtraDetails key that, besides the ASC
	// identity fields, separates aggregates: the same command in two
	// containers stays two events, each attributed to its container.
	ExtraContainerID = "ContainerId"
)

// aggKeys are the aggregation keys in sorted order, as AppendStringMap
// sorts them.
var aggKeys = [5]string{ExtraEndTimeLocal, ExtraEndTimeUtc, ExtraHitCount, ExtraStartTimeLocal, ExtraStartTimeUtc}

func isAggKey(k string) bool {
	switch k {
	case ExtraEndTimeLocal, ExtraEndTimeUtc, ExtraHitCount, ExtraStartTimeLocal, ExtraStartTimeUtc:
		return true
	}
	return false
}

// aggEntry is one pending aggregate: the first hit's payload item with the
// per-process fields zeroed, the hit count and the hit time range.
type aggEntry struct {
	kind     int
	typ      event.EventType
	key      string
	id       string
	hits     int64
	est      int // estimated bytes, counted against the cache
	first    time.Time
	last     time.Time
	since    time.Time // clock at the first hit
	deadline time.Time // since + interval
	extra    event.ExtraDetails
	pc       event.ProcessCreatePayload
	cc       event.ConnectionCreatePayload
	pt       event.ProcessTerminatePayload
}

// hit counts one more occurrence at t.
func (a *aggEntry) hit(t time.Time) {
	a.hits++
	if t.Before(a.first) {
		a.first = t
	}
	if t.After(a.last) {
		a.last = t
	}
}

// base returns the payload item without ExtraDetails.
func (a *aggEntry) base() event.Item {
	switch a.kind {
	case kindPC:
		return &a.pc
	case kindCC:
		return &a.cc
	default:
		return &a.pt
	}
}

// setPayload copies it, zeroes the fields outside the identity and keeps
// the ExtraDetails apart.
func (a *aggEntry) setPayload(it event.Item) {
	switch v := it.(type) {
	case *event.ProcessCreatePayload:
		a.pc = *v
		a.extra, a.pc.ExtraDetails = v.ExtraDetails, nil
		a.pc.ProcessID, a.pc.ParentProcessID = 0, 0
	case *event.ConnectionCreatePayload:
		a.cc = *v
		a.extra, a.cc.ExtraDetails = v.ExtraDetails, nil
		a.cc.ProcessID = 0
		if v.Direction == event.DirectionIn {
			a.cc.RemotePort = ""
		} else {
			a.cc.LocalPort = ""
		}
	case *event.ProcessTerminatePayload:
		a.pt = *v
		a.extra, a.pt.ExtraDetails = v.ExtraDetails, nil
		a.pt.ProcessID = 0
	}
}

// accepts reports whether it is a payload item kind k can aggregate.
func accepts(k int, it event.Item) bool {
	switch k {
	case kindPC:
		v, ok := it.(*event.ProcessCreatePayload)
		return ok && v != nil
	case kindCC:
		v, ok := it.(*event.ConnectionCreatePayload)
		return ok && v != nil
	case kindPT:
		v, ok := it.(*event.ProcessTerminatePayload)
		return ok && v != nil
	}
	return false
}

// aggItem is the payload item of an aggregated event: the stored item
// followed by ExtraDetails merged with the aggregation keys. It is encoded
// without allocating.
type aggItem struct {
	a *aggEntry
	// estimate writes the longest possible times and hit count instead of
	// the real ones, for a cheap upper bound of the encoded size.
	estimate bool
}

// Placeholders of the estimate mode: the longest local time (with a
// ±hh:mm offset), UTC time and hit count.
const (
	maxLocal = "0000-00-00T00:00:00.000+00:00"
	maxUTC   = "0000-00-00T00:00:00.000Z"
	maxHits  = "9223372036854775807"
)

type kv struct{ k, v string }

// AppendJSON implements event.Item.
func (it *aggItem) AppendJSON(dst []byte) []byte {
	a := it.a
	dst = a.base().AppendJSON(dst)
	// The item was encoded without ExtraDetails: reopen the object.
	if n := len(dst); n > 0 && dst[n-1] == '}' {
		dst = dst[:n-1]
	}
	dst = append(dst, `,"ExtraDetails":{`...)

	var arr [16]kv
	pairs := arr[:0]
	for k, v := range a.extra {
		if !isAggKey(k) {
			pairs = append(pairs, kv{k, v})
		}
	}
	if len(pairs) > 1 {
		slices.SortFunc(pairs, func(x, y kv) int { return strings.Compare(x.k, y.k) })
	}
	i, j := 0, 0
	for i < len(pairs) || j < len(aggKeys) {
		if i+j > 0 {
			dst = append(dst, ',')
		}
		if j == len(aggKeys) || (i < len(pairs) && pairs[i].k < aggKeys[j]) {
			dst = event.AppendString(dst, pairs[i].k)
			dst = append(dst, ':')
			dst = event.AppendString(dst, pairs[i].v)
			i++
			continue
		}
		dst = append(dst, '"')
		dst = append(dst, aggKeys[j]...)
		dst = append(dst, '"', ':', '"')
		switch {
		case it.estimate && (j == 0 || j == 3):
			dst = append(dst, maxLocal...)
		case it.estimate && (j == 1 || j == 4):
			dst = append(dst, maxUTC...)
		case it.estimate:
			dst = append(dst, maxHits...)
		case j == 0:
			dst = event.AppendLocal(dst, a.last)
		case j == 1:
			dst = event.AppendUTC(dst, a.last)
		case j == 2:
			dst = strconv.AppendInt(dst, a.hits, 10)
		case j == 3:
			dst = event.AppendLocal(dst, a.first)
		case j == 4:
			dst = event.AppendUTC(dst, a.first)
		}
		dst = append(dst, '"')
		j++
	}
	return append(dst, '}', '}')
}

// kindState is the configuration of one aggregatable name.
type kindState struct {
	enabled  bool
	interval time.Duration
	queue    int // queue of its events for the current priority; -1 = Off
}

// kindList holds one name's pending aggregates in creation order, which is
// also their deadline order.
type kindList struct {
	kindState
	list []*aggEntry
	h    int
}

func (l *kindList) pending() int { return len(l.list) - l.h }

func (l *kindList) head() *aggEntry {
	if l.h < len(l.list) {
		return l.list[l.h]
	}
	return nil
}

// removeEntry removes a, normally the head, from the list.
func (l *kindList) removeEntry(a *aggEntry) {
	if l.head() == a {
		l.list[l.h] = nil
		l.h++
	} else if i := slices.Index(l.list[l.h:], a); i >= 0 {
		l.list = slices.Delete(l.list, l.h+i, l.h+i+1)
	}
	switch {
	case l.h == len(l.list):
		l.list, l.h = l.list[:0], 0
	case l.h >= 1024 && l.h >= len(l.list)/2:
		n := copy(l.list, l.list[l.h:])
		clear(l.list[n:])
		l.list, l.h = l.list[:n], 0
	}
}

// aggState is the aggregation half of a Pipeline.
type aggState struct {
	kinds    [numKinds]kindList
	m        map[string]*aggEntry
	count    int // pending aggregates
	bytes    int // sum of their estimates
	free     []*aggEntry
	key      []byte        // scratch for building keys
	scratch  []byte        // scratch for size estimates
	overhead [numKinds]int // eventOverhead of Security events, once computed
	item     aggItem
	one      [1]event.Item
}

func (s *aggState) init() {
	s.m = make(map[string]*aggEntry)
	s.one[0] = &s.item
}

// queueOf returns the queue a's event goes to, -1 if its name is Off.
func (s *aggState) queueOf(a *aggEntry) int {
	q := s.kinds[a.kind].queue
	if q >= 0 && a.typ == event.Operational {
		return QueueOperational
	}
	return q
}

// oldest returns the aggregate with the oldest first hit, or nil.
func (s *aggState) oldest() *aggEntry {
	var best *aggEntry
	for k := range s.kinds {
		if a := s.kinds[k].head(); a != nil && (best == nil || a.since.Before(best.since)) {
			best = a
		}
	}
	return best
}

// oldestIn returns the oldest aggregate bound for queue qi, or nil. An
// aggregate of a name switched Off counts as Low.
func (s *aggState) oldestIn(qi int) *aggEntry {
	var best *aggEntry
	for k := range s.kinds {
		a := s.kinds[k].head()
		if a == nil {
			continue
		}
		q := s.queueOf(a)
		if q < 0 {
			q = QueueLow
		}
		if q == qi && (best == nil || a.since.Before(best.since)) {
			best = a
		}
	}
	return best
}

// earliest returns the aggregate whose window ends first, or nil.
func (s *aggState) earliest() *aggEntry {
	var best *aggEntry
	for k := range s.kinds {
		if a := s.kinds[k].head(); a != nil && (best == nil || a.deadline.Before(best.deadline)) {
			best = a
		}
	}
	return best
}

func (s *aggState) alloc() *aggEntry {
	if n := len(s.free); n > 0 {
		a := s.free[n-1]
		s.free = s.free[:n-1]
		return a
	}
	return new(aggEntry)
}

func (s *aggState) recycle(a *aggEntry) {
	*a = aggEntry{}
	if len(s.free) < 1024 {
		s.free = append(s.free, a)
	}
}

func (s *aggState) insert(a *aggEntry) {
	s.m[a.key] = a
	l := &s.kinds[a.kind]
	l.list = append(l.list, a)
	s.count++
	s.bytes += a.est
}

func (s *aggState) remove(a *aggEntry) {
	delete(s.m, a.key)
	s.kinds[a.kind].removeEntry(a)
	s.count--
	s.bytes -= a.est
}

// event returns the aggregated event of a. Its payload is scratch space of
// s: it is valid until the next call.
func (s *aggState) event(a *aggEntry) event.Event {
	s.item = aggItem{a: a}
	return event.Event{ID: a.id, Time: a.last, Name: kindNames[a.kind], Category: event.Triggered, Type: a.typ, Payload: s.one[:]}
}

// estimate returns an upper bound of the size of a's aggregated event,
// whatever its final hit count and times: the item encoded with the longest
// placeholders, plus the event's own fields.
func (s *aggState) estimate(a *aggEntry) int {
	s.item = aggItem{a: a, estimate: true}
	s.scratch = s.item.AppendJSON(s.scratch[:0])
	n := len(s.scratch)
	s.scratch = event.AppendString(s.scratch[:0], a.id)
	n += len(s.scratch) - 2
	s.item = aggItem{}
	return n + s.eventOverhead(a.kind, a.typ)
}

// eventOverhead returns the bytes an aggregated event of kind k and type typ
// adds around its item, not counting the characters of its Id.
func (s *aggState) eventOverhead(k int, typ event.EventType) int {
	if typ == event.Security && s.overhead[k] > 0 {
		return s.overhead[k]
	}
	e := event.Event{Time: time.Unix(0, 0), Name: kindNames[k], Category: event.Triggered, Type: typ}
	// +1: "IsEmpty":false instead of true; +5: a ±hh:mm offset instead of Z.
	n := len(e.AppendJSON(nil)) + 1 + 5
	if typ == event.Security {
		s.overhead[k] = n
	}
	return n
}

func appendKey(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func containerID(x event.ExtraDetails) string {
	if len(x) == 0 {
		return ""
	}
	return x[ExtraContainerID]
}

// buildKey writes the identity of item it of kind k into s.key: the kind
// and the identity fields, each prefixed by its length.
func (s *aggState) buildKey(k int, it event.Item) []byte {
	b := append(s.key[:0], byte(k))
	switch v := it.(type) {
	case *event.ProcessCreatePayload:
		b = appendKey(b, v.Executable)
		b = appendKey(b, v.CommandLine)
		b = appendKey(b, v.UserID)
		b = appendKey(b, v.UserName)
		b = appendKey(b, containerID(v.ExtraDetails))
	case *event.ConnectionCreatePayload:
		b = appendKey(b, v.Executable)
		b = appendKey(b, v.CommandLine)
		b = appendKey(b, v.UserID)
		b = appendKey(b, v.Direction)
		b = appendKey(b, v.Protocol)
		b = appendKey(b, v.LocalAddress)
		b = appendKey(b, v.RemoteAddress)
		if v.Direction == event.DirectionIn {
			b = appendKey(b, v.LocalPort)
		} else {
			b = appendKey(b, v.RemotePort)
		}
		b = appendKey(b, containerID(v.ExtraDetails))
	case *event.ProcessTerminatePayload:
		b = appendKey(b, v.Executable)
		b = binary.AppendVarint(b, int64(v.ExitStatus))
		b = appendKey(b, containerID(v.ExtraDetails))
	}
	s.key = b
	return b
}

// aggregate adds the items of ev to the aggregates of kind k. It reports
// false, having changed nothing, if an item is not of k's payload type; the
// caller then queues the event as it is.
func (p *Pipeline) aggregate(k, qi int, ev *event.Event) bool {
	if len(ev.Payload) == 0 {
		return false
	}
	for _, it := range ev.Payload {
		if !accepts(k, it) {
			return false
		}
	}
	for i, it := range ev.Payload {
		key := p.agg.buildKey(k, it)
		if a := p.agg.m[string(key)]; a != nil {
			a.hit(ev.Time)
			continue
		}
		p.newAggregate(k, qi, ev, i, it)
	}
	return true
}

// newAggregate starts an aggregate for item i of ev, whose key is in
// p.agg.key.
func (p *Pipeline) newAggregate(k, qi int, ev *event.Event, i int, it event.Item) {
	s := &p.agg
	a := s.alloc()
	a.kind, a.typ, a.hits = k, ev.Type, 1
	a.first, a.last = ev.Time, ev.Time
	a.id = ev.ID
	if i > 0 {
		a.id = event.NewID()
	}
	a.setPayload(it)
	a.est = s.estimate(a)
	if a.est > p.maxEvent {
		// The aggregated form would not fit in a message; send the item
		// as it came (push drops and counts it if even that is too big).
		id := a.id
		s.recycle(a)
		one := *ev
		one.ID = id
		one.Payload = []event.Item{it}
		p.push(qi, &one, 1)
		return
	}
	// Aggregation may use half the cache: beyond, the oldest aggregates
	// go to the queues early instead of growing.
	for s.bytes+a.est > p.aggLimit && s.count > 0 {
		p.flushAgg(s.oldest())
	}
	if !p.makeRoom(a.est, qi) {
		p.total.dropped[qi]++
		s.recycle(a)
		return
	}
	a.key = string(s.key)
	now := p.now()
	a.since, a.deadline = now, now.Add(s.kinds[k].interval)
	s.insert(a)
}

// flushAgg removes a and queues its aggregated event, unless its name's
// priority is Off.
func (p *Pipeline) flushAgg(a *aggEntry) {
	if a == nil {
		return
	}
	s := &p.agg
	qi := s.queueOf(a)
	s.remove(a)
	if qi >= 0 {
		e := s.event(a)
		p.push(qi, &e, a.hits)
		s.item.a = nil
	}
	s.recycle(a)
}
