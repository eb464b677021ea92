package aggregate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

// flushAll force-flushes and packs everything, checking every body.
func flushAll(t *testing.T, p *Pipeline) []message {
	t.Helper()
	p.Flush(true)
	var out []message
	out = append(out, decodeAll(t, p.Pack(event.High, false), p.maxMsg)...)
	out = append(out, decodeAll(t, p.Pack(event.Low, false), p.maxMsg)...)
	return out
}

// items returns every payload item of the events named name.
func items(ms []message, name string) []map[string]any {
	var out []map[string]any
	for _, m := range ms {
		for _, e := range m.Events {
			if e.Name == name {
				out = append(out, e.Payload...)
			}
		}
	}
	return out
}

func TestAggregateProcessCreateIdentity(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Minute))
	t0 := c.Now()
	p.Add(procCreate(t0, "/bin/ls", "ls -l", "0", 100))
	p.Add(procCreate(t0.Add(time.Second), "/bin/ls", "ls -l", "0", 101))   // same identity
	p.Add(procCreate(t0.Add(2*time.Second), "/bin/ls", "ls -l", "0", 102)) // same identity
	p.Add(procCreate(t0, "/bin/ls", "ls -a", "0", 103))                    // other command line
	p.Add(procCreate(t0, "/bin/ls", "ls -l", "1000", 104))                 // other user id (and name)
	other := procCreate(t0, "/bin/ls", "ls -l", "0", 105)
	other.Payload[0].(*event.ProcessCreatePayload).UserName = "root" // other user name only
	p.Add(other)
	inBox := procCreate(t0, "/bin/ls", "ls -l", "0", 106)
	inBox.Payload[0].(*event.ProcessCreatePayload).ExtraDetails = event.ExtraDetails{"ContainerId": "abc", "ModuleName": "m"}
	p.Add(inBox) // same identity in a container
	require.Equal(t, 5, p.Stats().Aggregates)
	require.Equal(t, 0, p.Stats().QueuedBytes)

	ms := flushAll(t, p)
	its := items(ms, event.ProcessCreate)
	require.Len(t, its, 5)
	first := its[0]
	require.Equal(t, "/bin/ls", first["Executable"])
	require.Equal(t, "ls -l", first["CommandLine"])
	require.EqualValues(t, 0, first["ProcessId"])
	require.EqualValues(t, 0, first["ParentProcessId"])
	x := extra(t, first)
	require.Equal(t, "3", x["HitCount"])
	require.Equal(t, event.FormatLocal(t0), x["StartTimeLocal"])
	require.Equal(t, event.FormatUTC(t0), x["StartTimeUtc"])
	require.Equal(t, event.FormatLocal(t0.Add(2*time.Second)), x["EndTimeLocal"])
	require.Equal(t, event.FormatUTC(t0.Add(2*time.Second)), x["EndTimeUtc"])
	for _, it := range its[1:] {
		require.Equal(t, "1", extra(t, it)["HitCount"])
	}
	xb := extra(t, its[4])
	require.Equal(t, "abc", xb["ContainerId"])
	require.Equal(t, "m", xb["ModuleName"])
	for _, m := range ms {
		for _, e := range m.Events {
			require.Equal(t, "Triggered", e.Category)
			require.Len(t, e.Payload, 1)
		}
	}
	require.EqualValues(t, 7, p.Stats().Collected[QueueLow])
}

func TestAggregateConnectionCreatePorts(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Minute))
	t0 := c.Now()
	// Inbound: identity includes LocalPort; RemotePort is blanked.
	p.Add(connCreate(t0, event.DirectionIn, "22", "50001", 1))
	p.Add(connCreate(t0, event.DirectionIn, "22", "50002", 2))
	p.Add(connCreate(t0, event.DirectionIn, "80", "50003", 3))
	// Outbound: identity includes RemotePort; LocalPort is blanked.
	p.Add(connCreate(t0, event.DirectionOut, "40001", "443", 4))
	p.Add(connCreate(t0, event.DirectionOut, "40002", "443", 5))
	p.Add(connCreate(t0, event.DirectionOut, "40003", "8443", 6))
	// Other protocol, other remote address: separate.
	udp := connCreate(t0, event.DirectionOut, "40004", "443", 7)
	udp.Payload[0].(*event.ConnectionCreatePayload).Protocol = "UDP"
	p.Add(udp)
	far := connCreate(t0, event.DirectionOut, "40005", "443", 8)
	far.Payload[0].(*event.ConnectionCreatePayload).RemoteAddress = "10.9.9.9"
	p.Add(far)
	require.Equal(t, 6, p.Stats().Aggregates)

	its := items(flushAll(t, p), event.ConnectionCreate)
	require.Len(t, its, 6)
	type want struct {
		dir, lport, rport, hits string
		hasLocal                bool
	}
	wants := []want{
		{"In", "22", "", "2", true},
		{"In", "80", "", "1", true},
		{"Out", "", "443", "2", false},
		{"Out", "", "8443", "1", false},
		{"Out", "", "443", "1", false},
		{"Out", "", "443", "1", false},
	}
	for i, w := range wants {
		it := its[i]
		require.Equal(t, w.dir, it["Direction"], "item %d", i)
		require.Equal(t, w.rport, it["RemotePort"], "item %d", i)
		lp, ok := it["LocalPort"]
		require.Equal(t, w.hasLocal, ok, "item %d LocalPort present", i)
		if ok {
			require.Equal(t, w.lport, lp)
		}
		require.EqualValues(t, 0, it["ProcessId"])
		require.Equal(t, w.hits, extra(t, it)["HitCount"], "item %d", i)
	}
	require.Equal(t, "UDP", its[4]["Protocol"])
	require.Equal(t, "10.9.9.9", its[5]["RemoteAddress"])
}

func TestAggregateProcessTerminate(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Minute))
	t0 := c.Now()
	p.Add(procTerm(t0, "/bin/sh", 0, 10))
	p.Add(procTerm(t0, "/bin/sh", 0, 11))
	p.Add(procTerm(t0, "/bin/sh", 1, 12))
	p.Add(procTerm(t0, "/bin/bash", 0, 13))
	p.Add(procTerm(t0, "/bin/sh", -1, 14))
	require.Equal(t, 4, p.Stats().Aggregates)
	its := items(flushAll(t, p), event.ProcessTerminate)
	require.Len(t, its, 4)
	require.Equal(t, "2", extra(t, its[0])["HitCount"])
	for _, it := range its {
		require.EqualValues(t, 0, it["ProcessId"])
	}
	require.EqualValues(t, 1, its[1]["ExitStatus"])
	require.EqualValues(t, -1, its[3]["ExitStatus"])
}

func TestAggregateItemByItemAndExtraDetails(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Minute))
	t0 := c.Now()
	ev := event.Must(event.ProcessCreate, t0,
		&event.ProcessCreatePayload{Executable: "/a", CommandLine: "a", UserID: "0", ProcessID: 1,
			ExtraDetails: event.ExtraDetails{"ModuleName": "edgeAgent", "HitCount": "99", "Z<&>": "v\"1"}},
		&event.ProcessCreatePayload{Executable: "/b", CommandLine: "b", UserID: "0", ProcessID: 2},
		&event.ProcessCreatePayload{Executable: "/a", CommandLine: "a", UserID: "0", ProcessID: 3},
	)
	p.Add(ev)
	require.Equal(t, 2, p.Stats().Aggregates)
	ms := flushAll(t, p)
	its := items(ms, event.ProcessCreate)
	require.Len(t, its, 2)
	xa := extra(t, its[0])
	require.Equal(t, "2", xa["HitCount"]) // the caller's HitCount is replaced
	require.Equal(t, "edgeAgent", xa["ModuleName"])
	require.Equal(t, "v\"1", xa["Z<&>"])
	require.Len(t, xa, 7)
	require.Equal(t, "1", extra(t, its[1])["HitCount"])
	// Distinct, valid event ids; the first item keeps the input event's id.
	ids := map[string]bool{}
	for _, m := range ms {
		for _, e := range m.Events {
			ids[e.Id] = true
		}
	}
	require.Len(t, ids, 2)
	require.True(t, ids[ev.ID])
	// The caller's map is not modified.
	require.Equal(t, "99", ev.Payload[0].(*event.ProcessCreatePayload).ExtraDetails["HitCount"])
	require.Len(t, ev.Payload[0].(*event.ProcessCreatePayload).ExtraDetails, 3)
	require.Equal(t, 1, ev.Payload[0].(*event.ProcessCreatePayload).ProcessID)
}

func TestAggregateEncodingMatchesStringMap(t *testing.T) {
	// The aggregated item must encode exactly like the payload type with
	// the merged ExtraDetails map would.
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	a := &aggEntry{kind: kindCC, hits: 12345, first: t0, last: t0.Add(time.Hour)}
	a.setPayload(&event.ConnectionCreatePayload{RemoteAddress: "::1", RemotePort: "1", LocalPort: "2", Direction: "Out", Protocol: "TCP", ProcessID: 9, Executable: "/e",
		ExtraDetails: event.ExtraDetails{"ContainerId": "c1", "A": "x", "Zeta": "<z>", "EndTimeUtc": "old"}})
	got := (&aggItem{a: a}).AppendJSON(nil)

	want := a.cc
	want.ExtraDetails = event.ExtraDetails{"ContainerId": "c1", "A": "x", "Zeta": "<z>",
		"HitCount": "12345", "StartTimeLocal": event.FormatLocal(t0), "StartTimeUtc": event.FormatUTC(t0),
		"EndTimeLocal": event.FormatLocal(t0.Add(time.Hour)), "EndTimeUtc": event.FormatUTC(t0.Add(time.Hour))}
	require.Equal(t, string(want.AppendJSON(nil)), string(got))

	a.extra = nil
	want.ExtraDetails = event.ExtraDetails{"HitCount": "12345", "StartTimeLocal": event.FormatLocal(t0), "StartTimeUtc": event.FormatUTC(t0),
		"EndTimeLocal": event.FormatLocal(t0.Add(time.Hour)), "EndTimeUtc": event.FormatUTC(t0.Add(time.Hour))}
	require.Equal(t, string(want.AppendJSON(nil)), string((&aggItem{a: a}).AppendJSON(nil)))
}

func TestAggregateWindowExpiry(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Minute))
	require.True(t, p.NextFlush().IsZero())
	t0 := c.Now()
	p.Add(procCreate(t0, "/bin/ls", "ls", "0", 1))
	require.Equal(t, t0.Add(time.Minute), p.NextFlush())
	c.Advance(30 * time.Second)
	p.Add(procCreate(c.Now(), "/bin/ls", "ls", "0", 2))
	p.Add(procCreate(c.Now(), "/bin/cat", "cat", "0", 3))
	require.Equal(t, t0.Add(time.Minute), p.NextFlush(), "a hit does not extend the window")

	c.Advance(29 * time.Second)
	p.Flush(false)
	require.Equal(t, 2, p.Stats().Aggregates)
	require.Nil(t, p.Pack(event.Low, false))

	c.Advance(time.Second) // t0 + 1m: the first window ends
	p.Flush(false)
	require.Equal(t, 1, p.Stats().Aggregates)
	require.Equal(t, t0.Add(90*time.Second), p.NextFlush())
	ms := decodeAll(t, p.Pack(event.Low, false), p.maxMsg)
	its := items(ms, event.ProcessCreate)
	require.Len(t, its, 1)
	require.Equal(t, "2", extra(t, its[0])["HitCount"])

	// A new hit of the flushed identity opens a new window.
	p.Add(procCreate(c.Now(), "/bin/ls", "ls", "0", 4))
	require.Equal(t, 2, p.Stats().Aggregates)
	c.Advance(time.Hour)
	p.Flush(false)
	require.Equal(t, 0, p.Stats().Aggregates)
	require.True(t, p.NextFlush().IsZero())
	its = items(decodeAll(t, p.Pack(event.Low, false), p.maxMsg), event.ProcessCreate)
	require.Len(t, its, 2)
	require.Equal(t, "/bin/cat", its[0]["Executable"], "oldest window first")
}

func TestAggregateSwitchOffFlushes(t *testing.T) {
	c := newClock()
	s := settings(c, time.Hour)
	p := New(s)
	p.Add(procCreate(c.Now(), "/bin/ls", "ls", "0", 1))
	p.Add(procCreate(c.Now(), "/bin/ls", "ls", "0", 2))
	p.Add(connCreate(c.Now(), "Out", "1", "443", 3))
	p.Add(procTerm(c.Now(), "/bin/ls", 0, 1))
	require.Equal(t, 3, p.Stats().Aggregates)

	// ProcessCreate off, ConnectionCreate interval changed, ProcessTerminate unchanged.
	s2 := s
	s2.Aggregation = map[string]AggSetting{
		event.ConnectionCreate: {Enabled: true, Interval: 2 * time.Hour},
		event.ProcessTerminate: {Enabled: true, Interval: time.Hour},
	}
	p.Configure(s2)
	st := p.Stats()
	require.Equal(t, 1, st.Aggregates)
	require.Equal(t, 2, st.Queued[QueueLow])
	ms := decodeAll(t, p.Pack(event.Low, false), p.maxMsg)
	require.Equal(t, []string{event.ProcessCreate, event.ConnectionCreate}, names(ms))
	require.Equal(t, "2", extra(t, items(ms, event.ProcessCreate)[0])["HitCount"])

	// Now ProcessCreate is queued raw.
	p.Add(procCreate(c.Now(), "/bin/ls", "ls", "0", 7))
	its := items(decodeAll(t, p.Pack(event.Low, false), p.maxMsg), event.ProcessCreate)
	require.Len(t, its, 1)
	require.EqualValues(t, 7, its[0]["ProcessId"])
	_, ok := its[0]["ExtraDetails"]
	require.False(t, ok)

	// Priority Off discards pending aggregates, uncounted.
	s3 := s2
	s3.Priority = func(name string) event.Priority {
		if name == event.ProcessTerminate {
			return event.Off
		}
		return defaultPriority(name)
	}
	p.Configure(s3)
	require.Equal(t, 0, p.Stats().Aggregates)
	require.Nil(t, p.Pack(event.Low, false))
	require.Equal(t, [3]int64{}, p.Stats().Dropped)
}

func TestAggregateForceFlush(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Hour))
	for i := range 10 {
		p.Add(procCreate(c.Now(), "/bin/x", "x "+sprint(i%3), "0", i))
	}
	require.Equal(t, 3, p.Stats().Aggregates)
	p.Flush(false)
	require.Equal(t, 3, p.Stats().Aggregates)
	p.Flush(true)
	require.Equal(t, 0, p.Stats().Aggregates)
	its := items(decodeAll(t, p.Pack(event.Low, false), p.maxMsg), event.ProcessCreate)
	require.Len(t, its, 3)
	require.Equal(t, []string{"4", "3", "3"}, []string{
		extra(t, its[0])["HitCount"].(string), extra(t, its[1])["HitCount"].(string), extra(t, its[2])["HitCount"].(string)})
}

func TestAggregateNonPayloadItemQueuedRaw(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Hour))
	ev := event.Must(event.ProcessCreate, c.Now(), event.Object{"Executable": "/x"})
	p.Add(ev)
	require.Equal(t, 0, p.Stats().Aggregates)
	require.Equal(t, 1, p.Stats().Queued[QueueLow])
}

func TestAggregateMemoryBounded(t *testing.T) {
	c := newClock()
	s := settings(c, time.Hour)
	s.MaxCacheBytes = 64 << 10
	s.MaxMessageBytes = 16 << 10
	p := New(s)
	var sent int
	for i := range 2000 {
		p.Add(procCreate(c.Now(), "/bin/x", "x --unique "+sprint(i), "0", i))
		st := p.Stats()
		require.LessOrEqual(t, st.AggregateBytes, s.MaxCacheBytes/2)
		require.LessOrEqual(t, st.AggregateBytes+st.QueuedBytes, s.MaxCacheBytes)
		if p.Ready() {
			for _, m := range decodeAll(t, p.Pack(event.High, true), s.MaxMessageBytes) {
				sent += len(m.Events)
			}
		}
	}
	st := p.Stats()
	require.Greater(t, st.Aggregates, 10)
	for _, m := range flushAll(t, p) {
		sent += len(m.Events)
	}
	require.Equal(t, int64(2000), st.Collected[QueueLow])
	require.Equal(t, int64(0), p.Stats().Dropped[QueueLow], "Ready packing keeps up: nothing dropped")
	require.Equal(t, 2000, sent)
}

func TestAggregateOutOfOrderHits(t *testing.T) {
	c := newClock()
	p := New(settings(c, time.Minute))
	t0 := c.Now()
	p.Add(procCreate(t0, "/x", "x", "0", 1))
	p.Add(procCreate(t0.Add(-time.Second), "/x", "x", "0", 2))
	p.Add(procCreate(t0.Add(time.Second), "/x", "x", "0", 3))
	x := extra(t, items(flushAll(t, p), event.ProcessCreate)[0])
	require.Equal(t, event.FormatUTC(t0.Add(-time.Second)), x["StartTimeUtc"])
	require.Equal(t, event.FormatUTC(t0.Add(time.Second)), x["EndTimeUtc"])
	require.Equal(t, "3", x["HitCount"])
}

func TestHighEventsEvictLowAggregatesFirst(t *testing.T) {
	c := newClock()
	s := settings(c, time.Hour)
	s.MaxCacheBytes = 6000
	s.MaxMessageBytes = 64 << 10
	p := New(s)
	for i := range 4 {
		p.Add(procCreate(c.Now(), "/x", "x "+sprint(i), "0", i))
		p.Add(procCreate(c.Now(), "/x", "x "+sprint(i), "0", i))
	}
	st := p.Stats()
	require.Equal(t, 4, st.Aggregates)
	require.LessOrEqual(t, st.AggregateBytes, 3000)
	var highs []string
	for range 5 {
		ev, tag := sized(c.Now(), QueueHigh, 500)
		p.Add(ev)
		highs = append(highs, tag)
	}
	st = p.Stats()
	require.Equal(t, 5, st.Queued[QueueHigh])
	require.Less(t, st.Aggregates, 4)
	require.Equal(t, int64(0), st.Dropped[QueueHigh])
	require.Equal(t, int64(2*(4-st.Aggregates)), st.Dropped[QueueLow], "dropped aggregates count their hits")
	ms := flushAll(t, p)
	require.Equal(t, highs, tags(ms))
	// The surviving aggregates are the newest.
	its := items(ms, event.ProcessCreate)
	require.Len(t, its, st.Aggregates)
	require.Equal(t, "x 3", its[len(its)-1]["CommandLine"])
}

func TestAggregateManyWindows(t *testing.T) {
	c := newClock()
	s := settings(c, time.Minute)
	s.MaxCacheBytes = 8 << 20
	p := New(s)
	for i := range 3000 {
		p.Add(procTerm(c.Now(), "/x", i, i))
		c.Advance(10 * time.Millisecond) // 30 s in all
	}
	require.Equal(t, 3000, p.Stats().Aggregates)
	start := c.Now().Add(-30 * time.Second)
	c.Advance(45 * time.Second) // half of the windows have ended
	p.Flush(false)
	st := p.Stats()
	require.InDelta(t, 1500, st.Aggregates, 2)
	require.True(t, p.NextFlush().After(start.Add(time.Minute+14*time.Second)))
	var statuses []float64
	for _, it := range items(decodeAll(t, p.Pack(event.Low, false), p.maxMsg), event.ProcessTerminate) {
		statuses = append(statuses, it["ExitStatus"].(float64))
	}
	c.Advance(time.Minute)
	p.Flush(false)
	require.Equal(t, 0, p.Stats().Aggregates)
	for _, it := range items(decodeAll(t, p.Pack(event.Low, false), p.maxMsg), event.ProcessTerminate) {
		statuses = append(statuses, it["ExitStatus"].(float64))
	}
	require.Len(t, statuses, 3000)
	for i, s := range statuses {
		require.EqualValues(t, i, s)
	}
}
