package moby_test

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

// BenchmarkInventory compares the Backend's inventory with what a user
// would script instead: docker ps -a + docker inspect, with 10 and 100
// created containers. It reports the heap growth per inventory and the
// process's peak RSS.
func BenchmarkInventory(b *testing.B) {
	cli, image := mobyct.Connect(b)
	host := containertest.Env(b, containertest.EnvDocker)
	prefix := mobyct.Prefix(b)
	made := 0
	for _, n := range []int{10, 100} {
		for ; made < n; made++ {
			mobyct.Create(b, cli, image, prefix, containertest.Case{Name: fmt.Sprint("bench", made), Labels: containertest.EdgeLabels(100)})
		}
		b.Run(fmt.Sprintf("containers=%d/engine", n), func(b *testing.B) {
			e := benchEngine(host)
			defer e.Close()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for b.Loop() {
				items, err := e.Inventory(context.Background(), 0)
				if err != nil || len(items) < n {
					b.Fatalf("%d items, %v", len(items), err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "alloc-bytes/op")
			b.ReportMetric(float64(after.HeapSys)/(1<<20), "heap-sys-MiB")
		})
		b.Run(fmt.Sprintf("containers=%d/docker-cli", n), func(b *testing.B) {
			for b.Loop() {
				ids, err := exec.Command("docker", "-H", host, "ps", "-a", "-q", "--no-trunc").Output()
				if err != nil {
					b.Fatal(err)
				}
				args := append([]string{"-H", host, "inspect"}, strings.Fields(string(ids))...)
				if out, err := exec.Command("docker", args...).Output(); err != nil || len(out) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchEngine(host string) *moby.Backend {
	return moby.New(moby.Options{Sockets: []string{host}})
}
