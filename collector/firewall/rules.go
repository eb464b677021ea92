package firewall

import (
	"strings"

	"github.com/edgesec/edgesec/event"
)

// Sources of rules (ExtraDetails "Source").
const (
	SourceIPTablesLegacy = "iptables-legacy"
	SourceIPTablesNFT    = "iptables-nft"
	SourceNFTables       = "nftables"
)

// Families (ExtraDetails "Family").
const (
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
	FamilyInet = "inet"
)

// ExtraDetails keys of the FirewallConfiguration items.
const (
	KeySource       = "Source"       // SourceIPTablesLegacy, SourceIPTablesNFT or SourceNFTables
	KeyFamily       = "Family"       // FamilyIPv4, FamilyIPv6 or FamilyInet
	KeyTable        = "Table"        // the table, e.g. "filter"
	KeyHook         = "Hook"         // the netfilter hook of the chain: "input", "forward", "output", ...
	KeyPolicy       = "ChainPolicy"  // "true" on the item that is a chain's policy
	KeyTarget       = "Target"       // the target or verdict: "ACCEPT", "LOG", "jump:name", "return", ...
	KeyTargetArgs   = "TargetArgs"   // the target's options, e.g. "--reject-with icmp-port-unreachable"
	KeyInInterface  = "InInterface"  // input interface, "!" prefixed when negated
	KeyOutInterface = "OutInterface" // output interface
	KeyPorts        = "Ports"        // multiport --ports (source or destination)
	KeyState        = "State"        // conntrack state, e.g. "RELATED,ESTABLISHED"
	KeyComment      = "Comment"      // the rule's comment
	KeyMatches      = "Matches"      // iptables -m modules, comma separated
	KeyRule         = "Rule"         // the rule as iptables-save wrote it, or a summary of its nftables expressions
	KeyUndecoded    = "Undecoded"    // "true" when parts of the rule are only in Rule
)

// Rule is one firewall rule or chain policy in the collector's common
// model, from any source. It becomes one FirewallConfiguration item.
type Rule struct {
	Source string // SourceIPTablesLegacy, SourceIPTablesNFT, SourceNFTables
	Family string // FamilyIPv4, FamilyIPv6, FamilyInet
	Table  string
	Chain  string
	// Hook is the chain's netfilter hook ("input", "output", "forward",
	// "prerouting", "postrouting"), empty for a chain without one (a
	// user-defined iptables chain, a regular nftables chain).
	Hook string
	// Index is the 1-based position of the rule in its chain; a policy
	// has the position after the last rule (it applies when no rule
	// decided).
	Index int
	// Policy is true for the item that stands for a chain's policy.
	Policy bool
	// Action is event.ActionAllow, event.ActionDeny or event.ActionOther.
	Action string
	// Target is the target or verdict as the source names it.
	Target, TargetArgs string
	Protocol           string
	SourceAddress      string
	DestinationAddress string
	SourcePort         string
	DestinationPort    string
	Extra              map[string]string
}

// Item maps r to a FirewallConfiguration payload item: Priority is
// Index, Direction In for input hooks and Out for output hooks (none for
// the others), Enabled is always true (a loaded rule is in force).
func (r *Rule) Item() *event.FirewallRulePayload {
	p := &event.FirewallRulePayload{
		Priority:           r.Index,
		ChainName:          r.Chain,
		Enabled:            true,
		Action:             r.Action,
		SourceAddress:      r.SourceAddress,
		DestinationAddress: r.DestinationAddress,
		SourcePort:         r.SourcePort,
		DestinationPort:    r.DestinationPort,
		Protocol:           strings.ToUpper(r.Protocol),
		ExtraDetails:       event.ExtraDetails{KeySource: r.Source, KeyFamily: r.Family, KeyTable: r.Table},
	}
	switch r.Hook {
	case "input":
		p.Direction = event.DirectionIn
	case "output":
		p.Direction = event.DirectionOut
	}
	x := p.ExtraDetails
	if r.Hook != "" {
		x[KeyHook] = r.Hook
	}
	if r.Policy {
		x[KeyPolicy] = "true"
	}
	if r.Target != "" {
		x[KeyTarget] = r.Target
	}
	if r.TargetArgs != "" {
		x[KeyTargetArgs] = r.TargetArgs
	}
	for k, v := range r.Extra {
		if v != "" {
			x[k] = v
		}
	}
	return p
}

// iptablesHooks are the hooks of the built-in chains.
var iptablesHooks = map[string]string{
	"INPUT": "input", "OUTPUT": "output", "FORWARD": "forward",
	"PREROUTING": "prerouting", "POSTROUTING": "postrouting",
}

// targetAction maps an iptables target to an action.
func targetAction(target string) string {
	switch target {
	case "ACCEPT":
		return event.ActionAllow
	case "DROP", "REJECT":
		return event.ActionDeny
	}
	return event.ActionOther
}

// SaveRules maps the filter table of an iptables-save dump to rules:
// every rule of every chain, then each built-in chain's policy. source
// is SourceIPTablesLegacy or SourceIPTablesNFT, family FamilyIPv4 or
// FamilyIPv6. Tables other than filter are left out (they do not filter;
// see the package documentation).
func SaveRules(d *SaveDump, source, family string) []Rule {
	var out []Rule
	for _, t := range d.Tables {
		if t.Name != "filter" {
			continue
		}
		for _, c := range t.Chains {
			hook := iptablesHooks[c.Name]
			for i, sr := range c.Rules {
				r := Rule{
					Source: source, Family: family, Table: t.Name, Chain: c.Name, Hook: hook, Index: i + 1,
					Action: targetAction(sr.Target), Target: sr.Target, TargetArgs: sr.TargetArgs,
					Protocol: sr.Protocol, SourceAddress: sr.Source, DestinationAddress: sr.Destination,
					SourcePort: sr.SourcePort, DestinationPort: sr.DestinationPort,
					Extra: map[string]string{
						KeyRule: sr.Args, KeyInInterface: sr.InInterface, KeyOutInterface: sr.OutInterface,
						KeyPorts: sr.Ports, KeyState: sr.States, KeyComment: sr.Comment,
						KeyMatches: strings.Join(sr.Matches, ","),
					},
				}
				if r.Protocol == "all" {
					r.Protocol = ""
				}
				if sr.Goto {
					r.Target = "goto:" + sr.Target
				}
				out = append(out, r)
			}
			if c.Policy != "" {
				out = append(out, Rule{
					Source: source, Family: family, Table: t.Name, Chain: c.Name, Hook: hook,
					Index: len(c.Rules) + 1, Policy: true, Action: targetAction(c.Policy), Target: c.Policy,
				})
			}
		}
	}
	return out
}
