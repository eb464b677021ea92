package process

// procInfo is what the collector remembers about a live process, to
// describe its exit and its children when /proc is gone by then.
type procInfo struct {
	pid, ppid   int
	startTicks  uint64 // 0 when unknown (netlink-tracked processes)
	comm        string
	exe         string
	uid         string
	containerID string
	container   string // resolved container name
	module      string // IoT Edge module name
	execd       bool   // an exec was seen (or /proc was read at start)

	prev, next *procInfo
}

// lru is a bounded map of live processes, least recently used first out.
// It is owned by one goroutine (the enricher) and not safe for concurrent
// use.
type lru struct {
	max     int
	m       map[int]*procInfo
	head    procInfo // sentinel: head.next is the most recent
	evicted uint64
}

// newLRU returns an empty table of at most max processes. Its map grows
// with the host's processes (a few hundred on an edge device) rather than
// being sized for max up front, which kept some 190 KB for a table of 4,096
// empty slots.
func newLRU(max int) *lru {
	l := &lru{max: max, m: make(map[int]*procInfo)}
	l.head.next, l.head.prev = &l.head, &l.head
	return l
}

func (l *lru) unlink(p *procInfo) {
	p.prev.next, p.next.prev = p.next, p.prev
}

func (l *lru) pushFront(p *procInfo) {
	p.prev, p.next = &l.head, l.head.next
	l.head.next.prev = p
	l.head.next = p
}

// get returns the process and marks it recently used.
func (l *lru) get(pid int) *procInfo {
	p := l.m[pid]
	if p != nil {
		l.unlink(p)
		l.pushFront(p)
	}
	return p
}

// put inserts or replaces the entry of p.pid, evicting the least recently
// used entry when full.
func (l *lru) put(p *procInfo) {
	if old := l.m[p.pid]; old != nil {
		l.unlink(old)
	} else if len(l.m) >= l.max {
		last := l.head.prev
		l.unlink(last)
		delete(l.m, last.pid)
		l.evicted++
	}
	l.m[p.pid] = p
	l.pushFront(p)
}

// remove deletes and returns the entry of pid.
func (l *lru) remove(pid int) *procInfo {
	p := l.m[pid]
	if p != nil {
		l.unlink(p)
		delete(l.m, pid)
	}
	return p
}

func (l *lru) len() int { return len(l.m) }
