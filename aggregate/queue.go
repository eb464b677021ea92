package aggregate

// entry is one queued event: its JSON encoding, stored in queue.data at the
// logical offset off and followed there by a comma.
type entry struct {
	off  int   // logical offset of the encoding (physical = off - queue.shift)
	n    int   // bytes of the encoding, without the trailing comma
	hits int64 // raw events the entry stands for: HitCount of an aggregate, else 1
}

// queue is a FIFO of encoded events. The encodings are kept back to back in
// one byte slice, each followed by a comma, so that a run of consecutive
// events is copied into a message with a single copy. Entries are a ring
// buffer. Nothing in a queue is allocated per event once the buffers have
// grown to their working size.
type queue struct {
	data  []byte
	shift int // logical offset of data[0]; grows as consumed bytes are discarded
	ents  []entry
	head  int
	count int
	bytes int // sum of entry sizes (without commas)
}

// at returns the i-th entry from the head (0 is the oldest).
func (q *queue) at(i int) *entry { return &q.ents[(q.head+i)&(len(q.ents)-1)] }

// phys returns the physical offset of e in data.
func (q *queue) phys(e *entry) int { return e.off - q.shift }

// prepare makes room at the end of data before an encoding is appended:
// it discards consumed bytes when the queue is empty, or when they are more
// than half of the buffer (so the copy is amortised over the consumed bytes).
func (q *queue) prepare() {
	if q.count == 0 {
		q.shift += len(q.data)
		q.data = q.data[:0]
		return
	}
	h := q.phys(q.at(0))
	if h >= 4096 && h >= len(q.data)/2 {
		n := copy(q.data, q.data[h:])
		q.data = q.data[:n]
		q.shift += h
	}
}

// commit records the encoding of n bytes just appended at physical offset
// start, and appends its trailing comma.
func (q *queue) commit(start, n int, hits int64) {
	q.data = append(q.data, ',')
	if q.count == len(q.ents) {
		q.grow()
	}
	q.ents[(q.head+q.count)&(len(q.ents)-1)] = entry{off: start + q.shift, n: n, hits: hits}
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

// pop removes the oldest entry and returns it. The bytes stay in data until
// the next prepare or tidy.
func (q *queue) pop() entry {
	e := *q.at(0)
	q.head = (q.head + 1) & (len(q.ents) - 1)
	q.count--
	q.bytes -= e.n
	return e
}

// popN removes the k oldest entries.
func (q *queue) popN(k int) {
	for i := 0; i < k; i++ {
		q.pop()
	}
}

// span returns the bytes of the k oldest encodings, separated by commas.
func (q *queue) span(k int) []byte {
	f, l := q.at(0), q.at(k-1)
	return q.data[q.phys(f) : q.phys(l)+l.n]
}

// filter keeps the entries for which keep returns true, in order, and
// compacts data. It is O(queued bytes) and used only on reconfiguration.
func (q *queue) filter(keep func(e *entry) bool) {
	w, kept := 0, 0
	for i := 0; i < q.count; i++ {
		e := *q.at(i)
		if !keep(&e) {
			q.bytes -= e.n
			continue
		}
		from := q.phys(&e)
		copy(q.data[w:], q.data[from:from+e.n+1]) // reads never trail writes
		e.off = w + q.shift
		*q.at(kept) = e
		w += e.n + 1
		kept++
	}
	q.data = q.data[:w]
	q.count = kept
}

// tidy releases a drained queue's buffers when they have grown beyond
// limit bytes, so that a burst does not pin memory for the process's life.
func (q *queue) tidy(limit int) {
	if q.count != 0 {
		return
	}
	q.shift += len(q.data)
	q.data = q.data[:0]
	if cap(q.data) > limit {
		q.data = nil
		q.ents = nil
		q.head = 0
	}
}
