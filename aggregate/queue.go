package aggregate

// chunkSize is the capacity of a queue's storage chunks once it has grown.
// An encoding larger than a chunk gets a chunk of its own size.
const chunkSize = 64 << 10

// minChunkSize is the capacity of the first chunk of an empty queue; each
// new chunk is twice the previous one, up to chunkSize. A queue that holds
// a few events between two messages (a quiet host) holds a few kilobytes,
// not a 64 KiB chunk.
const minChunkSize = 4 << 10

// minSpare is the least spare room in the tail chunk that reserve offers
// for the next encoding; with less, the encoding starts a new chunk (the
// rest of the old one is left unused: at most minSpare of chunkSize).
const minSpare = 2 << 10

// maxFreeChunks bounds the chunks a queue keeps for reuse once consumed
// (512 KiB): enough for the events of two default-size messages (200 KB)
// and the chunks they straddle, so that a queue refilled as fast as it is
// packed (one that is never drained) does not allocate. A drained queue
// keeps none (tidy).
const maxFreeChunks = 8

// entry is one queued event: its JSON encoding, stored at offset off of the
// queue's chunk number chunk and followed there by a comma.
type entry struct {
	chunk int   // logical number of the chunk (index in queue.chunks = chunk - queue.first)
	off   int32 // offset of the encoding in the chunk
	n     int32 // bytes of the encoding, without the trailing comma (< 2 GiB: at most a message)
	hits  int64 // raw events the entry stands for: HitCount of an aggregate, else 1
}

// queue is a FIFO of encoded events. The encodings are kept back to back in
// fixed-size chunks (chunkSize), each followed by a comma, so that a run of
// consecutive events is copied into a message with one copy per chunk, and
// the memory held is the queued bytes plus at most one partly used chunk at
// each end: a queue never reallocates and copies its contents as it grows,
// and consumed chunks are reused (up to maxFreeChunks) or left to the
// garbage collector. Entries are a ring buffer. Nothing in a queue is
// allocated per event once its buffers have reached their working size.
type queue struct {
	chunks  [][]byte // chunks in use, oldest first; the last one is the tail
	first   int      // logical number of chunks[0]
	free    [][]byte // consumed chunks of capacity chunkSize, for reuse
	spare   int      // capacity of the slice the last reserve returned
	nextCap int      // capacity of the next new chunk (0: minChunkSize)

	ents  []entry
	head  int
	count int
	bytes int // sum of entry sizes (without commas)
}

// at returns the i-th entry from the head (0 is the oldest).
func (q *queue) at(i int) *entry { return &q.ents[(q.head+i)&(len(q.ents)-1)] }

// chunkOf returns the bytes of e's chunk.
func (q *queue) chunkOf(e *entry) []byte { return q.chunks[e.chunk-q.first] }

// release puts a consumed chunk on the free list, or leaves it to the
// garbage collector.
func (q *queue) release(c []byte) {
	if cap(c) == chunkSize && len(q.free) < maxFreeChunks {
		q.free = append(q.free, c[:0])
	}
}

// reclaim releases the chunks before the head entry's chunk (every chunk
// but the tail when the queue is empty, the tail being emptied).
func (q *queue) reclaim() {
	n := len(q.chunks)
	if n == 0 {
		return
	}
	keep := n - 1 // index of the first chunk kept
	if q.count > 0 {
		keep = q.at(0).chunk - q.first
	}
	for i := 0; i < keep; i++ {
		q.release(q.chunks[i])
		q.chunks[i] = nil
	}
	if keep > 0 {
		m := copy(q.chunks, q.chunks[keep:])
		clear(q.chunks[m:])
		q.chunks = q.chunks[:m]
		q.first += keep
	}
	if q.count == 0 {
		q.chunks[0] = q.chunks[0][:0]
	}
}

// newChunk appends an empty chunk of at least size bytes as the tail: the
// queue's next chunk size (see minChunkSize) when size fits in it, a free
// chunk once that is chunkSize.
func (q *queue) newChunk(size int) {
	next := max(q.nextCap, minChunkSize)
	q.nextCap = min(2*next, chunkSize)
	var c []byte
	switch {
	case size > chunkSize:
		c = make([]byte, 0, size)
	case next == chunkSize && len(q.free) > 0:
		k := len(q.free)
		c = q.free[k-1]
		q.free[k-1] = nil
		q.free = q.free[:k-1]
	default:
		c = make([]byte, 0, max(next, size))
	}
	q.chunks = append(q.chunks, c)
}

// reserve returns an empty slice over the tail chunk's free room (less one
// byte for the comma) for the caller to append one encoding to, then pass
// to commit. The room is not taken until commit: an encoding that is not
// committed is simply overwritten by the next one. Nothing else may touch
// the queue's chunks in between (pop and popN may be called).
func (q *queue) reserve() []byte {
	q.reclaim()
	if n := len(q.chunks); n == 0 || cap(q.chunks[n-1])-len(q.chunks[n-1]) < minSpare {
		q.newChunk(minSpare)
	}
	t := q.chunks[len(q.chunks)-1]
	room := t[len(t) : len(t) : cap(t)-1]
	q.spare = cap(room)
	return room
}

// commit queues enc, the slice reserve returned with one encoding appended,
// as an entry standing for hits raw events. If the encoding outgrew the
// room reserve offered (append moved it elsewhere), it is copied into a
// new chunk.
func (q *queue) commit(enc []byte, hits int64) {
	n := len(enc)
	t := len(q.chunks) - 1
	if cap(enc) != q.spare { // moved: did not fit in the tail chunk
		if len(q.chunks[t]) > 0 {
			q.newChunk(n + 1)
			t++
		} else if cap(q.chunks[t]) < n+1 { // an empty tail too small: replace it
			q.release(q.chunks[t])
			q.chunks[t] = nil
			q.chunks = q.chunks[:t]
			q.newChunk(n + 1)
		}
		q.chunks[t] = append(q.chunks[t], enc...)
	} else {
		q.chunks[t] = q.chunks[t][:len(q.chunks[t])+n]
	}
	off := len(q.chunks[t]) - n
	q.chunks[t] = append(q.chunks[t], ',')
	q.spare = -1
	if q.count == len(q.ents) {
		q.grow()
	}
	q.ents[(q.head+q.count)&(len(q.ents)-1)] = entry{chunk: q.first + t, off: int32(off), n: int32(n), hits: hits}
	q.count++
	q.bytes += n
}

func (q *queue) grow() {
	size := 2 * len(q.ents)
	if size == 0 {
		size = 64
	}
	ents := make([]entry, size)
	for i := 0; i < q.count; i++ {
		ents[i] = *q.at(i)
	}
	q.ents = ents
	q.head = 0
}

// pop removes the oldest entry and returns it. The bytes stay in their
// chunk until the next reserve or tidy.
func (q *queue) pop() entry {
	e := *q.at(0)
	q.head = (q.head + 1) & (len(q.ents) - 1)
	q.count--
	q.bytes -= int(e.n)
	return e
}

// popN removes the k oldest entries.
func (q *queue) popN(k int) {
	for i := 0; i < k; i++ {
		q.pop()
	}
}

// appendSpan appends the k oldest encodings, separated by commas, to dst:
// one copy per chunk they occupy.
func (q *queue) appendSpan(dst []byte, k int) []byte {
	for i := 0; i < k; {
		f := q.at(i)
		j := i
		for j+1 < k && q.at(j+1).chunk == f.chunk {
			j++
		}
		l := q.at(j)
		dst = append(dst, q.chunkOf(f)[f.off:l.off+l.n]...)
		if j+1 < k {
			dst = append(dst, ',')
		}
		i = j + 1
	}
	return dst
}

// filter keeps the entries for which keep returns true, in order, copying
// them into fresh chunks. It is O(queued bytes) and used only on
// reconfiguration.
func (q *queue) filter(keep func(e *entry) bool) {
	kept := queue{free: q.free, first: q.first + len(q.chunks)}
	for i := 0; i < q.count; i++ {
		e := *q.at(i)
		if !keep(&e) {
			q.bytes -= int(e.n)
			continue
		}
		enc := append(kept.reserve(), q.chunkOf(&e)[e.off:e.off+e.n]...)
		kept.commit(enc, e.hits)
	}
	for _, c := range q.chunks {
		kept.release(c)
	}
	*q = kept
}

// tidy releases a drained queue's chunks, but for a first-size one, and its
// entry ring when it has grown beyond limit bytes, so that a burst (the
// first snapshot of every collector, a flood) does not pin memory until the
// next one: the queue starts again from minChunkSize.
func (q *queue) tidy(limit int) {
	if q.count != 0 {
		return
	}
	q.reclaim()
	clear(q.free)
	q.free = q.free[:0]
	if len(q.chunks) == 1 && cap(q.chunks[0]) > minChunkSize {
		q.chunks = q.chunks[:0]
		q.first++
	}
	if len(q.chunks) == 0 {
		q.nextCap = 0
	}
	if len(q.ents)*entrySize > limit {
		q.ents = nil
		q.head = 0
	}
}

// entrySize is the size of an entry in bytes (on 64-bit platforms).
const entrySize = 24
