package aggregate

import (
	"strconv"
	"time"

	"github.com/edgesec/edgesec/event"
)

// Queue indexes of the arrays in [Stats].
const (
	QueueOperational = 0 // events of EventType Operational, whatever their priority
	QueueHigh        = 1 // events whose name has priority High
	QueueLow         = 2 // events whose name has priority Low
)

// Defaults used when a Settings field is zero or negative. They are the
// defaults of the ASC module twin.
const (
	DefaultMaxCacheBytes   = 2560000 // maxLocalCacheSizeInBytes
	DefaultMaxMessageBytes = 204800  // maxMessageSizeInBytes
)

// Under4KB is the body size below which a sent message counts in
// MessagesUnder4KB: IoT Hub meters messages in 4 KB units.
const Under4KB = 4096

// AggSetting configures ASC aggregation for one event name (twin keys
// aggregationEnabled<Name> and aggregationInterval<Name>).
type AggSetting struct {
	// Enabled switches aggregation on.
	Enabled bool
	// Interval is the length of an aggregation window, counted from the
	// first hit of an identity. Zero or negative disables aggregation.
	Interval time.Duration
}

// Settings configures a [Pipeline]. The zero value is usable: the sizes
// take the ASC defaults, aggregation is off, priorities come from the event
// catalogue and the clock is time.Now.
type Settings struct {
	// AgentVersion and AgentID are written in every message envelope.
	AgentVersion, AgentID string
	// MaxCacheBytes (maxLocalCacheSizeInBytes) bounds the bytes of queued
	// event encodings plus the estimated bytes of pending aggregates.
	// Zero or negative means DefaultMaxCacheBytes.
	MaxCacheBytes int
	// MaxMessageBytes (maxMessageSizeInBytes) bounds every message body,
	// counted exactly in serialized bytes. Zero or negative means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Aggregation holds the aggregation settings of ProcessCreate,
	// ConnectionCreate and ProcessTerminate, keyed by event name. Other keys
	// are ignored; a missing key means aggregation off.
	Aggregation map[string]AggSetting
	// Priority returns the priority of an event name (twin
	// eventPriority<Name>). Events of priority Off are ignored by Add, not
	// counted as dropped. Nil means the catalogue's default priorities, and
	// Low for names outside the catalogue. It is called on every Add and
	// must be cheap.
	Priority func(name string) event.Priority
	// Now is the clock of the aggregation windows and of the statistics
	// events. Nil means time.Now.
	Now func() time.Time
}

// Stats is a snapshot of a pipeline's state and lifetime counters.
//
// Counters are in raw events: an aggregate that is dropped counts its hit
// count. (An input event carrying several payload items is aggregated item
// by item, so in that rare case Dropped counts items.)
type Stats struct {
	// Queued is the number of events waiting in each queue, indexed by
	// QueueOperational, QueueHigh and QueueLow.
	Queued [3]int
	// QueuedBytes is the total size of the queued encodings.
	QueuedBytes int
	// Aggregates is the number of pending aggregates; AggregateBytes their
	// estimated memory, which counts against MaxCacheBytes.
	Aggregates, AggregateBytes int
	// Collected counts events accepted by Add, per queue.
	Collected [3]int64
	// Dropped counts events that were accepted but will never be sent,
	// per queue: overflow of the cache (oldest first) and oversize events.
	Dropped [3]int64
	// Oversize is the part of Dropped whose encoding could not fit in one
	// message.
	Oversize int64
	// Sent, Under4KB and Failed count RecordSent and RecordFailed calls;
	// Under4KB counts the sent bodies smaller than 4096 bytes.
	Sent, Under4KB, Failed int64
}

// counters are the values reported by StatisticsEvents.
type counters struct {
	collected, dropped              [3]int64
	oversize, sent, under4k, failed int64
}

// Pipeline is the default aggregator and packer: it aggregates repeating
// events, keeps the others encoded in three bounded queues (Operational,
// High, Low) and packs them into messages in the ASC fill order. See the
// package documentation for the rules.
//
// A Pipeline is NOT safe for concurrent use: the caller (the engine)
// serialises every method call, for example with one mutex. Events passed to
// Add are read, never modified; the aggregates keep references to their
// strings and ExtraDetails maps, so a caller must not modify an event after
// Add (the rule of the event package). The message bodies returned by Pack
// belong to the caller.
type Pipeline struct {
	s    Settings
	now  func() time.Time
	prio func(string) event.Priority

	maxCache, maxMsg int
	overhead         int // envelope bytes around the events
	maxEvent         int // largest event encoding that fits in one message
	aggLimit         int // bound on aggregation memory (half the cache)

	q      [3]queue
	queued int // sum of q[i].bytes

	agg aggState

	total, last counters
}

// New returns a pipeline configured with s.
func New(s Settings) *Pipeline {
	p := &Pipeline{}
	p.agg.init()
	p.apply(s)
	return p
}

// apply installs s, with its defaults, without touching queued data.
func (p *Pipeline) apply(s Settings) {
	p.s = s
	p.now = s.Now
	if p.now == nil {
		p.now = time.Now
	}
	p.prio = s.Priority
	if p.prio == nil {
		p.prio = defaultPriority
	}
	p.maxCache = s.MaxCacheBytes
	if p.maxCache <= 0 {
		p.maxCache = DefaultMaxCacheBytes
	}
	p.maxMsg = s.MaxMessageBytes
	if p.maxMsg <= 0 {
		p.maxMsg = DefaultMaxMessageBytes
	}
	p.overhead = event.MessageOverhead(s.AgentVersion, s.AgentID)
	p.maxEvent = p.maxMsg - p.overhead
	p.aggLimit = p.maxCache / 2
	for k := range kindNames {
		st := &p.agg.kinds[k]
		cfg := s.Aggregation[kindNames[k]]
		st.enabled = cfg.Enabled && cfg.Interval > 0
		st.interval = cfg.Interval
		st.queue = queueOf(event.Security, p.prio(kindNames[k]))
	}
}

// Configure applies new settings. Pending aggregates of a name whose
// aggregation was switched off or whose interval changed are flushed into
// the queues (discarded if the name's priority became Off). Queued events
// that no longer fit in one message are dropped and counted as oversize. If
// the cache shrank, the oldest events are dropped and counted.
func (p *Pipeline) Configure(s Settings) {
	var old [numKinds]kindState
	for k := range old {
		old[k] = p.agg.kinds[k].kindState
	}
	oldMaxEvent := p.maxEvent
	p.apply(s)
	for k := range old {
		st := &p.agg.kinds[k]
		if st.pending() == 0 {
			continue
		}
		if !st.enabled || st.interval != old[k].interval || st.queue < 0 {
			for st.pending() > 0 {
				p.flushAgg(st.head())
			}
		}
	}
	if p.maxEvent < oldMaxEvent {
		for i := range p.q {
			p.q[i].filter(func(e *entry) bool {
				if int(e.n) <= p.maxEvent {
					return true
				}
				p.queued -= int(e.n)
				p.total.dropped[i] += e.hits
				p.total.oversize += e.hits
				return false
			})
		}
	}
	for p.agg.bytes > p.aggLimit && p.agg.count > 0 {
		p.flushAgg(p.agg.oldest())
	}
	p.makeRoom(0, QueueOperational)
}

// defaultPriority is the catalogue's default priority, Low outside it.
func defaultPriority(name string) event.Priority {
	if info, ok := event.Lookup(name); ok {
		return info.DefaultPriority
	}
	return event.Low
}

// queueOf returns the queue of an event type and priority, -1 for Off.
func queueOf(t event.EventType, pr event.Priority) int {
	switch {
	case pr == event.Off:
		return -1
	case t == event.Operational:
		return QueueOperational
	case pr == event.High:
		return QueueHigh
	default:
		return QueueLow
	}
}

// Add takes one event. An event whose name has priority Off is ignored.
// ProcessCreate, ConnectionCreate and ProcessTerminate events are
// aggregated when aggregation is enabled for their name (item by item).
// Any other event is encoded once and queued: in the Operational queue if
// its EventType is Operational, else in the High or Low queue by priority.
// An event without an ID gets a fresh one.
//
// An event whose encoding cannot fit in one message (MaxMessageBytes minus
// the envelope) is dropped and counted as oversize. When the cache is full,
// the oldest queued events are dropped to make room, lowest priority first
// (Low, then High, then Operational), but never from a queue of higher
// priority than the new event's), pending aggregates of a priority going
// after the queued events of that priority; if that is not enough, the new
// event itself is dropped.
func (p *Pipeline) Add(ev event.Event) {
	qi := queueOf(ev.Type, p.prio(ev.Name))
	if qi < 0 {
		return
	}
	p.total.collected[qi]++
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	if k := kindOf(ev.Name); k >= 0 && p.agg.kinds[k].enabled && p.aggregate(k, qi, &ev) {
		return
	}
	p.push(qi, &ev, 1)
}

// push encodes ev into queue qi, where it stands for hits raw events.
func (p *Pipeline) push(qi int, ev *event.Event, hits int64) {
	q := &p.q[qi]
	enc := ev.AppendJSON(q.reserve())
	n := len(enc)
	if n > p.maxEvent {
		p.total.dropped[qi] += hits
		p.total.oversize += hits
		return
	}
	if !p.makeRoom(n, qi) {
		p.total.dropped[qi] += hits
		return
	}
	q.commit(enc, hits)
	p.queued += n
}

// makeRoom drops events until n more bytes fit in the cache, and reports
// whether they fit. Victims are taken by priority, lowest first, from the
// Low queue down to queue qi (never from a queue of higher priority than
// the incoming event's); at each priority the oldest queued events go
// first, then the oldest pending aggregates of that queue.
func (p *Pipeline) makeRoom(n, qi int) bool {
	for p.queued+p.agg.bytes+n > p.maxCache {
		if !p.evictOne(qi) {
			return false
		}
	}
	return true
}

// evictOne drops one queued event or aggregate for makeRoom.
func (p *Pipeline) evictOne(qi int) bool {
	for j := QueueLow; j >= qi; j-- {
		if p.q[j].count > 0 {
			e := p.q[j].pop()
			p.queued -= int(e.n)
			p.total.dropped[j] += e.hits
			return true
		}
		if a := p.agg.oldestIn(j); a != nil {
			p.agg.remove(a)
			p.total.dropped[j] += a.hits
			p.agg.recycle(a)
			return true
		}
	}
	return false
}

// Flush moves the aggregates whose window has ended (Interval since their
// first hit, by the Settings clock) into the queues, oldest window first.
// With force it flushes every pending aggregate, as on shutdown.
func (p *Pipeline) Flush(force bool) {
	if p.agg.count == 0 {
		return
	}
	now := p.now()
	for {
		a := p.agg.earliest()
		if a == nil || (!force && now.Before(a.deadline)) {
			return
		}
		p.flushAgg(a)
	}
}

// NextFlush returns when the earliest aggregation window ends, or the zero
// time if no aggregate is pending. The engine sets its flush timer to it
// after every Add and Flush.
func (p *Pipeline) NextFlush() time.Time {
	if a := p.agg.earliest(); a != nil {
		return a.deadline
	}
	return time.Time{}
}

// Ready reports whether the queued events fill at least one message of
// MaxMessageBytes; the engine then calls Pack(…, true) at once.
func (p *Pipeline) Ready() bool {
	n := p.q[0].count + p.q[1].count + p.q[2].count
	return n > 0 && event.MessageSize(p.overhead, p.queued, n) >= p.maxMsg
}

// Pack builds message bodies for a timer of the given priority, in the ASC
// fill order. For a High trigger a message takes Operational events first,
// then High, then Low as padding; for any other trigger Operational, Low,
// then High. Within a message each queue contributes a run of its oldest
// events; when the next event of a queue does not fit, filling goes on with
// the next queue, so events leave every queue in FIFO order.
//
// With full false, Pack produces messages until the trigger's queue and the
// Operational queue are empty (the other queue only pads them). With full
// true (after Ready), it produces messages only while the queued events
// fill a whole message, and leaves the rest queued.
//
// Every body is a complete message envelope of at most MaxMessageBytes
// bytes. Pack returns nil when there is nothing to send.
func (p *Pipeline) Pack(trigger event.Priority, full bool) [][]byte {
	order, trig := [3]int{QueueOperational, QueueLow, QueueHigh}, QueueLow
	if trigger == event.High {
		order, trig = [3]int{QueueOperational, QueueHigh, QueueLow}, QueueHigh
	}
	var out [][]byte
	for {
		if full {
			if !p.Ready() {
				break
			}
		} else if p.q[QueueOperational].count == 0 && p.q[trig].count == 0 {
			break
		}
		body := p.packOne(order)
		if body == nil {
			break
		}
		out = append(out, body)
	}
	limit := 4 * max(p.maxMsg, 64<<10)
	for i := range p.q {
		p.q[i].tidy(limit)
	}
	return out
}

// packOne builds one message from the heads of the queues in order, or
// returns nil if no event fits.
func (p *Pipeline) packOne(order [3]int) []byte {
	size, total := p.overhead, 0
	var take [3]int
	for _, qi := range order {
		q := &p.q[qi]
		k := 0
		for ; k < q.count; k++ {
			add := int(q.at(k).n)
			if total+k > 0 {
				add++ // the comma before it
			}
			if size+add > p.maxMsg {
				break
			}
			size += add
		}
		take[qi] = k
		total += k
	}
	if total == 0 {
		return nil
	}
	body := make([]byte, 0, size)
	body = event.AppendMessageStart(body, p.s.AgentVersion, p.s.AgentID)
	first := true
	for _, qi := range order {
		k := take[qi]
		if k == 0 {
			continue
		}
		if !first {
			body = append(body, ',')
		}
		first = false
		q := &p.q[qi]
		body = q.appendSpan(body, k)
		p.queued -= q.bytes
		q.popN(k)
		p.queued += q.bytes
	}
	return event.AppendMessageEnd(body)
}

// RecordSent counts a message of bodyBytes bytes that the transport
// accepted, for the MessageStatistics event.
func (p *Pipeline) RecordSent(bodyBytes int) {
	p.total.sent++
	if bodyBytes < Under4KB {
		p.total.under4k++
	}
}

// RecordFailed counts a message the transport finally failed to send.
func (p *Pipeline) RecordFailed() { p.total.failed++ }

// Names of the ExtraDetails keys of the DroppedEventsStatistics Low item
// that carry the Operational queue's counters and the oversize drops (the
// schema allows only the queues High and Low).
const (
	ExtraOperationalCollected = "OperationalCollectedEvents"
	ExtraOperationalDropped   = "OperationalDroppedEvents"
	ExtraOversizeDropped      = "OversizeDroppedEvents"
)

// StatisticsEvents returns a DroppedEventsStatistics event (one item for
// the queue "High" and one for "Low"; the Low item's ExtraDetails carry the
// Operational queue's counters and the oversize drops of all queues) and a
// MessageStatistics event. Counters are those since the previous call,
// which resets them; the events are timestamped with the Settings clock.
// The caller passes them to Add like any other event.
func (p *Pipeline) StatisticsEvents() []event.Event {
	d := p.total
	for i := range d.collected {
		d.collected[i] -= p.last.collected[i]
		d.dropped[i] -= p.last.dropped[i]
	}
	d.oversize -= p.last.oversize
	d.sent -= p.last.sent
	d.under4k -= p.last.under4k
	d.failed -= p.last.failed
	p.last = p.total
	return StatisticsEvents(p.now(), Stats{
		Collected: d.collected, Dropped: d.dropped, Oversize: d.oversize,
		Sent: d.sent, Under4KB: d.under4k, Failed: d.failed,
	}, nil)
}

// StatisticsEvents builds the DroppedEventsStatistics and MessageStatistics
// events of the counters in d (deltas since the previous report): one
// DroppedEventsStatistics item for the queue "High" and one for "Low", whose
// ExtraDetails carry the Operational queue's counters, the oversize drops
// and the entries of extra (drops outside the aggregator, such as those of
// processing stages); and a MessageStatistics event of Sent, Under4KB and
// Failed. The events are timestamped now.
func StatisticsEvents(now time.Time, d Stats, extra event.ExtraDetails) []event.Event {
	details := event.ExtraDetails{
		ExtraOperationalCollected: strconv.FormatInt(d.Collected[QueueOperational], 10),
		ExtraOperationalDropped:   strconv.FormatInt(d.Dropped[QueueOperational], 10),
		ExtraOversizeDropped:      strconv.FormatInt(d.Oversize, 10),
	}
	for k, v := range extra {
		details[k] = v
	}
	out := make([]event.Event, 0, 2)
	dropped, err := event.New(event.DroppedEventsStatistics, now,
		&event.DroppedEventsPayload{Queue: "High", CollectedEvents: d.Collected[QueueHigh], DroppedEvents: d.Dropped[QueueHigh]},
		&event.DroppedEventsPayload{Queue: "Low", CollectedEvents: d.Collected[QueueLow], DroppedEvents: d.Dropped[QueueLow],
			ExtraDetails: details})
	if err == nil {
		out = append(out, dropped)
	}
	msgs, err := event.New(event.MessageStatistics, now,
		&event.MessageStatisticsPayload{MessagesSent: d.Sent, MessagesUnder4KB: d.Under4KB, TotalFailed: d.Failed})
	if err == nil {
		out = append(out, msgs)
	}
	return out
}

// Stats returns the pipeline's current state and lifetime counters.
func (p *Pipeline) Stats() Stats {
	var s Stats
	for i := range p.q {
		s.Queued[i] = p.q[i].count
	}
	s.QueuedBytes = p.queued
	s.Aggregates, s.AggregateBytes = p.agg.count, p.agg.bytes
	s.Collected, s.Dropped = p.total.collected, p.total.dropped
	s.Oversize = p.total.oversize
	s.Sent, s.Under4KB, s.Failed = p.total.sent, p.total.under4k, p.total.failed
	return s
}
