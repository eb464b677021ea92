package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
)

var bucket = []byte("messages")

// Entry is one spooled message and its position.
type Entry struct {
	Seq uint64
	Msg transport.Message
}

// Spool is a durable FIFO of messages.
type Spool struct {
	db *bolt.DB

	mu       sync.Mutex
	maxBytes int64
	sizes    map[uint64]int64 // record sizes, to keep the byte count without reading
	seqs     []uint64         // sequence numbers in order
	bytes    int64
	dropped  int64
	damaged  int64
}

// Open opens (or creates) the spool file at path, bounded to maxBytes of
// message records.
func Open(path string, maxBytes int64) (*Spool, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	s := &Spool{db: db, maxBytes: maxBytes}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("spool: load %s: %w", path, err)
	}
	return s, nil
}

// load rebuilds the in-memory index from the database, removing records
// that cannot be decoded. It is also used to resynchronise after a failed
// transaction. Callers hold s.mu (or own s exclusively).
func (s *Spool) load() error {
	s.seqs, s.sizes, s.bytes = nil, map[uint64]int64{}, 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		var bad [][]byte
		err = b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				bad = append(bad, append([]byte(nil), k...))
				return nil
			}
			if _, err := decode(v); err != nil {
				bad = append(bad, append([]byte(nil), k...))
				return nil
			}
			seq := binary.BigEndian.Uint64(k)
			s.seqs = append(s.seqs, seq)
			s.sizes[seq] = int64(len(v))
			s.bytes += int64(len(v))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
			s.damaged++
		}
		return nil
	})
	sort.Slice(s.seqs, func(i, j int) bool { return s.seqs[i] < s.seqs[j] })
	return err
}

// Close closes the database.
func (s *Spool) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// SetLimit changes the bound; if the spool holds more, the oldest messages
// are dropped (and counted) at once.
func (s *Spool) SetLimit(maxBytes int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxBytes = maxBytes
	return s.update(func(tx *bolt.Tx) error { return s.trimLocked(tx.Bucket(bucket), 0) })
}

// update runs fn in a read-write transaction. fn may change the in-memory
// index as it goes (trimLocked does); if the transaction fails and is
// rolled back, the index and the drop counter are restored to match the
// database. Callers hold s.mu.
func (s *Spool) update(fn func(tx *bolt.Tx) error) error {
	dropped := s.dropped
	err := s.db.Update(fn)
	if err == nil {
		return nil
	}
	s.dropped = dropped
	if lerr := s.load(); lerr != nil {
		err = errors.Join(err, lerr)
	}
	return err
}

// Append stores msgs durably, in order. When the bound is exceeded, the
// oldest messages are dropped; the newest message is always kept, even
// when it alone exceeds the bound.
func (s *Spool) Append(msgs ...transport.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var added []uint64
	var sizes []int64
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var incoming int64
		recs := make([][]byte, len(msgs))
		for i, m := range msgs {
			recs[i] = encode(m)
			incoming += int64(len(recs[i]))
		}
		if err := s.trimLocked(b, incoming); err != nil {
			return err
		}
		for _, rec := range recs {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], seq)
			if err := b.Put(k[:], rec); err != nil {
				return err
			}
			added = append(added, seq)
			sizes = append(sizes, int64(len(rec)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("spool: append: %w", err)
	}
	for i, seq := range added {
		s.seqs = append(s.seqs, seq)
		s.sizes[seq] = sizes[i]
		s.bytes += sizes[i]
	}
	// Drop the oldest of the new ones too if a single batch overflows.
	if s.bytes > s.maxBytes && len(s.seqs) > 1 {
		return s.update(func(tx *bolt.Tx) error { return s.trimLocked(tx.Bucket(bucket), 0) })
	}
	return nil
}

// trimLocked deletes the oldest records until incoming more bytes fit.
func (s *Spool) trimLocked(b *bolt.Bucket, incoming int64) error {
	for len(s.seqs) > 0 && s.bytes+incoming > s.maxBytes {
		if incoming == 0 && len(s.seqs) == 1 {
			return nil
		}
		seq := s.seqs[0]
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Delete(k[:]); err != nil {
			return err
		}
		s.bytes -= s.sizes[seq]
		delete(s.sizes, seq)
		s.seqs = s.seqs[1:]
		s.dropped++
	}
	return nil
}

// Oldest returns the oldest message, or ok=false when the spool is empty.
// A record that cannot be decoded is removed, counted, and skipped.
func (s *Spool) Oldest() (Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.seqs) > 0 {
		seq := s.seqs[0]
		var rec []byte
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := s.db.View(func(tx *bolt.Tx) error {
			rec = append([]byte(nil), tx.Bucket(bucket).Get(k[:])...)
			return nil
		}); err != nil {
			return Entry{}, false, fmt.Errorf("spool: read: %w", err)
		}
		m, err := decode(rec)
		if err == nil {
			return Entry{Seq: seq, Msg: m}, true, nil
		}
		if err := s.removeLocked(seq); err != nil {
			return Entry{}, false, err
		}
		s.damaged++
	}
	return Entry{}, false, nil
}

// Remove deletes the message at seq (after the transport acknowledged it).
// Removing a sequence that is no longer there (dropped meanwhile) is not an
// error.
func (s *Spool) Remove(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeLocked(seq)
}

func (s *Spool) removeLocked(seq uint64) error {
	size, ok := s.sizes[seq]
	if !ok {
		return nil
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(k[:]) }); err != nil {
		return fmt.Errorf("spool: remove: %w", err)
	}
	delete(s.sizes, seq)
	s.bytes -= size
	for i, q := range s.seqs {
		if q == seq {
			s.seqs = append(s.seqs[:i], s.seqs[i+1:]...)
			break
		}
	}
	return nil
}

// Stats are the spool's counters.
type Stats struct {
	Messages int
	Bytes    int64
	Dropped  int64 // oldest messages dropped to stay within the bound
	Damaged  int64 // undecodable records removed
}

// Stats returns the current counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Messages: len(s.seqs), Bytes: s.bytes, Dropped: s.dropped, Damaged: s.damaged}
}

// Record layout (version 1): 'S' 1, then uvarint-length-prefixed ID and
// body, uvarint property count and length-prefixed key/value pairs, varint
// priority and varint creation time in Unix nanoseconds.
const recordVersion = 1

var errDamaged = errors.New("spool: damaged record")

func encode(m transport.Message) []byte {
	n := 2 + 3*binary.MaxVarintLen64 + len(m.ID) + len(m.Body) + 2*binary.MaxVarintLen64
	for k, v := range m.Properties {
		n += len(k) + len(v) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = append(b, 'S', recordVersion)
	b = appendBytes(b, []byte(m.ID))
	b = appendBytes(b, m.Body)
	keys := make([]string, 0, len(m.Properties))
	for k := range m.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendBytes(b, []byte(k))
		b = appendBytes(b, []byte(m.Properties[k]))
	}
	b = binary.AppendVarint(b, int64(m.Priority))
	var created int64
	if !m.Created.IsZero() {
		created = m.Created.UnixNano()
	}
	return binary.AppendVarint(b, created)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// decode parses a record; it never panics on damaged input.
func decode(rec []byte) (transport.Message, error) {
	var m transport.Message
	if len(rec) < 2 || rec[0] != 'S' || rec[1] != recordVersion {
		return m, errDamaged
	}
	r := reader{b: rec[2:]}
	m.ID = string(r.bytes())
	m.Body = r.bytes()
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return m, errDamaged
	}
	if n > 0 {
		m.Properties = make(map[string]string, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := string(r.bytes())
		m.Properties[k] = string(r.bytes())
	}
	m.Priority = event.Priority(r.varint())
	if c := r.varint(); c != 0 {
		m.Created = time.Unix(0, c)
	}
	if r.err != nil || len(r.b) != 0 {
		return transport.Message{}, errDamaged
	}
	return m, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errDamaged
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errDamaged
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errDamaged
		return nil
	}
	p := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return p
}
