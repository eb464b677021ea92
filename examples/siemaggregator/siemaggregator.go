package siemaggregator

import (
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/event"
)

// Aggregator packs every event in a message of its own. Create it with
// [New]. Like every aggregate.Aggregator it is not safe for concurrent use:
// the engine serialises its calls.
type Aggregator struct {
	s        aggregate.Settings
	prio     func(string) event.Priority
	maxCache int
	maxMsg   int
	overhead int // envelope bytes around the one event

	q      [3]fifo // indexed by aggregate.QueueOperational, QueueHigh, QueueLow
	queued int     // bytes of the queued encodings

	collected, dropped [3]int64
	oversize           int64
}

var (
	_ aggregate.Aggregator    = (*Aggregator)(nil)
	_ aggregate.Configurer    = (*Aggregator)(nil)
	_ aggregate.StatsReporter = (*Aggregator)(nil)
)

// New returns an Aggregator with the zero settings: the aggregate
// package's default sizes and the catalogue's priorities, until the engine
// configures it.
func New() *Aggregator {
	a := &Aggregator{}
	a.apply(aggregate.Settings{})
	return a
}

func (a *Aggregator) apply(s aggregate.Settings) {
	a.s = s
	a.prio = s.Priority
	if a.prio == nil {
		a.prio = func(name string) event.Priority {
			if info, ok := event.Lookup(name); ok {
				return info.DefaultPriority
			}
			return event.Low
		}
	}
	a.maxCache = s.MaxCacheBytes
	if a.maxCache <= 0 {
		a.maxCache = aggregate.DefaultMaxCacheBytes
	}
	a.maxMsg = s.MaxMessageBytes
	if a.maxMsg <= 0 {
		a.maxMsg = aggregate.DefaultMaxMessageBytes
	}
	a.overhead = event.MessageOverhead(s.AgentVersion, s.AgentID)
}

// Configure implements aggregate.Configurer. Queued events that no longer
// fit in a message are dropped and counted as oversize; if the cache
// shrank, the oldest events are dropped and counted.
func (a *Aggregator) Configure(s aggregate.Settings) {
	a.apply(s)
	for i := range a.q {
		a.q[i].filter(func(enc []byte) bool {
			if a.overhead+len(enc) <= a.maxMsg {
				return true
			}
			a.queued -= len(enc)
			a.dropped[i]++
			a.oversize++
			return false
		})
	}
	a.makeRoom(0, aggregate.QueueOperational)
}

// queueOf returns the queue of an event, -1 when its priority is Off.
func (a *Aggregator) queueOf(ev *event.Event) int {
	switch pr := a.prio(ev.Name); {
	case pr == event.Off:
		return -1
	case ev.Type == event.Operational:
		return aggregate.QueueOperational
	case pr == event.High:
		return aggregate.QueueHigh
	}
	return aggregate.QueueLow
}

// Add implements aggregate.Aggregator: it encodes the event once and
// queues it. An event without an ID gets a fresh one.
func (a *Aggregator) Add(ev event.Event) {
	qi := a.queueOf(&ev)
	if qi < 0 {
		return
	}
	a.collected[qi]++
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	enc := ev.AppendJSON(nil)
	if a.overhead+len(enc) > a.maxMsg {
		a.dropped[qi]++
		a.oversize++
		return
	}
	if !a.makeRoom(len(enc), qi) {
		a.dropped[qi]++
		return
	}
	a.q[qi].push(enc)
	a.queued += len(enc)
}

// makeRoom drops the oldest events, Low queue first and never from a queue
// of higher priority than qi, until n more bytes fit in the cache, and
// reports whether they fit.
func (a *Aggregator) makeRoom(n, qi int) bool {
	for a.queued+n > a.maxCache {
		victim := -1
		for j := aggregate.QueueLow; j >= qi; j-- {
			if a.q[j].len() > 0 {
				victim = j
				break
			}
		}
		if victim < 0 {
			return false
		}
		a.queued -= len(a.q[victim].pop())
		a.dropped[victim]++
	}
	return true
}

// Flush implements aggregate.Aggregator; nothing is aggregated.
func (a *Aggregator) Flush(bool) {}

// NextFlush implements aggregate.Aggregator; nothing is ever pending.
func (a *Aggregator) NextFlush() time.Time { return time.Time{} }

// Ready implements aggregate.Aggregator: a single Operational or High
// priority event is a full message, to be sent at once.
func (a *Aggregator) Ready() bool {
	return a.q[aggregate.QueueOperational].len()+a.q[aggregate.QueueHigh].len() > 0
}

// Pack implements aggregate.Aggregator: one message per queued event,
// oldest first, Operational events first. The High trigger (and full, which
// the engine sets after Ready) sends the Operational and High queues; the
// Low trigger sends every queue.
func (a *Aggregator) Pack(trigger event.Priority, full bool) [][]byte {
	queues := []int{aggregate.QueueOperational, aggregate.QueueHigh, aggregate.QueueLow}
	if trigger == event.High || full {
		queues = queues[:2]
	}
	var out [][]byte
	for _, qi := range queues {
		q := &a.q[qi]
		for q.len() > 0 {
			enc := q.pop()
			a.queued -= len(enc)
			body := make([]byte, 0, a.overhead+len(enc))
			body = event.AppendMessageStart(body, a.s.AgentVersion, a.s.AgentID)
			body = append(body, enc...)
			out = append(out, event.AppendMessageEnd(body))
		}
	}
	return out
}

// Stats implements aggregate.StatsReporter.
func (a *Aggregator) Stats() aggregate.Stats {
	var s aggregate.Stats
	for i := range a.q {
		s.Queued[i] = a.q[i].len()
	}
	s.QueuedBytes = a.queued
	s.Collected, s.Dropped, s.Oversize = a.collected, a.dropped, a.oversize
	return s
}

// fifo is a queue of event encodings.
type fifo struct {
	items [][]byte
	head  int
}

func (f *fifo) len() int { return len(f.items) - f.head }

func (f *fifo) push(b []byte) {
	if f.head > 0 && f.head >= len(f.items)/2 {
		// Reuse the consumed front of the slice rather than growing it.
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	f.items = append(f.items, b)
}

func (f *fifo) pop() []byte {
	b := f.items[f.head]
	f.items[f.head] = nil
	f.head++
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0
		if cap(f.items) > 1024 {
			f.items = nil // release what a burst grew
		}
	}
	return b
}

// filter keeps the encodings for which keep returns true, in order.
func (f *fifo) filter(keep func([]byte) bool) {
	kept := f.items[:0]
	for _, b := range f.items[f.head:] {
		if keep(b) {
			kept = append(kept, b)
		}
	}
	clear(f.items[len(kept):])
	f.items, f.head = kept, 0
}
