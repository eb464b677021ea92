package detect

// lru is a bounded map that evicts its least recently used entry when a new
// key would exceed its capacity. Every eviction is counted. It is not safe
// for concurrent use: the Stage's mutex guards it.
type lru[K comparable, V any] struct {
	cap       int
	m         map[K]*lruNode[K, V]
	head      *lruNode[K, V] // most recently used
	tail      *lruNode[K, V] // least recently used
	evictions int64
	free      *lruNode[K, V] // one recycled node
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruNode[K, V]
}

func newLRU[K comparable, V any](capacity int) *lru[K, V] {
	if capacity < 1 {
		capacity = 1
	}
	// No size hint: the map grows with the entities seen, so that an
	// analyzer a device hardly uses costs nothing near its bound.
	return &lru[K, V]{cap: capacity, m: make(map[K]*lruNode[K, V])}
}

// get returns the value of k and marks it used.
func (l *lru[K, V]) get(k K) (V, bool) {
	n, ok := l.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.toFront(n)
	return n.val, true
}

// peek returns the value of k without marking it used.
func (l *lru[K, V]) peek(k K) (V, bool) {
	n, ok := l.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	return n.val, true
}

// put sets the value of k, evicting the least recently used entry when
// full. It reports whether an entry was evicted.
func (l *lru[K, V]) put(k K, v V) (evicted bool) {
	if n, ok := l.m[k]; ok {
		n.val = v
		l.toFront(n)
		return false
	}
	if len(l.m) >= l.cap {
		t := l.tail
		l.unlink(t)
		delete(l.m, t.key)
		l.evictions++
		evicted = true
		var zk K
		var zv V
		t.key, t.val = zk, zv
		l.free = t
	}
	n := l.free
	if n != nil {
		l.free = nil
	} else {
		n = &lruNode[K, V]{}
	}
	n.key, n.val = k, v
	l.m[k] = n
	l.pushFront(n)
	return evicted
}

// remove deletes k.
func (l *lru[K, V]) remove(k K) {
	n, ok := l.m[k]
	if !ok {
		return
	}
	l.unlink(n)
	delete(l.m, k)
}

func (l *lru[K, V]) len() int { return len(l.m) }

func (l *lru[K, V]) toFront(n *lruNode[K, V]) {
	if l.head == n {
		return
	}
	l.unlink(n)
	l.pushFront(n)
}

func (l *lru[K, V]) pushFront(n *lruNode[K, V]) {
	n.prev, n.next = nil, l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	if l.tail == nil {
		l.tail = n
	}
}

func (l *lru[K, V]) unlink(n *lruNode[K, V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
}
