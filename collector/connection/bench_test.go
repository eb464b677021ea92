package connection_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"

	psnet "github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/internal/sockdiag"
	"github.com/edgesec/edgesec/internal/sockowner"
)

// openSockets opens n sockets in the host's namespace on loopback: n/4
// TCP connections (two sockets each), n/8 listeners, n/8 UDP sockets
// (half of them connected).
func openSockets(b *testing.B, n int) {
	b.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n)+1024 {
		lim.Cur = min(uint64(n)+1024, lim.Max)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(n)+256 {
			b.Skipf("needs RLIMIT_NOFILE >= %d (have %d)", n+256, lim.Cur)
		}
	}
	var closers []func() error
	b.Cleanup(func() {
		for _, c := range closers {
			_ = c()
		}
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	closers = append(closers, ln.Close)
	for range n / 8 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, l.Close)
	}
	for range n / 4 {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, c.Close, s.Close)
	}
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	closers = append(closers, u.Close)
	for i := range n / 8 {
		if i%2 == 0 {
			c, err := net.Dial("udp4", u.LocalAddr().String())
			if err != nil {
				b.Fatal(err)
			}
			closers = append(closers, c.Close)
		} else {
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			closers = append(closers, c.Close)
		}
	}
}

var allTables = []sockdiag.Table{sockdiag.TCP4, sockdiag.TCP6, sockdiag.UDP4, sockdiag.UDP6}

// snapshot is ours: every TCP/UDP socket of the namespace with its owner.
func snapshot(b *testing.B, src *sockdiag.Source, r *sockowner.Resolver, socks []sockdiag.Socket, qs []sockowner.Query) int {
	socks = socks[:0]
	for _, t := range allTables {
		if _, err := src.Dump(t, sockdiag.AllStates, func(s *sockdiag.Socket) { socks = append(socks, *s) }); err != nil {
			b.Fatal(err)
		}
	}
	qs = qs[:0]
	for i := range socks {
		qs = append(qs, sockowner.Query{Inode: socks[i].Inode, UID: socks[i].UID})
	}
	owners, err := r.Lookup(context.Background(), qs)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, o := range owners {
		if o != nil {
			n++
		}
	}
	return n
}

// BenchmarkSnapshot compares a connection + listening snapshot with pid
// attribution: ours (warm: the collectors' steady state, with the inode
// cache; cold: a new Resolver every time, so every /proc/<pid>/fd is
// read), gopsutil's net.ConnectionsWithContext ("all" as asked, and
// "inet", which skips unix sockets), and `ss -tanp` + `ss -uanp`.
//
//	go test -run '^$' -bench Snapshot -benchtime 20x ./collector/connection/
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			openSockets(b, n)
			src := sockdiag.NewSource(sockdiag.SourceOptions{})
			defer src.Close()
			b.Run("ours-warm", func(b *testing.B) {
				r := sockowner.New(sockowner.Options{})
				var socks []sockdiag.Socket
				var qs []sockowner.Query
				owned := snapshot(b, src, r, socks, qs)
				b.ResetTimer()
				for b.Loop() {
					owned = snapshot(b, src, r, socks, qs)
				}
				b.ReportMetric(float64(owned), "owned")
			})
			b.Run("ours-cold", func(b *testing.B) {
				var socks []sockdiag.Socket
				var qs []sockowner.Query
				owned := 0
				for b.Loop() {
					owned = snapshot(b, src, sockowner.New(sockowner.Options{}), socks, qs)
				}
				b.ReportMetric(float64(owned), "owned")
			})
			for _, kind := range []string{"all", "inet"} {
				b.Run("gopsutil-"+kind, func(b *testing.B) {
					owned := 0
					for b.Loop() {
						cs, err := psnet.ConnectionsWithContext(context.Background(), kind)
						if err != nil {
							b.Fatal(err)
						}
						owned = 0
						for _, c := range cs {
							if c.Pid != 0 {
								owned++
							}
						}
					}
					b.ReportMetric(float64(owned), "owned")
				})
			}
			b.Run("ss-tanp+uanp", func(b *testing.B) {
				ss, err := exec.LookPath("ss")
				if err != nil {
					b.Skip("ss (iproute2) is not installed")
				}
				for b.Loop() {
					for _, args := range []string{"-tanp", "-uanp"} {
						if out, err := exec.Command(ss, args).Output(); err != nil || len(out) == 0 {
							b.Fatal(err)
						}
					}
				}
			})
		})
	}
}
