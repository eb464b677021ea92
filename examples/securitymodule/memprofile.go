//go:build memprofile

package main

import (
	"io"
	"runtime"
	"runtime/pprof"
)

// A build with -tags memprofile (scripts/footprint -m) samples the heap
// for the memory report's heap profile. The default build does not link
// the profiler: the linker then turns heap profiling off for the whole
// process, package initialisation included, and the runtime keeps no
// profile buckets (their hash table alone is 1.4 MB of address space).

// heapProfileRate is the heap profile's sampling interval (bytes): fine
// enough to attribute a heap of a few MB (the runtime's default samples
// one allocation per 512 KiB).
const heapProfileRate = 16 << 10

func init() { runtime.MemProfileRate = heapProfileRate }

// heapProfile writes the heap profile (pprof format) for the memory
// report.
var heapProfile = func(w io.Writer) error { return pprof.Lookup("heap").WriteTo(w, 0) }
