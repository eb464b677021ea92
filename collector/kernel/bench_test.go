package kernel

import (
	"context"
	"strconv"
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
