package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/outbox/boltstore"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

func msg(i, size int) transport.Message {
	body := fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", max(size-20, 0)))
	return transport.NewSecurityMessage(body, event.Low, time.Now())
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := boltstore.Open(path, boltstore.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := msg(1, 100), msg(2, 100)
	if err := s.Append(m1, m2); err != nil {
		t.Fatal(err)
	}
	r, ok, err := s.Next(0)
	if err != nil || !ok || r.Msg.ID != m1.ID || r.Size <= 100 {
		t.Fatalf("Next(0) = %+v %v %v", r, ok, err)
	}
	if err := s.Remove(r.Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".reserve"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the reserve file is left after Close: %v", err)
	}
	s, err = boltstore.Open(path, boltstore.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(path + ".reserve"); err != nil || fi.Size() != boltstore.DefaultReserve {
		t.Errorf("reserve file: %v", err)
	}
	r2, ok, err := s.Next(r.Seq)
	if err != nil || !ok || r2.Msg.ID != m2.ID || string(r2.Msg.Body) != string(m2.Body) {
		t.Fatalf("after reopen: %+v %v %v", r2, ok, err)
	}
	if _, ok, _ := s.Next(r2.Seq); ok {
		t.Fatal("a third record appeared")
	}
	if st := s.Stats(); st.Messages != 1 || st.DiskFull {
		t.Fatalf("stats %+v", st)
	}
	if _, err := boltstore.Open(filepath.Join(t.TempDir(), "x.db"), boltstore.Options{}); err == nil {
		t.Fatal("MaxBytes 0 accepted")
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (a disk that fills up)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes path until the file system is full, then gives leave bytes
// back.
func fill(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(max(fi.Size()-leave, 0)); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestDiskFullNoResendLoop is defect #15.1: with the state directory on a
// full disk and the peer down, then back, every delete of a delivered
// message failed (bbolt needs free pages to commit a delete) and the same
// oldest message was sent again in a tight loop. Now: every message is
// delivered at most once, the oldest are dropped (and counted) to make
// room for new ones, and all recovers when space returns.
func TestDiskFullNoResendLoop(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	st, err := boltstore.Open(filepath.Join(dir, "spool.db"), boltstore.Options{MaxBytes: 16 << 20, Reserve: 128 << 10, ProbeEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := transporttest.NewRecorder()
	down := transporttest.NewFlaky(rec, transporttest.Fail, -1)
	logs := &countingHandler{}
	ob, err := outbox.New(down, outbox.Options{Store: st, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ob.Close(timeout(t, 2*time.Second)) }()

	// The disk fills up while the peer is down.
	fill(t, filepath.Join(dir, "filler"), 256<<10)
	const n = 400
	sent := map[string]int{}
	var order []string
	var sendErrs int
	for i := range n {
		m := msg(i, 1000)
		sent[m.ID] = i
		order = append(order, m.ID)
		if err := ob.Send(context.Background(), m); err != nil {
			sendErrs++
		}
	}
	s := ob.Stats()
	t.Logf("disk full, peer down: %+v, %d sends failed", s, sendErrs)
	if !s.DiskFull || s.Dropped == 0 {
		t.Fatalf("the disk never filled up: %+v", s)
	}
	if sendErrs > n/10 {
		t.Errorf("%d of %d sends failed: the newest messages are lost instead of the oldest", sendErrs, n)
	}

	// The peer comes back; the disk is still full.
	down.Heal()
	if left := ob.Drain(timeout(t, 20*time.Second)); left != 0 {
		t.Fatalf("%d messages not delivered: %+v", left, ob.Stats())
	}
	time.Sleep(300 * time.Millisecond) // a resend loop makes thousands of sends in this time
	got := rec.Messages()
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m.ID] {
			t.Fatalf("message %d delivered twice (%d deliveries of %d messages): a resend loop", sent[m.ID], len(got), n)
		}
		seen[m.ID] = true
	}
	if !seen[order[n-1]] {
		t.Errorf("the newest message was dropped")
	}
	s = ob.Stats()
	t.Logf("peer back, disk full: %d delivered, %+v", len(got), s)
	// Every message is delivered or counted as dropped. (A message dropped
	// by the store while the outbox was sending it is delivered and
	// counted: one at most here, as only the oldest is in flight.)
	if total := int64(len(got)) + s.Dropped; total < n || total > n+1 {
		t.Errorf("%d delivered + %d dropped, %d sent: a loss not counted", len(got), s.Dropped, n)
	}

	// Space returns: the store takes its reserve back and everything flows.
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := n; ; i++ {
		if err := ob.Send(context.Background(), msg(i, 1000)); err != nil {
			t.Fatalf("send after space returned: %v", err)
		}
		s = ob.Stats()
		if !s.DiskFull && s.PendingDeletes == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery once space returned: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if left := ob.Drain(timeout(t, 10*time.Second)); left != 0 {
		t.Fatalf("%d left after recovery", left)
	}
	dropped := s.Dropped
	for i := range 50 {
		if err := ob.Send(context.Background(), msg(10000+i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if left := ob.Drain(timeout(t, 10*time.Second)); left != 0 {
		t.Fatalf("%d left", left)
	}
	s = ob.Stats()
	if s.Dropped != dropped || s.DiskFull {
		t.Errorf("after recovery messages are still dropped: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "spool.db.reserve")); err != nil {
		t.Errorf("reserve not taken back: %v", err)
	}
	t.Logf("recovered: %+v; %d log lines", s, logs.n.Load())
	// Failures are logged at most once a minute per kind (send, remove,
	// full, store, read, rejected), and recovery once.
	if n := logs.n.Load(); n > 10 {
		t.Errorf("%d log lines: error logging is not rate-limited", n)
	}
}

// countingHandler counts the records logged at Info and above.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *countingHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *countingHandler) WithGroup(string) slog.Handler                { return h }

// A store held by another instance (a second module on the same state
// directory) is healthy: OpenOrMoveAside reports ErrInUse and leaves the
// file and its messages where they are, instead of moving it aside as
// damaged.
func TestOpenOrMoveAsideLeavesABusyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	first, err := boltstore.Open(path, boltstore.Options{MaxBytes: 1 << 20, Reserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Append(msg(1, 100)); err != nil {
		t.Fatal(err)
	}

	st, moved, cause, err := boltstore.OpenOrMoveAside(path, boltstore.Options{MaxBytes: 1 << 20, Reserve: -1}, time.Now())
	if st != nil || moved != "" || !errors.Is(err, boltstore.ErrInUse) || !errors.Is(cause, boltstore.ErrInUse) {
		t.Fatalf("second open of a locked store: store %v, moved to %q, cause %v, err %v; want nothing moved and ErrInUse", st, moved, cause, err)
	}
	matches, _ := filepath.Glob(path + ".damaged-*")
	if len(matches) != 0 {
		t.Fatalf("a busy store was moved aside: %v", matches)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// Once the first instance is gone, its messages are all there.
	again, moved, _, err := boltstore.OpenOrMoveAside(path, boltstore.Options{MaxBytes: 1 << 20, Reserve: -1}, time.Now())
	if err != nil || moved != "" {
		t.Fatalf("reopen: moved %q, err %v", moved, err)
	}
	defer again.Close()
	if n := again.Stats().Messages; n != 1 {
		t.Fatalf("messages after reopen = %d, want 1", n)
	}
}

// A file that is not a store is moved aside and a new store opened.
func TestOpenOrMoveAsideMovesADamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt database\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	st, moved, cause, err := boltstore.OpenOrMoveAside(path, boltstore.Options{MaxBytes: 1 << 20, Reserve: -1}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if moved != path+".damaged-1700000000" || cause == nil || errors.Is(cause, boltstore.ErrInUse) {
		t.Fatalf("moved to %q, cause %v", moved, cause)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Fatalf("damaged file not kept for inspection: %v", err)
	}
}
