package aggregatetest

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/subtest"
	"github.com/edgesec/edgesec/schemas"
)

// Sizes of the settings the suite configures when the aggregator
// implements [aggregate.Configurer] and no [WithSettings] is given.
const (
	DefaultMaxCacheBytes   = 64 << 10
	DefaultMaxMessageBytes = 8 << 10
)

// AgentID is the agent id of the settings the suite configures; a
// Configurer must write it in every envelope.
const AgentID = "5d1c0b6e-3a2f-4e8d-9c7b-1a2b3c4d5e6f"

// AgentVersion is the agent version of the settings the suite configures.
const AgentVersion = "aggregatetest/1.0"

// Option configures [Run].
type Option func(*config)

type config struct {
	settings    *aggregate.Settings
	aggregation time.Duration
	only        string // run only this sub-test (this package's tests)
}

// WithSettings sets the settings of the aggregators under test. When an
// aggregator implements [aggregate.Configurer] the suite configures it with
// s (with the suite's clock as s.Now when s.Now is nil); otherwise s must
// describe the settings the aggregator was built with (its sizes and
// priorities), which the suite checks it against. Without WithSettings a
// Configurer gets [AgentVersion], [AgentID], [DefaultMaxCacheBytes],
// [DefaultMaxMessageBytes], the catalogue's priorities except
// SystemInformation, which is Off, and no aggregation; any other aggregator
// is expected to follow the zero Settings (the aggregate package's default
// sizes and the catalogue's priorities).
func WithSettings(s aggregate.Settings) Option {
	return func(c *config) { c.settings = &s }
}

// WithAggregation switches aggregation on, with the given window, for the
// three names ASC aggregates (ProcessCreate, ConnectionCreate and
// ProcessTerminate) in the settings the suite configures.
func WithAggregation(interval time.Duration) Option {
	return func(c *config) { c.aggregation = interval }
}

// Run checks that the aggregators newAggregator returns behave as an
// [aggregate.Aggregator] must; see the package documentation for the list
// of checks. newAggregator is called once per sub-test for a fresh
// aggregator. Failures are reported with t.Errorf in named sub-tests.
//
// Run measures the heap: it must not be called from a parallel test.
func Run(t *testing.T, newAggregator func() aggregate.Aggregator, opts ...Option) {
	t.Helper()
	run(subtest.Testing(t), newAggregator, opts...)
}

// reporter is where the checks report: the sub-test's testing.T, or the
// recorder of this package's own tests (internal/subtest).
type reporter = subtest.Reporter

var validator = sync.OnceValues(schemas.NewValidator)

func run(s subtest.Suite, newAggregator func() aggregate.Aggregator, opts ...Option) {
	s.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	v, err := validator()
	if err != nil {
		s.Errorf("aggregatetest: %v", err)
		return
	}
	checks := []struct {
		name string
		f    func(h *harness)
	}{
		{"SmallLoad", checkSmallLoad},
		{"Priorities", checkPriorities},
		{"Ready", checkReady},
		{"Flush", checkFlush},
		{"Oversize", checkOversize},
		{"Reconfigure", checkReconfigure},
		{"Flood", checkFlood},
	}
	for _, c := range checks {
		if cfg.only != "" && c.name != cfg.only {
			continue
		}
		s.Run(c.name, func(_ *testing.T, r reporter) {
			h := newHarness(r, &cfg, v, newAggregator)
			if h != nil {
				c.f(h)
			}
		})
	}
}

// clock is the suite's settable clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// maxReports bounds the failures one sub-test reports in detail.
const maxReports = 8

// harness is one fresh aggregator under test and the suite's bookkeeping.
type harness struct {
	r     reporter
	v     *schemas.Validator
	a     aggregate.Aggregator
	cf    aggregate.Configurer    // nil if not implemented
	sr    aggregate.StatsReporter // nil if not implemented
	s     aggregate.Settings
	clock *clock
	led   *ledger

	maxMsg, maxCache int
	prio             func(string) event.Priority

	validateAll bool     // validate every body against the schemas (else a sample)
	keep        bool     // keep copies of bodies and inputs for the ownership checks
	inputs      [][]byte // encodings of the added events at Add, by ledger index (when keep)
	added       []event.Event
	bodies      [][]byte // bodies as returned
	copies      [][]byte // copies of them at return
	nbodies     int
	reports     int
}

func newHarness(r reporter, cfg *config, v *schemas.Validator, newAggregator func() aggregate.Aggregator) *harness {
	r.Helper()
	a := newAggregator()
	if a == nil {
		r.Errorf("newAggregator returned nil")
		return nil
	}
	h := &harness{r: r, v: v, a: a, clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, validateAll: true, keep: true}
	h.cf, _ = a.(aggregate.Configurer)
	h.sr, _ = a.(aggregate.StatsReporter)
	switch {
	case cfg.settings != nil:
		h.s = *cfg.settings
	case h.cf != nil:
		h.s = aggregate.Settings{
			AgentVersion: AgentVersion, AgentID: AgentID,
			MaxCacheBytes: DefaultMaxCacheBytes, MaxMessageBytes: DefaultMaxMessageBytes,
			Priority: func(name string) event.Priority {
				if name == event.SystemInformation {
					return event.Off
				}
				return catalogue(name)
			},
		}
	}
	if cfg.aggregation > 0 {
		h.s.Aggregation = map[string]aggregate.AggSetting{}
		for _, n := range []string{event.ProcessCreate, event.ConnectionCreate, event.ProcessTerminate} {
			h.s.Aggregation[n] = aggregate.AggSetting{Enabled: true, Interval: cfg.aggregation}
		}
	}
	if h.cf != nil && h.s.Now == nil {
		h.s.Now = h.clock.Now
	}
	h.applySizes()
	if h.cf != nil {
		h.cf.Configure(h.s)
	}
	h.led = newLedger(1024, h.clock.Now, h.prio)
	return h
}

// applySizes derives the limits the suite checks from h.s.
func (h *harness) applySizes() {
	h.maxMsg, h.maxCache = h.s.MaxMessageBytes, h.s.MaxCacheBytes
	if h.maxMsg <= 0 {
		h.maxMsg = aggregate.DefaultMaxMessageBytes
	}
	if h.maxCache <= 0 {
		h.maxCache = aggregate.DefaultMaxCacheBytes
	}
	h.prio = h.s.Priority
	if h.prio == nil {
		h.prio = catalogue
	}
}

// catalogue is the catalogue's default priority, Low outside it.
func catalogue(name string) event.Priority {
	if info, ok := event.Lookup(name); ok {
		return info.DefaultPriority
	}
	return event.Low
}

func (h *harness) errorf(format string, args ...any) {
	h.r.Helper()
	h.reports++
	if h.reports <= maxReports {
		h.r.Errorf(format, args...)
	} else if h.reports == maxReports+1 {
		h.r.Errorf("(more failures not reported)")
	}
}

// add makes an event of kind k, records it and gives it to the aggregator.
// It returns the size of the event's encoding.
func (h *harness) add(k kind, pad int) int {
	ev, _ := h.led.make(k, pad)
	enc := ev.AppendJSON(nil)
	if h.keep {
		h.inputs = append(h.inputs, enc)
		h.added = append(h.added, ev)
	}
	h.a.Add(ev)
	return len(enc)
}

// pack calls Pack and checks every body: its size, that it is a complete
// envelope valid against the schemas, the agent id, and the events it
// carries, which it counts as delivered.
func (h *harness) pack(trigger event.Priority, full bool) (bodies int, events []int) {
	h.r.Helper()
	out := h.a.Pack(trigger, full)
	for _, b := range out {
		events = append(events, h.checkBody(b, trigger, full)...)
		if h.keep {
			h.bodies = append(h.bodies, b)
			h.copies = append(h.copies, bytes.Clone(b))
		}
	}
	return len(out), events
}

func (h *harness) checkBody(b []byte, trigger event.Priority, full bool) (events []int) {
	h.r.Helper()
	h.nbodies++
	call := fmt.Sprintf("Pack(%v, %v)", trigger, full)
	if len(b) > h.maxMsg {
		h.errorf("%s returned a body of %d bytes, more than MaxMessageBytes %d", call, len(b), h.maxMsg)
	}
	m, err := decodeBody(b)
	if err != nil {
		h.errorf("%s: %v", call, err)
		return nil
	}
	if h.validateAll || h.nbodies <= 3 || h.nbodies%50 == 0 {
		if err := h.v.ValidateMessage(b); err != nil {
			h.errorf("%s returned a body that does not validate: %v\nbody: %.400s", call, err, b)
		}
	}
	if h.cf != nil && h.s.AgentID != "" && m.AgentID != h.s.AgentID {
		h.errorf("%s: envelope AgentId %q, configured %q", call, m.AgentID, h.s.AgentID)
	}
	if h.cf != nil && m.AgentVersion != h.s.AgentVersion {
		h.errorf("%s: envelope AgentVersion %q, configured %q", call, m.AgentVersion, h.s.AgentVersion)
	}
	if len(m.Events) == 0 {
		h.errorf("%s returned a message without events", call)
	}
	for _, e := range m.Events {
		i := h.led.index(e.ID)
		if i < 0 {
			h.errorf("%s sent an event %s Id %q that was never added", call, e.Name, e.ID)
			continue
		}
		if h.led.queue[i] == qOff {
			h.errorf("%s sent event %s %s whose priority is Off", call, e.Name, e.ID)
		}
		if h.led.hits[i] > 0 {
			h.errorf("%s sent event %s %s a second time", call, e.Name, e.ID)
		}
		n, err := hitCount(e.Payload)
		if err != nil {
			h.errorf("%s: event %s %s: %v", call, e.Name, e.ID, err)
			n = 1
		}
		h.led.hits[i] += int32(n)
		events = append(events, i)
	}
	return events
}

// drain flushes every aggregate and packs everything as the engine does at
// shutdown (Flush(true), Pack(High, false), Pack(Low, false)), then checks
// that nothing is left.
func (h *harness) drain() {
	h.r.Helper()
	h.a.Flush(true)
	if next := h.a.NextFlush(); !next.IsZero() {
		h.errorf("NextFlush() = %v after Flush(true), want the zero time (nothing pending)", next)
	}
	h.pack(event.High, false)
	h.pack(event.Low, false)
	if n, _ := h.pack(event.High, false); n > 0 {
		h.errorf("Pack(High, false) after a complete drain returned %d more bodies: Pack(High, false) then Pack(Low, false) must send every queued event", n)
	}
	if n, _ := h.pack(event.Low, false); n > 0 {
		h.errorf("Pack(Low, false) after a complete drain returned %d more bodies: Pack(High, false) then Pack(Low, false) must send every queued event", n)
	}
}

// account checks that every added event (not Off) was delivered once or
// counted as dropped. With strict (a load within the cache), nothing may
// be dropped.
func (h *harness) account(strict bool) {
	h.r.Helper()
	var added, delivered [3]int64
	missing := 0
	for i, q := range h.led.queue {
		if q == qOff {
			continue
		}
		added[q]++
		delivered[q] += int64(h.led.hits[i])
		if h.led.hits[i] == 0 {
			missing++
		}
	}
	var st aggregate.Stats
	if h.sr != nil {
		st = h.sr.Stats()
		for q := range added {
			if st.Collected[q] != added[q] {
				h.errorf("Stats().Collected[%s] = %d, but %d events of that queue were added (Off events excluded)", queueName(q), st.Collected[q], added[q])
			}
		}
		var dropped int64
		for q := range added {
			dropped += st.Dropped[q]
			if delivered[q]+st.Dropped[q] != added[q] {
				h.errorf("queue %s: %d events added, %d delivered, %d counted in Stats().Dropped: %d lost without being counted",
					queueName(q), added[q], delivered[q], st.Dropped[q], added[q]-delivered[q]-st.Dropped[q])
			}
		}
		if st.Oversize > dropped || st.Oversize < 0 {
			h.errorf("Stats().Oversize = %d, more than Dropped %d (oversize drops are part of Dropped)", st.Oversize, dropped)
		}
		if strict && dropped != st.Oversize {
			h.errorf("Stats() reports %d events dropped (%d oversize) under a load that fits in the cache", dropped, st.Oversize)
		}
		return
	}
	if !strict {
		return
	}
	for q := range added {
		if delivered[q] != added[q] {
			h.errorf("queue %s: %d events added, %d delivered; an aggregator without Stats must not lose any under a load that fits in the cache", queueName(q), added[q], delivered[q])
		}
	}
}

func queueName(q int) string {
	switch q {
	case aggregate.QueueOperational:
		return "Operational"
	case aggregate.QueueHigh:
		return "High"
	}
	return "Low"
}

// ownership checks that the added events and the returned bodies were not
// modified after Add and Pack.
func (h *harness) ownership() {
	h.r.Helper()
	for i, ev := range h.added {
		if now := ev.AppendJSON(nil); !bytes.Equal(now, h.inputs[i]) {
			h.errorf("event %s %s was modified after Add:\n at Add: %.300s\n    now: %.300s", ev.Name, ev.ID, h.inputs[i], now)
		}
	}
	for i, b := range h.bodies {
		if !bytes.Equal(b, h.copies[i]) {
			h.errorf("body %d was modified after Pack returned it (bodies belong to the caller):\n at Pack: %.300s\n     now: %.300s", i, h.copies[i], b)
		}
	}
}

// mix is the kinds the small loads cycle through.
var mix = []kind{kProc, kHigh, kLow, kProcRepeat, kOp, kConn, kDiag, kHigh, kSysinfo, kLow, kProcRepeat}

// checkSmallLoad adds a mixed load that fits in the cache, packing as the
// engine does, and checks every body and that every event arrives once.
func checkSmallLoad(h *harness) {
	pending := 0
	for i := 0; i < 400; i++ {
		pending += h.add(mix[i%len(mix)], (i*37)%400)
		h.clock.Advance(10 * time.Millisecond)
		if h.a.Ready() {
			h.pack(event.High, true)
		}
		if i%25 == 0 {
			h.a.Flush(false)
		}
		if pending > h.maxCache/8 {
			h.pack(event.High, false)
			h.pack(event.Low, false)
			pending = 0
		}
	}
	h.drain()
	h.account(true)
	h.ownership()
}

// checkPriorities checks that a High trigger sends every High and
// Operational event, that Low events wait for the Low trigger, and that
// Off events are never sent.
func checkPriorities(h *harness) {
	var low []int
	for i := 0; i < 4; i++ {
		h.add(kLow, 50)
		low = append(low, len(h.led.queue)-1)
	}
	if h.a.Ready() {
		h.errorf("Ready() is true with only %d small Low priority events queued", len(low))
	}
	if n, evs := h.pack(event.High, false); n > 0 {
		h.errorf("Pack(High, false) sent %d bodies (%d events) while only Low priority events were queued: Low events wait for the Low trigger", n, len(evs))
	}
	var high []int
	for i := 0; i < 6; i++ {
		k := kHigh
		switch i % 3 {
		case 1:
			k = kOp
		case 2:
			h.add(kDiag, 20)
			if h.prio(event.SystemInformation) == event.Off {
				h.add(kSysinfo, 20)
			}
		}
		h.add(k, 50)
		high = append(high, len(h.led.queue)-1)
	}
	h.pack(event.High, false)
	for _, i := range high {
		if h.led.hits[i] == 0 {
			h.errorf("event %s (queue %s) was not sent by Pack(High, false): the High trigger sends the High and Operational queues", h.added[i].Name, queueName(int(h.led.queue[i])))
		}
	}
	if n, _ := h.pack(event.High, false); n > 0 {
		h.errorf("a second Pack(High, false) returned %d bodies with no High or Operational event left", n)
	}
	h.pack(event.Low, false)
	for _, i := range low {
		if h.led.hits[i] == 0 {
			h.errorf("Low priority event %s was not sent by Pack(Low, false)", h.added[i].Name)
		}
	}
	h.drain()
	h.account(true)
	h.ownership()
}

// checkReady checks Ready and Pack(…, true): nothing full is reported or
// packed while a small load is queued, a full message is reported once
// more than two messages of High priority events are queued, and packing
// the full messages leaves no full message queued.
func checkReady(h *harness) {
	if h.a.Ready() {
		h.errorf("Ready() is true on a new aggregator")
	}
	for _, p := range []event.Priority{event.High, event.Low} {
		if n, _ := h.pack(p, true); n > 0 {
			h.errorf("Pack(%v, true) returned %d bodies on a new aggregator", p, n)
		}
	}
	h.add(kLow, 20)
	if h.a.Ready() {
		h.errorf("Ready() is true with one small Low priority event queued")
	} else {
		for _, p := range []event.Priority{event.High, event.Low} {
			if n, _ := h.pack(p, true); n > 0 {
				h.errorf("Pack(%v, true) returned %d bodies while Ready() was false", p, n)
			}
		}
	}
	if h.maxCache < 3*h.maxMsg+4096 {
		h.r.Logf("MaxCacheBytes %d is less than three messages of %d bytes: the full-message part of the check is skipped", h.maxCache, h.maxMsg)
		h.drain()
		h.account(true)
		return
	}
	pad := min(1000, h.maxMsg/4)
	total := 0
	for total <= 2*h.maxMsg {
		total += h.add(kHigh, pad)
	}
	if !h.a.Ready() {
		h.errorf("Ready() is false with %d bytes of High priority events queued (MaxMessageBytes %d)", total, h.maxMsg)
	} else {
		if n, _ := h.pack(event.High, true); n == 0 {
			h.errorf("Pack(High, true) returned nothing after Ready() was true")
		}
		if h.a.Ready() {
			h.errorf("Ready() is still true after Pack(High, true): Pack with full set must send every full message")
		}
	}
	h.drain()
	h.account(true)
	h.ownership()
}

// checkFlush checks the aggregation timer: NextFlush, Flush(false) when
// the window has ended (when the suite owns the clock), and that
// Flush(true) empties every aggregate so that everything is sent.
func checkFlush(h *harness) {
	start := h.clock.Now()
	for i := 0; i < 60; i++ {
		h.add([]kind{kProcRepeat, kProcRepeat, kProc, kConn, kHigh}[i%5], 30)
		h.clock.Advance(50 * time.Millisecond)
	}
	next := h.a.NextFlush()
	if !next.IsZero() && h.cf != nil {
		if next.Before(start) {
			h.errorf("NextFlush() = %v, before the first event was added (%v)", next, start)
		}
		// The engine's timer fires at next: Flush(false) must then move
		// the aggregates due, so NextFlush moves on.
		if d := next.Sub(h.clock.Now()); d > 0 {
			h.clock.Advance(d)
		}
		h.a.Flush(false)
		if after := h.a.NextFlush(); !after.IsZero() && !after.After(next) {
			h.errorf("NextFlush() = %v after Flush(false) at %v: the aggregates due were not flushed", after, next)
		}
	}
	h.a.Flush(true)
	if n := h.a.NextFlush(); !n.IsZero() {
		h.errorf("NextFlush() = %v after Flush(true), want the zero time", n)
	}
	if h.sr != nil {
		if st := h.sr.Stats(); st.Aggregates != 0 || st.AggregateBytes != 0 {
			h.errorf("Stats() reports %d aggregates (%d bytes) after Flush(true), want none", st.Aggregates, st.AggregateBytes)
		}
	}
	h.drain()
	h.account(true)
	h.ownership()
}

// checkOversize adds an event that cannot fit in any message between
// small ones: it must be dropped and counted, never sent.
func checkOversize(h *harness) {
	h.add(kHigh, 20)
	h.add(kHigh, h.maxMsg+100)
	big := len(h.led.queue) - 1
	h.add(kLow, 20)
	h.add(kOp, 20)
	h.drain()
	if h.led.hits[big] != 0 {
		h.errorf("an event of more than MaxMessageBytes was sent")
	}
	if h.sr != nil {
		if st := h.sr.Stats(); st.Oversize < 1 {
			h.errorf("Stats().Oversize = %d after an event larger than a message was added, want 1", st.Oversize)
		}
	}
	if h.sr == nil {
		// Nothing counts the drop: require every other event.
		h.led.queue[big] = qOff
		h.account(true)
	} else {
		h.account(false)
		if st := h.sr.Stats(); st.Dropped != [3]int64{0, 1, 0} {
			h.errorf("Stats().Dropped = %v, want exactly the oversize High event: [0 1 0]", st.Dropped)
		}
	}
	h.ownership()
}

// checkReconfigure (Configurer only) halves the message and cache sizes
// while events are queued: what was queued is still sent (or counted) and
// every body respects the new size.
func checkReconfigure(h *harness) {
	if h.cf == nil {
		h.r.Logf("the aggregator does not implement aggregate.Configurer: nothing to check")
		return
	}
	pending := 0
	for i := 0; pending < h.maxCache/2; i++ {
		pending += h.add(mix[i%len(mix)], (i*53)%(h.maxMsg/2))
	}
	s := h.s
	s.MaxMessageBytes = h.maxMsg / 2
	s.MaxCacheBytes = h.maxCache / 2
	h.s = s
	h.applySizes()
	h.cf.Configure(s)
	h.drain()
	h.account(false)
	h.ownership()
}

// checkFlood adds far more than the cache holds without packing (a
// transport that is down, a fork bomb), and checks that the heap the
// aggregator retains stays bounded and that every event is delivered or
// counted as dropped.
func checkFlood(h *harness) {
	const pad = 900
	floodBytes := max(32*h.maxCache, 16<<20)
	n := floodBytes / (pad + 300)
	bound := uint64(8*h.maxCache + 4<<20)
	h.keep, h.validateAll = false, false
	h.led = newLedger(n, h.clock.Now, h.prio)
	kinds := []kind{kProc, kProc, kProc, kProc, kProc, kProc, kConn, kHigh, kOp, kProcRepeat}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		h.add(kinds[i%len(kinds)], pad)
		h.clock.Advance(time.Millisecond)
		if i%1000 == 999 {
			h.a.Flush(false)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(h.a)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	h.r.Logf("flood of %d events (%d MiB encoded) with MaxCacheBytes %d: heap retained %d KiB (bound %d KiB)",
		n, floodBytes>>20, h.maxCache, retained>>10, bound>>10)
	if retained > int64(bound) {
		h.errorf("the aggregator retains %d KiB of heap after a flood of %d events (MaxCacheBytes %d): memory must stay bounded by the cache (limit checked: %d KiB)",
			retained>>10, n, h.maxCache, bound>>10)
		return // packing all it kept would only take long
	}
	h.drain()
	if h.sr == nil {
		var sent int64
		for _, x := range h.led.hits {
			sent += int64(x)
		}
		h.r.Logf("the aggregator does not implement aggregate.StatsReporter: %d of %d events sent, the rest cannot be accounted for", sent, n)
		return
	}
	st := h.sr.Stats()
	if st.Dropped == [3]int64{} {
		h.errorf("Stats().Dropped is zero after a flood %d times the cache", floodBytes/h.maxCache)
	}
	h.account(false)
}
