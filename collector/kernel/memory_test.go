package kernel

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/stretchr/testify/require"
)

// heapLive is the live heap after the last garbage collection.
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestLoadKeepsNoBTF: loading the programs parses the kernel's BTF (about
// 5 MB allocated on a 6.x kernel), and none of it outlives New: the live
// heap after a collection grows by far less than the parsed BTF, and the
// kernel's BTF file is no longer mapped.
func TestLoadKeepsNoBTF(t *testing.T) {
	runtime.GC()
	before := heapLive()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	c := newCollector(t, Options{Connections: true, Activity: true})
	runtime.ReadMemStats(&ms1)
	runtime.GC()
	runtime.GC() // the BTF mapping's cleanup runs after the first
	after := heapLive()
	alloc := ms1.TotalAlloc - ms0.TotalAlloc
	t.Logf("New allocated %d kB; live heap %d kB -> %d kB", alloc>>10, before>>10, after>>10)
	require.Greater(t, alloc, uint64(1<<20), "the load allocates the parsed BTF")
	require.Less(t, int64(after)-int64(before), int64(512<<10), "the load keeps at most its tables, not the BTF")
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	require.NotContains(t, string(maps), "/sys/kernel/btf/vmlinux")
	require.Contains(t, string(maps), "anon_inode:bpf-map", "the ring buffer is mapped")
	require.NotNil(t, c)
}
