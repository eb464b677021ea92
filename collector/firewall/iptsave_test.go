package firewall

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

// describe renders the payload item of r compactly and completely.
func describe(r Rule) string {
	p := r.Item()
	var x []string
	for k, v := range p.ExtraDetails {
		if k == KeySource || k == KeyFamily || k == KeyTable || k == KeyRule {
			continue
		}
		x = append(x, k+"="+v)
	}
	slices.Sort(x)
	return fmt.Sprintf("%s/%s/%s %s#%d %s %s %s:%s > %s:%s [%s]", p.ExtraDetails[KeySource], p.ExtraDetails[KeyFamily], p.ExtraDetails[KeyTable],
		p.ChainName, p.Priority, p.Direction, p.Action+" "+p.Protocol, p.SourceAddress, p.SourcePort, p.DestinationAddress, p.DestinationPort, strings.Join(x, " "))
}

func describeAll(rs []Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, describe(r))
	}
	return out
}

func parseFile(t *testing.T, name string) *SaveDump {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	d, err := ParseIPTablesSave(f)
	require.NoError(t, err)
	return d
}

func TestParseIPTablesSaveLegacy(t *testing.T) {
	d := parseFile(t, "testdata/iptables-save-legacy.txt")
	assert.Equal(t, "iptables-save v1.8.9", d.Generator)
	assert.False(t, d.NFTables)
	require.Len(t, d.Tables, 2)
	assert.Equal(t, "nat", d.Tables[0].Name)
	filter := d.Tables[1]
	var chains []string
	for _, c := range filter.Chains {
		chains = append(chains, fmt.Sprintf("%s:%s:%d", c.Name, c.Policy, len(c.Rules)))
	}
	assert.Equal(t, []string{"INPUT:DROP:9", "FORWARD:DROP:2", "OUTPUT:ACCEPT:1", "DOCKER-USER::1", "ssh-in::2"}, chains)
	r := filter.Chains[0].Rules[4]
	assert.Equal(t, SaveRule{
		Args:     `! -s 10.0.0.0/8 -p tcp -m tcp ! --dport 8080 -m comment --comment "block \"other\" web" -j REJECT --reject-with tcp-reset`,
		Protocol: "tcp", Source: "!10.0.0.0/8", DestinationPort: "!8080", Matches: []string{"tcp", "comment"},
		Comment: `block "other" web`, Target: "REJECT", TargetArgs: "--reject-with tcp-reset",
	}, r)

	assert.Equal(t, []string{
		"iptables-legacy/ipv4/filter INPUT#1 In Allow  : > : [Hook=input InInterface=lo Target=ACCEPT]",
		"iptables-legacy/ipv4/filter INPUT#2 In Allow  : > : [Hook=input Matches=conntrack State=RELATED,ESTABLISHED Target=ACCEPT]",
		"iptables-legacy/ipv4/filter INPUT#3 In Other TCP : > :22 [Hook=input Matches=tcp Target=ssh-in]",
		"iptables-legacy/ipv4/filter INPUT#4 In Allow UDP 192.0.2.0/24: > :53,123,5000-5010 [Hook=input Matches=multiport Target=ACCEPT]",
		`iptables-legacy/ipv4/filter INPUT#5 In Deny TCP !10.0.0.0/8: > :!8080 [Comment=block "other" web Hook=input Matches=tcp,comment Target=REJECT TargetArgs=--reject-with tcp-reset]`,
		"iptables-legacy/ipv4/filter INPUT#6 In Allow ICMP : > : [Hook=input Matches=icmp,limit Target=ACCEPT]",
		"iptables-legacy/ipv4/filter INPUT#7 In Deny  198.51.100.1-198.51.100.20: > : [Hook=input Matches=iprange Target=DROP]",
		`iptables-legacy/ipv4/filter INPUT#8 In Other TCP :1024-65535 > :443 [Hook=input Matches=tcp Target=LOG TargetArgs=--log-prefix "https: " --log-level 6]`,
		"iptables-legacy/ipv4/filter INPUT#9 In Other TCP : > : [Hook=input]",
		"iptables-legacy/ipv4/filter INPUT#10 In Deny  : > : [ChainPolicy=true Hook=input Target=DROP]",
		"iptables-legacy/ipv4/filter FORWARD#1  Other  : > : [Hook=forward Target=DOCKER-USER]",
		"iptables-legacy/ipv4/filter FORWARD#2  Other TCP : > : [Hook=forward InInterface=eth0 Matches=multiport OutInterface=eth1 Ports=80,443 Target=goto:ssh-in]",
		"iptables-legacy/ipv4/filter FORWARD#3  Deny  : > : [ChainPolicy=true Hook=forward Target=DROP]",
		"iptables-legacy/ipv4/filter OUTPUT#1 Out Deny  : > 203.0.113.9/32: [Hook=output Target=DROP]",
		"iptables-legacy/ipv4/filter OUTPUT#2 Out Allow  : > : [ChainPolicy=true Hook=output Target=ACCEPT]",
		"iptables-legacy/ipv4/filter DOCKER-USER#1  Other  : > : [Target=RETURN]",
		"iptables-legacy/ipv4/filter ssh-in#1  Allow  198.51.100.7/32: > : [Target=ACCEPT]",
		"iptables-legacy/ipv4/filter ssh-in#2  Deny  : > : [Target=DROP]",
	}, describeAll(SaveRules(d, SourceIPTablesLegacy, FamilyIPv4)))
}

func TestParseIPTablesSaveNFT6(t *testing.T) {
	d := parseFile(t, "testdata/ip6tables-save-nft.txt")
	assert.True(t, d.NFTables)
	assert.Equal(t, []string{
		"iptables-nft/ipv6/filter INPUT#1 In Allow IPV6-ICMP 2001:db8::/32: > : [Hook=input Target=ACCEPT]",
		"iptables-nft/ipv6/filter INPUT#2 In Deny TCP : > :!22 [Hook=input Matches=tcp Target=DROP]",
		"iptables-nft/ipv6/filter INPUT#3 In Allow  : > : [Hook=input InInterface=!eth+ Target=ACCEPT]",
		"iptables-nft/ipv6/filter INPUT#4 In Allow  : > : [ChainPolicy=true Hook=input Target=ACCEPT]",
		"iptables-nft/ipv6/filter FORWARD#1  Allow  : > : [ChainPolicy=true Hook=forward Target=ACCEPT]",
		"iptables-nft/ipv6/filter OUTPUT#1 Out Allow  : > : [ChainPolicy=true Hook=output Target=ACCEPT]",
	}, describeAll(SaveRules(d, SourceIPTablesNFT, FamilyIPv6)))
}

func TestParseIPTablesSaveEmpty(t *testing.T) {
	d := parseFile(t, "testdata/iptables-save-empty.txt")
	assert.Empty(t, d.Tables)
	assert.Empty(t, SaveRules(d, SourceIPTablesLegacy, FamilyIPv4))
}

func TestParseIPTablesSaveErrors(t *testing.T) {
	for _, in := range []string{
		"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n",                  // no COMMIT
		"-A INPUT -j ACCEPT\n",                                                // outside a table
		"*filter\n-A INPUT -j ACCEPT\nCOMMIT\n",                               // undeclared chain
		"*filter\n:INPUT ACCEPT\n-A INPUT -s\nCOMMIT\n",                       // missing value
		"*filter\n:INPUT ACCEPT\n-A INPUT -m comment --comment \"x\nCOMMIT\n", // quote
		"*filter\n*nat\n",
		"COMMIT\n",
		"*filter\n:X\nCOMMIT\n",
		"*filter\nbogus\nCOMMIT\n",
		"*filter\n:INPUT ACCEPT\n-A INPUT " + strings.Repeat("x", MaxSaveLine) + "\nCOMMIT\n",
	} {
		_, err := ParseIPTablesSave(strings.NewReader(in))
		assert.Error(t, err, "%q", in)
	}
}

func TestItemsValidate(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	var items []event.Item
	for _, f := range []string{"testdata/iptables-save-legacy.txt", "testdata/ip6tables-save-nft.txt"} {
		d := parseFile(t, f)
		for _, r := range SaveRules(d, SourceIPTablesLegacy, FamilyIPv4) {
			items = append(items, r.Item())
		}
	}
	p := New(Options{})
	for _, ev := range p.split(p.now(), items) {
		require.LessOrEqual(t, ev.Size(), DefaultMaxEventBytes)
		require.NoError(t, v.ValidateEvent(ev))
	}
	require.NoError(t, v.ValidateEvent(p.split(p.now(), nil)[0]))
}

func FuzzParseIPTablesSave(f *testing.F) {
	for _, name := range []string{"testdata/iptables-save-legacy.txt", "testdata/ip6tables-save-nft.txt"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("*filter\n:INPUT ACCEPT\n-A INPUT ! -p tcp --dport ! 1:2 -j\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _ := ParseIPTablesSave(bytes.NewReader(data))
		if d == nil {
			t.Fatal("nil dump")
		}
		n := 0
		for _, tb := range d.Tables {
			for _, c := range tb.Chains {
				n += len(c.Rules)
			}
		}
		if n > MaxSaveRules {
			t.Fatalf("%d rules", n)
		}
		for _, fam := range []string{FamilyIPv4, FamilyIPv6} {
			for _, r := range SaveRules(d, SourceIPTablesLegacy, fam) {
				_ = r.Item().AppendJSON(nil)
			}
		}
	})
}

// A ruleset far larger than the limit (kube-proxy and ban lists reach
// tens of thousands of rules): the first MaxSaveRules are kept, the rest
// counted, and memory stays that of MaxSaveRules rules; the nat table's
// rules are skipped. With the former limit of 200,000 rules in all
// tables, the filter rules alone took 805 MB allocated and 129 MB live
// (without their items).
func TestParseIPTablesSaveLargeRulesetBounded(t *testing.T) {
	const n = 200_000
	var b bytes.Buffer
	// A nat table first, as large: skipped, not counted.
	b.WriteString("*nat\n:PREROUTING ACCEPT [0:0]\n")
	for i := range n {
		fmt.Fprintf(&b, "-A PREROUTING -d 10.%d.%d.1/32 -p tcp -j DNAT --to-destination 10.1.0.%d:80\n", i>>8&255, i&255, i&255)
	}
	b.WriteString("COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n")
	for i := range n {
		fmt.Fprintf(&b, "-A INPUT -s 10.%d.%d.0/24 -p tcp -m tcp --dport %d -j ACCEPT\n", i>>8&255, i&255, 1000+i%50000)
	}
	b.WriteString("COMMIT\n")
	var before, after, live runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := ParseIPTablesSaveTables(bytes.NewReader(b.Bytes()), "filter")
	require.NoError(t, err)
	rules := SaveRules(d, SourceIPTablesLegacy, FamilyIPv4)
	items := make([]any, 0, len(rules))
	for i := range rules {
		items = append(items, rules[i].Item())
	}
	runtime.ReadMemStats(&after)
	runtime.GC()
	runtime.ReadMemStats(&live)
	runtime.KeepAlive(items)
	runtime.KeepAlive(b.Bytes()) // the input is live before and after
	total := after.TotalAlloc - before.TotalAlloc
	held := live.HeapAlloc - min(live.HeapAlloc, before.HeapAlloc)
	require.Len(t, d.Tables, 2)
	require.Empty(t, d.Tables[0].Chains[0].Rules, "nat rules are skipped")
	t.Logf("%d nat and %d filter rules: %d kept, %d counted; %.1f MB allocated, %.1f MB live", n, n, len(d.Tables[1].Chains[0].Rules), d.Excess,
		float64(total)/(1<<20), float64(held)/(1<<20))
	require.Len(t, d.Tables[1].Chains[0].Rules, MaxSaveRules)
	require.Equal(t, n-MaxSaveRules, d.Excess)
	require.Len(t, rules, MaxSaveRules+1, "the kept rules and the chain policy")
	require.Less(t, held, uint64(12<<20), "live heap")
	require.Less(t, total, uint64(160<<20), "total allocation")
	require.EqualError(t, excessErr(d, "iptables-legacy-save"),
		fmt.Sprintf("firewall: iptables-legacy-save: %d rules beyond the limit of %d not reported", n-MaxSaveRules, MaxSaveRules))
}
