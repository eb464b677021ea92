package outbox

import (
	"testing"
	"time"
)

func TestAcksRememberUntilCommitted(t *testing.T) {
	a := newAcks(100*time.Millisecond, time.Second)
	now := time.Unix(1000, 0)
	if a.due(now) {
		t.Fatal("an empty set is never due")
	}
	a.add(3, 30)
	a.add(1, 10)
	a.add(2, 20)
	a.add(2, 20) // the same ack twice counts once
	if a.len() != 3 || a.bytes != 60 {
		t.Fatalf("len %d bytes %d, want 3 and 60", a.len(), a.bytes)
	}
	if !a.due(now) {
		t.Fatal("a new ack is due at once")
	}
	if got := a.seqs(); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("seqs %v, want [1 2 3]", got)
	}

	// A failed delete keeps every ack and backs off, growing.
	d1 := a.failed(now)
	if d1 < 50*time.Millisecond || d1 > 100*time.Millisecond {
		t.Fatalf("first delay %v, want in [50ms, 100ms]", d1)
	}
	if a.due(now) || !a.due(now.Add(d1)) {
		t.Fatal("the next delete is due after the delay, not before")
	}
	d2 := a.failed(now)
	d3 := a.failed(now)
	if d3 < 200*time.Millisecond || d2 < 100*time.Millisecond {
		t.Fatalf("delays %v %v %v do not grow", d1, d2, d3)
	}
	if a.len() != 3 || a.fails != 3 {
		t.Fatalf("after failures: len %d fails %d", a.len(), a.fails)
	}

	// A commit forgets what it deleted and resets the backoff.
	a.committed([]uint64{1, 2})
	if a.len() != 1 || a.bytes != 30 || a.fails != 0 || !a.due(now) {
		t.Fatalf("after commit: len %d bytes %d fails %d due %v", a.len(), a.bytes, a.fails, a.due(now))
	}
	if d := a.failed(now); d > 100*time.Millisecond {
		t.Fatalf("backoff not reset: %v", d)
	}

	// Records the store dropped meanwhile are forgotten.
	a.add(7, 70)
	a.add(9, 90)
	a.prune(7)
	if got := a.seqs(); len(got) != 2 || got[0] != 7 || got[1] != 9 || a.bytes != 160 {
		t.Fatalf("after prune(7): %v, %d bytes", got, a.bytes)
	}
	a.prune(0)
	if a.len() != 0 || a.bytes != 0 {
		t.Fatalf("prune(0) of an empty store keeps %d", a.len())
	}
}

func TestLimiterLimitsRepeatsAndCountsThem(t *testing.T) {
	l := newLimiter(50 * time.Millisecond)
	if ok, n := l.allow("x"); !ok || n != 0 {
		t.Fatalf("first line: %v %d", ok, n)
	}
	for range 10 {
		if ok, _ := l.allow("x"); ok {
			t.Fatal("a repeat within the interval is logged")
		}
	}
	if ok, _ := l.allow("y"); !ok {
		t.Fatal("another kind is limited by x")
	}
	time.Sleep(60 * time.Millisecond)
	if ok, n := l.allow("x"); !ok || n != 10 {
		t.Fatalf("after the interval: %v, suppressed %d, want true, 10", ok, n)
	}
}
