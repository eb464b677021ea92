package firewall_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/firewall"
	"github.com/edgesec/edgesec/event"
)

// The collector passes the conformance suite. As root, it reads a network
// namespace of its own with native nftables rules; otherwise it reads the
// test's namespace (with whatever it is allowed to read: an unprivileged
// run still sends a snapshot, possibly empty, and reports the error).
func TestConformance(t *testing.T) {
	opts := firewall.Options{}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("nft"); err == nil {
			name := "edgesec-fw-conf" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
			out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
			require.NoError(t, err, "%s", out)
			t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
			cmd := exec.Command("ip", "netns", "exec", name, "nft", "-f", "-")
			cmd.Stdin = strings.NewReader("table inet t { chain in { type filter hook input priority 0; policy drop; tcp dport 22 accept; }; }\n")
			out, err = cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			opts.NetNS = "/run/netns/" + name
		}
	}
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		c := firewall.NewCollector(opts, func() time.Duration { return time.Hour })
		require.Equal(t, event.FirewallConfiguration, c.Name())
		return c
	})
}
