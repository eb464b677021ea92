package detect

import (
	"time"
)

// Process is what the process table knows of a live process: the fields of
// its ProcessCreate item.
type Process struct {
	PID, PPID   int
	Executable  string
	CommandLine string
	UserID      string
	UserName    string
	ContainerID string
	ModuleName  string
	// Start is when its ProcessCreate was seen (the Stage's clock).
	Start time.Time
}

// procTable is the bounded pid → process table, fed by ProcessCreate and
// ProcessTerminate. When it is full the least recently used process is
// evicted (and counted): a process that never terminates (or whose
// ProcessTerminate was lost) cannot grow it.
type procTable struct {
	t *lru[int, Process]
}

func newProcTable(n int) *procTable { return &procTable{t: newLRU[int, Process](n)} }

func (p *procTable) add(pr Process) { p.t.put(pr.PID, pr) }

func (p *procTable) remove(pid int) { p.t.remove(pid) }

func (p *procTable) get(pid int) (Process, bool) { return p.t.peek(pid) }

// Window counts timestamped hits per entity over a sliding window, in
// bounded memory: at most MaxEntities entities (least recently hit evicted,
// counted) and at most MaxHits timestamps per entity (the oldest dropped:
// the count saturates at MaxHits). Analyzers use it for "N failures in 10
// minutes" rules. It is not safe for concurrent use; an Analyzer owns its
// Windows and the Stage serialises every call.
type Window struct {
	span    time.Duration
	maxHits int
	t       *lru[string, *hits]
}

type hits struct {
	ts   []time.Time // ring, oldest at start
	head int
	n    int
}

// NewWindow returns a Window of the given span that tracks at most
// maxEntities entities and maxHits hits per entity (both at least 1).
func NewWindow(span time.Duration, maxEntities, maxHits int) *Window {
	if maxHits < 1 {
		maxHits = 1
	}
	return &Window{span: span, maxHits: maxHits, t: newLRU[string, *hits](maxEntities)}
}

// Add records a hit for key at now and returns the number of hits for key
// within the span ending at now (including this one, at most MaxHits).
func (w *Window) Add(key string, now time.Time) int {
	h, ok := w.t.get(key)
	if !ok {
		h = &hits{ts: make([]time.Time, w.maxHits)}
		w.t.put(key, h)
	}
	w.expire(h, now)
	if h.n == len(h.ts) { // full: drop the oldest
		h.head = (h.head + 1) % len(h.ts)
		h.n--
	}
	h.ts[(h.head+h.n)%len(h.ts)] = now
	h.n++
	return h.n
}

// Count returns the hits for key within the span ending at now.
func (w *Window) Count(key string, now time.Time) int {
	h, ok := w.t.peek(key)
	if !ok {
		return 0
	}
	w.expire(h, now)
	return h.n
}

// Reset forgets key.
func (w *Window) Reset(key string) { w.t.remove(key) }

// Len returns the number of entities tracked.
func (w *Window) Len() int { return w.t.len() }

// Evictions returns how many entities were evicted to stay within bounds.
func (w *Window) Evictions() int64 { return w.t.evictions }

func (w *Window) expire(h *hits, now time.Time) {
	for h.n > 0 && now.Sub(h.ts[h.head]) > w.span {
		h.head = (h.head + 1) % len(h.ts)
		h.n--
	}
}

// Recent remembers values per key for a time-to-live, in bounded memory
// (least recently set evicted, counted). Analyzers use it for joins such as
// "a file downloaded to P, then P executed".
type Recent struct {
	ttl time.Duration
	t   *lru[string, recentVal]
}

type recentVal struct {
	at  time.Time
	val string
}

// NewRecent returns a Recent with the given time-to-live and capacity.
func NewRecent(ttl time.Duration, capacity int) *Recent {
	return &Recent{ttl: ttl, t: newLRU[string, recentVal](capacity)}
}

// Put remembers val under key at now.
func (r *Recent) Put(key, val string, now time.Time) { r.t.put(key, recentVal{at: now, val: val}) }

// Get returns the value under key when it was put within the TTL before
// now.
func (r *Recent) Get(key string, now time.Time) (string, bool) {
	v, ok := r.t.peek(key)
	if !ok || now.Sub(v.at) > r.ttl {
		return "", false
	}
	return v.val, true
}

// Len returns the number of keys held (expired ones included until evicted).
func (r *Recent) Len() int { return r.t.len() }

// Evictions returns how many keys were evicted to stay within bounds.
func (r *Recent) Evictions() int64 { return r.t.evictions }
