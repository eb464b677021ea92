package backoff

import (
	"context"
	"testing"
	"time"
)

func TestBackoffGrowsWithJitterToCap(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 60 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i, w := range want {
		d := b.Next()
		hi := w * time.Second
		if d < hi/2 || d > hi {
			t.Fatalf("delay %d = %s, want in [%s, %s]", i, d, hi/2, hi)
		}
	}
	b.Reset()
	if d := b.Next(); d > time.Second {
		t.Fatalf("after Reset: %s", d)
	}
}

func TestBackoffJitters(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 20 {
		b := Backoff{Min: time.Second, Max: time.Minute}
		seen[b.Next()] = true
	}
	if len(seen) < 2 {
		t.Fatalf("20 first delays all equal %v: no jitter", seen)
	}
}

func TestBackoffNeverSpins(t *testing.T) {
	for _, b := range []Backoff{{}, {Min: -time.Second}, {Min: time.Second, Max: time.Millisecond}} {
		for i := range 100 {
			if d := b.Next(); d <= 0 {
				t.Fatalf("%+v: delay %d = %s", b, i, d)
			}
		}
	}
	b := Backoff{Min: time.Second, Max: time.Millisecond} // Max below Min is Min
	if d := b.Next(); d < time.Second/2 || d > time.Second {
		t.Fatalf("Max < Min: %s", d)
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep with a live context reported cancellation")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep with a cancelled context reported the delay elapsed")
	}
	if time.Since(start) > time.Second {
		t.Fatal("Sleep did not return when its context was done")
	}
}
