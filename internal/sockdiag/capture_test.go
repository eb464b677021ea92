package sockdiag_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/sockdiag"
)

// captureNetlinkFixtures rewrites testdata/netlink-*.{bin,golden} from the
// sockets of a fresh network namespace.
func captureNetlinkFixtures(t *testing.T) {
	w := openWorld(t)
	conn, err := sockdiag.OpenInNetNS(w.ns.Path)
	require.NoError(t, err)
	defer conn.Close()
	for _, tb := range []sockdiag.Table{sockdiag.TCP4, sockdiag.TCP6, sockdiag.UDP4, sockdiag.UDP6, sockdiag.RAW4} {
		base := "testdata/netlink-" + tb.String()
		sockdiag.CaptureDump(t, conn, tb, base+".bin")
		var g bytes.Buffer
		require.NoError(t, conn.Dump(tb, sockdiag.AllStates, func(s *sockdiag.Socket) { fmt.Fprintln(&g, line(tb, s)) }))
		require.NoError(t, os.WriteFile(base+".golden", g.Bytes(), 0o644))
	}
	// And this host's /proc/net files.
	for _, name := range []string{"tcp", "tcp6", "udp", "udp6", "raw"} {
		b, err := os.ReadFile("/proc/self/net/" + name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("testdata/proc-net-"+name, b, 0o644))
		tb := tableNamed(t, name)
		var g bytes.Buffer
		require.NoError(t, sockdiag.ParseProcNet(bytes.NewReader(b), tb, sockdiag.AllStates, func(s *sockdiag.Socket) { fmt.Fprintln(&g, line(tb, s)) }))
		require.NoError(t, os.WriteFile("testdata/proc-net-"+name+".golden", g.Bytes(), 0o644))
	}
}
