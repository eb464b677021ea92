package container

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

// hangingEngine answers every Lookup by waiting for the context (an
// engine that hangs), and counts the lookups.
type hangingEngine struct{ lookups atomic.Int64 }

func (h *hangingEngine) Runtime() string  { return RuntimeMoby }
func (h *hangingEngine) Endpoint() string { return "unix:///hangs.sock" }
func (h *hangingEngine) Inventory(context.Context, int) ([]event.ContainerInventoryPayload, error) {
	return nil, errors.New("not used")
}
func (h *hangingEngine) Watch(ctx context.Context, _ time.Time, _ func(), _ func(Activity)) error {
	<-ctx.Done()
	return ctx.Err()
}
func (h *hangingEngine) CanReplay() bool { return false }
func (h *hangingEngine) Lookup(ctx context.Context, _ string) (Identity, error) {
	h.lookups.Add(1)
	<-ctx.Done()
	return Identity{}, ctx.Err()
}
func (h *hangingEngine) Close() error { return nil }

// TestResolverRemembersFailuresBriefly: with an engine that hangs, only the
// first lookup of an id waits for the LookupTimeout; the next ones answer
// from the cache at once, so process and connection events do not stall.
func TestResolverRemembersFailuresBriefly(t *testing.T) {
	h := &hangingEngine{}
	r := NewResolver(ResolverOptions{LookupTimeout: 50 * time.Millisecond}, h)
	start := time.Now()
	if _, _, ok := r.Resolve(context.Background(), "abc"); ok {
		t.Fatal("a hanging engine resolved an id")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("first lookup returned after %v, before the timeout", d)
	}
	for range 20 {
		if _, _, ok := r.Resolve(context.Background(), "abc"); ok {
			t.Fatal("resolved")
		}
	}
	if n := h.lookups.Load(); n != 1 {
		t.Fatalf("engine asked %d times; want 1 (the failure is remembered)", n)
	}
	// After the failure TTL the engine is asked again.
	r.now = func() time.Time { return time.Now().Add(failureTTL + time.Second) }
	r.Resolve(context.Background(), "abc")
	if n := h.lookups.Load(); n != 2 {
		t.Fatalf("engine asked %d times after the failure TTL; want 2", n)
	}
}
