package listening_test

import (
	"context"
	"net"
	"os"
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
	"github.com/edgesec/edgesec/collector/listening"
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

// owner returns the ExtraDetails attributing a socket to the test process.
func owner(t *testing.T) event.ExtraDetails {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	uid := strconv.Itoa(os.Getuid())
	x := event.ExtraDetails{"ProcessId": strconv.Itoa(os.Getpid()), "Executable": exe, "CommandLine": strings.Join(os.Args, " "),
		"UserId": uid, "SocketUserId": uid}
	if u, err := user.LookupId(uid); err == nil {
		x["UserName"] = u.Username
	}
	return x
}

type want struct {
	inode uint64
	item  *event.ListeningPortsPayload
}

func expect(t *testing.T, ws *[]want, ino uint64, proto, family, addr string, port int, extra map[string]string) {
	x := owner(t)
	x["Family"] = family
	x["Inode"] = strconv.FormatUint(ino, 10)
	for k, v := range extra {
		x[k] = v
	}
	*ws = append(*ws, want{ino, &event.ListeningPortsPayload{Protocol: proto, LocalAddress: addr, LocalPort: strconv.Itoa(port), ExtraDetails: x}})
}

// openListeners opens listeners of every kind, plus sockets that are not
// listeners (a TCP connection, a connected UDP socket), and returns the
// items the listeners must produce.
func openListeners(t *testing.T) []want {
	var ws []want
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln4.Close() })
	expect(t, &ws, inode(t, ln4.(*net.TCPListener)), "TCP", "IPv4", "127.0.0.1", ln4.Addr().(*net.TCPAddr).Port, nil)

	ln6, err := net.Listen("tcp", "[::]:0") // dual stack
	require.NoError(t, err)
	t.Cleanup(func() { ln6.Close() })
	expect(t, &ws, inode(t, ln6.(*net.TCPListener)), "TCP", "IPv6", "::", ln6.Addr().(*net.TCPAddr).Port, nil)

	u4, err := net.ListenPacket("udp4", "0.0.0.0:0")
	require.NoError(t, err)
	t.Cleanup(func() { u4.Close() })
	expect(t, &ws, inode(t, u4.(*net.UDPConn)), "UDP", "IPv4", "0.0.0.0", u4.LocalAddr().(*net.UDPAddr).Port, nil)

	u6, err := net.ListenPacket("udp6", "[::1]:0")
	require.NoError(t, err)
	t.Cleanup(func() { u6.Close() })
	expect(t, &ws, inode(t, u6.(*net.UDPConn)), "UDP", "IPv6", "::1", u6.LocalAddr().(*net.UDPAddr).Port, nil)

	for _, r := range []struct {
		family, proto int
		fam, addr     string
		name          string
	}{{unix.AF_INET, unix.IPPROTO_ICMP, "IPv4", "0.0.0.0", "icmp"}, {unix.AF_INET6, unix.IPPROTO_ICMPV6, "IPv6", "::", "icmpv6"}} {
		fd, err := unix.Socket(r.family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, r.proto)
		if err != nil {
			t.Logf("no raw socket (%v): raw listeners not tested", err)
			continue
		}
		t.Cleanup(func() { unix.Close(fd) })
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(fd, &st))
		expect(t, &ws, st.Ino, "RAW", r.fam, r.addr, r.proto, map[string]string{"RawProtocol": r.name})
	}

	// Not listeners: both ends of a TCP connection, a connected UDP socket.
	c, err := net.Dial("tcp4", ln4.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s, err := ln4.(*net.TCPListener).Accept()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	uc, err := net.Dial("udp4", u4.LocalAddr().String())
	require.NoError(t, err)
	t.Cleanup(func() { uc.Close() })
	return ws
}

func items(t *testing.T, evs []event.Event) []*event.ListeningPortsPayload {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	var out []*event.ListeningPortsPayload
	for _, ev := range evs {
		require.NoError(t, v.ValidateEvent(ev))
		require.Equal(t, event.ListeningPorts, ev.Name)
		for _, it := range ev.Payload {
			out = append(out, it.(*event.ListeningPortsPayload))
		}
	}
	return out
}

// In a fresh network namespace the snapshot is exactly the listeners the
// test opened, in order, attributed to the test process.
func TestListenersInNetNS(t *testing.T) {
	ns := netnstest.New(t)
	var ws []want
	ns.Do(t, func() error { ws = openListeners(t); return nil })
	p := listening.New(listening.Options{NetNS: ns.Path, ProcNetDir: "/proc/thread-self/net"})
	var evs []event.Event
	var err error
	// ProcNetDir is read from this goroutine's thread (for raw sockets on
	// kernels without raw_diag), so poll from inside the namespace.
	ns.Do(t, func() error { evs, err = p.Poll(context.Background()); return nil })
	if err != nil {
		t.Logf("poll reported: %v", err) // the raw_diag fallback, on kernels without it
	}
	got := items(t, evs)
	var wantItems []*event.ListeningPortsPayload
	for _, w := range ws {
		wantItems = append(wantItems, w.item)
	}
	require.Equal(t, wantItems, got)
}

// In the host's namespace (no root needed) the test's listeners are
// reported, exactly, among the others.
func TestListenersHost(t *testing.T) {
	ws := openListeners(t)
	evs, err := listening.New(listening.Options{}).Poll(context.Background())
	if err != nil {
		t.Logf("poll reported: %v", err)
	}
	byInode := map[string]*event.ListeningPortsPayload{}
	for _, it := range items(t, evs) {
		byInode[it.ExtraDetails["Inode"]] = it
	}
	for _, w := range ws {
		k := strconv.FormatUint(w.inode, 10)
		require.Contains(t, byInode, k)
		require.Equal(t, w.item, byInode[k])
	}
}

// Snapshots larger than MaxEventBytes are split, every event within it.
func TestSplit(t *testing.T) {
	ns := netnstest.New(t)
	ns.Do(t, func() error {
		for range 40 {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { ln.Close() })
		}
		return nil
	})
	const maxBytes = 2048
	evs, err := listening.New(listening.Options{NetNS: ns.Path, MaxEventBytes: maxBytes}).Poll(context.Background())
	require.NoError(t, err)
	require.Greater(t, len(evs), 1)
	n := 0
	for _, ev := range evs {
		require.LessOrEqual(t, ev.Size(), maxBytes)
		n += len(ev.Payload)
	}
	require.Equal(t, 40, n)
	ports := []int{}
	for _, it := range items(t, evs) {
		p, _ := strconv.Atoi(it.LocalPort)
		ports = append(ports, p)
	}
	require.True(t, slices.IsSorted(ports))

	// An empty namespace is an empty snapshot.
	empty := netnstest.New(t)
	evs, err = listening.New(listening.Options{NetNS: empty.Path}).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.True(t, evs[0].IsEmpty())
}

func TestConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		c := listening.NewCollector(listening.Options{}, func() time.Duration { return time.Hour })
		require.Equal(t, event.ListeningPorts, c.Name())
		return c
	})
}
