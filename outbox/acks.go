package outbox

import (
	"slices"
	"time"

	"github.com/edgesec/edgesec/internal/backoff"
)

// acks remembers the records the transport acknowledged (or rejected
// permanently) whose delete has not committed yet. The sending goroutine
// never sends a record again while it is here, whether or not the store
// managed to delete it: a store that cannot commit a delete (a full disk)
// must not turn into a resend loop. Deletes are retried in batches, with
// backoff. Not safe for concurrent use: the outbox guards it with its
// mutex.
type acks struct {
	pending map[uint64]int64 // seq → record size
	bytes   int64
	b       backoff.Backoff
	retryAt time.Time // zero: a delete may be tried now
	fails   int       // consecutive failed deletes
}

func newAcks(minDelay, maxDelay time.Duration) acks {
	return acks{pending: map[uint64]int64{}, b: backoff.Backoff{Min: minDelay, Max: maxDelay}}
}

func (a *acks) add(seq uint64, size int64) {
	if _, ok := a.pending[seq]; ok {
		return
	}
	a.pending[seq] = size
	a.bytes += size
}

func (a *acks) len() int { return len(a.pending) }

// due reports whether a delete should be tried at now.
func (a *acks) due(now time.Time) bool {
	return len(a.pending) > 0 && !now.Before(a.retryAt)
}

// seqs returns the pending sequence numbers in order.
func (a *acks) seqs() []uint64 {
	out := make([]uint64, 0, len(a.pending))
	for q := range a.pending {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

// committed forgets seqs: their delete committed.
func (a *acks) committed(seqs []uint64) {
	for _, q := range seqs {
		if size, ok := a.pending[q]; ok {
			a.bytes -= size
			delete(a.pending, q)
		}
	}
	a.b.Reset()
	a.retryAt = time.Time{}
	a.fails = 0
}

// failed schedules the next delete after a failed one and returns the
// delay.
func (a *acks) failed(now time.Time) time.Duration {
	d := a.b.Next()
	a.retryAt = now.Add(d)
	a.fails++
	return d
}

// prune forgets the seqs below oldest, the oldest record the store still
// holds: the store dropped them meanwhile, nothing is left to delete.
// A zero oldest (the store is empty) forgets everything.
func (a *acks) prune(oldest uint64) {
	for q, size := range a.pending {
		if oldest == 0 || q < oldest {
			a.bytes -= size
			delete(a.pending, q)
		}
	}
}
