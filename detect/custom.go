package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// Custom alert types, ASC's ruleType names. The list types take Allow (an
// allow list: alert on anything else, as ASC's allowlistRules did) or Deny
// (a deny list: alert on these, as its denylistRules). The range types
// take Min, Max and Window: the count of the window is checked when the
// window closes (tumbling windows per device, as ASC's timeWindowRules).
const (
	CustomProcessNotAllowed                  = "ProcessNotAllowed"
	CustomConnectionToIPNotAllowed           = "ConnectionToIpNotAllowed"
	CustomConnectionFromIPNotAllowed         = "ConnectionFromIpNotAllowed"
	CustomLocalUserNotAllowed                = "LocalUserNotAllowed"
	CustomActiveConnectionsNotInAllowedRange = "ActiveConnectionsNotInAllowedRange"
	CustomFailedLocalLoginsNotInAllowedRange = "FailedLocalLoginsNotInAllowedRange"
	CustomProcessesNotInAllowedRange         = "ProcessesNotInAllowedRange"
	CustomOutboundConnectionsNotInRange      = "OutboundConnectionsNotInAllowedRange"
)

// CustomAlert is one custom alert rule of the twin's customAlerts array.
//
//	[{"type": "ProcessNotAllowed", "allow": ["sshd", "/usr/bin/*"]},
//	 {"type": "ConnectionToIpNotAllowed", "allow": ["10.0.0.0/8"]},
//	 {"type": "FailedLocalLoginsNotInAllowedRange", "min": 0, "max": 2, "window": "PT5M"}]
type CustomAlert struct {
	// Type is one of the Custom* constants.
	Type string `json:"type"`
	// Enabled is false to keep a rule configured but off (ASC's isEnabled);
	// absent means enabled.
	Enabled *bool `json:"isEnabled,omitempty"`
	// Allow and Deny are the list rules' values: process names (a base
	// name, or a path when it contains "/"; shell globs allowed), IPs or
	// CIDRs, or user names. Exactly one of them is set.
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
	// Min, Max and Window configure the range rules: Window is an ISO 8601
	// duration (e.g. "PT5M").
	Min    *int   `json:"min,omitempty"`
	Max    *int   `json:"max,omitempty"`
	Window string `json:"window,omitempty"`
}

// CustomTypes returns the custom alert types with their display names.
func CustomTypes() []Rule { return append([]Rule(nil), customRules...) }

var customRules = []Rule{
	customRuleInfo(CustomProcessNotAllowed, "A process was executed that is not allowed", "a ProcessCreate whose executable is not in the allow list (or is in the deny list)", event.ProcessCreate),
	customRuleInfo(CustomConnectionToIPNotAllowed, "Outbound connection created to an IP that isn't allowed", "an outbound ConnectionCreate to an address outside the allowed CIDRs (or inside the denied ones); loopback is ignored", event.ConnectionCreate),
	customRuleInfo(CustomConnectionFromIPNotAllowed, "Inbound connection created from an IP that isn't allowed", "an inbound ConnectionCreate from an address outside the allowed CIDRs (or inside the denied ones); loopback is ignored", event.ConnectionCreate),
	customRuleInfo(CustomLocalUserNotAllowed, "Login by a local user that isn't allowed", "a successful Login of a user name not in the allow list (or in the deny list)", event.Login),
	customRuleInfo(CustomActiveConnectionsNotInAllowedRange, "Number of active connections is outside the allowed range", "the ConnectionCreate count of a window is below min or above max", event.ConnectionCreate),
	customRuleInfo(CustomFailedLocalLoginsNotInAllowedRange, "Number of failed local logins is outside the allowed range", "the failed Login count of a window is below min or above max", event.Login),
	customRuleInfo(CustomProcessesNotInAllowedRange, "Number of processes started is outside the allowed range", "the ProcessCreate count of a window is below min or above max", event.ProcessCreate),
	customRuleInfo(CustomOutboundConnectionsNotInRange, "Number of outbound connections is outside the allowed range", "the outbound ConnectionCreate count of a window is below min or above max", event.ConnectionCreate),
}

func customRuleInfo(typ, name, trigger, input string) Rule {
	return Rule{ID: "Custom_" + typ, Name: name, Kind: KindAlert, Severity: event.AlertLow, Origin: "Custom",
		Description: name + ".", Trigger: trigger, Inputs: []string{input},
		Remediation: "Check whether the activity is legitimate; if it is, extend the custom alert's list or range in the twin (customAlerts)."}
}

// compiled custom rule.
type customRule struct {
	CustomAlert
	id      string
	idx     int
	deny    bool
	names   []string
	nets    []netip.Prefix
	lo, hi  int
	window  time.Duration
	exact   map[string]bool // names without glob characters
	globs   []string        // the others
	start   time.Time
	count   int
	trigger []string
}

func compileCustom(in []CustomAlert) ([]*customRule, error) {
	var out []*customRule
	var errs []error
	bad := func(i int, format string, a ...any) {
		errs = append(errs, &ConfigError{Key: KeyCustomAlerts, Err: fmt.Errorf("rule %d: "+format, append([]any{i}, a...)...)})
	}
	for i, c := range in {
		r := &customRule{CustomAlert: c, id: "Custom_" + c.Type, idx: i}
		switch c.Type {
		case CustomProcessNotAllowed, CustomLocalUserNotAllowed, CustomConnectionToIPNotAllowed, CustomConnectionFromIPNotAllowed:
			if (len(c.Allow) == 0) == (len(c.Deny) == 0) {
				bad(i, "%s needs exactly one of allow and deny", c.Type)
				continue
			}
			if c.Min != nil || c.Max != nil || c.Window != "" {
				bad(i, "%s takes no min, max or window", c.Type)
				continue
			}
			vals := c.Allow
			if len(c.Deny) > 0 {
				r.deny, vals = true, c.Deny
			}
			ok := true
			for _, v := range vals {
				v = strings.TrimSpace(v)
				switch c.Type {
				case CustomConnectionToIPNotAllowed, CustomConnectionFromIPNotAllowed:
					p, err := parsePrefix(v)
					if err != nil {
						bad(i, "%q is not an IP address or CIDR", v)
						ok = false
						continue
					}
					r.nets = append(r.nets, p)
				default:
					if v == "" {
						bad(i, "empty value")
						ok = false
						continue
					}
					if _, err := path.Match(v, ""); err != nil {
						bad(i, "pattern %q: %v", v, err)
						ok = false
						continue
					}
					r.names = append(r.names, v)
					if strings.ContainsAny(v, "*?[\\") {
						r.globs = append(r.globs, v)
					} else {
						if r.exact == nil {
							r.exact = map[string]bool{}
						}
						r.exact[v] = true
					}
				}
			}
			if !ok {
				continue
			}
		case CustomActiveConnectionsNotInAllowedRange, CustomFailedLocalLoginsNotInAllowedRange, CustomProcessesNotInAllowedRange, CustomOutboundConnectionsNotInRange:
			if len(c.Allow) > 0 || len(c.Deny) > 0 {
				bad(i, "%s takes no allow or deny list", c.Type)
				continue
			}
			if c.Min == nil || c.Max == nil || c.Window == "" {
				bad(i, "%s needs min, max and window", c.Type)
				continue
			}
			if *c.Min < 0 || *c.Max < *c.Min {
				bad(i, "range [%d, %d] is not 0 <= min <= max", *c.Min, *c.Max)
				continue
			}
			d, err := twinconfig.ParseDuration(c.Window)
			if err != nil || d < time.Minute {
				bad(i, "window %q is not an ISO 8601 duration of at least PT1M", c.Window)
				continue
			}
			r.lo, r.hi, r.window = *c.Min, *c.Max, d
		case "":
			bad(i, "missing type")
			continue
		default:
			bad(i, "unknown type %q", c.Type)
			continue
		}
		if c.Enabled != nil && !*c.Enabled {
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// customAnalyzer runs the configured custom alerts.
type customAnalyzer struct {
	rules      []*customRule
	maxTrigger int
}

func newCustomAnalyzer(int) *customAnalyzer { return &customAnalyzer{maxTrigger: 8} }

func (c *customAnalyzer) set(rules []*customRule, now time.Time) {
	for _, r := range rules {
		r.start = now
	}
	c.rules = rules
}

func (c *customAnalyzer) Rules() []Rule { return CustomTypes() }

func (c *customAnalyzer) Analyze(env *Env, ev *event.Event) {
	if len(c.rules) == 0 {
		return
	}
	for _, r := range c.rules {
		for _, it := range ev.Payload {
			c.item(env, ev, r, it)
		}
	}
}

func (c *customAnalyzer) count(ev *event.Event, r *customRule) {
	r.count++
	if len(r.trigger) < c.maxTrigger {
		r.trigger = append(r.trigger, ev.ID)
	}
}

func (c *customAnalyzer) item(env *Env, ev *event.Event, r *customRule, it event.Item) {
	switch p := it.(type) {
	case *event.ProcessCreatePayload:
		switch r.Type {
		case CustomProcessesNotInAllowedRange:
			c.count(ev, r)
		case CustomProcessNotAllowed:
			if r.listed(p.Executable) != r.deny {
				return
			}
			a := procAlert(p)
			a.Description = fmt.Sprintf("%s was executed; it is %s", p.Executable, r.why())
			env.Alert(r.id, strconv.Itoa(r.idx)+" "+p.Executable, a)
		}
	case *event.ConnectionCreatePayload:
		switch r.Type {
		case CustomActiveConnectionsNotInAllowedRange:
			c.count(ev, r)
		case CustomOutboundConnectionsNotInRange:
			if p.Direction == event.DirectionOut {
				c.count(ev, r)
			}
		case CustomConnectionToIPNotAllowed, CustomConnectionFromIPNotAllowed:
			want := event.DirectionOut
			if r.Type == CustomConnectionFromIPNotAllowed {
				want = event.DirectionIn
			}
			if p.Direction != want {
				return
			}
			ip, err := netip.ParseAddr(p.RemoteAddress)
			if err != nil {
				return
			}
			ip = ip.Unmap()
			if ip.IsLoopback() || ip.IsUnspecified() {
				return
			}
			if r.inNets(ip) != r.deny {
				return
			}
			a := &event.SecurityAlertPayload{Executable: p.Executable, CommandLine: p.CommandLine, UserID: p.UserID, ProcessID: p.ProcessID,
				RemoteAddress: ip.String(), RemotePort: p.RemotePort, LocalPort: p.LocalPort,
				ContainerID: p.ExtraDetails[keyContainerID], ModuleName: p.ExtraDetails[keyModuleName]}
			dir := "to"
			if want == event.DirectionIn {
				dir = "from"
			}
			a.Description = fmt.Sprintf("%s connection %s %s (port %s) by %s; the address is %s", strings.ToLower(p.Direction)+"bound", dir, ip, p.RemotePort, orUnknown(p.Executable), r.why())
			env.Alert(r.id, strconv.Itoa(r.idx)+" "+ip.String()+" "+p.Executable, a)
		}
	case *event.LoginPayload:
		switch r.Type {
		case CustomFailedLocalLoginsNotInAllowedRange:
			if p.Result == event.LoginFail {
				c.count(ev, r)
			}
		case CustomLocalUserNotAllowed:
			if p.Result != event.LoginSuccess || p.UserName == "" || p.ExtraDetails[keyInvalidUser] == "true" {
				return
			}
			if r.listedName(p.UserName) != r.deny {
				return
			}
			a := loginAlert(p)
			a.Description = fmt.Sprintf("%s logged in; the user is %s", p.UserName, r.why())
			env.Alert(r.id, strconv.Itoa(r.idx)+" "+p.UserName, a)
		}
	}
}

func (r *customRule) why() string {
	if r.deny {
		return "in the custom alert's deny list"
	}
	return "not in the custom alert's allow list"
}

// listed reports whether an executable matches the rule's names.
func (r *customRule) listed(exe string) bool {
	base := path.Base(exe)
	if r.exact[base] || r.exact[exe] {
		return true
	}
	for _, n := range r.globs {
		target := base
		if strings.Contains(n, "/") {
			target = exe
		}
		if ok, _ := path.Match(n, target); ok {
			return true
		}
	}
	return false
}

func (r *customRule) listedName(name string) bool {
	for _, n := range r.names {
		if ok, _ := path.Match(n, name); ok {
			return true
		}
	}
	return false
}

func (r *customRule) inNets(ip netip.Addr) bool {
	for _, n := range r.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// NextTick implements TickScheduler: when the earliest window of a range
// rule closes.
func (c *customAnalyzer) NextTick() time.Time {
	var next time.Time
	for _, r := range c.rules {
		if at := r.start.Add(r.window); r.window > 0 && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// Tick closes the windows of the range rules.
func (c *customAnalyzer) Tick(env *Env) {
	now := env.Now()
	for _, r := range c.rules {
		if r.window == 0 || now.Sub(r.start) < r.window {
			continue
		}
		if r.count < r.lo || r.count > r.hi {
			a := &event.SecurityAlertPayload{TriggerEventIDs: validIDs(r.trigger),
				Description: fmt.Sprintf("%d in the %s window ending %s; the allowed range is [%d, %d]",
					r.count, twinconfig.FormatDuration(r.window), event.FormatUTC(r.start.Add(r.window)), r.lo, r.hi),
				ExtraDetails: event.ExtraDetails{"Count": strconv.Itoa(r.count), "Min": strconv.Itoa(r.lo), "Max": strconv.Itoa(r.hi),
					"Window": twinconfig.FormatDuration(r.window)}}
			env.Alert(r.id, strconv.Itoa(r.idx), a)
		}
		// Tumbling windows aligned on the configuration time.
		n := now.Sub(r.start) / r.window
		r.start = r.start.Add(n * r.window)
		r.count, r.trigger = 0, r.trigger[:0]
	}
}

func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if event.ValidID(id) {
			out = append(out, id)
		}
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown process"
	}
	return s
}
