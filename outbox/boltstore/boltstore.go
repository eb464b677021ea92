// Package boltstore is the durable [outbox.Store]: a bbolt database,
// fsync'd on every commit, that keeps messages across restarts and
// outages.
//
// It lives in a package of its own so that a program that keeps its outbox
// in memory does not link bbolt.
//
// The store is bounded in bytes: appending beyond the bound drops the
// oldest messages and counts them. A record that cannot be decoded (a
// damaged file) is removed and counted, never fatal. bbolt copies pages on
// write, so even a delete needs free disk space to commit: the store keeps
// a reserve file beside the database (path + ".reserve", Options.Reserve
// bytes) and deletes it when the disk fills up, so that delivered messages
// can still be removed and the oldest ones dropped to make room for new
// ones; it takes the reserve back once space returns.
package boltstore

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/edgesec/edgesec/internal/spool"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/transport"
)

// DefaultReserve is the default Options.Reserve.
const DefaultReserve = spool.DefaultReserve

// Options configure a Store.
type Options struct {
	// MaxBytes bounds the stored records (required, > 0).
	MaxBytes int64
	// Reserve is the size of the reserve file (default DefaultReserve;
	// negative: none).
	Reserve int64
	// ProbeEvery is how often, while the disk is full, the store tries to
	// take its reserve back (default 5 s).
	ProbeEvery time.Duration
}

// Store is a durable outbox.Store. It is safe for concurrent use.
type Store struct{ s *spool.Spool }

var _ outbox.Store = (*Store)(nil)

// Open opens (or creates) the store at path. A file that is not a bbolt
// database is an error: the caller may move it aside and open a new one.
func Open(path string, o Options) (*Store, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("boltstore: MaxBytes must be positive, got %d", o.MaxBytes)
	}
	s, err := spool.OpenOptions(path, spool.Options{MaxBytes: o.MaxBytes, Reserve: o.Reserve, ProbeEvery: o.ProbeEvery})
	if err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	return &Store{s: s}, nil
}

// Append implements outbox.Store.
func (s *Store) Append(msgs ...transport.Message) error { return s.s.Append(msgs...) }

// Next implements outbox.Store.
func (s *Store) Next(after uint64) (outbox.Record, bool, error) {
	e, ok, err := s.s.Next(after)
	return outbox.Record{Seq: e.Seq, Msg: e.Msg, Size: e.Size}, ok, err
}

// Remove implements outbox.Store.
func (s *Store) Remove(seqs ...uint64) error { return s.s.Remove(seqs...) }

// SetLimit implements outbox.Store.
func (s *Store) SetLimit(n int64) error { return s.s.SetLimit(n) }

// Stats implements outbox.Store.
func (s *Store) Stats() outbox.StoreStats {
	st := s.s.Stats()
	return outbox.StoreStats{Messages: st.Messages, Bytes: st.Bytes, Dropped: st.Dropped, Damaged: st.Damaged, DiskFull: st.DiskFull}
}

// Close implements outbox.Store.
func (s *Store) Close() error { return s.s.Close() }

// ErrInUse is returned (wrapped) by Open and OpenOrMoveAside when another
// process holds the store's lock, typically a second instance of a module
// given the same state directory. The file is not damaged and is left
// where it is.
var ErrInUse = spool.ErrInUse

// OpenOrMoveAside opens the store at path like Open; when the file is
// there but cannot be opened as a store (damaged, not a bbolt database), it
// renames it to path + ".damaged-<unix time>" for inspection and opens a
// new one, so that a damaged spool never keeps a module from running. A
// store locked by another process ([ErrInUse]) is not damaged: it is left
// in place and the error returned. It
// returns where the damaged file went ("" when nothing was moved) and the
// error that made it move it, for the caller to log; err is non-nil only
// when no store could be opened at all.
func OpenOrMoveAside(path string, o Options, now time.Time) (st *Store, movedTo string, cause, err error) {
	st, cause = Open(path, o)
	if cause == nil {
		return st, "", nil, nil
	}
	if errors.Is(cause, ErrInUse) {
		return nil, "", cause, cause // healthy but busy: never move another process's spool
	}
	if _, serr := os.Stat(path); serr != nil {
		return nil, "", cause, cause // nothing to move: the directory or the disk is the problem
	}
	movedTo = fmt.Sprintf("%s.damaged-%d", path, now.Unix())
	if rerr := os.Rename(path, movedTo); rerr != nil {
		return nil, "", cause, fmt.Errorf("boltstore: move damaged spool aside: %w", rerr)
	}
	st, err = Open(path, o)
	if err != nil {
		return nil, movedTo, cause, err
	}
	return st, movedTo, cause, nil
}
