package aggregate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/stretchr/testify/require"
)

// held returns the bytes of storage the queue holds: its chunks in use and
// its free chunks.
func (q *queue) held() int {
	n := 0
	for _, c := range q.chunks {
		n += cap(c)
	}
	for _, c := range q.free {
		n += cap(c)
	}
	return n
}

// push appends one encoding of the given text to q, as Pipeline.push does.
func (q *queue) pushText(s string) {
	q.commit(append(q.reserve(), s...), 1)
}

// TestQueueChunks: encodings of every size up to several chunks, pushed
// and popped in random runs, come out in order and comma-separated,
// whatever chunk boundaries they straddle; the storage held stays within
// the queued bytes plus a chunk at each end and the free chunks.
func TestQueueChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q queue
	var want []string // queued, oldest first
	next := 0
	for round := 0; round < 400; round++ {
		for range rng.IntN(40) {
			n := 1 + rng.IntN(3000)
			if rng.IntN(50) == 0 {
				n = chunkSize + rng.IntN(2*chunkSize) // larger than a chunk
			}
			s := fmt.Sprintf("%d:", next) + strings.Repeat("x", n)
			next++
			q.pushText(s)
			want = append(want, s)
		}
		queued := 0
		for _, s := range want {
			queued += len(s) + 1
		}
		require.Equal(t, len(want), q.count)
		q.reclaim() // as the next reserve does
		// Besides the queued bytes: the consumed start of the head chunk,
		// the free end of the tail chunk, the free chunks, and the end of
		// each chunk that the next encoding did not fit in (less than
		// the larger of minSpare and the largest encoding that fits a
		// chunk, 3000 bytes here, and its comma).
		require.LessOrEqual(t, q.held(), queued+(2+maxFreeChunks)*chunkSize+len(q.chunks)*max(minSpare, 3001))
		if q.count == 0 {
			continue
		}
		k := 1 + rng.IntN(q.count)
		got := q.appendSpan([]byte("["), k)
		require.Equal(t, "["+strings.Join(want[:k], ","), string(got))
		q.popN(k)
		want = want[k:]
	}
}

// TestQueueReserveNotCommitted: an encoding that is not committed (dropped
// as oversize or for want of room) leaves no trace.
func TestQueueReserveNotCommitted(t *testing.T) {
	var q queue
	q.pushText("a")
	_ = append(q.reserve(), "dropped"...)
	big := append(q.reserve(), bytes.Repeat([]byte("y"), 3*chunkSize)...) // moved out of the chunk
	_ = big
	q.pushText("b")
	require.Equal(t, "a,b", string(q.appendSpan(nil, 2)))
	require.Equal(t, 2, q.bytes)
}

// TestQueueFilter: filter keeps the chosen entries in order and their
// bytes.
func TestQueueFilter(t *testing.T) {
	var q2 queue
	var want []string
	for i := range 300 {
		s := fmt.Sprintf("%d:%s", i, strings.Repeat("z", i*7))
		q2.pushText(s)
		want = append(want, s)
	}
	var kept []string
	bytesKept := 0
	q2.filter(func(e *entry) bool {
		s := string(q2.chunkOf(e)[e.off : e.off+e.n])
		if len(s)%2 == 0 {
			kept = append(kept, s)
			bytesKept += len(s)
			return true
		}
		return false
	})
	require.Equal(t, len(kept), q2.count)
	require.Equal(t, bytesKept, q2.bytes)
	require.Equal(t, strings.Join(kept, ","), string(q2.appendSpan(nil, q2.count)))
	require.Less(t, len(kept), len(want))
}

// TestQueueHeldAtFullCache: a pipeline whose Low queue holds a full cache
// of events holds about the cache in storage (the single growing buffer it
// replaced held up to 1.25 times it, and twice that while it grew).
func TestQueueHeldAtFullCache(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	s.MaxCacheBytes = DefaultMaxCacheBytes
	s.MaxMessageBytes = DefaultMaxMessageBytes
	p := New(s)
	for i := 0; p.Stats().Dropped[QueueLow] == 0; i++ {
		p.Add(procCreate(c.Now(), "/usr/bin/tool", fmt.Sprintf("/usr/bin/tool --job %d", i), "0", 100+i))
		c.Advance(time.Millisecond)
	}
	held := p.q[QueueLow].held()
	t.Logf("queued %d bytes in %d events, storage held %d bytes", p.queued, p.q[QueueLow].count, held)
	require.LessOrEqual(t, held, p.queued+p.q[QueueLow].count+(2+maxFreeChunks)*chunkSize)
	msgs := decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes)
	require.NotEmpty(t, msgs)
}

// TestQueueChunksGrow: a queue holding a few events holds a first-size
// chunk; its chunks double as it fills, up to chunkSize; drained, it goes
// back to a first-size chunk.
func TestQueueChunksGrow(t *testing.T) {
	var q queue
	for range 10 {
		q.pushText(strings.Repeat("x", 100))
	}
	require.Equal(t, minChunkSize, q.held(), "a few events: one first-size chunk")
	for q.held() < 8*chunkSize {
		q.pushText(strings.Repeat("y", 1000))
	}
	var caps []int
	for _, c := range q.chunks {
		caps = append(caps, cap(c))
	}
	require.Equal(t, []int{4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 64 << 10}, caps[:6])
	q.popN(q.count)
	q.tidy(1 << 20)
	require.LessOrEqual(t, q.held(), minChunkSize, "drained")
	q.pushText("z")
	require.Equal(t, minChunkSize, q.held(), "starts again from a first-size chunk")
}
