package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/event"
)

// footprintEnv makes execbench a footprint child: it runs one collector
// for a few seconds and prints its RSS.
const footprintEnv = "EXECBENCH_FOOTPRINT"

// footprints runs a fresh process per source (netlink, ebpf) so that each
// RSS is the collector's alone, on top of the Go runtime's base, and
// prints them. The ebpf child has connections and activity on.
func footprints(d time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("\nfootprint: one collector per process, RSS after %s (steady) and its peak (VmHWM)\n", d)
	for _, mode := range []string{"netlink", "ebpf"} {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), footprintEnv+"="+mode+","+d.String())
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("footprint %s: %w: %s", mode, err, out)
		}
		fmt.Print(string(out))
	}
	return nil
}

// footprintChild is the child's main: it prints the collector's RSS and
// its CPU time and context switches a second while idle (the host's own
// processes only).
func footprintChild(arg string) error {
	mode, ds, _ := strings.Cut(arg, ",")
	d, err := time.ParseDuration(ds)
	if err != nil {
		return err
	}
	var c collector.Collector
	if mode == "ebpf" {
		k, err := kernel.New(kernel.Options{Connections: true, Activity: true})
		if err != nil {
			return err
		}
		defer k.Close()
		c = k
	} else {
		c = process.New(process.Options{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, collector.SinkFunc(func(context.Context, ...event.Event) error { return nil }))
	}()
	// CPU and context switches after a settling second (loading the BPF
	// programs is not counted): the collector's cost with only the
	// host's own processes to report.
	settle := min(time.Second, d/2)
	time.Sleep(settle)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	time.Sleep(d - settle)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	secs := (d - settle).Seconds()
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Printf("%-8s RSS %s, peak %s (anonymous %s, file and mapped %s); CPU %.1f ms/s, %.0f context switches/s\n", mode,
		procStatus("VmRSS"), procStatus("VmHWM"), procStatus("RssAnon"), procStatus("RssFile"),
		float64(rusageCPU(ru0, ru1).Milliseconds())/secs, float64(ru1.Nvcsw-ru0.Nvcsw+ru1.Nivcsw-ru0.Nivcsw)/secs)
	cancel()
	return <-done
}

func procStatus(key string) string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}
