package kernel

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/event"
)

// BenchmarkShortConnections opens and closes 1,000 loopback TCP
// connections (each closed at once, in a helper process) per iteration
// and reports the share seen in both directions with the helper's pid:
// the eBPF source beside the sock_diag sampler (collector/connection,
// 1 s snapshots) a user would otherwise run.
//
//	go test -run '^$' -bench ShortConnections -benchtime 3x ./collector/kernel
func BenchmarkShortConnections(b *testing.B) {
	const n = 1000
	for _, src := range []string{"ebpf", "sockdiag"} {
		b.Run(src, func(b *testing.B) {
			var c collector.Collector
			settle := 200 * time.Millisecond
			if src == "ebpf" {
				c = newCollector(b, Options{Connections: true})
			} else {
				c = connection.New(connection.Options{})
				settle = 1500 * time.Millisecond // baseline snapshot taken
			}
			rec := collectortest.NewRecorder()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, rec) }()
			defer func() { cancel(); <-done }()
			time.Sleep(settle)
			var seen, total int
			for b.Loop() {
				pid, port := runHelper(b, n, "tcp4")
				time.Sleep(settle) // the sampler's next snapshot, the reader's poll
				p := strconv.Itoa(port)
				for _, ev := range rec.Events() {
					for _, it := range ev.Payload {
						cc, ok := it.(*event.ConnectionCreatePayload)
						if !ok || cc.ProcessID != pid {
							continue
						}
						if (cc.Direction == event.DirectionOut && cc.RemotePort == p) || (cc.Direction == event.DirectionIn && cc.LocalPort == p) {
							seen++
						}
					}
				}
				total += 2 * n
				rec.Reset()
			}
			b.ReportMetric(100*float64(seen)/float64(max(total, 1)), "seen-with-pid-%")
		})
	}
}

// BenchmarkWatchedPathsChange measures applying a new watched path list
// to loaded programs: rewriting the running filter (SetWatchedPaths), for
// a prefix added to the defaults and for a whole list replaced, beside
// what a user would do without it, closing and loading the collector
// again with the new Options.WatchedPaths.
//
//	go test -run '^$' -bench WatchedPathsChange -benchtime 20x ./collector/kernel
func BenchmarkWatchedPathsChange(b *testing.B) {
	added := append(slices.Clone(DefaultWatchedPaths), WatchedPath{"/opt/app/secrets/", OpRead | OpWrite})
	other := make([]WatchedPath, len(DefaultWatchedPaths))
	for i := range other {
		other[i] = WatchedPath{"/srv/w" + strconv.Itoa(i) + "/", OpRead}
	}
	for _, bc := range []struct {
		name string
		a, b []WatchedPath
	}{{"rewrite-add-one", DefaultWatchedPaths, added}, {"rewrite-replace-all", DefaultWatchedPaths, other}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newCollector(b, Options{Activity: true})
			if !c.Stats().Activity {
				b.Skip("system call activity is only built for amd64 and arm64")
			}
			lists := [][]WatchedPath{bc.b, bc.a}
			b.ResetTimer()
			for i := range b.N {
				if err := c.SetWatchedPaths(lists[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("reload", func(b *testing.B) {
		newCollector(b, Options{}).Close() // skip early when not available
		lists := [][]WatchedPath{added, DefaultWatchedPaths}
		b.ResetTimer()
		for i := range b.N {
			c, err := New(Options{Activity: true, WatchedPaths: lists[i%2]})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkShortUDP runs 1,000 short-lived processes per iteration (the
// test binary as a helper, four at a time), each sending one UDP datagram
// to its own loopback port and exiting at once, and reports the share
// seen with the sender's pid and command line (seen-with-pid-cmdline-%)
// and seen at all (seen-%): the eBPF source beside the sock_diag sampler
// (collector/connection, 1 s snapshots). "connected" sockets call
// connect(2) and write(2), as resolvers do (the only UDP sockets with a
// peer in the socket tables); "sendto" sockets send with an address.
//
//	go test -run '^$' -bench ShortUDP -benchtime 1x ./collector/kernel
func BenchmarkShortUDP(b *testing.B) {
	const n = 1000
	for _, src := range []string{"ebpf", "sockdiag"} {
		for _, mode := range []string{"connected", "sendto"} {
			b.Run(src+"/"+mode, func(b *testing.B) {
				var c collector.Collector
				settle := 200 * time.Millisecond
				if src == "ebpf" {
					k := newCollector(b, Options{Connections: true, RingBufferSize: 4 << 20})
					if s := k.Stats(); !s.UDP || (mode == "connected" && !s.UDPConnectedSends) {
						b.Skipf("UDP %s sends are not traced here: %+v", mode, s)
					}
					c = k
				} else {
					c = connection.New(connection.Options{})
					settle = 1500 * time.Millisecond // baseline snapshot taken
				}
				rcv := make([]net.PacketConn, n)
				for i := range rcv {
					r, err := net.ListenPacket("udp4", "127.0.0.1:0")
					if err != nil {
						b.Fatal(err)
					}
					defer r.Close()
					rcv[i] = r
				}
				self, err := os.Executable()
				if err != nil {
					b.Fatal(err)
				}
				rec := collectortest.NewRecorder()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- c.Run(ctx, rec) }()
				defer func() { cancel(); <-done }()
				time.Sleep(settle)
				var seen, withPid, total int
				for b.Loop() {
					marker := fmt.Sprintf("UDPBENCH-%d", time.Now().UnixNano())
					pids := make([]int, n)
					var wg sync.WaitGroup
					errs := make(chan error, 4)
					for w := range 4 {
						wg.Go(func() {
							for i := w; i < n; i += 4 {
								port := rcv[i].LocalAddr().(*net.UDPAddr).Port
								plan := fmt.Sprintf(`{"Net":"4","SendTo":%d}`, port)
								if mode == "connected" {
									plan = fmt.Sprintf(`{"Net":"4","Write":%d,"Once":true}`, port)
								}
								cmd := exec.Command(self, "udp-bench", marker+"-"+strconv.Itoa(i))
								cmd.Env = append(os.Environ(), helperEnv+"=udp "+plan)
								if out, err := cmd.CombinedOutput(); err != nil {
									errs <- fmt.Errorf("helper: %w: %s", err, out)
									return
								}
								pids[i] = cmd.Process.Pid
							}
						})
					}
					wg.Wait()
					close(errs)
					for err := range errs {
						b.Fatal(err)
					}
					time.Sleep(settle) // the sampler's next snapshot, the reader's poll
					byPort := map[string]int{}
					for i, r := range rcv {
						byPort[strconv.Itoa(r.LocalAddr().(*net.UDPAddr).Port)] = i
					}
					got, good := map[int]bool{}, map[int]bool{}
					for _, it := range payloads[*event.ConnectionCreatePayload](rec, event.ConnectionCreate) {
						i, ok := byPort[it.RemotePort]
						if !ok || it.Protocol != "UDP" || it.RemoteAddress != "127.0.0.1" {
							continue
						}
						got[i] = true
						if it.ProcessID == pids[i] && strings.HasSuffix(it.CommandLine, " udp-bench "+marker+"-"+strconv.Itoa(i)) {
							good[i] = true
						}
					}
					seen += len(got)
					withPid += len(good)
					total += n
					rec.Reset()
				}
				b.ReportMetric(100*float64(withPid)/float64(max(total, 1)), "seen-with-pid-cmdline-%")
				b.ReportMetric(100*float64(seen)/float64(max(total, 1)), "seen-%")
			})
		}
	}
}

// BenchmarkUDPSendCost measures what the UDP tracing adds to a datagram:
// a helper process sends 200,000 datagrams to one loopback peer with
// sendto(2), without the eBPF source loaded (none), with its process
// programs only (ebpf-noconn) and with Connections on (ebpf: sys_exit and
// sock_send_length traced). It reports the helper's mean
// time per datagram (ns/datagram) and, with the source, the kernel's own
// measure of the programs per datagram (bpf-ns/datagram: run time of
// handle_sys_exit and handle_sock_send over the run, which also includes
// every other system call exit of the host meanwhile).
//
//	go test -run '^$' -bench UDPSendCost -benchtime 5x ./collector/kernel
func BenchmarkUDPSendCost(b *testing.B) {
	const n = 200000
	for _, src := range []string{"none", "ebpf-noconn", "ebpf"} {
		b.Run(src, func(b *testing.B) {
			var k *Collector
			if src != "none" {
				k = newCollector(b, Options{Connections: src == "ebpf"})
			}
			if src == "ebpf" {
				st, err := EnableProgramStats()
				if err != nil {
					b.Skip(err)
				}
				defer st.Close()
			}
			if k != nil {
				rec := collectortest.NewRecorder()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- k.Run(ctx, rec) }()
				defer func() { cancel(); <-done }()
			}
			r, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			go func() { // drain, so that the socket buffer never fills
				buf := make([]byte, 64)
				for {
					if _, _, err := r.ReadFrom(buf); err != nil {
						return
					}
				}
			}()
			self, err := os.Executable()
			if err != nil {
				b.Fatal(err)
			}
			plan := fmt.Sprintf(`{"Net":"4","SendTo":%d,"Flood":%d}`, r.LocalAddr().(*net.UDPAddr).Port, n)
			var perDatagram, bpfNs, runs int64
			progTime := func() time.Duration {
				if src != "ebpf" {
					return 0
				}
				ps, err := k.ProgramStats()
				if err != nil {
					b.Fatal(err)
				}
				return ps["handle_sys_exit"].RunTime + ps["handle_sock_send"].RunTime
			}
			for b.Loop() {
				before := progTime()
				cmd := exec.Command(self)
				cmd.Env = append(os.Environ(), helperEnv+"=udp "+plan)
				out, err := cmd.Output()
				if err != nil {
					b.Fatal(err)
				}
				var ns int64
				if _, err := fmt.Sscan(string(out), &ns); err != nil {
					b.Fatal(err)
				}
				perDatagram += ns
				bpfNs += int64(progTime() - before)
				runs++
				if src == "ebpf" && os.Getenv("EDGESEC_BENCH_DEBUG") != "" {
					ps, _ := k.ProgramStats()
					b.Logf("%+v", ps)
				}
			}
			b.ReportMetric(float64(perDatagram)/float64(runs), "ns/datagram")
			if src == "ebpf" {
				b.ReportMetric(float64(bpfNs)/float64(runs*n), "bpf-ns/datagram")
			}
		})
	}
}

// BenchmarkRecordPath runs the collector's userspace path per record
// (parse, process table, enrichment, event construction, queueing to the
// emitter) on recorded ring buffer records, with no kernel part: one op
// is one whole process (its fork, exec and exit records: a ProcessCreate
// and a ProcessTerminate), or one connection. Side by side with the proc
// connector path a user would otherwise run:
//
//	go test -run '^$' -bench 'RecordPath|EventPath' -benchmem ./collector/kernel ./collector/process
func BenchmarkRecordPath(b *testing.B) {
	for _, bc := range []struct {
		name    string
		records []string
	}{
		{"process", []string{"fork", "exec", "exit_signal"}},
		{"connection", []string{"connect6"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var raw [][]byte
			for _, n := range bc.records {
				raw = append(raw, fixture(b, n))
			}
			e := testEnricher(b, Options{})
			r := record{strs: newInterner()} // as the reader does
			// The process is known, as when its exec was seen.
			for _, rb := range raw {
				if err := parseRecord(rb, &r); err != nil {
					b.Fatal(err)
				}
				e.live.put(int(r.TGID), &procInfo{ppid: int(r.PPID), comm: r.Comm, exe: "/usr/bin/curl",
					cmdline: "curl http://[::1]/"})
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for _, rb := range raw {
					if err := parseRecord(rb, &r); err != nil {
						b.Fatal(err)
					}
					e.handle(&r)
				}
				e.flush()
				if n++; n%64 == 0 {
					_ = e.out.Take()
				}
			}
			if e.c.dropped.Load() != 0 {
				b.Fatalf("%d events dropped", e.c.dropped.Load())
			}
		})
	}
}

// BenchmarkSyscallCost is the cost the system call programs add to a
// system call they do not report (getppid: neither watched nor an accept
// or a send), as the kernel measures them (kernel.EnableProgramStats): the
// mean run time of handle_sys_enter and handle_sys_exit per run, over
// every system call the host made meanwhile. Needs CAP_SYS_ADMIN.
//
//	go test -run '^$' -bench SyscallCost -benchtime 2000000x ./collector/kernel
func BenchmarkSyscallCost(b *testing.B) {
	k := newCollector(b, Options{Connections: true, Activity: true})
	st, err := EnableProgramStats()
	if err != nil {
		b.Skip(err)
	}
	defer st.Close()
	stats := func() map[string]ProgramStats {
		ps, err := k.ProgramStats()
		if err != nil {
			b.Fatal(err)
		}
		return ps
	}
	before := stats()
	for b.Loop() {
		syscall.Getppid()
	}
	after := stats()
	for _, name := range []string{"handle_sys_enter", "handle_sys_exit"} {
		runs := after[name].Runs - before[name].Runs
		if runs == 0 {
			b.Fatalf("%s did not run", name)
		}
		ns := float64(after[name].RunTime-before[name].RunTime) / float64(runs)
		b.ReportMetric(ns, strings.TrimPrefix(name, "handle_")+"-ns/run")
	}
}
