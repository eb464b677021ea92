package aggregate

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

// tags returns the Tag of every payload item, in order.
func tags(ms []message) []string {
	var out []string
	for _, m := range ms {
		for _, e := range m.Events {
			for _, it := range e.Payload {
				if x, ok := it["ExtraDetails"].(map[string]any); ok {
					if tag, ok := x["Tag"].(string); ok {
						out = append(out, tag)
					}
				}
			}
		}
	}
	return out
}

func encSize(ev event.Event) int { return len(ev.AppendJSON(nil)) }

func TestPriorityOffIgnored(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	s.Priority = func(name string) event.Priority {
		if name == event.ProcessCreate {
			return event.Off
		}
		return event.High
	}
	p := New(s)
	p.Add(procCreate(c.Now(), "/x", "x", "0", 1))
	st := p.Stats()
	require.Equal(t, [3]int{}, st.Queued)
	require.Equal(t, [3]int64{}, st.Collected)
	require.Equal(t, [3]int64{}, st.Dropped)
	p.Add(connCreate(c.Now(), "Out", "1", "2", 1))
	require.Equal(t, 1, p.Stats().Queued[QueueHigh])
}

func TestQueueRouting(t *testing.T) {
	c := newClock()
	p := New(settings(c, 0))
	for _, qi := range []int{QueueOperational, QueueHigh, QueueLow, QueueLow} {
		ev, _ := sized(c.Now(), qi, 10)
		p.Add(ev)
	}
	// Operational events go to the Operational queue even at priority High.
	p.s.Priority = func(string) event.Priority { return event.High }
	p.prio = p.s.Priority
	ev, _ := sized(c.Now(), QueueOperational, 10)
	p.Add(ev)
	st := p.Stats()
	require.Equal(t, [3]int{2, 1, 2}, st.Queued)
	require.Equal(t, [3]int64{2, 1, 2}, st.Collected)
}

func TestQueueBoundDropsOldest(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	probe, _ := sized(c.Now(), QueueLow, 1000)
	size := encSize(probe)
	s.MaxCacheBytes = 10*size + size/2 // room for 10 events
	s.MaxMessageBytes = 64 << 10
	p := New(s)
	var all []string
	for range 25 {
		ev, tag := sized(c.Now(), QueueLow, 1000)
		require.Equal(t, size, encSize(ev))
		p.Add(ev)
		all = append(all, tag)
		require.LessOrEqual(t, p.Stats().QueuedBytes, s.MaxCacheBytes)
	}
	st := p.Stats()
	require.Equal(t, 10, st.Queued[QueueLow])
	require.Equal(t, int64(25), st.Collected[QueueLow])
	require.Equal(t, int64(15), st.Dropped[QueueLow])
	ms := decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes)
	require.Equal(t, all[15:], tags(ms), "the newest events survive, in order")
}

func TestQueueBoundAcrossPriorities(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	probe, _ := sized(c.Now(), QueueLow, 1000)
	size := encSize(probe)
	hprobe, _ := sized(c.Now(), QueueHigh, 1000)
	hsize := encSize(hprobe)
	s.MaxCacheBytes = 4*max(size, hsize) + 10
	s.MaxMessageBytes = 64 << 10
	p := New(s)
	var lows, highs []string
	for range 4 {
		ev, tag := sized(c.Now(), QueueLow, 1000)
		p.Add(ev)
		lows = append(lows, tag)
	}
	// High events evict the oldest Low events first.
	for range 2 {
		ev, tag := sized(c.Now(), QueueHigh, 1000)
		p.Add(ev)
		highs = append(highs, tag)
	}
	st := p.Stats()
	require.Equal(t, [3]int{0, 2, 2}, st.Queued)
	require.Equal(t, int64(2), st.Dropped[QueueLow])
	for range 3 {
		ev, tag := sized(c.Now(), QueueHigh, 1000)
		p.Add(ev)
		highs = append(highs, tag)
	}
	st = p.Stats()
	require.Equal(t, [3]int{0, 4, 0}, st.Queued)
	require.Equal(t, int64(4), st.Dropped[QueueLow])
	require.Equal(t, int64(1), st.Dropped[QueueHigh], "then the oldest High")

	// A Low event never evicts High events: it is dropped itself.
	ev, _ := sized(c.Now(), QueueLow, 1000)
	p.Add(ev)
	st = p.Stats()
	require.Equal(t, [3]int{0, 4, 0}, st.Queued)
	require.Equal(t, int64(5), st.Dropped[QueueLow])

	ms := decodeAll(t, p.Pack(event.High, false), s.MaxMessageBytes)
	require.Equal(t, highs[1:], tags(ms))
	_ = lows
}

func TestOversizeDropped(t *testing.T) {
	c := newClock()
	s := settings(c, time.Hour)
	s.MaxMessageBytes = 8192
	p := New(s)
	limit := s.MaxMessageBytes - event.MessageOverhead(s.AgentVersion, s.AgentID)
	// Find paddings that make the encoding exactly limit and limit+1.
	probe, _ := sized(c.Now(), QueueLow, 0)
	base := encSize(probe)
	fit, _ := sized(c.Now(), QueueLow, limit-base)
	require.Equal(t, limit, encSize(fit))
	big, _ := sized(c.Now(), QueueLow, limit-base+1)
	require.Equal(t, limit+1, encSize(big))
	p.Add(big)
	st := p.Stats()
	require.Equal(t, int64(1), st.Oversize)
	require.Equal(t, int64(1), st.Dropped[QueueLow])
	require.Equal(t, 0, st.Queued[QueueLow])
	p.Add(fit)
	require.Equal(t, 1, p.Stats().Queued[QueueLow])
	bodies := p.Pack(event.Low, false)
	require.Len(t, bodies, 1)
	require.Len(t, bodies[0], s.MaxMessageBytes, "an event of exactly the limit makes a message of exactly MaxMessageBytes")
	decodeAll(t, bodies, s.MaxMessageBytes)

	// An aggregatable event that is too big is dropped as well.
	huge := procCreate(c.Now(), "/x", pad(9000), "0", 1)
	p.Add(huge)
	require.Equal(t, 0, p.Stats().Aggregates)
	require.Equal(t, int64(2), p.Stats().Oversize)

	// Shrinking MaxMessageBytes drops queued events that no longer fit.
	mid, _ := sized(c.Now(), QueueLow, 5000)
	small, tag := sized(c.Now(), QueueLow, 10)
	p.Add(mid)
	p.Add(small)
	s.MaxMessageBytes = 4096
	p.Configure(s)
	st = p.Stats()
	require.Equal(t, int64(3), st.Oversize)
	require.Equal(t, 1, st.Queued[QueueLow])
	require.Equal(t, []string{tag}, tags(decodeAll(t, p.Pack(event.Low, false), 4096)))
}

func TestConfigureShrinkCacheDropsOldest(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	p := New(s)
	var all []string
	var size int
	for range 20 {
		ev, tag := sized(c.Now(), QueueLow, 500)
		size = encSize(ev)
		p.Add(ev)
		all = append(all, tag)
	}
	s.MaxCacheBytes = 5 * size
	p.Configure(s)
	st := p.Stats()
	require.Equal(t, 5, st.Queued[QueueLow])
	require.Equal(t, int64(15), st.Dropped[QueueLow])
	require.Equal(t, all[15:], tags(decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes)))
}

// fill adds n events of about sz bytes to queue qi and returns their tags.
func fill(p *Pipeline, c *fakeClock, qi, n, sz int) []string {
	var out []string
	for range n {
		ev, tag := sized(c.Now(), qi, sz)
		p.Add(ev)
		out = append(out, tag)
	}
	return out
}

func TestFillOrderHighTimer(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	s.MaxMessageBytes = 8192
	p := New(s)
	low := fill(p, c, QueueLow, 30, 300)
	high := fill(p, c, QueueHigh, 12, 300)
	op := fill(p, c, QueueOperational, 3, 300)

	ms := decodeAll(t, p.Pack(event.High, false), s.MaxMessageBytes)
	got := tags(ms)
	// Operational first, then High, then Low padding the last message.
	require.Equal(t, op, got[:3])
	require.Equal(t, high, got[3:15])
	require.Equal(t, low[:len(got)-15], got[15:])
	require.Greater(t, len(got), 15, "Low pads the last message")
	st := p.Stats()
	require.Equal(t, 0, st.Queued[QueueOperational])
	require.Equal(t, 0, st.Queued[QueueHigh])
	require.Equal(t, 30-(len(got)-15), st.Queued[QueueLow])
	// Every message but the last is full: no further event would fit.
	for _, b := range p.Pack(event.High, false) {
		t.Fatalf("unexpected message %d bytes", len(b))
	}

	// Only Low left: a High timer sends nothing.
	require.Nil(t, p.Pack(event.High, false))
	rest := tags(decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes))
	require.Equal(t, low[len(got)-15:], rest)
	require.Nil(t, p.Pack(event.Low, false))
}

func TestFillOrderLowTimer(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	s.MaxMessageBytes = 8192
	p := New(s)
	high := fill(p, c, QueueHigh, 30, 300)
	low := fill(p, c, QueueLow, 12, 300)
	op := fill(p, c, QueueOperational, 3, 300)

	got := tags(decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes))
	require.Equal(t, op, got[:3])
	require.Equal(t, low, got[3:15])
	require.Equal(t, high[:len(got)-15], got[15:])
	require.Greater(t, len(got), 15)
	require.Equal(t, [3]int{0, 30 - (len(got) - 15), 0}, p.Stats().Queued)
}

func TestFillPaddingSkipsToNextQueue(t *testing.T) {
	// When the next High event does not fit, smaller Low events still pad
	// the message; FIFO order holds within each queue.
	c := newClock()
	s := settings(c, 0)
	s.MaxMessageBytes = 4096
	p := New(s)
	h1 := fill(p, c, QueueHigh, 1, 2500)
	h2 := fill(p, c, QueueHigh, 1, 2500)
	l := fill(p, c, QueueLow, 3, 200)
	ms := decodeAll(t, p.Pack(event.High, false), s.MaxMessageBytes)
	require.Len(t, ms, 2)
	first, second := tags(ms[:1]), tags(ms[1:])
	require.Greater(t, len(first), 1, "Low events pad the first message")
	require.Equal(t, h1, first[:1])
	require.Equal(t, append(append([]string{}, h1...), l[:len(first)-1]...), first)
	require.Equal(t, append(append([]string{}, h2...), l[len(first)-1:]...), second)
}

func TestReadyFullPacking(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	s.MaxMessageBytes = 8192
	p := New(s)
	require.False(t, p.Ready())
	require.Nil(t, p.Pack(event.High, true))
	var all []string
	for !p.Ready() {
		all = append(all, fill(p, c, QueueLow, 1, 700)...)
	}
	total := event.MessageSize(p.overhead, p.Stats().QueuedBytes, len(all))
	require.GreaterOrEqual(t, total, s.MaxMessageBytes)
	// Add more, to two and a half messages.
	for p.Stats().QueuedBytes < 5*s.MaxMessageBytes/2 {
		all = append(all, fill(p, c, QueueLow, 1, 700)...)
	}
	bodies := p.Pack(event.High, true)
	require.Len(t, bodies, 2)
	ms := decodeAll(t, bodies, s.MaxMessageBytes)
	got := tags(ms)
	require.Equal(t, all[:len(got)], got)
	require.False(t, p.Ready())
	require.Positive(t, p.Stats().Queued[QueueLow])
	for _, b := range bodies {
		// Full: the next event (about 800 bytes) would not have fitted.
		require.Greater(t, len(b), s.MaxMessageBytes-900)
	}
	rest := tags(decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes))
	require.Equal(t, all[len(got):], rest)
}

// TestPackNeverExceedsMax is a property test: random event sizes, queues,
// message and cache sizes; every body is valid JSON of at most
// MaxMessageBytes, nothing is lost or duplicated, and each queue is FIFO.
func TestPackNeverExceedsMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 60 {
		c := newClock()
		s := settings(c, 0)
		s.MaxMessageBytes = 1500 + rng.IntN(12000)
		s.MaxCacheBytes = s.MaxMessageBytes * (1 + rng.IntN(6))
		if round%3 == 0 {
			s = settings(c, time.Duration(1+rng.IntN(10))*time.Second)
			s.MaxMessageBytes = 1500 + rng.IntN(12000)
			s.MaxCacheBytes = s.MaxMessageBytes * (1 + rng.IntN(6))
		}
		p := New(s)
		queued := map[string]int{}
		index := map[string]int{}
		lastSent := [3]int{-1, -1, -1}
		sent := map[string]bool{}
		check := func(bodies [][]byte) {
			for _, b := range bodies {
				require.LessOrEqual(t, len(b), s.MaxMessageBytes)
				m := decode(t, b)
				for _, tag := range tags([]message{m}) {
					require.False(t, sent[tag], "duplicate %s", tag)
					sent[tag] = true
					q := queued[tag]
					require.Greater(t, index[tag], lastSent[q], "queue %d not FIFO", q)
					lastSent[q] = index[tag]
				}
			}
		}
		for i := range 400 {
			c.Advance(time.Duration(rng.IntN(100)) * time.Millisecond)
			switch r := rng.IntN(10); {
			case r < 7:
				qi := rng.IntN(3)
				n := rng.IntN(s.MaxMessageBytes)
				if rng.IntN(4) > 0 {
					n = rng.IntN(600)
				}
				ev, tag := sized(c.Now(), qi, n)
				queued[tag] = qi
				index[tag] = i
				p.Add(ev)
			case r < 9:
				p.Add(procCreate(c.Now(), "/bin/x", "x "+sprint(rng.IntN(20)), "0", i))
				p.Add(connCreate(c.Now(), "Out", sprint(i), sprint(rng.IntN(5)), i))
			default:
				p.Flush(false)
			}
			st := p.Stats()
			require.LessOrEqual(t, st.QueuedBytes+st.AggregateBytes, s.MaxCacheBytes)
			if p.Ready() {
				check(p.Pack(event.Priority(1+rng.IntN(2)), true))
				require.False(t, p.Ready())
			}
			if rng.IntN(50) == 0 {
				check(p.Pack(event.Priority(1+rng.IntN(2)), rng.IntN(2) == 0))
			}
		}
		p.Flush(true)
		check(p.Pack(event.High, false))
		check(p.Pack(event.Low, false))
		st := p.Stats()
		require.Equal(t, [3]int{}, st.Queued)
		require.Equal(t, 0, st.QueuedBytes)
		// Every tagged event was either sent or dropped.
		var dropped int64
		for _, d := range st.Dropped {
			dropped += d
		}
		lost := 0
		for tag := range queued {
			if !sent[tag] {
				lost++
			}
		}
		// Dropped also counts aggregated hits; tagged losses are a subset.
		require.LessOrEqual(t, int64(lost), dropped)
	}
}

func TestStatisticsEvents(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	probe, _ := sized(c.Now(), QueueLow, 100)
	s.MaxCacheBytes = 3*encSize(probe) + 10
	p := New(s)
	fill(p, c, QueueLow, 5, 100) // 2 dropped
	fill(p, c, QueueOperational, 1, 100)
	big, _ := sized(c.Now(), QueueHigh, 9000) // oversize
	p.Add(big)
	p.RecordSent(100)
	p.RecordSent(5000)
	p.RecordSent(4096)
	p.RecordSent(4095)
	p.RecordFailed()

	c.Advance(time.Minute)
	before := p.Stats()
	require.GreaterOrEqual(t, before.Dropped[QueueLow], int64(2))
	evs := p.StatisticsEvents()
	require.Len(t, evs, 2)
	require.Equal(t, event.DroppedEventsStatistics, evs[0].Name)
	require.Equal(t, event.MessageStatistics, evs[1].Name)
	require.Equal(t, c.Now(), evs[0].Time)
	high := evs[0].Payload[0].(*event.DroppedEventsPayload)
	low := evs[0].Payload[1].(*event.DroppedEventsPayload)
	require.Equal(t, event.DroppedEventsPayload{Queue: "High", CollectedEvents: 1, DroppedEvents: 1}, *high)
	require.Equal(t, "Low", low.Queue)
	require.Equal(t, int64(5), low.CollectedEvents)
	require.Equal(t, before.Dropped[QueueLow], low.DroppedEvents) // incl. evictions by the Operational event
	require.Equal(t, event.ExtraDetails{ExtraOperationalCollected: "1", ExtraOperationalDropped: "0", ExtraOversizeDropped: "1"}, low.ExtraDetails)
	ms := evs[1].Payload[0].(*event.MessageStatisticsPayload)
	require.Equal(t, event.MessageStatisticsPayload{MessagesSent: 4, MessagesUnder4KB: 2, TotalFailed: 1}, *ms)

	// The events pack into a valid message.
	s2 := s
	s2.MaxCacheBytes = 1 << 20
	q := New(s2)
	for _, ev := range evs {
		q.Add(ev)
	}
	decodeAll(t, q.Pack(event.Low, false), s.MaxMessageBytes)

	// Counters restart from zero; lifetime Stats keep counting.
	evs = p.StatisticsEvents()
	require.Equal(t, event.DroppedEventsPayload{Queue: "High"}, *evs[0].Payload[0].(*event.DroppedEventsPayload))
	require.Equal(t, event.MessageStatisticsPayload{}, *evs[1].Payload[0].(*event.MessageStatisticsPayload))
	require.Equal(t, int64(4), p.Stats().Sent)
	require.Equal(t, before.Dropped[QueueLow], p.Stats().Dropped[QueueLow])
}

func TestZeroSettingsUseDefaults(t *testing.T) {
	p := New(Settings{AgentID: testAgentID})
	require.Equal(t, DefaultMaxCacheBytes, p.maxCache)
	require.Equal(t, DefaultMaxMessageBytes, p.maxMsg)
	p.Add(procCreate(time.Now(), "/x", "x", "0", 1))
	require.Equal(t, 0, p.Stats().Aggregates)
	ev := event.Must(event.DiagnosticEvent, time.Now(), &event.DiagnosticPayload{Severity: event.DiagError, Message: "m"})
	p.Add(ev) // Diagnostic defaults to Off
	require.Equal(t, [3]int{0, 0, 1}, p.Stats().Queued)
	require.Len(t, p.Pack(event.Low, false), 1)
}

func TestMissingIDFilled(t *testing.T) {
	c := newClock()
	p := New(settings(c, 0))
	ev := procCreate(c.Now(), "/x", "x", "0", 1)
	ev.ID = ""
	p.Add(ev)
	ms := decodeAll(t, p.Pack(event.Low, false), p.maxMsg)
	require.True(t, event.ValidID(ms[0].Events[0].Id))
}

func TestDrainedQueueReleasesMemory(t *testing.T) {
	c := newClock()
	s := settings(c, 0)
	s.MaxCacheBytes = 4 << 20
	p := New(s)
	fill(p, c, QueueLow, 600, 1000)
	require.Greater(t, p.q[QueueLow].held(), 4*(64<<10))
	decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes)
	// At most a first-size chunk stays.
	require.LessOrEqual(t, p.q[QueueLow].held(), minChunkSize)
	tag := fill(p, c, QueueLow, 1, 10)
	require.Equal(t, tag, tags(decodeAll(t, p.Pack(event.Low, false), s.MaxMessageBytes)))
}
