package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// memoryClasses are the runtime/metrics samples a memory report prints, in
// order: together they attribute the module's anonymous memory (RssAnon)
// to the Go heap's live objects, its free pages (kept or already returned
// to the OS), goroutine stacks and the runtime's own metadata.
var memoryClasses = []string{
	"/gc/heap/live:bytes",
	"/gc/heap/goal:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/other:bytes",
	"/memory/classes/profiling/buckets:bytes",
	"/memory/classes/other:bytes",
	"/memory/classes/total:bytes",
	"/gc/cycles/total:gc-cycles",
	"/gc/gogc:percent",
	"/gc/gomemlimit:bytes",
	"/sched/goroutines:goroutines",
	"/sched/gomaxprocs:threads",
}

// procStatusKeys are the lines of /proc/self/status a memory report copies.
var procStatusKeys = []string{"VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "VmData", "Threads"}

// writeMemoryReport writes the process's memory figures to w, one
// "name value" line each: the runtime/metrics memory classes and the
// kernel's view from /proc/self/status (in bytes).
func writeMemoryReport(w io.Writer) error {
	samples := make([]metrics.Sample, len(memoryClasses))
	for i, n := range memoryClasses {
		samples[i].Name = n
	}
	metrics.Read(samples)
	bw := bufio.NewWriter(w)
	for _, s := range samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			fmt.Fprintf(bw, "%s %d\n", s.Name, s.Value.Uint64())
		case metrics.KindFloat64:
			fmt.Fprintf(bw, "%s %g\n", s.Name, s.Value.Float64())
		}
	}
	if exe, err := os.Readlink("/proc/self/exe"); err == nil {
		if sm, err := os.ReadFile("/proc/self/smaps"); err == nil {
			lo, hi := heapArenaRange()
			r := residentByKind(sm, exe, lo, hi)
			for _, k := range residentKinds {
				fmt.Fprintf(bw, "/proc/self/smaps/%s %d\n", k, r[k])
			}
		}
	}
	st, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || !slices.Contains(procStatusKeys, k) {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			n, perr := strconv.ParseInt(f[0], 10, 64)
			if perr != nil {
				continue
			}
			if len(f) > 1 && f[1] == "kB" {
				n *= 1024
			}
			fmt.Fprintf(bw, "/proc/self/status/%s %d\n", k, n)
		}
	}
	return errors.Join(err, bw.Flush())
}

// notifyMemoryReport starts relaying SIGUSR1 (which would otherwise end
// the process) to the returned channel; signal.Stop it when done.
func notifyMemoryReport() chan os.Signal {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	return sig
}

// residentKinds are the kinds of mappings residentByKind tells apart.
var residentKinds = []string{"executable", "heap", "anonymous", "bpf", "spool", "files"}

// heapArenaSize is the Go runtime's heap arena size on 64-bit Linux.
const heapArenaSize = 64 << 20

// heapArenaRange returns an address range that holds the Go heap's arenas:
// eight 64 MiB arenas around the arena of a freshly allocated object (the
// runtime places arenas one after the other from a randomised start, far
// from the addresses the kernel gives other mappings; the module's heap
// stays well inside 256 MiB, and the object may be in a later arena than
// the first).
func heapArenaRange() (lo, hi uint64) {
	p := new([64]byte)
	a := uint64(reflect.ValueOf(p).Pointer()) &^ (heapArenaSize - 1)
	lo = a - min(a, 4*heapArenaSize)
	return lo, a + 4*heapArenaSize
}

// residentByKind sums the resident kB (the Rss lines) of the mappings of
// an smaps file by kind, in bytes: "executable" (the file exe), "heap"
// (anonymous mappings within [heapLo, heapHi): the Go heap's objects, its
// free pages not yet returned and the goroutine stacks), "anonymous"
// (other anonymous memory: the runtime's off-heap metadata, thread
// stacks), "bpf" (BPF maps mapped into the process: the eBPF source's ring
// buffer), "spool" (the message spool's memory-mapped database) and
// "files" (any other file).
func residentByKind(smaps []byte, exe string, heapLo, heapHi uint64) map[string]int64 {
	out := make(map[string]int64, len(residentKinds))
	kind := ""
	for _, l := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if k, v, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			lo, err1 := strconv.ParseUint(k, 16, 64)
			_, err2 := strconv.ParseUint(v, 16, 64)
			if err1 == nil && err2 == nil {
				path := ""
				if len(f) >= 6 {
					path = strings.Join(f[5:], " ")
				}
				switch {
				case path == exe:
					kind = "executable"
				case path == "" || strings.HasPrefix(path, "["):
					kind = "anonymous"
					if path == "" && lo >= heapLo && lo < heapHi {
						kind = "heap"
					}
				case strings.HasPrefix(path, "anon_inode:bpf"):
					kind = "bpf"
				case strings.HasSuffix(path, "spool.db"):
					kind = "spool"
				default:
					kind = "files"
				}
				continue
			}
		}
		if f[0] == "Rss:" && len(f) >= 2 && kind != "" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				out[kind] += n << 10
			}
		}
	}
	return out
}

// memoryReports writes, every time sig receives (SIGUSR1: see
// notifyMemoryReport), a memory report to path, and in a build with -tags
// memprofile the heap profile (pprof) to path+".pprof", replacing the
// previous ones. It is a diagnostic for attributing the module's footprint
// (scripts/footprint -m); it returns when ctx is done.
func memoryReports(ctx context.Context, sig <-chan os.Signal, path string, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		if err := writeFileWith(path, writeMemoryReport); err != nil {
			log.Warn("cannot write the memory report", "path", path, "err", err)
			continue
		}
		if heapProfile != nil {
			if err := writeFileWith(path+".pprof", heapProfile); err != nil {
				log.Warn("cannot write the heap profile", "path", path+".pprof", "err", err)
				continue
			}
		}
		log.Info("memory report written", "path", path)
	}
}

// writeFileWith writes path (via a temporary file renamed over it) with
// write.
func writeFileWith(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
