package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
)

func msg(i int, size int) transport.Message {
	body := make([]byte, size)
	for j := range body {
		body[j] = 'a' + byte(i%26)
	}
	m := transport.NewSecurityMessage(body, event.High, time.Unix(1700000000, int64(i)))
	return m
}

func drain(t *testing.T, s *Spool) []transport.Message {
	t.Helper()
	var out []transport.Message
	for {
		e, ok, err := s.Oldest()
		require.NoError(t, err)
		if !ok {
			return out
		}
		out = append(out, e.Msg)
		require.NoError(t, s.Remove(e.Seq))
	}
}

func TestFIFOAndPersistenceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(path, 1<<20)
	require.NoError(t, err)
	var sent []transport.Message
	for i := range 5 {
		m := msg(i, 100)
		sent = append(sent, m)
		require.NoError(t, s.Append(m))
	}
	// Acknowledge the first one, then "crash" (close) and reopen.
	e, ok, err := s.Oldest()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, sent[0].ID, e.Msg.ID)
	require.NoError(t, s.Remove(e.Seq))
	require.NoError(t, s.Close())

	s, err = Open(path, 1<<20)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 4, s.Stats().Messages)
	got := drain(t, s)
	require.Len(t, got, 4)
	for i, m := range got {
		want := sent[i+1]
		require.Equal(t, want.ID, m.ID)
		require.Equal(t, want.Body, m.Body)
		require.Equal(t, want.Properties, m.Properties)
		require.Equal(t, want.Priority, m.Priority)
		require.True(t, want.Created.Equal(m.Created))
	}
	require.Zero(t, s.Stats().Bytes)
}

func TestBoundDropsOldestAndCounts(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 1000)
	require.NoError(t, err)
	defer s.Close()
	var ids []string
	for i := range 20 {
		m := msg(i, 150)
		ids = append(ids, m.ID)
		require.NoError(t, s.Append(m))
		require.LessOrEqual(t, s.Stats().Bytes, int64(1000))
	}
	st := s.Stats()
	require.Positive(t, st.Dropped)
	require.Equal(t, 20, st.Messages+int(st.Dropped))
	got := drain(t, s)
	// What is left is the newest messages, in order.
	for i, m := range got {
		require.Equal(t, ids[20-len(got)+i], m.ID)
	}

	// A single message larger than the bound is still kept (alone).
	require.NoError(t, s.Append(msg(99, 5000)))
	require.Equal(t, 1, s.Stats().Messages)
	require.NoError(t, s.SetLimit(10))
	require.Equal(t, 1, s.Stats().Messages, "the newest message is never dropped by a bound")
}

func TestDamagedRecordsAreSkippedAndCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(path, 1<<20)
	require.NoError(t, err)
	require.NoError(t, s.Append(msg(1, 10), msg(2, 10)))
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if err := b.Put([]byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte("garbage")); err != nil {
			return err
		}
		return b.Put([]byte("short"), []byte("x"))
	}))
	require.NoError(t, db.Close())

	s, err = Open(path, 1<<20)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, int64(2), s.Stats().Damaged)
	require.Len(t, drain(t, s), 2)
}

func TestRemoveOfDroppedSequenceIsNotAnError(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 300)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Append(msg(1, 200)))
	e, _, err := s.Oldest()
	require.NoError(t, err)
	require.NoError(t, s.Append(msg(2, 200))) // drops the first
	require.NoError(t, s.Remove(e.Seq))
	require.Equal(t, 1, s.Stats().Messages)
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := transport.Message{ID: "x", Body: []byte(`{"a":1}`), Properties: map[string]string{"k": "v", "": ""}, Priority: event.Low}
	got, err := decode(encode(m))
	require.NoError(t, err)
	require.Equal(t, m, got)
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(msg(1, 10)))
	f.Add([]byte("S\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		m, err := decode(rec)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a record that decodes to the
		// same message.
		again, err := decode(encode(m))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("round trip changed the message: %v vs %v", m, again)
		}
	})
}

func BenchmarkAppendRemove(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "spool.db"), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := msg(1, 16<<10)
	for b.Loop() {
		if err := s.Append(m); err != nil {
			b.Fatal(err)
		}
		e, _, err := s.Oldest()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(e.Seq); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFailedTransactionRestoresIndexAndCounters: when a transaction that
// trimmed the index is rolled back, the index and the drop counter match
// the database again.
func TestFailedTransactionRestoresIndexAndCounters(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 1<<20)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Append(msg(1, 300), msg(2, 300), msg(3, 300)))
	before := s.Stats()

	s.mu.Lock()
	s.o.MaxBytes = 100
	err = s.update(func(tx *bolt.Tx) error {
		if err := s.trimLocked(tx.Bucket(bucket), 0); err != nil {
			return err
		}
		return fmt.Errorf("disk full")
	})
	s.o.MaxBytes = 1 << 20
	s.mu.Unlock()
	require.Error(t, err)

	after := s.Stats()
	require.Equal(t, before, after, "a rolled-back trim changes nothing")
	require.Len(t, drain(t, s), 3)
}

func TestNextAfterAndBatchRemove(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), 1<<20)
	require.NoError(t, err)
	defer s.Close()
	for i := range 5 {
		require.NoError(t, s.Append(msg(i, 50)))
	}
	var seqs []uint64
	for after := uint64(0); ; {
		e, ok, err := s.Next(after)
		require.NoError(t, err)
		if !ok {
			break
		}
		require.Greater(t, e.Seq, after)
		require.Positive(t, e.Size)
		seqs = append(seqs, e.Seq)
		after = e.Seq
	}
	require.Len(t, seqs, 5)
	// One transaction removes several; unknown seqs are ignored.
	require.NoError(t, s.Remove(seqs[1], seqs[3], 999))
	st := s.Stats()
	require.Equal(t, 3, st.Messages)
	e, ok, err := s.Next(seqs[0])
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, seqs[2], e.Seq, "Next skips the removed seq")
}

// TestDiskFullReleasesReserveAndHoldsSize: the first transaction that fails
// for lack of space releases the reserve file and runs again; the spool is
// then held at its size, dropping the oldest to store new messages, until
// the reserve can be taken back.
func TestDiskFullReleasesReserveAndHoldsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := OpenOptions(path, Options{MaxBytes: 1 << 20, Reserve: 64 << 10, ProbeEvery: 50 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	fi, err := os.Stat(path + ".reserve")
	require.NoError(t, err)
	require.EqualValues(t, 64<<10, fi.Size())
	for i := range 4 {
		require.NoError(t, s.Append(msg(i, 100)))
	}

	s.mu.Lock()
	calls := 0
	err = s.withSpace(func() error {
		calls++
		if calls == 1 {
			return fmt.Errorf("write: %w", syscall.ENOSPC)
		}
		return nil
	})
	s.mu.Unlock()
	require.NoError(t, err, "the retry after releasing the reserve succeeds")
	require.Equal(t, 2, calls)
	_, err = os.Stat(path + ".reserve")
	require.ErrorIs(t, err, os.ErrNotExist, "the reserve was released")
	st := s.Stats()
	require.True(t, st.DiskFull)
	require.EqualValues(t, 1, st.DiskFullEvents)

	// Held at its size: a new message drops the oldest.
	bytes := st.Bytes
	require.NoError(t, s.Append(msg(9, 100)))
	st = s.Stats()
	require.LessOrEqual(t, st.Bytes, bytes)
	require.EqualValues(t, 1, st.Dropped)
	require.Equal(t, 4, st.Messages)

	// Without a reserve, the next failure is returned.
	s.mu.Lock()
	err = s.withSpace(func() error { return syscall.ENOSPC })
	s.mu.Unlock()
	require.True(t, IsNoSpace(err))

	// Space is back: the reserve is taken back and the bound lifted.
	time.Sleep(60 * time.Millisecond)
	require.NoError(t, s.Append(msg(10, 100)))
	st = s.Stats()
	require.False(t, st.DiskFull)
	require.Equal(t, 5, st.Messages)
	_, err = os.Stat(path + ".reserve")
	require.NoError(t, err)
}
