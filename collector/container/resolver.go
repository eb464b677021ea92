package container

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/edgesec/edgesec/collector"
)

// Defaults of ResolverOptions.
const (
	DefaultResolverTTL      = 10 * time.Minute
	DefaultNegativeTTL      = 15 * time.Second
	DefaultLookupTimeout    = time.Second
	DefaultResolverCapacity = 4096
)

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	// TTL is how long a known container stays cached
	// (DefaultResolverTTL when 0); destroy events remove it earlier.
	TTL time.Duration
	// NegativeTTL is how long an unknown id is remembered as unknown
	// (DefaultNegativeTTL when 0), so that a process outside any known
	// container does not make every lookup ask the engines.
	NegativeTTL time.Duration
	// LookupTimeout bounds the engines' answer to a cache miss
	// (DefaultLookupTimeout when 0).
	LookupTimeout time.Duration
	// Capacity bounds the cache (DefaultResolverCapacity when 0).
	Capacity int
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Resolver maps container ids to names and IoT Edge module names. It
// implements [collector.ContainerResolver] for the process and connection
// collectors: it answers from a bounded cache and asks its engines, with a
// short timeout, on a miss. The ContainerActivity collector keeps it
// current ([ActivityOptions].Resolver): it learns names from the events and
// forgets a container on its destroy event. It is safe for concurrent use.
type Resolver struct {
	engines []Backend
	o       ResolverOptions
	now     func() time.Time

	mu       sync.Mutex
	entries  map[string]*resolved
	inflight map[string]chan struct{}
}

type resolved struct {
	id      Identity
	ok      bool
	expires time.Time
}

var _ collector.ContainerResolver = (*Resolver)(nil)

// failureTTL bounds how long a lookup that failed (as opposed to a
// definite "not found") is remembered.
const failureTTL = 5 * time.Second

// NewResolver returns a Resolver over engines (owned by the caller).
func NewResolver(o ResolverOptions, engines ...Backend) *Resolver {
	if o.TTL <= 0 {
		o.TTL = DefaultResolverTTL
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.LookupTimeout <= 0 {
		o.LookupTimeout = DefaultLookupTimeout
	}
	if o.Capacity <= 0 {
		o.Capacity = DefaultResolverCapacity
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Resolver{engines: engines, o: o, now: time.Now, entries: map[string]*resolved{}, inflight: map[string]chan struct{}{}}
}

// Resolve implements [collector.ContainerResolver].
func (r *Resolver) Resolve(ctx context.Context, containerID string) (name, module string, ok bool) {
	id, ok := r.Identify(ctx, containerID)
	return id.Name, id.Module, ok
}

// Identify returns what is known of the container: from the cache, or
// from the engines (bounded by the LookupTimeout and ctx) on a miss.
// Concurrent misses for the same id share one lookup.
func (r *Resolver) Identify(ctx context.Context, containerID string) (Identity, bool) {
	key := strings.TrimSpace(containerID)
	if key == "" || len(key) > 256 {
		return Identity{}, false
	}
	for {
		r.mu.Lock()
		if e, ok := r.entries[key]; ok && r.now().Before(e.expires) {
			r.mu.Unlock()
			return e.id, e.ok
		}
		wait, busy := r.inflight[key]
		if !busy {
			wait = make(chan struct{})
			r.inflight[key] = wait
			r.mu.Unlock()
			break
		}
		r.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Identity{}, false
		}
	}
	id, ok, definite := r.lookup(ctx, key)
	r.mu.Lock()
	ttl := r.o.TTL
	switch {
	case ok:
	case definite:
		ttl = r.o.NegativeTTL
	default:
		// An engine failed or timed out: remember that briefly, so a
		// hanging engine costs one LookupTimeout every failureTTL instead
		// of one per event (and concurrent waiters do not queue up).
		ttl = min(r.o.NegativeTTL, failureTTL)
	}
	r.storeLocked(key, &resolved{id: id, ok: ok, expires: r.now().Add(ttl)})
	close(r.inflight[key])
	delete(r.inflight, key)
	r.mu.Unlock()
	return id, ok
}

// lookup asks the engines; definite is true when every engine answered
// (found or not found), so that a negative answer may be cached.
func (r *Resolver) lookup(ctx context.Context, id string) (Identity, bool, bool) {
	ctx, cancel := context.WithTimeout(ctx, r.o.LookupTimeout)
	defer cancel()
	definite := true
	for _, e := range r.engines {
		ident, err := e.Lookup(ctx, id)
		if err == nil {
			return ident, true, true
		}
		if !errors.Is(err, ErrNotFound) {
			definite = false
			r.o.Logger.Debug("container resolver: lookup failed", slog.String("runtime", e.Runtime()), slog.String("id", id), slog.Any("error", err))
		}
	}
	return Identity{}, false, definite
}

func (r *Resolver) storeLocked(key string, e *resolved) {
	if _, ok := r.entries[key]; !ok && len(r.entries) >= r.o.Capacity {
		now := r.now()
		for k, old := range r.entries {
			if !now.Before(old.expires) {
				delete(r.entries, k)
			}
		}
		for k := range r.entries { // still full: drop arbitrary entries
			if len(r.entries) < r.o.Capacity {
				break
			}
			delete(r.entries, k)
		}
	}
	r.entries[key] = e
}

// Forget removes id from the cache.
func (r *Resolver) Forget(containerID string) {
	r.mu.Lock()
	delete(r.entries, strings.TrimSpace(containerID))
	r.mu.Unlock()
}

// Observe updates the cache from an activity: a destroy forgets the
// container; an event that carries the container's name (Moby's do)
// records it; any other event of an id cached as unknown drops that
// negative entry, since the container exists now.
func (r *Resolver) Observe(a *Activity) {
	p := &a.Payload
	if p.ContainerID == "" {
		return
	}
	switch {
	case p.Action == "destroy":
		r.Forget(p.ContainerID)
	case p.ContainerName != "" && (p.Action == "create" || p.Action == "rename" || p.Action == "start"):
		r.mu.Lock()
		r.storeLocked(p.ContainerID, &resolved{
			id:      Identity{ID: p.ContainerID, Name: p.ContainerName, Module: p.ModuleName, Image: p.Image, Namespace: p.ExtraDetails[KeyNamespace]},
			ok:      true,
			expires: r.now().Add(r.o.TTL),
		})
		r.mu.Unlock()
	default:
		r.mu.Lock()
		if e, ok := r.entries[p.ContainerID]; ok && !e.ok {
			delete(r.entries, p.ContainerID)
		}
		r.mu.Unlock()
	}
}

// Cached reports whether id is in the cache (known or known unknown).
func (r *Resolver) Cached(containerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[strings.TrimSpace(containerID)]
	return ok && r.now().Before(e.expires)
}

// KeyNamespace is the ExtraDetails key of the containerd namespace in
// ContainerActivity items.
const KeyNamespace = "Namespace"
