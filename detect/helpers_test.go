package detect

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	s     *Stage
	clock *fakeClock
	out   []event.Event
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock()}
	o.Clock = h.clock.Now
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

// feed runs evs through the stage, then lets snapshots settle and ticks.
func (h *harness) feed(evs ...event.Event) []event.Event {
	h.t.Helper()
	var got []event.Event
	for _, ev := range evs {
		ev := ev
		if err := h.s.Process(context.Background(), &ev, func(x event.Event) { got = append(got, x) }); err != nil {
			h.t.Fatal(err)
		}
	}
	h.clock.Add(time.Second)
	got = append(got, h.s.Tick()...)
	h.out = append(h.out, got...)
	return got
}

func alertsOf(evs []event.Event, rule string) []*event.SecurityAlertPayload {
	var out []*event.SecurityAlertPayload
	for _, ev := range evs {
		for _, it := range ev.Payload {
			if a, ok := it.(*event.SecurityAlertPayload); ok && (rule == "" || a.AlertType == rule) {
				out = append(out, a)
			}
		}
	}
	return out
}

func recsOf(evs []event.Event, rule string) []*event.SecurityRecommendationPayload {
	var out []*event.SecurityRecommendationPayload
	for _, ev := range evs {
		for _, it := range ev.Payload {
			if a, ok := it.(*event.SecurityRecommendationPayload); ok && (rule == "" || a.RecommendationType == rule) {
				out = append(out, a)
			}
		}
	}
	return out
}

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

var pidSeq = 1000

// proc returns a ProcessCreate event as the netlink process collector
// writes it.
func proc(exe, cmdline string, extra ...string) event.Event {
	pidSeq++
	x := event.ExtraDetails{"Source": "netlink", "Comm": base(exe), "ParentExecutable": "/usr/bin/bash", "ParentComm": "bash"}
	for i := 0; i+1 < len(extra); i += 2 {
		x[extra[i]] = extra[i+1]
	}
	return event.Must(event.ProcessCreate, t0, &event.ProcessCreatePayload{Executable: exe, ProcessID: pidSeq, ParentProcessID: 900,
		UserID: "0", UserName: "root", CommandLine: cmdline, ExtraDetails: x})
}

func login(result, user, remote string) event.Event {
	return event.Must(event.Login, t0, &event.LoginPayload{ProcessID: 77, UserName: user, Operation: "Login", Executable: "/usr/sbin/sshd",
		RemoteAddress: remote, RemotePort: "50000", Result: result, ExtraDetails: event.ExtraDetails{"Source": "/var/log/auth.log"}})
}

func conn(dir, exe, remote string) event.Event {
	return event.Must(event.ConnectionCreate, t0, &event.ConnectionCreatePayload{RemoteAddress: remote, RemotePort: "4444", LocalAddress: "10.0.0.2",
		LocalPort: "51000", Direction: dir, Protocol: "TCP", ProcessID: 4242, Executable: exe, CommandLine: exe})
}

func listen(proto, addr, port, exe string) *event.ListeningPortsPayload {
	x := event.ExtraDetails{"Family": "IPv4"}
	if exe != "" {
		x["Executable"], x["ProcessId"], x["UserName"] = exe, "812", "root"
	}
	return &event.ListeningPortsPayload{Protocol: proto, LocalAddress: addr, LocalPort: port, ExtraDetails: x}
}

func fwPolicy(chain, hook, action string) *event.FirewallRulePayload {
	dir := ""
	switch hook {
	case "input":
		dir = event.DirectionIn
	case "output":
		dir = event.DirectionOut
	}
	return &event.FirewallRulePayload{Priority: 99, Direction: dir, ChainName: chain, Enabled: true, Action: action,
		ExtraDetails: event.ExtraDetails{"Source": "iptables-nft", "Family": "ipv4", "Table": "filter", "Hook": hook, "ChainPolicy": "true"}}
}

func fwRule(chain, hook string, idx int, action, src, dport string, extra ...string) *event.FirewallRulePayload {
	dir := event.DirectionIn
	if hook == "output" {
		dir = event.DirectionOut
	}
	x := event.ExtraDetails{"Source": "iptables-nft", "Family": "ipv4", "Table": "filter", "Hook": hook}
	for i := 0; i+1 < len(extra); i += 2 {
		x[extra[i]] = extra[i+1]
	}
	return &event.FirewallRulePayload{Priority: idx, Direction: dir, ChainName: chain, Enabled: true, Action: action,
		SourceAddress: src, DestinationPort: dport, Protocol: "TCP", ExtraDetails: x}
}

func snap(name string, at time.Time, items ...event.Item) event.Event {
	return event.Must(name, at, items...)
}
