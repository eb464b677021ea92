package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

func msg(i int, size int) transport.Message {
	body := fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", max(size-20, 0)))
	return transport.NewSecurityMessage(body, event.Low, time.Now())
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newOutbox(t *testing.T, next transport.Transport, o outbox.Options) *outbox.Outbox {
	t.Helper()
	if o.MinBackoff == 0 {
		o.MinBackoff = 5 * time.Millisecond
		o.MaxBackoff = 20 * time.Millisecond
	}
	ob, err := outbox.New(next, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ob.Close(timeout(t, 100*time.Millisecond)) })
	return ob
}

func ids(ms []transport.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestDeliversInOrderThroughFailures(t *testing.T) {
	rec := transporttest.NewRecorder()
	flaky := transporttest.NewFlaky(rec, transporttest.Fail, 3)
	var records []error
	var mu sync.Mutex
	ob := newOutbox(t, flaky, outbox.Options{Record: func(_ int, err error) { mu.Lock(); records = append(records, err); mu.Unlock() }})
	var want []string
	for i := range 10 {
		m := msg(i, 100)
		want = append(want, m.ID)
		if err := ob.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	big := msg(10, 5000)
	want = append(want, big.ID)
	if err := ob.SendBatch(context.Background(), []transport.Message{big}); err != nil {
		t.Fatal(err)
	}
	if left := ob.Drain(timeout(t, 10*time.Second)); left != 0 {
		t.Fatalf("%d left", left)
	}
	if got := ids(rec.Messages()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v\nwant      %v", got, want)
	}
	st := ob.Stats()
	if st.Sent != 11 || st.SentUnder4KB != 10 || st.Failed != 3 || st.Retries != 3 || st.Queued != 0 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(records) != 14 {
		t.Errorf("Record called %d times, want 14", len(records))
	}
}

func TestPermanentErrorRejectsTheMessage(t *testing.T) {
	rec := transporttest.NewRecorder()
	flaky := transporttest.NewFlaky(rec, transporttest.FailPermanent, 1)
	ob := newOutbox(t, flaky, outbox.Options{})
	for i := range 2 {
		if err := ob.Send(context.Background(), msg(i, 50)); err != nil {
			t.Fatal(err)
		}
	}
	if left := ob.Drain(timeout(t, 10*time.Second)); left != 0 {
		t.Fatalf("%d left", left)
	}
	st := ob.Stats()
	if rec.Len() != 1 || st.Rejected != 1 || st.Failed != 1 || st.Sent != 1 || st.Retries != 0 {
		t.Errorf("delivered %d, stats %+v", rec.Len(), st)
	}
}

// throttled answers its first send with a retry-after error.
type throttled struct {
	transport.Transport
	delay time.Duration
	mu    sync.Mutex
	at    []time.Time
}

func (t *throttled) Send(ctx context.Context, m transport.Message) error {
	t.mu.Lock()
	t.at = append(t.at, time.Now())
	n := len(t.at)
	t.mu.Unlock()
	if n == 1 {
		return transport.RetryAfter(errors.New("throttled"), t.delay)
	}
	return t.Transport.Send(ctx, m)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	rec := transporttest.NewRecorder()
	tr := &throttled{Transport: rec, delay: 300 * time.Millisecond}
	ob := newOutbox(t, tr, outbox.Options{}) // backoff of 5-20 ms
	if err := ob.Send(context.Background(), msg(1, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.WaitFor(timeout(t, 10*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if gap := tr.at[1].Sub(tr.at[0]); gap < tr.delay {
		t.Errorf("retried after %v, the transport asked for %v", gap, tr.delay)
	}
}

func TestMemoryBoundDropsOldestAndCounts(t *testing.T) {
	down := transporttest.NewFlaky(transporttest.NewRecorder(), transporttest.Fail, -1)
	ob := newOutbox(t, down, outbox.Options{Store: outbox.NewMemoryStore(1000), MinBackoff: time.Hour})
	var sent []string
	for i := range 20 {
		m := msg(i, 100)
		sent = append(sent, m.ID)
		if err := ob.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	st := ob.Stats()
	if st.Queued+int(st.Dropped) != 20 || st.Dropped < 10 || st.QueuedBytes > 1000 {
		t.Fatalf("stats %+v", st)
	}
	if err := ob.SetLimit(250); err != nil {
		t.Fatal(err)
	}
	if st2 := ob.Stats(); st2.Queued != 2 || st2.Dropped != 18 {
		t.Fatalf("after SetLimit(250): %+v", st2)
	}
	// The newest are kept: heal and see which arrive.
	rec := transporttest.NewRecorder()
	ob2 := newOutbox(t, rec, outbox.Options{Store: outbox.NewMemoryStore(250)})
	for i := range 20 {
		_ = ob2.Send(context.Background(), msg(i, 100))
	}
	ob2.Drain(timeout(t, 5*time.Second))
	_ = sent
	got := rec.Messages()
	if len(got) == 0 || !strings.Contains(string(got[len(got)-1].Body), `"n":19`) {
		t.Errorf("the newest message was not kept")
	}
}

func TestCloseDrainsThenClosesNext(t *testing.T) {
	rec := transporttest.NewRecorder()
	flaky := transporttest.NewFlaky(rec, transporttest.Fail, 2)
	ob, err := outbox.New(flaky, outbox.Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := ob.Send(context.Background(), msg(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Close(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rec.Len() != 3 || !rec.Closed() {
		t.Fatalf("delivered %d, next closed %v", rec.Len(), rec.Closed())
	}
	if err := ob.Send(context.Background(), msg(9, 10)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := ob.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseIsBoundedWhenTheTransportHangs(t *testing.T) {
	hang := transporttest.NewFlaky(transporttest.NewRecorder(), transporttest.Block, -1)
	ob, err := outbox.New(hang, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Send(context.Background(), msg(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := hang.WaitBlocked(timeout(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = ob.Close(timeout(t, 200*time.Millisecond))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if st := ob.Stats(); st.Queued != 1 {
		t.Errorf("the undelivered message should still be counted as queued: %+v", st)
	}
}

// failingRemoves is a store whose deletes fail (a full disk) until healed.
type failingRemoves struct {
	*outbox.MemoryStore
	mu      sync.Mutex
	failing bool
	tries   int
}

func (s *failingRemoves) Remove(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.failing {
		return fmt.Errorf("remove: %w", syscall.ENOSPC)
	}
	return s.MemoryStore.Remove(seqs...)
}

func (s *failingRemoves) heal() {
	s.mu.Lock()
	s.failing = false
	s.mu.Unlock()
}

// A delivered message whose delete fails is never sent again (#15.1), the
// delete is retried with backoff, and everything recovers once deletes
// commit again.
func TestFailedDeleteIsNotASendLoop(t *testing.T) {
	st := &failingRemoves{MemoryStore: outbox.NewMemoryStore(1 << 20), failing: true}
	rec := transporttest.NewRecorder()
	ob := newOutbox(t, rec, outbox.Options{Store: st, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	for i := range 5 {
		if err := ob.Send(context.Background(), msg(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.WaitFor(timeout(t, 5*time.Second), 5); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a loop would resend hundreds of times by now
	if n := rec.Len(); n != 5 {
		t.Fatalf("%d deliveries of 5 messages while deletes fail", n)
	}
	s := ob.Stats()
	if s.Queued != 0 || s.PendingDeletes != 5 || s.Sent != 5 {
		t.Fatalf("stats while deletes fail: %+v", s)
	}
	st.mu.Lock()
	tries := st.tries
	st.mu.Unlock()
	if tries > 20 {
		t.Errorf("%d delete attempts in 300 ms: not backing off", tries)
	}
	if left := ob.Drain(timeout(t, time.Second)); left != 0 {
		t.Errorf("Drain: %d left", left)
	}

	st.heal()
	if err := ob.Send(context.Background(), msg(5, 10)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ob.Stats().PendingDeletes != 0 || st.Stats().Messages != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %+v, store %+v", ob.Stats(), st.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec.Len() != 6 {
		t.Fatalf("%d deliveries, want 6", rec.Len())
	}
}

func TestNewNeedsATransport(t *testing.T) {
	if _, err := outbox.New(nil, outbox.Options{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

// The outbox is itself a transport and passes the conformance suite (its
// Send does not wait for the peer, so the hanging-peer check does not
// apply).
func TestConformance(t *testing.T) {
	var rec *transporttest.Recorder
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			rec = transporttest.NewRecorder()
			ob, err := outbox.New(rec, outbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return ob
		},
		Delivered: func(*testing.T) [][]byte {
			var out [][]byte
			for _, m := range rec.Messages() {
				out = append(out, m.Body)
			}
			return out
		},
	})
}
