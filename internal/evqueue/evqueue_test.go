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
