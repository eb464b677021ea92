package detect

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgesec/edgesec/event"
)

// maxSnapshotItems bounds the items kept of one snapshot; beyond it the
// snapshot is evaluated as truncated (counted in Stats.FindingsDropped).
const maxSnapshotItems = 20000

// snapshot assembles a periodic snapshot that a collector may have split
// into several events with the same time (collector.Split).
type snapshot struct {
	t       time.Time
	items   []event.Item
	arrived time.Time
	pending bool
}

// add takes one part. When the part starts a new snapshot while the
// previous one is still pending, the previous items are returned to be
// evaluated first.
func (s *snapshot) add(ev *event.Event, now time.Time) (prev []event.Item, hadPrev bool, dropped int) {
	if !ev.Time.Equal(s.t) || !s.pending {
		if s.pending {
			prev, hadPrev = s.items, true
		}
		s.t, s.items, s.pending = ev.Time, nil, true
	}
	s.arrived = now
	room := maxSnapshotItems - len(s.items)
	if room < len(ev.Payload) {
		dropped = len(ev.Payload) - max(room, 0)
	}
	s.items = append(s.items, ev.Payload[:min(len(ev.Payload), max(room, 0))]...)
	return prev, hadPrev, dropped
}

// ready returns the items of a snapshot whose last part arrived at least
// settle ago, and marks it evaluated.
func (s *snapshot) ready(now time.Time, settle time.Duration) ([]event.Item, bool) {
	if !s.pending || now.Sub(s.arrived) < settle {
		return nil, false
	}
	s.pending = false
	items := s.items
	s.items = nil
	return items, true
}

var snapshotRuleList = []Rule{
	recRule(RecOpenPorts, "Open ports on device", event.AlertMedium,
		"A listening endpoint was found on the device.",
		"a ListeningPorts item (TCP or UDP) bound to a non-loopback address whose port is not allowed (BuiltinOptions.AllowedPorts); Resolved when the listener closes",
		"Close the port if it is not needed, or restrict who can reach it with the firewall.", event.ListeningPorts),
	recRule(RecPermissivePolicy, "Permissive firewall policy found in one of the chains", event.AlertMedium,
		"The default policy of an input or output chain is Allow; it should deny by default.",
		"a FirewallConfiguration chain policy item of an input or output chain with Action Allow, or an empty FirewallConfiguration snapshot (no firewall at all)",
		"Set the chain's policy to DROP after allowing the traffic the device needs.", event.FirewallConfiguration),
	recRule(RecPermissiveInputRules, "Permissive firewall rule in the input chain was found", event.AlertMedium,
		"An input rule allows a wide range of addresses and ports.",
		"an Allow rule of an input chain with any source (empty, 0.0.0.0/0, ::/0 or a prefix shorter than /8) and any destination port (or a range of more than 1024 ports), not restricted by interface or connection state",
		"Restrict the rule to the addresses and ports the device needs.", event.FirewallConfiguration),
	recRule(RecPermissiveOutputRules, "Permissive firewall rule in the output chain was found", event.AlertMedium,
		"An output rule allows a wide range of addresses and ports.",
		"an Allow rule of an output chain with any destination and any destination port (as for input rules)",
		"Restrict the rule to the addresses and ports the device needs.", event.FirewallConfiguration),
	recRule(RecBaseline, "Operating system baseline validation failure", event.AlertMedium,
		"The device fails OS baseline (CIS) checks.",
		"an OSBaseline snapshot with checks that Fail: one recommendation summarising them; Resolved when none fails",
		"Fix the failed checks listed in the evidence.", event.OSBaseline),
	recRule(RecPrivilegedDockerOptions, "High level permissions configured in IoT Edge model twin for IoT Edge module", event.AlertHigh,
		"A module runs privileged, with extensive Linux capabilities or with host networking.",
		"DeploymentRecommendation findings EDGE001 (privileged), EDGE002 (capabilities) or EDGE003 (host network), one per module",
		"Remove Privileged, the added capabilities and host networking from the module's createOptions.", event.DeploymentRecommendation),
	recRule(RecEdgeHubMemOptimize, "IoT Edge Hub memory can be optimized", event.AlertLow,
		"edgeHub protocol heads are enabled for protocols no module uses.",
		"DeploymentRecommendation finding EDGE021",
		"Disable the unused protocol heads in edgeHub's environment (amqpSettings__enabled, mqttSettings__enabled, httpSettings__enabled).", event.DeploymentRecommendation),
	recRule(RecEdgeLoggingOptions, "No logging configured for IoT Edge module", event.AlertLow,
		"Logging is disabled for a module.",
		"DeploymentRecommendation finding EDGE027",
		"Configure a bounded log driver (local or json-file with max-size) in the module's createOptions.", event.DeploymentRecommendation),
	recRule(RecACRAuthentication, "Service principal not used with ACR repository", event.AlertMedium,
		"Registry credentials are configured in a way ASC flagged (admin user, password in plain text).",
		"DeploymentRecommendation finding EDGE017 (registry password in plain text in the deployment)",
		"Use a service principal or token with pull-only rights for the registry.", event.DeploymentRecommendation),
	alertRule(RuleUSBConnection, "New USB Connection", event.AlertHigh, "ASC",
		"A USB mass storage or HID (keyboard, mouse) device was connected.",
		"a USB device with a mass storage or HID interface in a ConnectedHardware snapshot that the previous snapshot did not have",
		"Check that the device is expected; a rogue keyboard can type commands and a storage device can carry data off the device.", event.ConnectedHardware),
}

// deploymentMap maps DeploymentRecommendation rule ids to recommendations.
var deploymentMap = map[string]string{
	"EDGE001": RecPrivilegedDockerOptions, "EDGE002": RecPrivilegedDockerOptions, "EDGE003": RecPrivilegedDockerOptions,
	"EDGE021": RecEdgeHubMemOptimize, "EDGE027": RecEdgeLoggingOptions, "EDGE017": RecACRAuthentication,
}

type chainState struct {
	policy string
	rules  int
	hook   string
}

type snapshotRules struct {
	o        BuiltinOptions
	snaps    map[string]*snapshot
	chains   map[string]chainState
	fwSeen   bool
	fwEmpty  bool
	usb      map[string]string // key → description
	usbSeen  bool
	deploy   map[string][]*event.DeploymentRecommendationPayload // per Source
	trigger  map[string]string                                   // snapshot name → id of its last part
	allowed  map[string]bool
	maxItems int
}

func newSnapshotRules(o BuiltinOptions, n int) *snapshotRules {
	r := &snapshotRules{o: o, snaps: map[string]*snapshot{}, chains: map[string]chainState{}, usb: map[string]string{},
		deploy: map[string][]*event.DeploymentRecommendationPayload{}, trigger: map[string]string{}, allowed: map[string]bool{}, maxItems: n}
	for _, p := range o.AllowedPorts {
		r.allowed[strings.ToUpper(strings.TrimSpace(p))] = true
	}
	return r
}

func (r *snapshotRules) Rules() []Rule { return snapshotRuleList }

func (r *snapshotRules) Analyze(env *Env, ev *event.Event) {
	switch ev.Name {
	case event.ListeningPorts, event.FirewallConfiguration, event.ConnectedHardware, event.OSBaseline, event.DeploymentRecommendation:
	default:
		return
	}
	s := r.snaps[ev.Name]
	if s == nil {
		s = &snapshot{}
		r.snaps[ev.Name] = s
	}
	prev, had, dropped := s.add(ev, env.Now())
	env.s.stats.FindingsDropped += int64(dropped)
	if had {
		r.evaluate(env, ev.Name, prev)
	}
	r.trigger[ev.Name] = ev.ID
}

// NextTick implements TickScheduler: when the earliest pending snapshot
// will have settled.
func (r *snapshotRules) NextTick() time.Time {
	var next time.Time
	for _, s := range r.snaps {
		if at := s.arrived.Add(r.o.SnapshotSettle); s.pending && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// Tick evaluates the snapshots that are complete.
func (r *snapshotRules) Tick(env *Env) {
	names := make([]string, 0, len(r.snaps))
	for n := range r.snaps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if items, ok := r.snaps[n].ready(env.Now(), r.o.SnapshotSettle); ok {
			r.evaluate(env, n, items)
		}
	}
}

func (r *snapshotRules) evaluate(env *Env, name string, items []event.Item) {
	switch name {
	case event.ListeningPorts:
		r.listening(env, items)
	case event.FirewallConfiguration:
		r.firewall(env, items)
	case event.ConnectedHardware:
		r.hardware(env, items)
	case event.OSBaseline:
		r.baseline(env, items)
	case event.DeploymentRecommendation:
		r.deployment(env, items)
	}
}

func (r *snapshotRules) triggerIDs(name string) []string {
	if id := r.trigger[name]; event.ValidID(id) {
		return []string{id}
	}
	return nil
}

func (r *snapshotRules) listening(env *Env, items []event.Item) {
	var fs []Finding
	for _, it := range items {
		p, ok := it.(*event.ListeningPortsPayload)
		if !ok || p.Protocol != "TCP" && p.Protocol != "UDP" {
			continue
		}
		addr := p.LocalAddress
		if ip, err := netip.ParseAddr(addr); err == nil && ip.Unmap().IsLoopback() {
			continue
		}
		x := p.ExtraDetails
		exe := x[keyExecutable]
		if toolName(base(exe)) == "dockerd" && p.Protocol == "TCP" && (p.LocalPort == "2375" || p.LocalPort == "2376") {
			a := &event.SecurityAlertPayload{Executable: exe, CommandLine: x[keyCommandLine], LocalPort: p.LocalPort,
				TriggerEventIDs: r.triggerIDs(event.ListeningPorts), TriggerEventNames: []string{event.ListeningPorts},
				Description: fmt.Sprintf("dockerd listens on TCP %s port %s", orName(addr, "*"), p.LocalPort)}
			a.ProcessID, _ = strconv.Atoi(x[keyProcessID])
			env.Alert(RuleExposedDocker, "dockerd "+addr+":"+p.LocalPort, a)
		}
		if r.allowed[p.LocalPort] || r.allowed[p.Protocol+"/"+p.LocalPort] {
			continue
		}
		shown := addr
		if strings.Contains(addr, ":") {
			shown = "[" + addr + "]"
		}
		if shown == "" {
			shown = "*"
		}
		entity := p.Protocol + " " + shown + ":" + p.LocalPort
		owner := "an unknown process"
		if exe != "" {
			owner = fmt.Sprintf("%s (pid %s", exe, x[keyProcessID])
			if u := x[keyUserName]; u != "" {
				owner += ", user " + u
			}
			if m := x[keyModuleName]; m != "" {
				owner += ", module " + m
			} else if c := x[keyContainerID]; c != "" {
				owner += ", container " + shortID(c)
			}
			owner += ")"
		}
		extra := event.ExtraDetails{}
		for _, k := range []string{keyExecutable, keyProcessID, keyUserName, keyContainerID, keyModuleName} {
			if v := x[k]; v != "" {
				extra[k] = v
			}
		}
		if len(extra) == 0 {
			extra = nil
		}
		fs = append(fs, Finding{Entity: entity, Evidence: fmt.Sprintf("%s listens on %s %s:%s", owner, p.Protocol, shown, p.LocalPort), ExtraDetails: extra})
	}
	env.Recommend(RecOpenPorts, fs)
}

func chainKey(p *event.FirewallRulePayload) string {
	x := p.ExtraDetails
	return strings.TrimSpace(x[keySource] + " " + x[keyFamily] + " " + x[keyTable] + " " + p.ChainName)
}

func hookOf(p *event.FirewallRulePayload) string {
	if h := p.ExtraDetails[keyHook]; h != "" {
		return h
	}
	switch p.Direction {
	case event.DirectionIn:
		return "input"
	case event.DirectionOut:
		return "output"
	}
	switch p.ChainName {
	case "INPUT":
		return "input"
	case "OUTPUT":
		return "output"
	case "FORWARD":
		return "forward"
	}
	return ""
}

func (r *snapshotRules) firewall(env *Env, items []event.Item) {
	chains := map[string]chainState{}
	var policy, input, output []Finding
	for _, it := range items {
		p, ok := it.(*event.FirewallRulePayload)
		if !ok {
			continue
		}
		k := chainKey(p)
		st := chains[k]
		st.hook = hookOf(p)
		x := p.ExtraDetails
		if x[keyPolicy] == "true" {
			st.policy = p.Action
			if p.Action == event.ActionAllow && (st.hook == "input" || st.hook == "output") && p.Enabled {
				policy = append(policy, Finding{Entity: k, Evidence: fmt.Sprintf("the %s chain %s accepts by default", st.hook, k)})
			}
		} else {
			st.rules++
			if f, ok := permissiveRule(p, k, st.hook); ok {
				if st.hook == "input" {
					input = append(input, f)
				} else {
					output = append(output, f)
				}
			}
		}
		chains[k] = st
	}
	if len(items) == 0 {
		policy = append(policy, Finding{Entity: "no firewall", Evidence: "no firewall rule or chain is loaded: every packet is accepted"})
	}
	// Diff with the previous snapshot: Disable firewall.
	if r.fwSeen {
		var changes []string
		for k, old := range r.chains {
			if old.hook != "input" && old.hook != "output" && old.hook != "forward" {
				continue
			}
			cur, ok := chains[k]
			switch {
			case ok && old.policy != "" && old.policy != event.ActionAllow && cur.policy == event.ActionAllow:
				changes = append(changes, fmt.Sprintf("the policy of %s changed from %s to Allow", k, old.policy))
			case ok && old.rules > 0 && cur.rules == 0:
				changes = append(changes, fmt.Sprintf("the %d rules of %s were flushed", old.rules, k))
			}
		}
		if len(items) == 0 && !r.fwEmpty && len(r.chains) > 0 {
			changes = append(changes, "every firewall rule and chain was removed")
		}
		sort.Strings(changes)
		if len(changes) > 0 {
			a := &event.SecurityAlertPayload{TriggerEventIDs: r.triggerIDs(event.FirewallConfiguration), TriggerEventNames: []string{event.FirewallConfiguration},
				Description: "firewall snapshot: " + strings.Join(changes, "; ")}
			env.Alert(RuleDisableFirewall, "snapshot "+strings.Join(changes, ";"), a)
		}
	}
	r.chains, r.fwSeen, r.fwEmpty = chains, true, len(items) == 0
	env.Recommend(RecPermissivePolicy, policy)
	env.Recommend(RecPermissiveInputRules, input)
	env.Recommend(RecPermissiveOutputRules, output)
}

// permissiveRule reports whether an Allow rule is wide open.
func permissiveRule(p *event.FirewallRulePayload, chain, hook string) (Finding, bool) {
	if p.Action != event.ActionAllow || !p.Enabled || hook != "input" && hook != "output" {
		return Finding{}, false
	}
	x := p.ExtraDetails
	if x[keyState] != "" || x[keyInInterface] != "" || x[keyOutInterface] != "" || x[keyUndecoded] == "true" || x[keyPorts] != "" {
		return Finding{}, false
	}
	if pr := strings.ToLower(p.Protocol); strings.HasPrefix(pr, "icmp") || pr == "ipv6-icmp" {
		return Finding{}, false
	}
	addr, port := p.SourceAddress, p.DestinationPort
	if hook == "output" {
		addr = p.DestinationAddress
	}
	if !wideAddress(addr) || !widePort(port) || hook == "input" && !wideAddress(p.DestinationAddress) {
		return Finding{}, false
	}
	rule := x[keyRule]
	if rule == "" {
		rule = fmt.Sprintf("#%d", p.Priority)
	}
	return Finding{Entity: chain + " " + rule,
		Evidence: fmt.Sprintf("rule %d of %s allows %s from %s to port %s", p.Priority, chain, orName(p.Protocol, "any protocol"),
			orName(p.SourceAddress, "any address"), orName(p.DestinationPort, "any"))}, true
}

func wideAddress(a string) bool {
	a = strings.TrimSpace(a)
	if a == "" || a == "*" || a == "any" {
		return true
	}
	pfx, err := netip.ParsePrefix(a)
	return err == nil && pfx.Bits() < 8
}

func widePort(p string) bool {
	p = strings.TrimSpace(p)
	if p == "" || p == "*" || p == "any" {
		return true
	}
	lo, hi, ok := strings.Cut(p, "-")
	if !ok {
		lo, hi, ok = strings.Cut(p, ":")
	}
	if !ok {
		return false
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	return err1 == nil && err2 == nil && b-a+1 > 1024
}

func (r *snapshotRules) hardware(env *Env, items []event.Item) {
	cur := map[string]string{}
	for _, it := range items {
		p, ok := it.(*event.ConnectedHardwarePayload)
		if !ok {
			continue
		}
		x := p.ExtraDetails
		storage, hid := x[keyMassStorage] == "true", x[keyHID] == "true"
		if !storage && !hid {
			continue
		}
		key := strings.Join([]string{x[keyPort], x[keyVendorID], x[keyProductID], x[keySerialNumber], p.HardwareName}, "|")
		kind := "HID"
		if storage {
			kind = "mass storage"
		}
		if x[keyKeyboard] == "true" {
			kind = "keyboard"
		}
		if len(cur) < r.maxItems {
			cur[key] = fmt.Sprintf("%s device %s (%s:%s, port %s)", kind, strings.TrimSpace(p.HardwareName+" "+x[keyManufacturer]+" "+x[keyProduct]),
				x[keyVendorID], x[keyProductID], orName(x[keyPort], "?"))
		}
	}
	if r.usbSeen {
		keys := make([]string, 0)
		for k := range cur {
			if _, had := r.usb[k]; !had {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			a := &event.SecurityAlertPayload{TriggerEventIDs: r.triggerIDs(event.ConnectedHardware), TriggerEventNames: []string{event.ConnectedHardware},
				Description: "a USB " + cur[k] + " was connected"}
			env.Alert(RuleUSBConnection, k, a)
		}
	}
	r.usb, r.usbSeen = cur, true
}

func (r *snapshotRules) baseline(env *Env, items []event.Item) {
	var failed []string
	worst := ""
	rank := map[string]int{event.SeverityCritical: 4, event.SeverityImportant: 3, event.SeverityWarning: 2, event.SeverityInformational: 1}
	for _, it := range items {
		p, ok := it.(*event.OSBaselinePayload)
		if !ok || p.Result != event.BaselineFail {
			continue
		}
		failed = append(failed, fmt.Sprintf("%s %s (%s)", p.CceID, p.Description, p.Severity))
		if rank[p.Severity] > rank[worst] {
			worst = p.Severity
		}
	}
	if len(failed) == 0 {
		env.Recommend(RecBaseline, nil)
		return
	}
	sort.Strings(failed)
	shown := failed
	if len(shown) > 10 {
		shown = append(shown[:10:10], fmt.Sprintf("and %d more", len(failed)-10))
	}
	env.Recommend(RecBaseline, []Finding{{Entity: "OSBaseline",
		Evidence:     fmt.Sprintf("%d failed checks: %s", len(failed), strings.Join(shown, "; ")),
		ExtraDetails: event.ExtraDetails{"FailedChecks": strconv.Itoa(len(failed)), "WorstSeverity": worst}}})
}

func (r *snapshotRules) deployment(env *Env, items []event.Item) {
	if len(items) == 0 {
		clear(r.deploy)
	}
	bySource := map[string][]*event.DeploymentRecommendationPayload{}
	for _, it := range items {
		if p, ok := it.(*event.DeploymentRecommendationPayload); ok {
			bySource[p.Source] = append(bySource[p.Source], p)
		}
	}
	for s, ps := range bySource {
		r.deploy[s] = ps
	}
	found := map[string][]Finding{}
	for _, ps := range r.deploy {
		for _, p := range ps {
			id, ok := deploymentMap[p.RuleID]
			if !ok {
				continue
			}
			entity := orName(p.Module, "deployment") + " " + p.RuleID
			ev := p.Title
			if p.Evidence != "" {
				ev += ": " + p.Evidence
			}
			if p.Source != "" {
				ev += " (" + p.Source + ")"
			}
			found[id] = append(found[id], Finding{Entity: entity, Evidence: ev})
		}
	}
	for _, id := range []string{RecPrivilegedDockerOptions, RecEdgeHubMemOptimize, RecEdgeLoggingOptions, RecACRAuthentication} {
		env.Recommend(id, found[id])
	}
}
