package spool

import (
	"fmt"
	"path/filepath"
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
