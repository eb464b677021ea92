package container

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is an exponential backoff with full jitter in [d/2, d].
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	if min <= 0 {
		min = 500 * time.Millisecond
	}
	if max < min {
		max = min
	}
	return &backoff{min: min, max: max, cur: min}
}

// next returns the delay to wait now and doubles the next one.
func (b *backoff) next() time.Duration {
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	half := d / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = b.min }

// sleep waits d or until ctx is done; it reports false when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
