package containerd_test

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/collector/container/containerd"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/containerdct"
)

// BenchmarkInventory compares the Backend's inventory (all namespaces)
// with ctr containers ls + ctr containers info per container, with 10 and
// 100 created containers.
func BenchmarkInventory(b *testing.B) {
	cli, image := containerdct.Connect(b)
	sock := containertest.Env(b, containertest.EnvContainerd)
	prefix := containerdct.Prefix(b)
	made := 0
	for _, n := range []int{10, 100} {
		for ; made < n; made++ {
			containerdct.Create(b, cli, image, prefix, containertest.Case{Name: fmt.Sprint("bench", made), Labels: containertest.EdgeLabels(100)})
		}
		b.Run(fmt.Sprintf("containers=%d/engine", n), func(b *testing.B) {
			e := containerd.New(containerd.Options{Sockets: []string{"unix://" + sock}})
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
		b.Run(fmt.Sprintf("containers=%d/ctr-cli", n), func(b *testing.B) {
			for b.Loop() {
				ids, err := exec.Command("ctr", "--address", sock, "-n", containerdct.Namespace, "containers", "ls", "-q").Output()
				if err != nil {
					b.Fatal(err)
				}
				for _, id := range strings.Fields(string(ids)) {
					if err := exec.Command("ctr", "--address", sock, "-n", containerdct.Namespace, "containers", "info", id).Run(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
