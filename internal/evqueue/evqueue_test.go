package evqueue

import (
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

func TestQueueBoundsAndWakesOnce(t *testing.T) {
	q := New(3)
	ev := event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{Executable: "/bin/true"})
	if d := q.Put([]event.Event{ev, ev}); d != 0 {
		t.Fatalf("dropped %d", d)
	}
	if d := q.Put([]event.Event{ev, ev}); d != 1 {
		t.Fatalf("dropped %d, want 1 beyond the bound", d)
	}
	select {
	case <-q.Ready():
	default:
		t.Fatal("not woken when the queue became non-empty")
	}
	select {
	case <-q.Ready():
		t.Fatal("woken twice")
	default:
	}
	if n := len(q.Take()); n != 3 {
		t.Fatalf("took %d, want 3", n)
	}
	if n := len(q.Take()); n != 0 {
		t.Fatalf("took %d after taking all", n)
	}
}

// A batch after a Take gets room for as many events as that Take had,
// allocated at once (not grown by copies), within the bound.
func TestQueueSizesBatchesLikeTheLast(t *testing.T) {
	q := New(1000)
	ev := event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{Executable: "/bin/true"})
	for range 100 {
		q.Put([]event.Event{ev})
	}
	if n := len(q.Take()); n != 100 {
		t.Fatalf("took %d, want 100", n)
	}
	q.Put([]event.Event{ev})
	if evs := q.Take(); cap(evs) < 100 || cap(evs) > 1000 {
		t.Fatalf("capacity %d after a batch of 100, want 100..1000", cap(evs))
	}
	small := New(50)
	for range 50 {
		small.Put([]event.Event{ev})
	}
	small.Take()
	small.Put([]event.Event{ev})
	if evs := small.Take(); cap(evs) > 50 {
		t.Fatalf("capacity %d beyond the bound 50", cap(evs))
	}
}
