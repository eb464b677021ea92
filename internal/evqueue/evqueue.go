// Package evqueue is the bounded queue of events between a collector's
// reader goroutine and its emitter (collector/process, collector/kernel):
// the reader puts whole batches and never blocks, the emitter takes
// everything queued at once and is woken only when the queue goes from
// empty to non-empty. What does not fit is refused and its count returned,
// so that the caller counts it.
package evqueue

import (
	"sync"

	"github.com/edgesec/edgesec/event"
)

// Queue is a bounded event queue, safe for one putter and one taker at a
// time (and any number, with the mutex).
type Queue struct {
	mu    sync.Mutex
	evs   []event.Event
	max   int
	last  int           // how many events the last Take took
	ready chan struct{} // capacity 1
}

// New returns a queue that holds at most max events.
func New(max int) *Queue {
	return &Queue{max: max, ready: make(chan struct{}, 1)}
}

// Put queues evs (copying them) and returns how many did not fit.
func (q *Queue) Put(evs []event.Event) (dropped int) {
	if len(evs) == 0 {
		return 0
	}
	q.mu.Lock()
	was := len(q.evs)
	n := min(len(evs), q.max-was)
	if n > 0 {
		if q.evs == nil {
			// Room for as many as last time (and a quarter): the
			// emitter takes the slice, so each batch gets a new one,
			// allocated once rather than grown by copies.
			q.evs = make([]event.Event, 0, min(q.max, max(n, 16, q.last+q.last/4)))
		}
		q.evs = append(q.evs, evs[:n]...)
	}
	q.mu.Unlock()
	if was == 0 && n > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return len(evs) - n
}

// Take returns the queued events; they belong to the caller.
func (q *Queue) Take() []event.Event {
	q.mu.Lock()
	evs := q.evs
	q.evs = nil
	if len(evs) > 0 {
		q.last = len(evs)
	}
	q.mu.Unlock()
	return evs
}

// Ready receives a value when the queue went from empty to non-empty.
func (q *Queue) Ready() <-chan struct{} { return q.ready }
