package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

// udpPlan is what the udp helper sends: each field a receiver's port on
// loopback (0: not sent).
type udpPlan struct {
	Net       string // "4" or "6"
	SendTo    int    // sendto(2) with an address, twice
	SendMsg   int    // sendmsg(2) with an address, twice
	Connected int    // connect(2), then send(2) (sendto without an address), twice
	Write     int    // connect(2), then write(2), twice (once with Once)
	Mmsg      [2]int // one sendmmsg(2) of three messages: Mmsg[0], Mmsg[1], Mmsg[0]
	Mapped    int    // IPv6 socket, sendto an IPv4-mapped address (IPv4 receiver)
	Bound     int    // a socket bound to an explicit port (a server), sendto
	HighBits  int    // sendto with garbage in the high 32 bits of the descriptor and address length registers
	MmsgMany  int    // one sendmmsg(2) of mmsgMany messages to this port
	TCP       int    // negative: a TCP connection and a write on it
	Unix      string // negative: a unix datagram socket, sendto this path
	Once      bool   // one datagram to each peer instead of two
	Flood     int    // sendto SendTo this many datagrams and print the ns each took
	// Exec, when set: once the steps are done, the process execs this
	// binary with the arguments Exec and its own last argument, which
	// runs the plan again (without Exec): the same peers from a new
	// program in the same process.
	Exec string
}

// udpHelper runs the helper "udp <json plan>" in the child process.
func udpHelper(args string) (bool, error) {
	rest, ok := strings.CutPrefix(args, "udp ")
	if !ok {
		return false, nil
	}
	var p udpPlan
	if err := json.Unmarshal([]byte(rest), &p); err != nil {
		return true, err
	}
	return true, p.run()
}

func (p udpPlan) sockaddr(port int) unix.Sockaddr {
	if p.Net == "6" {
		return &unix.SockaddrInet6{Port: port, Addr: netip.IPv6Loopback().As16()}
	}
	return &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

func (p udpPlan) socket(typ int) (int, error) {
	family := unix.AF_INET
	if p.Net == "6" {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	return fd, nil
}

func (p udpPlan) run() error {
	msg := []byte("edgesec")
	if p.Flood > 0 {
		return p.flood(msg)
	}
	each := func(port int, f func(fd int, sa unix.Sockaddr) error) error {
		if port == 0 {
			return nil
		}
		fd, err := p.socket(unix.SOCK_DGRAM)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return f(fd, p.sockaddr(port))
	}
	twice := func(f func() error) error {
		if err := f(); err != nil || p.Once {
			return err
		}
		return f()
	}
	steps := []func() error{
		func() error {
			return each(p.SendTo, func(fd int, sa unix.Sockaddr) error {
				return twice(func() error { return unix.Sendto(fd, msg, 0, sa) })
			})
		},
		func() error {
			return each(p.SendMsg, func(fd int, sa unix.Sockaddr) error {
				return twice(func() error { _, err := unix.SendmsgN(fd, msg, nil, sa, 0); return err })
			})
		},
		func() error {
			return each(p.Connected, func(fd int, sa unix.Sockaddr) error {
				if err := unix.Connect(fd, sa); err != nil {
					return err
				}
				return twice(func() error { return unix.Sendto(fd, msg, 0, nil) })
			})
		},
		func() error {
			return each(p.Write, func(fd int, sa unix.Sockaddr) error {
				if err := unix.Connect(fd, sa); err != nil {
					return err
				}
				return twice(func() error { _, err := unix.Write(fd, msg); return err })
			})
		},
		func() error { return p.sendmmsg(msg) },
		func() error {
			if p.Mapped == 0 {
				return nil
			}
			fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			mapped := netip.AddrFrom4([4]byte{127, 0, 0, 1}).As16() // ::ffff:127.0.0.1
			return unix.Sendto(fd, msg, 0, &unix.SockaddrInet6{Port: p.Mapped, Addr: mapped})
		},
		func() error {
			return each(p.Bound, func(fd int, sa unix.Sockaddr) error {
				port, err := freeUDPPort(p.Net)
				if err != nil {
					return err
				}
				local := p.sockaddr(port)
				if err := unix.Bind(fd, local); err != nil {
					return err
				}
				return unix.Sendto(fd, msg, 0, sa)
			})
		},
		func() error {
			return each(p.HighBits, func(fd int, _ unix.Sockaddr) error {
				// fd and addrlen are ints: the kernel reads the low
				// 32 bits of their registers.
				be := uint16(p.HighBits>>8) | uint16(p.HighBits&0xff)<<8
				var v4 unix.RawSockaddrInet4
				var v6 unix.RawSockaddrInet6
				addr, n := unsafe.Pointer(&v4), uintptr(unix.SizeofSockaddrInet4)
				if p.Net == "6" {
					v6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: be, Addr: netip.IPv6Loopback().As16()}
					addr, n = unsafe.Pointer(&v6), unix.SizeofSockaddrInet6
				} else {
					v4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: be, Addr: [4]byte{127, 0, 0, 1}}
				}
				const high = 0xdead << 32
				_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd)|high, uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)), 0,
					uintptr(addr), n|high)
				if errno != 0 {
					return fmt.Errorf("sendto with high bits: %w", errno)
				}
				return nil
			})
		},
		func() error {
			return each(p.MmsgMany, func(fd int, sa unix.Sockaddr) error {
				if err := unix.Connect(fd, sa); err != nil {
					return err
				}
				iov := unix.Iovec{Base: &msg[0]}
				iov.SetLen(len(msg))
				var hdrs [mmsgMany]unix.Mmsghdr
				for i := range hdrs {
					hdrs[i].Hdr.Iov = &iov
					hdrs[i].Hdr.SetIovlen(1)
				}
				sent, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), mmsgMany, 0, 0, 0)
				if errno != 0 {
					return fmt.Errorf("sendmmsg: %w", errno)
				}
				if sent != mmsgMany {
					return fmt.Errorf("sendmmsg sent %d of %d", sent, mmsgMany)
				}
				return nil
			})
		},
		func() error {
			if p.TCP == 0 {
				return nil
			}
			fd, err := p.socket(unix.SOCK_STREAM)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if err := unix.Connect(fd, p.sockaddr(p.TCP)); err != nil {
				return err
			}
			_, err = unix.Write(fd, msg)
			return err
		},
		func() error {
			if p.Unix == "" {
				return nil
			}
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Sendto(fd, msg, 0, &unix.SockaddrUnix{Name: p.Unix})
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	if p.Exec == "" {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	again := p
	again.Exec = ""
	js, err := json.Marshal(again)
	if err != nil {
		return err
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, helperEnv+"=") })
	env = append(env, helperEnv+"=udp "+string(js))
	return unix.Exec(self, []string{self, p.Exec, os.Args[len(os.Args)-1]}, env)
}

// flood sends Flood datagrams to SendTo with sendto(2) and prints the
// mean time of one, in ns.
func (p udpPlan) flood(msg []byte) error {
	fd, err := p.socket(unix.SOCK_DGRAM)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sa := p.sockaddr(p.SendTo)
	start := time.Now()
	for range p.Flood {
		if err := unix.Sendto(fd, msg, 0, sa); err != nil && !errors.Is(err, unix.ENOBUFS) {
			return err
		}
	}
	fmt.Println(time.Since(start).Nanoseconds() / int64(p.Flood))
	return nil
}

// sendmmsg sends three messages in one sendmmsg(2): to Mmsg[0], Mmsg[1]
// and Mmsg[0] again.
func (p udpPlan) sendmmsg(msg []byte) error {
	if p.Mmsg[0] == 0 {
		return nil
	}
	fd, err := p.socket(unix.SOCK_DGRAM)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	type name struct {
		ptr *byte
		len uint32
	}
	names := make([]name, 2)
	var v4 [2]unix.RawSockaddrInet4
	var v6 [2]unix.RawSockaddrInet6
	for i, port := range p.Mmsg {
		be := uint16(port>>8) | uint16(port&0xff)<<8
		if p.Net == "6" {
			v6[i] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: be, Addr: netip.IPv6Loopback().As16()}
			names[i] = name{(*byte)(unsafe.Pointer(&v6[i])), unix.SizeofSockaddrInet6}
		} else {
			v4[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: be, Addr: [4]byte{127, 0, 0, 1}}
			names[i] = name{(*byte)(unsafe.Pointer(&v4[i])), unix.SizeofSockaddrInet4}
		}
	}
	iov := unix.Iovec{Base: &msg[0]}
	iov.SetLen(len(msg))
	var hdrs [3]unix.Mmsghdr
	for i, n := range []name{names[0], names[1], names[0]} {
		hdrs[i].Hdr.Name, hdrs[i].Hdr.Namelen = n.ptr, n.len
		hdrs[i].Hdr.Iov = &iov
		hdrs[i].Hdr.SetIovlen(1)
	}
	sent, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), 3, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("sendmmsg: %w", errno)
	}
	if sent != 3 {
		return fmt.Errorf("sendmmsg sent %d of 3", sent)
	}
	return nil
}

// freeUDPPort returns a UDP port free on loopback now.
func freeUDPPort(family string) (int, error) {
	c, err := net.ListenPacket("udp"+family, loopback(family)+":0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func loopback(family string) string {
	if family == "6" {
		return "[::1]"
	}
	return "127.0.0.1"
}

// receiver is a UDP socket of the test on loopback that records the
// sources of what it receives.
type receiver struct {
	conn *net.UDPConn
	port int
}

func newReceiver(t *testing.T, family string) *receiver {
	t.Helper()
	c, err := net.ListenPacket("udp"+family, loopback(family)+":0")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &receiver{conn: c.(*net.UDPConn), port: c.LocalAddr().(*net.UDPAddr).Port}
}

// sources returns the source ports of the datagrams received (want of
// them, or what came within 2 s).
func (r *receiver) sources(t *testing.T, want int) []int {
	t.Helper()
	var out []int
	buf := make([]byte, 64)
	require.NoError(t, r.conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	for len(out) < want {
		_, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		out = append(out, int(from.Port()))
	}
	return out
}

// runUDPHelper runs the test binary self as the helper "udp-helper MARKER"
// with plan, waits for it to exit, and returns its pid and marker (its
// last argument, unique to this run).
func runUDPHelper(t *testing.T, self string, plan udpPlan) (pid int, marker string) {
	t.Helper()
	marker = fmt.Sprintf("UDP-%d", time.Now().UnixNano())
	js, err := json.Marshal(plan)
	require.NoError(t, err)
	cmd := exec.Command(self, "udp-helper", marker)
	cmd.Env = append(os.Environ(), helperEnv+"=udp "+string(js))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper: %s", out)
	return cmd.Process.Pid, marker
}

// expectedUDP is one peer the helper sends to, and what its event says.
type expectedUDP struct {
	what      string
	rcv       *receiver
	datagrams int
	remote    string
	local     string // local address
	direction string
	state     string
	mapped    bool
}

// TestUDPFirstSendToEachPeer runs a child that sends UDP datagrams in
// every way a program can, twice to each peer, and a TCP connection and a
// unix datagram; it asserts exactly one UDP ConnectionCreate per peer,
// with the child's pid, command line and ports, and none for the rest.
func TestUDPFirstSendToEachPeer(t *testing.T) {
	c := newCollector(t, Options{Connections: true, RingBufferSize: testRing})
	s := c.Stats()
	if !s.UDP {
		t.Skip("UDP sends are only traced on amd64 and arm64")
	}
	if !s.UDPConnectedSends && os.Getenv(requireEnv) != "" && kernelAtLeast(6, 4) {
		t.Fatal("sock_send_length tracepoint (Linux >= 6.4) not attached")
	}
	rec := run(t, c)
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	self = realPath(t, self)

	for _, family := range []string{"4", "6"} {
		t.Run("IPv"+family, func(t *testing.T) {
			lo, unspec := "127.0.0.1", "0.0.0.0"
			if family == "6" {
				lo, unspec = "::1", "::"
			}
			out := func(what string, n int, local, state string) *expectedUDP {
				return &expectedUDP{what: what, rcv: newReceiver(t, family), datagrams: n, remote: lo, local: local,
					direction: event.DirectionOut, state: state}
			}
			sendto, sendmsg := out("sendto", 2, unspec, "UNCONNECTED"), out("sendmsg", 2, unspec, "UNCONNECTED")
			conn := out("send on a connected socket", 2, lo, "CONNECTED")
			m0, m1 := out("sendmmsg, first peer", 2, unspec, "UNCONNECTED"), out("sendmmsg, second peer", 1, unspec, "UNCONNECTED")
			bound := out("reply from a bound port", 1, lo, "UNCONNECTED")
			bound.direction = event.DirectionIn
			high := out("sendto with high bits in int registers", 1, unspec, "UNCONNECTED")
			want := []*expectedUDP{sendto, sendmsg, conn, m0, m1, bound, high}
			plan := udpPlan{Net: family, SendTo: sendto.rcv.port, SendMsg: sendmsg.rcv.port, Connected: conn.rcv.port,
				Mmsg: [2]int{m0.rcv.port, m1.rcv.port}, Bound: bound.rcv.port, HighBits: high.rcv.port}
			if s.UDPConnectedSends {
				w := out("write on a connected socket", 2, lo, "CONNECTED")
				want = append(want, w)
				plan.Write = w.rcv.port
			}
			if family == "6" {
				m := &expectedUDP{what: "IPv4-mapped", rcv: newReceiver(t, "4"), datagrams: 1, remote: "127.0.0.1",
					local: "::", direction: event.DirectionOut, state: "UNCONNECTED", mapped: true}
				want = append(want, m)
				plan.Mapped = m.rcv.port
			}
			// Negatives: a TCP connection, a unix datagram.
			ln, err := net.Listen("tcp"+family, loopback(family)+":0")
			require.NoError(t, err)
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
			}()
			plan.TCP = ln.Addr().(*net.TCPAddr).Port
			sock := t.TempDir() + "/dgram"
			ux, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			require.NoError(t, err)
			defer ux.Close()
			plan.Unix = sock

			pid, marker := runUDPHelper(t, self, plan)

			sport := map[*expectedUDP]int{}
			for _, w := range want {
				src := w.rcv.sources(t, w.datagrams)
				require.Len(t, src, w.datagrams, "%s: datagrams received", w.what)
				for _, p := range src {
					require.Equal(t, src[0], p, "%s: one source port", w.what)
				}
				sport[w] = src[0]
			}

			// The child's exit comes after all its sends in the ring buffer.
			mine := func() (udp []*event.ConnectionCreatePayload, exited bool) {
				for _, p := range payloads[*event.ConnectionCreatePayload](rec, event.ConnectionCreate) {
					if p.ProcessID == pid && p.Protocol == "UDP" {
						udp = append(udp, p)
					}
				}
				for _, p := range payloads[*event.ProcessTerminatePayload](rec, event.ProcessTerminate) {
					exited = exited || p.ProcessID == pid
				}
				return
			}
			waitUntil(5*time.Second, func() bool { _, ex := mine(); return ex })
			got, exited := mine()
			require.True(t, exited, "no ProcessTerminate of the helper; stats %+v", c.Stats())

			byPeer := map[string][]*event.ConnectionCreatePayload{}
			for _, p := range got {
				byPeer[net.JoinHostPort(p.RemoteAddress, p.RemotePort)] = append(byPeer[net.JoinHostPort(p.RemoteAddress, p.RemotePort)], p)
			}
			for _, w := range want {
				peer := net.JoinHostPort(w.remote, strconv.Itoa(w.rcv.port))
				ps := byPeer[peer]
				if !assert.Len(t, ps, 1, "%s: one event for %s", w.what, peer) {
					continue
				}
				p := ps[0]
				assert.Equal(t, w.direction, p.Direction, w.what)
				assert.Equal(t, strconv.Itoa(sport[w]), p.LocalPort, w.what)
				assert.Equal(t, w.local, p.LocalAddress, w.what)
				assert.Equal(t, self, p.Executable, w.what)
				assert.Equal(t, self+" udp-helper "+marker, p.CommandLine, w.what)
				assert.Equal(t, strconv.Itoa(os.Getuid()), p.UserID, w.what)
				assert.Equal(t, w.state, p.ExtraDetails[KeyState], w.what)
				assert.Equal(t, "ebpf", p.ExtraDetails[KeySource], w.what)
				assert.Equal(t, "true", p.ExtraDetails[KeyLoopback], w.what)
				if w.mapped {
					assert.Equal(t, "true", p.ExtraDetails[KeyIPv4Mapped], w.what)
					assert.Equal(t, "IPv6", p.ExtraDetails[KeyFamily], w.what)
				}
				assert.Empty(t, p.ExtraDetails[KeyEnrichment], w.what)
			}
			t.Logf("UDP events of the helper (sock_send_length %v): %v", s.UDPConnectedSends, peers(got))
			assert.Len(t, got, len(want), "one UDP event per peer and none for TCP or a unix socket: %v", peers(got))
			for _, ev := range rec.Events() {
				if ev.Name == event.ConnectionCreate {
					require.NoError(t, v.ValidateEvent(ev), "%s", ev.AppendJSON(nil))
				}
			}
		})
	}
	assert.Zero(t, c.Stats().Lost())
}

func peers(ps []*event.ConnectionCreatePayload) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Direction+" "+p.LocalAddress+":"+p.LocalPort+" → "+p.RemoteAddress+":"+p.RemotePort)
	}
	return out
}

// kernelAtLeast reports whether the running kernel is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// A process that sends to a peer and then execs a program that sends to
// the same peer is reported twice: the peers a process has reported are
// remembered per program (the kernel's exec count is part of the key), so
// a payload exec'd by a process that talked to a server before is seen.
func TestUDPFirstSendAfterExec(t *testing.T) {
	c := newCollector(t, Options{Connections: true, RingBufferSize: testRing})
	if !c.Stats().UDP {
		t.Skip("UDP sends are only traced on amd64 and arm64")
	}
	rec := run(t, c)
	self, err := os.Executable()
	require.NoError(t, err)
	self = realPath(t, self)
	rcv := newReceiver(t, "4")
	pid, marker := runUDPHelper(t, self, udpPlan{Net: "4", SendTo: rcv.port, Once: true, Exec: "udp-after-exec"})
	require.Len(t, rcv.sources(t, 2), 2, "datagrams received")

	var lines []string
	waitUntil(5*time.Second, func() bool {
		lines = nil
		for _, p := range payloads[*event.ConnectionCreatePayload](rec, event.ConnectionCreate) {
			if p.ProcessID == pid && p.Protocol == "UDP" && p.RemotePort == strconv.Itoa(rcv.port) {
				lines = append(lines, p.CommandLine)
			}
		}
		return len(lines) >= 2
	})
	assert.ElementsMatch(t, []string{self + " udp-helper " + marker, self + " udp-after-exec " + marker}, lines,
		"one event per program for the same peer")
	assert.Zero(t, c.Stats().Lost())
}

// mmsgMany is how many messages the MmsgMany helper sends in one sendmmsg:
// more than the programs look at (8).
const mmsgMany = 11

// The messages of a sendmmsg after the eighth are not looked at: each is
// counted in Stats.UDPUnread, not lost silently.
func TestUDPSendmmsgBeyondEightCounted(t *testing.T) {
	c := newCollector(t, Options{Connections: true, RingBufferSize: testRing, ReportEvery: 100 * time.Millisecond})
	if !c.Stats().UDP {
		t.Skip("UDP sends are only traced on amd64 and arm64")
	}
	rec := run(t, c)
	r := newReceiver(t, "4")
	before := c.Stats().UDPUnread
	b, err := json.Marshal(udpPlan{Net: "4", MmsgMany: r.port})
	require.NoError(t, err)
	runHelperArgs(t, "udp "+string(b))
	require.Len(t, r.sources(t, mmsgMany), mmsgMany, "datagrams received")
	require.GreaterOrEqual(t, c.Stats().UDPUnread-before, uint64(mmsgMany-8), "messages not looked at")
	// And the collector says so through its Sink, not only in Stats.
	require.Eventually(t, func() bool {
		for _, e := range rec.Errors() {
			if strings.Contains(e.Err.Error(), "sendmmsg messages after the eighth") {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "the unread sendmmsg messages were not reported: %v", rec.Errors())
}
