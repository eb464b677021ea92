package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff computes exponential delays with jitter: the n-th delay is
// drawn uniformly from [d/2, d] where d = Min·2ⁿ capped at Max. The jitter
// keeps clients that failed together from retrying in lock step; the
// lower bound d/2 keeps a loop from ever spinning.
//
// The zero value is not useful: set Min and Max. A Min of zero or less is
// taken as one millisecond, and a Max below Min as Min.
type Backoff struct {
	Min, Max time.Duration
	n        int
}

// Next returns the next delay and advances the sequence.
func (b *Backoff) Next() time.Duration {
	lo := max(b.Min, time.Millisecond)
	hi := max(b.Max, lo)
	d := lo
	for i := 0; i < b.n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	if d < hi {
		b.n++
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Reset starts the sequence again from Min.
func (b *Backoff) Reset() { b.n = 0 }

// Sleep waits d or until ctx is done; it reports whether d elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
