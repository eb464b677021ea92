package outbox

import (
	"maps"
	"sort"
	"sync"

	"github.com/edgesec/edgesec/transport"
)

// Record is one stored message and its position in the store.
type Record struct {
	// Seq is the message's sequence number: it grows with every message
	// appended, and is never reused by the store.
	Seq uint64
	// Msg is the message.
	Msg transport.Message
	// Size is what the record counts against the store's bound.
	Size int64
}

// StoreStats are a store's counters.
type StoreStats struct {
	// Messages and Bytes are what the store holds.
	Messages int
	Bytes    int64
	// Dropped counts the oldest messages dropped to stay within the bound
	// (or within the disk).
	Dropped int64
	// Damaged counts records that could not be read back and were removed.
	Damaged int64
	// DiskFull is true while a durable store is held at its size because
	// its disk filled up.
	DiskFull bool
}

// Store keeps messages, oldest first, until the outbox removes them.
//
// A Store is safe for concurrent use: the outbox calls Append from the
// goroutines that call its Send while its sending goroutine calls Next and
// Remove. The outbox owns the store it is given and closes it.
type Store interface {
	// Append stores msgs, in order, and returns once they are stored (for
	// a durable store: once they are on disk). When the bound is exceeded
	// the oldest messages are dropped and counted; the newest message is
	// always kept. A durable store whose disk is full drops the oldest
	// messages to make room too; Append returns an error only when msgs
	// cannot be stored at all. The store must not keep references to the
	// caller's bodies or property maps.
	Append(msgs ...transport.Message) error
	// Next returns the oldest record whose Seq is above after, or
	// ok=false when there is none.
	Next(after uint64) (r Record, ok bool, err error)
	// Remove deletes the records seqs, all or none; a seq the store no
	// longer holds (dropped meanwhile) is ignored.
	Remove(seqs ...uint64) error
	// SetLimit changes the bound in bytes, dropping the oldest messages
	// at once (and counting them) if the store holds more.
	SetLimit(bytes int64) error
	// Stats returns the store's counters.
	Stats() StoreStats
	// Close releases the store.
	Close() error
}

// MemoryStore is a Store in memory, bounded in bytes of message bodies.
// Create it with NewMemoryStore.
type MemoryStore struct {
	mu      sync.Mutex
	next    uint64
	recs    []Record
	bytes   int64
	limit   int64
	dropped int64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store bounded to limit bytes of bodies.
func NewMemoryStore(limit int64) *MemoryStore { return &MemoryStore{limit: limit} }

// Append implements Store; it copies the bodies and property maps.
func (s *MemoryStore) Append(msgs ...transport.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		m.Body = append([]byte(nil), m.Body...)
		m.Properties = maps.Clone(m.Properties)
		s.next++
		s.recs = append(s.recs, Record{Seq: s.next, Msg: m, Size: int64(len(m.Body))})
		s.bytes += int64(len(m.Body))
	}
	s.trim()
	return nil
}

func (s *MemoryStore) trim() {
	n := 0
	for s.bytes > s.limit && len(s.recs)-n > 1 {
		s.bytes -= s.recs[n].Size
		s.recs[n] = Record{}
		n++
	}
	if n > 0 {
		s.dropped += int64(n)
		s.recs = s.recs[n:]
	}
}

// Next implements Store.
func (s *MemoryStore) Next(after uint64) (Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.recs), func(i int) bool { return s.recs[i].Seq > after })
	if i == len(s.recs) {
		return Record{}, false, nil
	}
	return s.recs[i], true, nil
}

// Remove implements Store.
func (s *MemoryStore) Remove(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := make(map[uint64]bool, len(seqs))
	for _, q := range seqs {
		gone[q] = true
	}
	kept := s.recs[:0]
	for _, r := range s.recs {
		if gone[r.Seq] {
			s.bytes -= r.Size
			continue
		}
		kept = append(kept, r)
	}
	clear(s.recs[len(kept):])
	s.recs = kept
	return nil
}

// SetLimit implements Store.
func (s *MemoryStore) SetLimit(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
	s.trim()
	return nil
}

// Stats implements Store.
func (s *MemoryStore) Stats() StoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StoreStats{Messages: len(s.recs), Bytes: s.bytes, Dropped: s.dropped}
}

// Close implements Store; it does nothing.
func (s *MemoryStore) Close() error { return nil }
