package transporttest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

func msg(i int) transport.Message {
	return transport.NewSecurityMessage(fmt.Appendf(nil, `{"n":%d}`, i), event.Low, time.Now())
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRecorder(t *testing.T) {
	r := transporttest.NewRecorder()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := r.Send(context.Background(), msg(i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	ms, err := r.WaitFor(timeout(t, 5*time.Second), 100)
	if err != nil || len(ms) != 100 {
		t.Fatalf("WaitFor: %d, %v", len(ms), err)
	}
	wg.Wait()

	// Copies: the caller may reuse its buffer.
	m := msg(7)
	if err := r.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	m.Body[0] = 'X'
	m.Properties[transport.PropMessageID] = "changed"
	got := r.Messages()[100]
	if string(got.Body) != `{"n":7}` || got.Properties[transport.PropMessageID] != got.ID {
		t.Errorf("recorded message shares memory with the caller's: %s %v", got.Body, got.Properties)
	}
	if r.Len() != 101 {
		t.Errorf("Len %d", r.Len())
	}
	if ms, err := r.WaitFor(timeout(t, 20*time.Millisecond), 200); !errors.Is(err, context.DeadlineExceeded) || len(ms) != 101 {
		t.Errorf("WaitFor beyond: %d, %v", len(ms), err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Send(ctx, msg(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with cancelled ctx: %v", err)
	}
	if err := r.Close(context.Background()); err != nil || !r.Closed() {
		t.Fatal("Close")
	}
	if err := r.Send(context.Background(), msg(1)); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

func TestRecorderCheck(t *testing.T) {
	r := &transporttest.Recorder{Check: func(m transport.Message) error {
		if m.Body[0] != '{' {
			return errors.New("not an object")
		}
		return nil
	}}
	if err := r.Send(context.Background(), transport.Message{Body: []byte("[]")}); !transport.IsPermanent(err) {
		t.Errorf("refused message: %v", err)
	}
	if err := r.Send(context.Background(), msg(1)); err != nil || r.Len() != 1 {
		t.Errorf("accepted message: %v, %d", err, r.Len())
	}
}

func TestFlakyFailsFirstN(t *testing.T) {
	rec := transporttest.NewRecorder()
	f := transporttest.NewFlaky(rec, transporttest.Fail, 3)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		err := f.Send(ctx, msg(i))
		if !errors.Is(err, transporttest.ErrFlaky) || transport.IsPermanent(err) {
			t.Fatalf("send %d: %v, want a retryable ErrFlaky", i, err)
		}
	}
	if err := f.Send(ctx, msg(3)); err != nil {
		t.Fatal(err)
	}
	if f.Attempts() != 4 || f.Failures() != 3 || rec.Len() != 1 {
		t.Errorf("attempts %d failures %d recorded %d", f.Attempts(), f.Failures(), rec.Len())
	}
	// A second outage.
	f.Reset(transporttest.FailPermanent, 1)
	if err := f.Send(ctx, msg(4)); !transport.IsPermanent(err) || !errors.Is(err, transporttest.ErrFlaky) {
		t.Errorf("permanent failure: %v", err)
	}
	if err := f.Send(ctx, msg(5)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(ctx); err != nil || !rec.Closed() {
		t.Errorf("Close did not close next: %v", err)
	}
}

func TestFlakyForever(t *testing.T) {
	f := transporttest.NewFlaky(nil, transporttest.Fail, -1)
	for i := 0; i < 10; i++ {
		if err := f.Send(context.Background(), msg(i)); err == nil {
			t.Fatal("send got through")
		}
	}
	f.Heal()
	if err := f.Send(context.Background(), msg(10)); err != nil {
		t.Errorf("after Heal: %v", err)
	}
	if err := f.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestFlakyBlocks(t *testing.T) {
	rec := transporttest.NewRecorder()
	f := transporttest.NewFlaky(rec, transporttest.Block, -1)

	// Blocks until ctx is done.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Send(ctx, msg(1)) }()
	if err := f.WaitBlocked(timeout(t, 2*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("blocked send after cancel: %v", err)
	}
	if f.Blocked() != 0 {
		t.Errorf("still %d blocked", f.Blocked())
	}

	// Or until Heal.
	go func() { done <- f.Send(context.Background(), msg(2)) }()
	if err := f.WaitBlocked(timeout(t, 2*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	f.Heal()
	if err := <-done; !errors.Is(err, transporttest.ErrFlaky) {
		t.Errorf("blocked send after Heal: %v", err)
	}
	if err := f.Send(context.Background(), msg(3)); err != nil || rec.Len() != 1 {
		t.Errorf("after Heal: %v, %d recorded", err, rec.Len())
	}
	if err := f.WaitAttempts(timeout(t, time.Second), 3); err != nil {
		t.Error(err)
	}
	if err := f.WaitAttempts(timeout(t, 20*time.Millisecond), 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitAttempts beyond: %v", err)
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[transporttest.Mode]string{transporttest.Fail: "Fail", transporttest.FailPermanent: "FailPermanent", transporttest.Block: "Block", 9: "Mode(9)"} {
		if m.String() != want {
			t.Errorf("%d: %s", int(m), m)
		}
	}
}
