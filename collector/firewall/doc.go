// Package firewall is the FirewallConfiguration collector: a periodic
// snapshot of the host's packet filter, one payload item per rule and one
// per chain policy.
//
// # Sources
//
//   - iptables, legacy backend (x_tables): the output of
//     iptables-legacy-save and ip6tables-legacy-save, parsed by
//     [ParseIPTablesSave]. They run only when /proc/net/ip_tables_names
//     (ip6_tables_names) lists a table, so the collector neither execs
//     for nothing nor makes the kernel load x_tables modules.
//   - iptables, nft backend: iptables-nft-save and ip6tables-nft-save,
//     run only when nftables holds a table of the ip (ip6) family.
//   - nftables: the tables of the ip, ip6 and inet families read over
//     netlink with github.com/google/nftables; base chains of the filter
//     type (nat and route chains do not filter) and regular chains, their
//     policies and rules. Expressions are decoded into the item's fields:
//     protocol (meta l4proto, ip protocol, ip6 nexthdr), addresses
//     (with prefixes, ranges, and anonymous or named sets), ports (values,
//     ranges, sets), interfaces, conntrack state and the verdict. What is
//     not decoded (marks, rate limits, xt matches, ...) sets Undecoded
//     "true"; every nftables item carries in Rule a summary of all its
//     expressions.
//
// Tables that iptables-nft-save reported are not decoded again from
// nftables, so each rule is reported once, by the tool that wrote it
// (Source "iptables-legacy", "iptables-nft" or "nftables"). Without an
// iptables-save binary the iptables-nft tables are decoded from nftables
// (their xt matches are then Undecoded), and legacy tables are not read.
// Only the filter table of iptables is reported: nat, mangle and raw do
// not accept or drop traffic.
//
// # Items
//
// Priority is the 1-based position of the rule in its chain; a chain's
// policy is an item with the position after its last rule and
// ChainPolicy "true". Direction is In for chains on the input hook
// (INPUT), Out on the output hook (OUTPUT), and absent otherwise (FORWARD,
// user-defined and regular chains: ChainName tells). Action is Allow for
// ACCEPT/accept, Deny for DROP/REJECT/drop/reject, Other for everything
// else (jumps, returns, LOG, ...) with the target in ExtraDetails Target.
// Negated matches are written with a leading "!" (SourceAddress
// "!10.0.0.0/8"); port ranges "a-b" and lists "a,b". Enabled is always
// true: a loaded rule is in force. ExtraDetails also carries Source,
// Family, Table, Hook, and where set InInterface, OutInterface, Ports,
// State, Comment, Matches, TargetArgs and Rule (the iptables-save rule
// text, or the nftables expression summary).
//
// A host with no table at all gets an empty snapshot (IsEmpty); a host
// with tables but no rules gets the chain policies. A large ruleset is
// split into several events of at most Options.MaxEventBytes.
//
// # Network namespaces and containers
//
// The rules are those of the network namespace the collector runs in: an
// IoT Edge module must run with the host's network (network_mode host)
// to see the host's firewall. Options.NetNS names another namespace: the
// snapshot is then taken on a locked OS thread moved into it with setns,
// and the iptables-save children are forked from that thread, so they
// are born in it.
//
// iptables-save talks to the kernel, so the binary of the module's image
// works for the host's rules (keep its version close to the host's: an
// older iptables-nft may not decode rules a newer one wrote). When the
// image has none and Options.HostRoot is not "/", the host's binary under
// HostRoot is run chrooted there (with the host's libraries; this needs
// CAP_SYS_CHROOT). It still runs in the module's mount namespace, not the
// host's; iptables-save needs nothing from it but its libraries.
//
// # Privileges
//
// Reading nftables and iptables rules needs CAP_NET_ADMIN (in the user
// namespace owning the network namespace); Options.NetNS needs
// CAP_SYS_ADMIN. Without them Poll returns what it could read (often an
// empty snapshot) and an error that the engine reports as a Diagnostic.
// Each binary runs with a timeout (Options.CommandTimeout) and its output
// is bounded ([MaxCommandOutput]); the parser bounds line length and
// keeps the filter table's first [MaxSaveRules] rules, counting the rest
// in the error Poll returns with the snapshot.
package firewall
