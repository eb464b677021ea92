package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
)

var bucket = []byte("messages")

// ErrInUse is returned by Open when another process (or another Spool in
// this one) holds the spool file's lock: the file is healthy, only busy.
var ErrInUse = errors.New("spool: in use by another process (lock held)")

// DefaultReserve is the size of the reserve file kept beside the database
// (see Options.Reserve).
const DefaultReserve = 256 << 10

// DefaultProbeEvery is how often, while the disk is full, the spool tries
// to take its reserve back to see whether space has returned.
const DefaultProbeEvery = 5 * time.Second

// Options configure a Spool.
type Options struct {
	// MaxBytes bounds the message records; beyond it the oldest are
	// dropped and counted.
	MaxBytes int64
	// Reserve is the size of a file (path + ".reserve") filled with zeros
	// at Open. bbolt copies pages on write, so even a delete needs free
	// space to commit; when the disk fills up, the spool deletes the
	// reserve file so that deletes (of delivered and of dropped messages)
	// can still commit, and holds the spool at the size it had then,
	// dropping the oldest messages to store new ones. It takes the reserve
	// back (and lifts that bound) once space returns. Default
	// DefaultReserve; negative disables the reserve.
	Reserve int64
	// ProbeEvery is how often, while the disk is full, the spool tries to
	// take its reserve back. Default DefaultProbeEvery.
	ProbeEvery time.Duration
}

// Entry is one spooled message and its position.
type Entry struct {
	Seq uint64
	Msg transport.Message
	// Size is the record's size, counted against the bound.
	Size int64
}

// Spool is a durable FIFO of messages.
type Spool struct {
	db *bolt.DB
	o  Options

	mu      sync.Mutex
	sizes   map[uint64]int64 // record sizes, to keep the byte count without reading
	seqs    []uint64         // sequence numbers in order
	bytes   int64
	dropped int64
	damaged int64

	reservePath string
	haveReserve bool
	full        bool  // the disk filled up: hold the spool at fullLimit
	fullLimit   int64 // bound while full
	lastProbe   time.Time
	fullEvents  int64 // times the disk was found full
}

// Open opens (or creates) the spool file at path, bounded to maxBytes of
// message records, with the default reserve.
func Open(path string, maxBytes int64) (*Spool, error) {
	return OpenOptions(path, Options{MaxBytes: maxBytes})
}

// OpenOptions opens (or creates) the spool file at path.
func OpenOptions(path string, o Options) (*Spool, error) {
	if o.Reserve == 0 {
		o.Reserve = DefaultReserve
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = DefaultProbeEvery
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("spool: open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	s := &Spool{db: db, o: o, reservePath: path + ".reserve"}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("spool: load %s: %w", path, err)
	}
	if o.Reserve > 0 {
		if s.takeReserve() != nil {
			// No room for the reserve: the disk is full already.
			s.enterFull()
		}
	}
	return s, nil
}

// IsNoSpace reports whether err says the disk (or the quota) is full.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// takeReserve (re)creates the reserve file; on failure nothing is left.
func (s *Spool) takeReserve() error {
	f, err := os.OpenFile(s.reservePath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zeros := make([]byte, 32<<10)
	for left := s.o.Reserve; left > 0 && err == nil; left -= int64(len(zeros)) {
		_, err = f.Write(zeros[:min(left, int64(len(zeros)))])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(s.reservePath)
		return err
	}
	s.haveReserve = true
	return nil
}

// enterFull holds the spool at its current size. Callers hold s.mu (or
// own s exclusively).
func (s *Spool) enterFull() {
	if !s.full {
		s.full = true
		s.fullEvents++
		s.fullLimit = s.bytes
	}
	s.lastProbe = time.Now()
}

// probe tries, at most every ProbeEvery while the disk is full, to take
// the reserve back; when it can, space has returned and the bound is
// lifted. Callers hold s.mu.
func (s *Spool) probe() {
	if !s.full || time.Since(s.lastProbe) < s.o.ProbeEvery {
		return
	}
	s.lastProbe = time.Now()
	if s.o.Reserve > 0 && s.takeReserve() != nil {
		return
	}
	s.full = false
}

// limit is the bound in effect. Callers hold s.mu.
func (s *Spool) limit() int64 {
	if s.full {
		return min(s.o.MaxBytes, s.fullLimit)
	}
	return s.o.MaxBytes
}

// withSpace runs fn, a read-write transaction; when it fails because the
// disk is full, the reserve is released and fn is run once more. Callers
// hold s.mu.
func (s *Spool) withSpace(fn func() error) error {
	err := fn()
	if err == nil || !IsNoSpace(err) {
		return err
	}
	s.enterFull()
	if !s.haveReserve {
		return err
	}
	if rerr := os.Remove(s.reservePath); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return errors.Join(err, rerr)
	}
	s.haveReserve = false
	return fn()
}

// load rebuilds the in-memory index from the database, removing records
// that cannot be decoded. It is also used to resynchronise after a failed
// transaction. Callers hold s.mu (or own s exclusively).
func (s *Spool) load() error {
	s.seqs, s.sizes, s.bytes = nil, map[uint64]int64{}, 0
	var bad [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
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
	})
	sort.Slice(s.seqs, func(i, j int) bool { return s.seqs[i] < s.seqs[j] })
	if err != nil || len(bad) == 0 {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.damaged += int64(len(bad))
	}
	return err
}

// Close closes the database and deletes the reserve file.
func (s *Spool) Close() error {
	err := s.db.Close()
	if s.haveReserve {
		_ = os.Remove(s.reservePath)
	}
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// SetLimit changes the bound; if the spool holds more, the oldest messages
// are dropped (and counted) at once.
func (s *Spool) SetLimit(maxBytes int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.MaxBytes = maxBytes
	return s.trim(0)
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

// trim drops the oldest records, in a transaction of its own, until
// incoming more bytes fit (keeping the newest record when incoming is 0).
// Callers hold s.mu.
func (s *Spool) trim(incoming int64) error {
	if s.bytes+incoming <= s.limit() || len(s.seqs) == 0 {
		return nil
	}
	return s.withSpace(func() error {
		return s.update(func(tx *bolt.Tx) error { return s.trimLocked(tx.Bucket(bucket), incoming) })
	})
}

// Append stores msgs durably, in order. When the bound is exceeded, the
// oldest messages are dropped; the newest message is always kept, even
// when it alone exceeds the bound. When the disk is full, the oldest
// messages are dropped to make room (see Options.Reserve); an error is
// returned only when msgs cannot be stored at all.
func (s *Spool) Append(msgs ...transport.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probe()
	recs := make([][]byte, len(msgs))
	var incoming int64
	for i, m := range msgs {
		recs[i] = encode(m)
		incoming += int64(len(recs[i]))
	}
	var err error
	for attempt := 1; ; attempt++ {
		// Make room first, in a transaction of its own: the pages it frees
		// can then be reused by the one that stores msgs.
		if err = s.trim(incoming); err != nil && !IsNoSpace(err) {
			break
		}
		if err = s.withSpace(func() error { return s.put(recs) }); err == nil || !IsNoSpace(err) {
			break
		}
		if len(s.seqs) == 0 || attempt == 8 {
			break // nothing left to drop: msgs cannot be stored at all
		}
		// Still no room: hold the spool further below its current size.
		s.fullLimit = max(0, min(s.fullLimit, s.bytes)-int64(attempt)*incoming)
	}
	if err != nil {
		return fmt.Errorf("spool: append: %w", err)
	}
	// Drop the oldest of the new ones too if a single batch overflows.
	return s.trim(0)
}

// put stores recs in one transaction and indexes them. Callers hold s.mu.
func (s *Spool) put(recs [][]byte) error {
	var added []uint64
	err := s.update(func(tx *bolt.Tx) error {
		added = added[:0]
		b := tx.Bucket(bucket)
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
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, seq := range added {
		size := int64(len(recs[i]))
		s.seqs = append(s.seqs, seq)
		s.sizes[seq] = size
		s.bytes += size
	}
	return nil
}

// trimLocked deletes the oldest records until incoming more bytes fit.
func (s *Spool) trimLocked(b *bolt.Bucket, incoming int64) error {
	limit := s.limit()
	for len(s.seqs) > 0 && s.bytes+incoming > limit {
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
func (s *Spool) Oldest() (Entry, bool, error) { return s.Next(0) }

// Next returns the oldest message whose sequence number is above after, or
// ok=false when there is none. A record that cannot be decoded is removed,
// counted, and skipped.
func (s *Spool) Next(after uint64) (Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		i := sort.Search(len(s.seqs), func(i int) bool { return s.seqs[i] > after })
		if i == len(s.seqs) {
			return Entry{}, false, nil
		}
		seq := s.seqs[i]
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
			return Entry{Seq: seq, Msg: m, Size: s.sizes[seq]}, true, nil
		}
		if err := s.removeLocked([]uint64{seq}); err != nil {
			return Entry{}, false, err
		}
		s.damaged++
	}
}

// Remove deletes the messages at seqs (after the transport acknowledged
// them), in one transaction. Removing a sequence that is no longer there
// (dropped meanwhile) is not an error.
func (s *Spool) Remove(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probe()
	return s.removeLocked(seqs)
}

func (s *Spool) removeLocked(seqs []uint64) error {
	var del []uint64
	for _, seq := range seqs {
		if _, ok := s.sizes[seq]; ok {
			del = append(del, seq)
		}
	}
	if len(del) == 0 {
		return nil
	}
	err := s.withSpace(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, seq := range del {
				var k [8]byte
				binary.BigEndian.PutUint64(k[:], seq)
				if err := b.Delete(k[:]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("spool: remove: %w", err)
	}
	gone := make(map[uint64]bool, len(del))
	for _, seq := range del {
		s.bytes -= s.sizes[seq]
		delete(s.sizes, seq)
		gone[seq] = true
	}
	kept := s.seqs[:0]
	for _, q := range s.seqs {
		if !gone[q] {
			kept = append(kept, q)
		}
	}
	s.seqs = kept
	return nil
}

// Stats are the spool's counters.
type Stats struct {
	Messages int
	Bytes    int64
	Dropped  int64 // oldest messages dropped to stay within the bound (or the disk)
	Damaged  int64 // undecodable records removed
	// DiskFull is true while the spool is held at its size because the
	// disk filled up; DiskFullEvents counts the times it did.
	DiskFull       bool
	DiskFullEvents int64
}

// Stats returns the current counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Messages: len(s.seqs), Bytes: s.bytes, Dropped: s.dropped, Damaged: s.damaged,
		DiskFull: s.full, DiskFullEvents: s.fullEvents}
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
