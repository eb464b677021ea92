package connection_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/sockdiag"
	"github.com/edgesec/edgesec/internal/sockowner"
	"github.com/edgesec/edgesec/schemas"
)

var s0 = time.Unix(1700000000, 0)

func TestTracker(t *testing.T) {
	tr := connection.NewTracker(2)
	tr.Begin()
	require.True(t, tr.Observe(1))
	require.True(t, tr.Observe(2))
	require.False(t, tr.Observe(3), "over the bound")
	require.False(t, tr.Observe(1), "seen")
	tr.End()
	require.Equal(t, uint64(1), tr.Overflow())

	tr.Begin()
	require.False(t, tr.Observe(2))
	tr.End() // 1 is gone
	require.Equal(t, 1, tr.Len())
	tr.Begin()
	require.True(t, tr.Observe(1), "a connection that went away is new when it comes back")
	require.False(t, tr.Observe(3), "full again")
	tr.End()
}

func sock(proto uint8, family uint8, local, remote string) *sockdiag.Socket {
	return &sockdiag.Socket{Family: family, Protocol: proto, State: sockdiag.StateEstablished,
		Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Inode: 99, UID: 1000}
}

func TestListeners(t *testing.T) {
	var l connection.Listeners
	l.Add(sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv6, "[::]:22", "[::]:0"))
	l.Add(sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv4, "127.0.0.1:8080", "0.0.0.0:0"))
	l.Add(sock(sockdiag.ProtoUDP, sockdiag.FamilyIPv4, "0.0.0.0:53", "0.0.0.0:0"))
	for _, c := range []struct {
		s  *sockdiag.Socket
		in bool
	}{
		{sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv6, "[::ffff:10.0.0.5]:22", "[::ffff:10.0.0.9]:50000"), true},
		{sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv4, "10.0.0.5:22", "10.0.0.9:50000"), true},
		{sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv4, "127.0.0.1:8080", "127.0.0.1:40000"), true},
		{sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv4, "10.0.0.5:8080", "10.0.0.9:40000"), false}, // other address
		{sock(sockdiag.ProtoUDP, sockdiag.FamilyIPv4, "10.0.0.5:22", "10.0.0.9:50000"), false},   // other protocol
		{sock(sockdiag.ProtoUDP, sockdiag.FamilyIPv4, "10.0.0.5:53", "10.0.0.9:50000"), true},
		{sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv4, "10.0.0.5:41000", "20.1.2.3:443"), false},
	} {
		require.Equal(t, c.in, l.Inbound(c.s), "%v", c.s.Local)
	}
	l.Reset()
	require.False(t, l.Inbound(sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv4, "10.0.0.5:22", "10.0.0.9:50000")))
}

func TestItem(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	o := &sockowner.Owner{PID: 4242, Exe: "/usr/bin/curl", Cmdline: "curl https://example.com", Comm: "curl", UID: 1000,
		CmdlineTruncated: true, ContainerID: "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100"}
	s := sock(sockdiag.ProtoTCP, sockdiag.FamilyIPv6, "[::ffff:10.0.0.5]:41000", "[::ffff:93.184.216.34]:443")
	p := connection.Item(s, false, o, connection.Container{ID: o.ContainerID, Name: "curler", Module: "curlModule"}, "alice")
	require.Equal(t, &event.ConnectionCreatePayload{
		RemoteAddress: "93.184.216.34", RemotePort: "443", LocalAddress: "10.0.0.5", LocalPort: "41000",
		Direction: "Out", Protocol: "TCP", ProcessID: 4242, UserID: "1000", Executable: "/usr/bin/curl",
		CommandLine: "curl https://example.com",
		ExtraDetails: event.ExtraDetails{"Family": "IPv6", "IPv4Mapped": "true", "State": "ESTABLISHED", "Inode": "99",
			"SocketUserId": "1000", "Comm": "curl", "UserName": "alice", "CommandLineTruncated": "true",
			"ContainerId": o.ContainerID, "ContainerName": "curler", "ModuleName": "curlModule"},
	}, p)
	require.NoError(t, v.ValidateEvent(event.Must(event.ConnectionCreate, s0, p)))

	// Unattributed, link-local with a zone, UDP.
	s = sock(sockdiag.ProtoUDP, sockdiag.FamilyIPv6, "[fe80::1%eth0]:5353", "[fe80::2%eth0]:5353")
	s.Inode = 0
	p = connection.Item(s, true, nil, connection.Container{}, "")
	require.Equal(t, &event.ConnectionCreatePayload{
		RemoteAddress: "fe80::2", RemotePort: "5353", LocalAddress: "fe80::1", LocalPort: "5353",
		Direction: "In", Protocol: "UDP",
		ExtraDetails: event.ExtraDetails{"Family": "IPv6", "State": "CONNECTED", "SocketUserId": "1000", "Attribution": "none"},
	}, p)
	require.NoError(t, v.ValidateEvent(event.Must(event.ConnectionCreate, s0, p)))
}
