// Command execbench measures how well process monitors capture short-lived
// processes: a C fork/exec generator (testdata/gen.c, built
// with gcc; one generator per core) runs /bin/true at 100, 1,000 exec/s and
// as fast as it can, while one monitor at a time watches:
//
//   - none: no monitor, the baseline exec throughput;
//   - netlink: collector/process on the kernel proc connector;
//   - ebpf: collector/kernel, the eBPF source (argv read in the kernel,
//     batched ring buffer wakeups);
//   - poll: collector/process polling /proc (the fallback);
//   - auditd: auditd with an execve audit rule (the original agents'
//     approach), when auditctl and auditd are installed. The harness starts
//     auditd when it is not running, adds the rule, and removes both
//     afterwards.
//
// For each run it reports the fraction of the generator's processes the
// monitor captured (a ProcessCreate, or an audit SYSCALL record, with the
// child's pid), the fraction captured with the child's unique marker in
// the command line ("with argv"; each child runs /bin/true EB<gen>-<n>),
// what the collector counted as lost (kernel overruns, per-CPU sequence
// gaps, full queue, and events sent without a command line because the
// process had exited before /proc was read), the median and p99 latency from the generator's timestamp
// before fork to the Sink's receipt of the event (none for auditd: its
// records carry only a coarse kernel timestamp), the share of captured
// processes whose /proc enrichment was complete, and the exec throughput against
// the unmonitored run. A last run reports the collector's CPU and RSS under
// a sustained 1,000 exec/s.
//
// It needs root (the proc connector, eBPF, auditd) and gcc.
//
//	go run ./cmd/execbench                  # all monitors, 3 s per run
//	go run ./cmd/execbench -duration 5s -monitors none,netlink
//	go run ./cmd/execbench -monitors none,netlink -rates max -duration 2s -repeat 4 -sustain 5s
//	go run ./cmd/execbench -monitors netlink -rates max -cpuprofile cpu.out -memprofile mem.out
//	go run ./cmd/execbench -monitors netlink -rates 400,max -duration 10s -load 2 -sustain 0
//	go run ./cmd/execbench -monitors none,netlink,ebpf -rates 1000,max -duration 2s -repeat 5 -sustain 4s
//	go run ./cmd/execbench -monitors none -rates 100 -duration 1s -sustain 0 -footprint 10s
//
// -load N keeps N CPU hogs busy during every run (stress-ng --cpu N when
// installed, else N shell busy loops), the loaded-machine case: a monitor
// that does not get the CPU in time reads /proc after the process is gone.
//
// On a shared machine, use -repeat: runs alternate none and the monitors,
// each monitor run's slowdown is against the none run just before it, and
// a summary gives medians and ranges. cpu/exec is this process's CPU time
// (user and system) during a run divided by the generator's processes;
// for netlink, ebpf and poll that is the collector plus the harness's small
// share (recording events, reading the generators' output), and for none
// the harness's share alone (starting the generators, reading their
// output: a few µs); the eBPF
// programs' own cost is in the exec path, and the kernel's measure of it
// is in the ebpf note. The sustained run is made for each of netlink and
// ebpf that -monitors names; -footprint measures each alone in a fresh
// process: its RSS, and its CPU time and context switches a second with
// only the host's own processes to report.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "embed"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/event"
)

//go:embed testdata/gen.c
var genSource []byte

func main() {
	if arg := os.Getenv(footprintEnv); arg != "" {
		if err := footprintChild(arg); err != nil {
			fmt.Fprintln(os.Stderr, "execbench footprint:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "execbench:", err)
		os.Exit(1)
	}
}

type config struct {
	duration     time.Duration
	rates        []int // 0 = max
	monitors     []string
	generators   int
	pollInterval time.Duration
	sustain      time.Duration
	repeat       int
	cpuProfile   string
	memProfile   string
	load         int
	scheduling   process.Scheduling
	footprint    time.Duration
}

func run() error {
	var cfg config
	var rates, monitors string
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "length of each run")
	flag.StringVar(&rates, "rates", "100,1000,max", "total exec rates per second (max: as fast as the generators go)")
	flag.StringVar(&monitors, "monitors", "none,netlink,ebpf,poll,auditd", "monitors to compare")
	flag.IntVar(&cfg.generators, "generators", runtime.NumCPU(), "generator processes (one per core)")
	flag.DurationVar(&cfg.pollInterval, "poll-interval", time.Second, "interval of the /proc polling monitor")
	flag.DurationVar(&cfg.sustain, "sustain", 10*time.Second, "length of the sustained 1,000 exec/s CPU/RSS run (0: skip)")
	flag.IntVar(&cfg.repeat, "repeat", 1, "run the monitors of each rate this many times, alternating, and summarise (medians and ranges; the slowdown of a run is against the preceding none run)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (harness and collectors, every run) to this file")
	flag.StringVar(&cfg.memProfile, "memprofile", "", "write an allocation profile (all allocations) to this file at the end")
	sched := flag.String("reader-scheduling", "auto", "the collector's reader thread scheduling: auto (real-time when allowed), nice or inherit")
	flag.IntVar(&cfg.load, "load", 0, "keep this many CPU hogs running during the runs (stress-ng --cpu N, or shell busy loops)")
	flag.DurationVar(&cfg.footprint, "footprint", 0, "also measure the RSS of the netlink and ebpf collectors, each alone in a fresh process, after this long (0: skip)")
	flag.Parse()
	if cfg.memProfile != "" {
		runtime.MemProfileRate = 4096
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.memProfile != "" {
		defer func() {
			if f, err := os.Create(cfg.memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	for _, r := range strings.Split(rates, ",") {
		if r == "max" {
			cfg.rates = append(cfg.rates, 0)
			continue
		}
		n, err := strconv.Atoi(r)
		if err != nil || n <= 0 {
			return fmt.Errorf("bad rate %q", r)
		}
		cfg.rates = append(cfg.rates, n)
	}
	cfg.monitors = strings.Split(monitors, ",")
	switch *sched {
	case "auto":
		cfg.scheduling = process.SchedulingAuto
	case "nice":
		cfg.scheduling = process.SchedulingNice
	case "inherit":
		cfg.scheduling = process.SchedulingInherit
	default:
		return fmt.Errorf("bad -reader-scheduling %q", *sched)
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (proc connector, auditd)")
	}
	dir, err := os.MkdirTemp("", "execbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gen := filepath.Join(dir, "gen")
	if err := os.WriteFile(gen+".c", genSource, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("gcc", "-O2", "-o", gen, gen+".c").CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %w: %s", err, out)
	}
	if cfg.load > 0 {
		stop, err := startLoad(cfg.load)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Printf("execbench: %d generators (one per core), %s per run, /bin/true MARKER, background load %d, %s\n", cfg.generators, cfg.duration, cfg.load, kernelRelease())
	fmt.Printf("%-8s %9s %10s %9s %9s %8s %11s %11s %10s %9s %9s\n", "monitor", "rate", "exec/s", "captured", "with argv", "counted", "lat p50", "lat p99", "slowdown", "enriched", "cpu/exec")
	baseline := map[int]float64{}
	type key struct {
		rate int
		mon  string
	}
	var order []key
	sum := map[key]*summary{}
	for _, rate := range cfg.rates {
		for i := 0; i < max(1, cfg.repeat)*len(cfg.monitors); i++ {
			mon := cfg.monitors[i%len(cfg.monitors)]
			k := key{rate, mon}
			if sum[k] == nil {
				sum[k] = &summary{}
				order = append(order, k)
			}
			res, err := runOne(cfg, dir, gen, mon, rate)
			if err != nil {
				fmt.Printf("%-8s %9s  error: %v\n", mon, rateName(rate), err)
				continue
			}
			if mon == "none" {
				baseline[rate] = res.execRate
			}
			slow := "-"
			sm := sum[k]
			sm.rate = append(sm.rate, res.execRate)
			if b := baseline[rate]; b > 0 && mon != "none" {
				slow = fmt.Sprintf("%.1f%%", 100*(1-res.execRate/b))
				sm.slow = append(sm.slow, 100*(1-res.execRate/b))
			}
			cpe := "-"
			if res.cpu > 0 && res.total > 0 {
				cpe = fmtDur(res.cpu / time.Duration(res.total))
				sm.cpu = append(sm.cpu, float64(res.cpu/time.Duration(res.total)))
			}
			capt, argv, counted, p50, p99, enr := "-", "-", "-", "-", "-", "-"
			if mon != "none" {
				capt = fmt.Sprintf("%.2f%%", 100*float64(res.captured)/float64(res.total))
				if res.withArgv >= 0 {
					argv = fmt.Sprintf("%.2f%%", 100*float64(res.withArgv)/float64(res.total))
				}
				if res.counted >= 0 {
					counted = strconv.FormatInt(res.counted, 10)
				}
				if len(res.lat) > 0 {
					p50, p99 = fmtDur(pct(res.lat, 50)), fmtDur(pct(res.lat, 99))
				}
				if res.enriched >= 0 && res.captured > 0 {
					enr = fmt.Sprintf("%.1f%%", 100*float64(res.enriched)/float64(res.captured))
				}
			}
			if mon != "none" && res.total > 0 {
				sm.capt = append(sm.capt, 100*float64(res.captured)/float64(res.total))
				if res.withArgv >= 0 {
					sm.argv = append(sm.argv, 100*float64(res.withArgv)/float64(res.total))
				}
				if len(res.lat) > 0 {
					sm.p50 = append(sm.p50, float64(pct(res.lat, 50)))
					sm.p99 = append(sm.p99, float64(pct(res.lat, 99)))
				}
			}
			fmt.Printf("%-8s %9s %10.0f %9s %9s %8s %11s %11s %10s %9s %9s\n", mon, rateName(rate), res.execRate, capt, argv, counted, p50, p99, slow, enr, cpe)
			if res.note != "" {
				fmt.Printf("         note: %s\n", res.note)
			}
		}
	}
	if cfg.repeat > 1 {
		fmt.Printf("\nsummary of %d runs each: median [min, max]\n", cfg.repeat)
		for _, k := range order {
			sm := sum[k]
			fmt.Printf("%-8s %9s exec/s %s", k.mon, rateName(k.rate), span(sm.rate, "%.0f"))
			if k.mon != "none" {
				fmt.Printf("  captured %s%%  with argv %s%%  slowdown %s%%  p50 %s  p99 %s", span(sm.capt, "%.2f"), span(sm.argv, "%.2f"), span(sm.slow, "%.1f"),
					spanDur(sm.p50), spanDur(sm.p99))
			}
			if len(sm.cpu) > 0 {
				fmt.Printf("  cpu/exec %s", spanDur(sm.cpu))
			}
			fmt.Println()
		}
	}
	if cfg.footprint > 0 {
		if err := footprints(cfg.footprint); err != nil {
			return err
		}
	}
	if cfg.sustain > 0 {
		for i := 0; i < max(1, cfg.repeat); i++ {
			for _, mon := range cfg.monitors {
				if mon != "netlink" && mon != "ebpf" {
					continue
				}
				if err := sustained(cfg, dir, gen, mon); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// summary collects the figures of repeated runs.
type summary struct {
	rate, slow, capt, argv, p50, p99, cpu []float64
}

func span(v []float64, f string) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return fmt.Sprintf(f+" ["+f+", "+f+"]", s[len(s)/2], s[0], s[len(s)-1])
}

func spanDur(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	d := func(x float64) string { return fmtDur(time.Duration(x)) }
	return d(s[len(s)/2]) + " [" + d(s[0]) + ", " + d(s[len(s)-1]) + "]"
}

func kernelRelease() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return "linux"
	}
	b := make([]byte, 0, 65)
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return "Linux " + string(b)
}

func rateName(r int) string {
	if r == 0 {
		return "max"
	}
	return strconv.Itoa(r) + "/s"
}

type result struct {
	total, captured int
	withArgv        int   // captured with the child's marker in the command line; -1: not applicable
	counted         int64 // losses the collector counted (LostEvents + Dropped + NoCommandLine); -1: not applicable
	enriched        int   // -1: not applicable
	execRate        float64
	lat             []time.Duration
	note            string
	stats           process.Stats
	kstats          kernel.Stats
	kprog           map[string]kernel.ProgramStats
	cpu             time.Duration // this process's CPU time during the run (the monitor's, for netlink/poll)
}

// child is one process a generator started.
type child struct {
	ts     int64 // CLOCK_REALTIME ns before the fork
	marker string
}

// genRun runs the generators and returns pid → child.
func genRun(dir, gen string, n, rate int, d time.Duration) (map[int]child, float64, error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([]string, n)
	per := float64(rate) / float64(n)
	begin := time.Now()
	for i := range n {
		outs[i] = filepath.Join(dir, fmt.Sprintf("gen%d.out", i))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := exec.Command(gen, strconv.FormatFloat(per, 'f', 3, 64), strconv.FormatFloat(d.Seconds(), 'f', 3, 64), outs[i]).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("generator: %w: %s", err, out)
			}
		}(i)
	}
	wg.Wait()
	wall := time.Since(begin)
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	pids := map[int]child{}
	for _, o := range outs {
		f, err := os.Open(o)
		if err != nil {
			return nil, 0, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue
			}
			pid, _ := strconv.Atoi(f[0])
			ts, _ := strconv.ParseInt(f[1], 10, 64)
			pids[pid] = child{ts: ts, marker: f[2]}
		}
		f.Close()
	}
	_ = wall
	return pids, float64(len(pids)) / d.Seconds(), nil
}

// recSink records the receipt time and command line of each
// ProcessCreate by pid.
type recSink struct {
	mu       sync.Mutex
	seen     map[int]time.Time
	enriched map[int]bool
	cmdline  map[int]string
}

func newRecSink() *recSink {
	return &recSink{seen: map[int]time.Time{}, enriched: map[int]bool{}, cmdline: map[int]string{}}
}

func (s *recSink) Emit(_ context.Context, evs ...event.Event) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ProcessCreatePayload); ok {
				if _, dup := s.seen[p.ProcessID]; !dup {
					s.seen[p.ProcessID] = now
					s.enriched[p.ProcessID] = p.ExtraDetails[process.KeyEnrichment] == "" && p.Executable != ""
					s.cmdline[p.ProcessID] = p.CommandLine
				}
			}
		}
	}
	return nil
}

func runOne(cfg config, dir, gen, mon string, rate int) (result, error) {
	switch mon {
	case "none":
		// cpu is the harness's own share: starting the generators and
		// reading their output, with no monitor.
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		pids, r, err := genRun(dir, gen, cfg.generators, rate, cfg.duration)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		return result{total: len(pids), execRate: r, enriched: -1, withArgv: -1, counted: -1, cpu: rusageCPU(ru0, ru1)}, err
	case "netlink", "poll", "ebpf":
		c, settle, stats, err := newMonitor(cfg, mon)
		if err != nil {
			return result{}, err
		}
		sink := newRecSink()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, sink) }()
		time.Sleep(settle) // subscribed / baseline scan taken
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		pids, r, err := genRun(dir, gen, cfg.generators, rate, cfg.duration)
		time.Sleep(settle)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cancel()
		if rerr := <-done; rerr != nil && err == nil {
			err = rerr
		}
		if err != nil {
			return result{}, err
		}
		res := result{total: len(pids), execRate: r, cpu: rusageCPU(ru0, ru1), counted: -1}
		stats(&res)
		sink.mu.Lock()
		for pid, ch := range pids {
			if at, ok := sink.seen[pid]; ok {
				res.captured++
				res.lat = append(res.lat, at.Sub(time.Unix(0, ch.ts)))
				if sink.enriched[pid] {
					res.enriched++
				}
				if strings.Contains(sink.cmdline[pid], ch.marker) {
					res.withArgv++
				}
			}
		}
		sink.mu.Unlock()
		switch mon {
		case "netlink":
			st := res.stats
			res.counted = int64(st.LostEvents + st.Dropped + st.NoCommandLine)
			res.note = fmt.Sprintf("lost %d, overruns %d, dropped %d, no command line %d, reader %s",
				st.LostEvents, st.Overruns, st.Dropped, st.NoCommandLine, st.ReaderScheduling)
		case "ebpf":
			st := res.kstats
			res.counted = int64(st.Lost() + st.ArgvFaults)
			res.note = fmt.Sprintf("ring buffer full %d, dropped %d, argv faults %d; in the kernel per exec: %s",
				st.RingBufferFull, st.Dropped, st.ArgvFaults, kernelCost(res.kprog))
		}
		return res, nil
	case "auditd":
		return runAuditd(cfg, dir, gen, rate)
	}
	return result{}, fmt.Errorf("unknown monitor %q", mon)
}

// newMonitor returns the collector of mon (not started), how long to let
// it settle before and after a run, and a function that copies its
// counters into a result (and, for ebpf, unloads it).
func newMonitor(cfg config, mon string) (collector.Collector, time.Duration, func(*result), error) {
	switch mon {
	case "ebpf":
		k, err := kernel.New(kernel.Options{})
		if err != nil {
			return nil, 0, nil, err
		}
		// The kernel's own measure of the programs' run time.
		statsOn, err := kernel.EnableProgramStats()
		if err != nil {
			_ = k.Close()
			return nil, 0, nil, err
		}
		// The reader polls every 50 ms: settle longer than that.
		return k, 300 * time.Millisecond, func(r *result) {
			r.kstats = k.Stats()
			if ps, err := k.ProgramStats(); err == nil {
				r.kprog = ps
			}
			_ = statsOn.Close()
			_ = k.Close()
		}, nil
	case "poll":
		c := process.New(process.Options{Mode: process.ModePoll, PollInterval: cfg.pollInterval})
		return c, 2 * cfg.pollInterval, func(r *result) { r.stats = c.Stats() }, nil
	}
	c := process.New(process.Options{Mode: process.ModeNetlink, ReaderScheduling: cfg.scheduling})
	return c, 300 * time.Millisecond, func(r *result) { r.stats = c.Stats() }, nil
}

// kernelCost formats the programs' mean run time per exec: the exec
// program's, and the sum of exec, fork and exit (one of each per
// generated process).
func kernelCost(ps map[string]kernel.ProgramStats) string {
	e := ps["handle_exec"]
	if e.Runs == 0 {
		return "not measured"
	}
	var all time.Duration
	for _, p := range []string{"handle_exec", "handle_fork", "handle_exit"} {
		if s := ps[p]; s.Runs > 0 {
			all += s.RunTime / time.Duration(s.Runs)
		}
	}
	return fmt.Sprintf("exec program %s, exec+fork+exit %s", fmtDur(e.RunTime/time.Duration(e.Runs)), fmtDur(all))
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[min(i, len(s)-1)]
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// sustained runs the collector of mon (netlink or ebpf) under a steady
// 1,000 exec/s and reports the process's CPU time and RSS (the harness
// idles meanwhile, so both are the collector's, on top of the Go
// runtime's base).
func sustained(cfg config, dir, gen, mon string) error {
	c, _, stats, err := newMonitor(cfg, mon)
	if err != nil {
		return err
	}
	defer stats(&result{})
	sink := newRecSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, sink) }()
	time.Sleep(300 * time.Millisecond)
	rssBefore := rssKiB()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	var peak int
	stopRSS := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopRSS:
				return
			case <-t.C:
				peak = max(peak, rssKiB())
			}
		}
	}()
	pids, r, err := genRun(dir, gen, cfg.generators, 1000, cfg.sustain)
	wall := time.Since(t0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	close(stopRSS)
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if err != nil {
		return err
	}
	cpu := rusageCPU(ru0, ru1)
	sink.mu.Lock()
	captured := 0
	for pid := range pids {
		if _, ok := sink.seen[pid]; ok {
			captured++
		}
	}
	sink.mu.Unlock()
	fmt.Printf("\nsustained %.0f exec/s for %s (%s collector, in process): CPU %.1f%% of one core, RSS %d KiB before, peak %d KiB; captured %.2f%%\n",
		r, cfg.sustain, mon, 100*cpu.Seconds()/wall.Seconds(), rssBefore, peak, 100*float64(captured)/float64(max(1, len(pids))))
	return nil
}

func rusageCPU(ru0, ru1 syscall.Rusage) time.Duration {
	return time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
}

func rssKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// startLoad starts n CPU hogs (stress-ng --cpu n when installed, else n
// shell busy loops) and returns a function that stops them.
func startLoad(n int) (stop func(), err error) {
	var cmds []*exec.Cmd
	if p, err := exec.LookPath("stress-ng"); err == nil {
		cmds = append(cmds, exec.Command(p, "--cpu", strconv.Itoa(n), "--quiet"))
	} else {
		for range n {
			cmds = append(cmds, exec.Command("/bin/sh", "-c", "while :; do :; done"))
		}
	}
	stop = func() {
		for _, c := range cmds {
			if c.Process != nil {
				// stress-ng ends its workers on SIGTERM.
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}
		}
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("starting the CPU load: %w", err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the hogs spin up
	return stop, nil
}
