package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

// needTools skips the test unless it runs as root with ip and the named
// binaries.
func needTools(t *testing.T, bins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and loads firewall rules into it")
	}
	for _, b := range append([]string{"ip"}, bins...) {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s (apt-get install iptables nftables iproute2): %v", b, err)
		}
	}
}

// newNetNS creates a network namespace, deleted when the test ends, and
// returns its name and path.
func newNetNS(t *testing.T) (name, path string) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name = "edgesec-fw-" + hex.EncodeToString(b[:])
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	require.NoError(t, err, "ip netns add: %s", out)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name, "/run/netns/" + name
}

// load runs a restore command inside the namespace with input on stdin.
func load(t *testing.T, ns, input string, argv ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v: %s", argv, out)
}

const legacyRules = `*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p udp -m multiport --dports 53,5000:5010 -j ACCEPT
COMMIT
`

const nftBackendRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:custom - [0:0]
-A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset
-A FORWARD -j custom
-A OUTPUT -d 203.0.113.9/32 -j DROP
-A custom -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`

const nft6BackendRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A OUTPUT -d 2001:db8::/32 -p tcp -m tcp --dport 443 -j ACCEPT
COMMIT
`

const nativeRules = `table inet edge {
	set allowed {
		type ipv4_addr
		flags interval
		elements = { 192.0.2.0/24, 198.51.100.10 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
		ct state established,related accept
		tcp dport { 22, 443 } accept
		ip saddr @allowed udp dport 5000-5010 accept
		ip6 saddr 2001:db8::/32 tcp dport 8883 accept
		ip saddr 10.0.0.0/8 counter drop
		ip saddr 172.16.0.0/12 tcp sport != 1024 reject
		tcp dport 23 jump sub
		meta l4proto icmp limit rate 1/second accept
	}
	chain sub {
		log prefix "telnet " drop
	}
	chain out {
		type filter hook output priority filter; policy accept;
		ip daddr 203.0.113.9 drop
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8080 redirect to :80
	}
}
table ip6 v6only {
	chain forwarding {
		type filter hook forward priority 0; policy drop;
		oifname "eth*" ip6 daddr != ::1 accept
	}
}
`

var wantNative = []string{
	"nftables/inet/edge input#1 In Allow  : > : [Hook=input InInterface=lo Target=accept]",
	"nftables/inet/edge input#2 In Allow  : > : [Hook=input State=established,related Target=accept]",
	"nftables/inet/edge input#3 In Allow TCP : > :22,443 [Hook=input Target=accept]",
	"nftables/inet/edge input#4 In Allow UDP 192.0.2.0/24,198.51.100.10: > :5000-5010 [Hook=input Target=accept]",
	"nftables/inet/edge input#5 In Allow TCP 2001:db8::/32: > :8883 [Hook=input Target=accept]",
	"nftables/inet/edge input#6 In Deny  10.0.0.0/8: > : [Hook=input Target=drop]",
	"nftables/inet/edge input#7 In Deny TCP 172.16.0.0/12:!1024 > : [Hook=input Target=reject]",
	"nftables/inet/edge input#8 In Other TCP : > :23 [Hook=input Target=jump:sub]",
	"nftables/inet/edge input#9 In Allow ICMP : > : [Hook=input Target=accept Undecoded=true]",
	"nftables/inet/edge input#10 In Deny  : > : [ChainPolicy=true Hook=input Target=drop]",
	"nftables/inet/edge sub#1  Deny  : > : [Log=true Target=drop]",
	"nftables/inet/edge out#1 Out Deny  : > 203.0.113.9: [Hook=output Target=drop]",
	"nftables/inet/edge out#2 Out Allow  : > : [ChainPolicy=true Hook=output Target=accept]",
	"nftables/ipv6/v6only forwarding#1  Allow  : > !::1: [Hook=forward OutInterface=eth* Target=accept]",
	"nftables/ipv6/v6only forwarding#2  Deny  : > : [ChainPolicy=true Hook=forward Target=drop]",
}

var wantLegacy = []string{
	"iptables-legacy/ipv4/filter INPUT#1 In Allow  : > : [Hook=input InInterface=lo Target=ACCEPT]",
	"iptables-legacy/ipv4/filter INPUT#2 In Allow TCP 192.0.2.0/24: > :22 [Hook=input Matches=tcp Target=ACCEPT]",
	"iptables-legacy/ipv4/filter INPUT#3 In Allow UDP : > :53,5000-5010 [Hook=input Matches=multiport Target=ACCEPT]",
	"iptables-legacy/ipv4/filter INPUT#4 In Deny  : > : [ChainPolicy=true Hook=input Target=DROP]",
	"iptables-legacy/ipv4/filter FORWARD#1  Allow  : > : [ChainPolicy=true Hook=forward Target=ACCEPT]",
	"iptables-legacy/ipv4/filter OUTPUT#1 Out Allow  : > : [ChainPolicy=true Hook=output Target=ACCEPT]",
}

var wantNFTBackend = []string{
	"iptables-nft/ipv4/filter INPUT#1 In Deny TCP !10.0.0.0/8: > :8080 [Hook=input Matches=tcp Target=REJECT TargetArgs=--reject-with tcp-reset]",
	"iptables-nft/ipv4/filter INPUT#2 In Allow  : > : [ChainPolicy=true Hook=input Target=ACCEPT]",
	"iptables-nft/ipv4/filter FORWARD#1  Other  : > : [Hook=forward Target=custom]",
	"iptables-nft/ipv4/filter FORWARD#2  Deny  : > : [ChainPolicy=true Hook=forward Target=DROP]",
	"iptables-nft/ipv4/filter OUTPUT#1 Out Deny  : > 203.0.113.9/32: [Hook=output Target=DROP]",
	"iptables-nft/ipv4/filter OUTPUT#2 Out Allow  : > : [ChainPolicy=true Hook=output Target=ACCEPT]",
	"iptables-nft/ipv4/filter custom#1  Allow  : > : [Matches=conntrack State=RELATED,ESTABLISHED Target=ACCEPT]",
	"iptables-nft/ipv6/filter INPUT#1 In Allow  : > : [ChainPolicy=true Hook=input Target=ACCEPT]",
	"iptables-nft/ipv6/filter FORWARD#1  Allow  : > : [ChainPolicy=true Hook=forward Target=ACCEPT]",
	"iptables-nft/ipv6/filter OUTPUT#1 Out Allow TCP : > 2001:db8::/32:443 [Hook=output Matches=tcp Target=ACCEPT]",
	"iptables-nft/ipv6/filter OUTPUT#2 Out Deny  : > : [ChainPolicy=true Hook=output Target=DROP]",
}

// All three kinds of rules in one namespace: each rule is reported once,
// from the source that owns it, exactly as loaded; nothing of the test
// process's own namespace leaks in.
func TestNetNSAllBackends(t *testing.T) {
	needTools(t, "iptables-legacy-restore", "iptables-nft-restore", "ip6tables-nft-restore", "nft")
	ns, path := newNetNS(t)
	load(t, ns, legacyRules, "iptables-legacy-restore")
	load(t, ns, nftBackendRules, "iptables-nft-restore")
	load(t, ns, nft6BackendRules, "ip6tables-nft-restore")
	load(t, ns, nativeRules, "nft", "-f", "-")

	rules, err := New(Options{NetNS: path}).Rules(context.Background())
	require.NoError(t, err)
	var want []string
	want = append(want, wantLegacy...)
	want = append(want, wantNFTBackend...)
	want = append(want, wantNative...)
	assert.Equal(t, want, describeAll(rules))

	// The events of the snapshot validate.
	evs, err := New(Options{NetNS: path, MaxEventBytes: 2048}).Poll(context.Background())
	require.NoError(t, err)
	require.Greater(t, len(evs), 1, "a 2 KiB bound splits the snapshot")
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	n := 0
	for _, ev := range evs {
		require.NoError(t, v.ValidateEvent(ev))
		n += len(ev.Payload)
	}
	assert.Equal(t, len(want), n)
}

// Without iptables-save, iptables-nft's tables are decoded from nftables
// instead (and still reported once).
func TestNetNSWithoutIPTablesSave(t *testing.T) {
	needTools(t, "iptables-nft-restore")
	ns, path := newNetNS(t)
	load(t, ns, nftBackendRules, "iptables-nft-restore")
	rules, err := New(Options{NetNS: path, IPTables: &IPTablesOptions{Disabled: true}}).Rules(context.Background())
	require.NoError(t, err)
	got := describeAll(rules)
	for _, g := range got {
		assert.True(t, strings.HasPrefix(g, "nftables/ipv4/filter "), g)
	}
	assert.Contains(t, got, "nftables/ipv4/filter OUTPUT#1 Out Deny  : > 203.0.113.9: [Hook=output Target=drop]")
	assert.Contains(t, got, "nftables/ipv4/filter FORWARD#1  Other  : > : [Hook=forward Target=jump:custom]")
	assert.Contains(t, got, "nftables/ipv4/filter FORWARD#2  Deny  : > : [ChainPolicy=true Hook=forward Target=drop]")
	assert.Len(t, got, 7)
}

// A namespace without any rule or table is an empty snapshot.
func TestNetNSEmpty(t *testing.T) {
	needTools(t)
	_, path := newNetNS(t)
	evs, err := New(Options{NetNS: path}).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.True(t, evs[0].IsEmpty())
	assert.Equal(t, event.FirewallConfiguration, evs[0].Name)
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	require.NoError(t, v.ValidateEvent(evs[0]))
}

func TestNetNSMissing(t *testing.T) {
	_, err := New(Options{NetNS: "/nonexistent/netns"}).Poll(context.Background())
	require.Error(t, err)
}
