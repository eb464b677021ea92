// Package analyzertest checks that a detect.Analyzer follows the rules of
// the interface: it declares valid rules, never blocks, does not modify
// the events it is given, raises only valid SecurityAlert and
// SecurityRecommendation events of the rules it declares, keeps bounded
// memory under a flood of distinct entities, survives the Stage's Tick
// running concurrently with events (under the race detector), and, if it
// is a detect.TickScheduler, is no longer due once ticked when it asked.
//
// Use it from a test of the analyzer's package:
//
//	func TestConformance(t *testing.T) {
//		analyzertest.Run(t, func() detect.Analyzer { return myanalyzer.New() }, analyzertest.Options{})
//	}
package analyzertest

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

// Options tune Run.
type Options struct {
	// Extra events are fed after the built-in Corpus (for example the
	// analyzer's own triggers).
	Extra []event.Event
	// FloodEvents is the size of the memory flood (default 100000).
	FloodEvents int
	// MaxHeapGrowth is the heap growth allowed between the first quarter
	// of the flood and its end (default 4 MiB).
	MaxHeapGrowth uint64
	// CallTimeout bounds one Analyze or Tick call (default 5 s: far beyond
	// any non-blocking call, even on a loaded machine).
	CallTimeout time.Duration
}

// clock is a fake clock the checks move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Run runs every check on analyzers built by newAnalyzer (a fresh one per
// check).
func Run(t *testing.T, newAnalyzer func() detect.Analyzer, o Options) {
	t.Helper()
	if o.FloodEvents <= 0 {
		o.FloodEvents = 100000
	}
	if o.MaxHeapGrowth == 0 {
		o.MaxHeapGrowth = 4 << 20
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Second
	}
	t.Run("Rules", func(t *testing.T) { checkRules(t, newAnalyzer()) })
	t.Run("NoMutationValidOutput", func(t *testing.T) { checkCorpus(t, newAnalyzer(), o) })
	t.Run("BoundedMemory", func(t *testing.T) { checkFlood(t, newAnalyzer(), o) })
	t.Run("ConcurrentTick", func(t *testing.T) { checkConcurrent(t, newAnalyzer()) })
	t.Run("Schedule", func(t *testing.T) { checkSchedule(t, newAnalyzer(), o) })
}

// checkSchedule checks a detect.TickScheduler: after a Tick at the time
// it asked for, NextTick is zero or later (otherwise the Stage's runner
// would be woken again and again).
func checkSchedule(t *testing.T, a detect.Analyzer, o Options) {
	ts, ok := a.(detect.TickScheduler)
	if !ok {
		t.Skip("not a detect.TickScheduler")
	}
	c := &clock{t: Start}
	s := newStage(t, a, c, 0)
	evs := append(Corpus(), o.Extra...)
	for i := range evs {
		ev := evs[i]
		call(t, o.CallTimeout, "Process("+ev.Name+")", func() {
			_ = s.Process(context.Background(), &ev, func(event.Event) {})
		})
		c.add(100 * time.Millisecond)
		// Tick when asked, a few times (a window that tumbles is due
		// again and again).
		for range 3 {
			next := ts.NextTick()
			if next.IsZero() {
				break
			}
			if next.After(c.now()) {
				c.add(next.Sub(c.now()))
			}
			call(t, o.CallTimeout, "Tick", func() { s.Tick() })
			if after := ts.NextTick(); !after.IsZero() && !after.After(c.now()) {
				t.Fatalf("after %s: ticked at %v as NextTick asked, NextTick is still %v", ev.Name, c.now(), after)
			}
		}
	}
}

func newStage(t *testing.T, a detect.Analyzer, c *clock, maxEntities int) *detect.Stage {
	t.Helper()
	s, err := detect.New(detect.Options{NoBuiltin: true, Analyzers: []detect.Analyzer{a}, Clock: c.now, MaxEntities: maxEntities,
		MaxProcesses: maxEntities, Logger: slog.New(slog.DiscardHandler), RatePerRule: 1 << 20})
	if err != nil {
		t.Fatalf("detect.New with the analyzer: %v", err)
	}
	return s
}

func checkRules(t *testing.T, a detect.Analyzer) {
	rules := a.Rules()
	if len(rules) == 0 {
		t.Fatal("Rules() is empty")
	}
	again := a.Rules()
	if len(again) != len(rules) {
		t.Errorf("Rules() changed between calls: %d then %d", len(rules), len(again))
	}
	for i, r := range rules {
		if r.ID == "" || r.Name == "" || r.Description == "" || r.Remediation == "" || r.Trigger == "" {
			t.Errorf("rule %d %q: ID, Name, Description, Remediation and Trigger are all required", i, r.ID)
		}
		if r.Kind != detect.KindAlert && r.Kind != detect.KindRecommendation {
			t.Errorf("rule %s: kind %q", r.ID, r.Kind)
		}
		switch r.Severity {
		case event.AlertHigh, event.AlertMedium, event.AlertLow:
		default:
			t.Errorf("rule %s: severity %q", r.ID, r.Severity)
		}
		if len(r.Inputs) == 0 {
			t.Errorf("rule %s: no Inputs", r.ID)
		}
		for _, in := range r.Inputs {
			if _, ok := event.Lookup(in); !ok {
				t.Errorf("rule %s: input %q is not a catalogued event", r.ID, in)
			}
		}
		if i < len(again) && again[i].ID != r.ID {
			t.Errorf("Rules() order changed")
		}
	}
	// New checks the rest (ids, duplicates).
	newStage(t, a, &clock{t: time.Now()}, 0)
}

// call runs f and fails if it does not return within d.
func call(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s: an Analyzer must never block", what, d)
	}
}

func checkCorpus(t *testing.T, a detect.Analyzer, o Options) {
	for _, p := range corpusProblems(t, a, o) {
		t.Error(p)
	}
}

// corpusProblems feeds the corpus and returns what is wrong.
func corpusProblems(t *testing.T, a detect.Analyzer, o Options) []string {
	var probs []string
	c := &clock{t: Start}
	s := newStage(t, a, c, 0)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, r := range s.Rules() {
		declared[r.ID] = true
	}
	var out []event.Event
	evs := append(Corpus(), o.Extra...)
	for i := range evs {
		ev := evs[i]
		before := string(ev.AppendJSON(nil))
		cp := ev
		call(t, o.CallTimeout, "Process("+ev.Name+")", func() {
			if err := s.Process(context.Background(), &cp, func(x event.Event) { out = append(out, x) }); err != nil {
				probs = append(probs, fmt.Sprintf("Process(%s): %v", ev.Name, err))
			}
		})
		if after := string(ev.AppendJSON(nil)); after != before {
			probs = append(probs, fmt.Sprintf("the analyzer modified a %s event:\nbefore %s\nafter  %s", ev.Name, before, after))
		}
		if after := string(cp.AppendJSON(nil)); after != before {
			probs = append(probs, fmt.Sprintf("the stage changed the %s event it passed on", ev.Name))
		}
		c.add(100 * time.Millisecond)
		if i%10 == 9 {
			c.add(time.Second)
			call(t, o.CallTimeout, "Tick", func() { out = append(out, s.Tick()...) })
		}
	}
	c.add(time.Hour)
	call(t, o.CallTimeout, "Tick", func() { out = append(out, s.Tick()...) })
	for _, ev := range out {
		if ev.Name != event.SecurityAlert && ev.Name != event.SecurityRecommendation && ev.Name != event.ConfigurationError {
			probs = append(probs, fmt.Sprintf("the analyzer emitted a %s event", ev.Name))
		}
		if err := v.ValidateEvent(ev); err != nil {
			probs = append(probs, fmt.Sprintf("invalid %s: %v\n%s", ev.Name, err, ev.AppendJSON(nil)))
		}
		for _, it := range ev.Payload {
			id := ""
			switch p := it.(type) {
			case *event.SecurityAlertPayload:
				id = p.AlertType
			case *event.SecurityRecommendationPayload:
				id = p.RecommendationType
			}
			if id != "" && !declared[id] {
				probs = append(probs, "raised the undeclared rule "+id)
			}
		}
	}
	t.Logf("%d corpus events, %d events raised", len(evs), len(out))
	return probs
}

func checkFlood(t *testing.T, a detect.Analyzer, o Options) {
	grown, st := flood(t, a, o)
	t.Logf("flood of %d events: heap grew %d bytes from the first quarter; process table %d, evictions %d", o.FloodEvents, grown, st.Processes, st.Evictions)
	if grown > int64(o.MaxHeapGrowth) {
		t.Errorf("heap grew by %d bytes over %d distinct events: memory is not bounded", grown, o.FloodEvents*3/4)
	}
	if st.Processes > 1000 {
		t.Errorf("process table holds %d processes, cap 1000", st.Processes)
	}
}

// flood feeds o.FloodEvents distinct events and returns the heap growth
// from the first quarter to the end.
func flood(t *testing.T, a detect.Analyzer, o Options) (int64, detect.Stats) {
	if testing.Short() {
		o.FloodEvents = min(o.FloodEvents, 20000)
	}
	c := &clock{t: Start}
	s := newStage(t, a, c, 1000)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var base uint64
	emit := func(event.Event) {}
	for i := range o.FloodEvents {
		if i == o.FloodEvents/4 {
			base = heap()
		}
		ev := Flood(i)
		_ = s.Process(context.Background(), &ev, emit)
		if i%1000 == 999 {
			c.add(time.Second)
			s.Tick()
		}
	}
	grown := int64(heap()) - int64(base)
	runtime.KeepAlive(s)
	return grown, s.Stats()
}

func checkConcurrent(t *testing.T, a detect.Analyzer) {
	c := &clock{t: Start}
	s := newStage(t, a, c, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			c.add(time.Second)
			s.Tick()
			runtime.Gosched()
		}
	}()
	for round := range 3 {
		for _, ev := range Corpus() {
			ev := ev
			_ = s.Process(context.Background(), &ev, func(event.Event) {})
		}
		_ = round
	}
	cancel()
	wg.Wait()
}

// Start is the time of the fake clock's start in the checks.
var Start = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// Flood returns the i-th event of a flood with a distinct entity in every
// event: processes (a fork flood whose processes never terminate),
// connections from distinct addresses, failed logins of distinct users and
// files written in distinct containers (KernelActivity).
func Flood(i int) event.Event {
	if i%8 == 7 {
		return event.Must(event.KernelActivity, Start, &event.KernelActivityPayload{Action: event.ActivityOpenWrite,
			Path: fmt.Sprintf("/usr/local/bin/x%d", i), ProcessID: 100000 + i, ParentProcessID: 99999 + i, Executable: "/bin/busybox",
			UserID: "0", ExtraDetails: event.ExtraDetails{"ContainerId": fmt.Sprintf("%064x", i)}})
	}
	switch i % 4 {
	case 0, 1:
		return event.Must(event.ProcessCreate, Start, &event.ProcessCreatePayload{Executable: fmt.Sprintf("/tmp/x%d", i), ProcessID: 100000 + i,
			ParentProcessID: 99999 + i, UserID: "0", CommandLine: fmt.Sprintf("/tmp/x%d -o stratum+tcp://10.%d.%d.1:3333", i, i>>8&255, i&255),
			ExtraDetails: event.ExtraDetails{"ParentExecutable": fmt.Sprintf("/tmp/x%d", i-1)}})
	case 2:
		return event.Must(event.ConnectionCreate, Start, &event.ConnectionCreatePayload{RemoteAddress: fmt.Sprintf("198.51.%d.%d", i>>8&255, i&255),
			RemotePort: "4444", Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 100000 + i, Executable: "/usr/bin/bash"})
	default:
		return event.Must(event.Login, Start, &event.LoginPayload{UserName: fmt.Sprintf("u%d", i), Operation: "Login", Executable: "/usr/sbin/sshd",
			RemoteAddress: fmt.Sprintf("203.0.%d.%d", i>>8&255, i&255), Result: event.LoginFail})
	}
}
