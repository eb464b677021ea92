package connection_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/sockdiag/netnstest"
	"github.com/edgesec/edgesec/schemas"
)

func inode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var st unix.Stat_t
	require.NoError(t, rc.Control(func(fd uintptr) { require.NoError(t, unix.Fstat(int(fd), &st)) }))
	return st.Ino
}

// self is what the test process's connections are attributed to.
type self struct {
	pid                           int
	exe, cmdline, uid, user, comm string
}

func whoami(t *testing.T) self {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	comm, err := os.ReadFile("/proc/self/comm")
	require.NoError(t, err)
	s := self{pid: os.Getpid(), exe: exe, cmdline: strings.Join(os.Args, " "), uid: strconv.Itoa(os.Getuid()),
		comm: strings.TrimSpace(string(comm))}
	if u, err := user.LookupId(s.uid); err == nil {
		s.user = u.Username
	}
	return s
}

// expectation builds the exact items the test's sockets must produce.
type expectation struct {
	t     *testing.T
	me    self
	items map[string]*event.ConnectionCreatePayload
}

func key(p *event.ConnectionCreatePayload) string {
	return fmt.Sprintf("%s %s %s:%s %s:%s", p.Protocol, p.Direction, p.LocalAddress, p.LocalPort, p.RemoteAddress, p.RemotePort)
}

// add expects an item for the socket c with the given ends.
func (e *expectation) add(c syscall.Conn, proto, dir, family string, local, remote netip.AddrPort, extra map[string]string) {
	local4, remote4 := local.Addr().Unmap(), remote.Addr().Unmap()
	state := "ESTABLISHED"
	if proto == "UDP" {
		state = "CONNECTED"
	}
	x := event.ExtraDetails{
		"Family": family, "State": state, "SocketUserId": e.me.uid, "Inode": strconv.FormatUint(inode(e.t, c), 10),
		"Comm": e.me.comm,
	}
	if e.me.user != "" {
		x["UserName"] = e.me.user
	}
	if local4.IsLoopback() && remote4.IsLoopback() {
		x["Loopback"] = "true"
	}
	for k, v := range extra {
		x[k] = v
	}
	p := &event.ConnectionCreatePayload{
		RemoteAddress: remote4.String(), RemotePort: strconv.Itoa(int(remote.Port())),
		LocalAddress: local4.String(), LocalPort: strconv.Itoa(int(local.Port())),
		Direction: dir, Protocol: proto, ProcessID: e.me.pid, UserID: e.me.uid,
		Executable: e.me.exe, CommandLine: e.me.cmdline, ExtraDetails: x,
	}
	e.items[key(p)] = p
}

func tcpPair(t *testing.T, e *expectation, network, listenAddr, dialNetwork, dialHost string, extraIn map[string]string, familyIn, familyOut string) {
	ln, err := net.Listen(network, listenAddr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial(dialNetwork, net.JoinHostPort(dialHost, strconv.Itoa(port)))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	cl, cr := c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
	sl, sr := s.LocalAddr().(*net.TCPAddr).AddrPort(), s.RemoteAddr().(*net.TCPAddr).AddrPort()
	e.add(c.(*net.TCPConn), "TCP", event.DirectionOut, familyOut, cl, cr, nil)
	e.add(s.(*net.TCPConn), "TCP", event.DirectionIn, familyIn, sl, sr, extraIn)
}

// reuseAddr sets SO_REUSEADDR, so that a connected UDP socket can share a
// server's port (the way per-peer UDP servers do).
func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
	if err != nil {
		return err
	}
	return serr
}

func udpFlows(t *testing.T, e *expectation, network, host, family string) {
	lc := net.ListenConfig{Control: reuseAddr}
	srv, err := lc.ListenPacket(context.Background(), network, net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	sap := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	// Outbound: a client connected to the server.
	c, err := net.Dial(network, sap.String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	e.add(c.(*net.UDPConn), "UDP", event.DirectionOut, family, cap, sap, nil)
	// Inbound: a socket on the server's port connected back to the client.
	d := net.Dialer{Control: reuseAddr, LocalAddr: net.UDPAddrFromAddrPort(sap)}
	in, err := d.Dial(network, cap.String())
	require.NoError(t, err)
	t.Cleanup(func() { in.Close() })
	e.add(in.(*net.UDPConn), "UDP", event.DirectionIn, family, sap, cap, nil)
}

// openConnections opens the test's connections (in the calling thread's
// network namespace) and returns the items they must produce.
func openConnections(t *testing.T, nonLoopback string) map[string]*event.ConnectionCreatePayload {
	e := &expectation{t: t, me: whoami(t), items: map[string]*event.ConnectionCreatePayload{}}
	tcpPair(t, e, "tcp4", "127.0.0.1:0", "tcp4", "127.0.0.1", nil, "IPv4", "IPv4")
	tcpPair(t, e, "tcp6", "[::1]:0", "tcp6", "::1", nil, "IPv6", "IPv6")
	// A dual-stack listener accepting an IPv4 client: the accepted socket
	// is IPv6 with IPv4-mapped addresses, reported in IPv4 form.
	tcpPair(t, e, "tcp", "[::]:0", "tcp4", "127.0.0.1", map[string]string{"IPv4Mapped": "true"}, "IPv6", "IPv4")
	if nonLoopback != "" {
		tcpPair(t, e, "tcp4", nonLoopback+":0", "tcp4", nonLoopback, nil, "IPv4", "IPv4")
	}
	udpFlows(t, e, "udp4", "127.0.0.1", "IPv4")
	udpFlows(t, e, "udp6", "::1", "IPv6")
	return e.items
}

// collect runs c until want items arrived (and a few more snapshots
// passed, to catch duplicates) and returns the items by key.
func collect(t *testing.T, c *connection.Collector, n int, during func()) (map[string]*event.ConnectionCreatePayload, *collectortest.Recorder) {
	t.Helper()
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	before := c.Stats().Snapshots
	go func() { done <- c.Run(ctx, rec) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool { return c.Stats().Snapshots > before }, 5*time.Second, 5*time.Millisecond, "baseline snapshot")
	during()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	_, err := rec.WaitFor(wctx, n)
	require.NoError(t, err, "waiting for %d events, have %d", n, rec.Len())
	snaps := c.Stats().Snapshots
	require.Eventually(t, func() bool { return c.Stats().Snapshots >= snaps+3 }, 5*time.Second, 5*time.Millisecond)

	v, err := schemas.NewValidator()
	require.NoError(t, err)
	got := map[string]*event.ConnectionCreatePayload{}
	for _, ev := range rec.Events() {
		require.NoError(t, v.ValidateEvent(ev))
		require.Equal(t, event.ConnectionCreate, ev.Name)
		require.Len(t, ev.Payload, 1)
		p := ev.Payload[0].(*event.ConnectionCreatePayload)
		k := key(p)
		require.NotContains(t, got, k, "reported twice")
		got[k] = p
	}
	return got, rec
}

// In a fresh network namespace, the collector reports exactly the
// connections the test opens (TCP and UDP, IPv4 and IPv6, both
// directions), attributed to the test process, and nothing that existed
// before it started.
func TestConnectionsInNetNS(t *testing.T) {
	ns := netnstest.New(t)
	// A non-loopback address (on lo: the namespace has no other device)
	// for a connection that is not marked Loopback.
	nonLoopback := "10.99.0.1"
	out, err := exec.Command("ip", "-n", ns.Name, "addr", "add", nonLoopback+"/32", "dev", "lo").CombinedOutput()
	require.NoError(t, err, string(out))
	// A connection open before the collector starts is the baseline.
	ns.Do(t, func() error {
		tcpPair(t, &expectation{t: t, me: whoami(t), items: map[string]*event.ConnectionCreatePayload{}}, "tcp4", "127.0.0.1:0", "tcp4", "127.0.0.1", nil, "IPv4", "IPv4")
		return nil
	})

	c := connection.New(connection.Options{NetNS: ns.Path, Interval: 20 * time.Millisecond})
	var want map[string]*event.ConnectionCreatePayload
	got, rec := collect(t, c, 0, func() {})
	require.Empty(t, got, "connections open at start are not reported")
	require.Empty(t, rec.Errors())

	got, rec = collect(t, c, len(openConnsCount(nonLoopback)), func() {
		ns.Do(t, func() error { want = openConnections(t, nonLoopback); return nil })
	})
	require.Empty(t, rec.Errors())
	require.Len(t, want, len(openConnsCount(nonLoopback)))
	require.Equal(t, sortedKeys(want), sortedKeys(got))
	for k, w := range want {
		require.Equal(t, w, got[k], k)
	}
	st := c.Stats()
	require.False(t, st.Fallback)
	require.Zero(t, st.Overflow)
	require.Zero(t, st.Unowned)
}

// openConnsCount lists the expected number of items (as a slice, for len).
func openConnsCount(nonLoopback string) []struct{} {
	n := 3*2 + 2*2
	if nonLoopback != "" {
		n += 2
	}
	return make([]struct{}, n)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Without netlink, the collector reads /proc/net (here the files of a
// process inside the namespace) and reports the same connections, and it
// says that it fell back.
func TestConnectionsProcNetFallback(t *testing.T) {
	ns := netnstest.New(t)
	holder := exec.Command("ip", "netns", "exec", ns.Name, "sleep", "60")
	require.NoError(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })

	c := connection.New(connection.Options{NetNS: "/nonexistent/netns", ProcNetDir: fmt.Sprintf("/proc/%d/net", holder.Process.Pid), Interval: 20 * time.Millisecond})
	var want map[string]*event.ConnectionCreatePayload
	got, rec := collect(t, c, len(openConnsCount("")), func() {
		ns.Do(t, func() error { want = openConnections(t, ""); return nil })
	})
	require.Equal(t, sortedKeys(want), sortedKeys(got))
	for k, w := range want {
		require.Equal(t, w, got[k], k)
	}
	require.True(t, c.Stats().Fallback)
	errs := rec.Errors()
	require.NotEmpty(t, errs)
	require.Contains(t, errs[0].Err.Error(), "/nonexistent/netns")
}

// In the host's own namespace (no root needed), the test's connections
// are among those reported, exactly.
func TestConnectionsHost(t *testing.T) {
	c := connection.New(connection.Options{Interval: 20 * time.Millisecond})
	var want map[string]*event.ConnectionCreatePayload
	got, _ := collect(t, c, 0, func() { want = openConnections(t, "") })
	for k, w := range want {
		require.Contains(t, got, k)
		require.Equal(t, w, got[k], k)
	}
}

func TestConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return connection.New(connection.Options{Interval: 20 * time.Millisecond})
	}, collectortest.WithTrigger(func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		s, err := ln.Accept()
		require.NoError(t, err)
		defer s.Close()
		time.Sleep(50 * time.Millisecond) // open for a couple of snapshots
	}))
}

// With ExcludeTCP (the eBPF source reports TCP) only the UDP flows are
// reported.
func TestConnectionsExcludeTCP(t *testing.T) {
	ns := netnstest.New(t)
	c := connection.New(connection.Options{NetNS: ns.Path, Interval: 20 * time.Millisecond, ExcludeTCP: true})
	var want map[string]*event.ConnectionCreatePayload
	udp := map[string]*event.ConnectionCreatePayload{}
	got, rec := collect(t, c, 4, func() {
		ns.Do(t, func() error { want = openConnections(t, ""); return nil })
		for k, w := range want {
			if w.Protocol == "UDP" {
				udp[k] = w
			}
		}
	})
	require.Empty(t, rec.Errors())
	require.NotEmpty(t, udp)
	require.Len(t, want, len(openConnsCount("")), "TCP connections were opened too")
	require.Equal(t, sortedKeys(udp), sortedKeys(got))
}
