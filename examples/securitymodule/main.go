// Command securitymodule is edgesec's reference security module for Azure
// IoT Edge: it collects security events from the host (and, as collectors
// are added, from its containers), packs them into ASC security messages and
// sends them to its output, configured by the module twin object
// ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration or a local file
// in the same shape.
//
// Run it on a machine (no IoT Edge needed) and it prints one message
// envelope per line on stdout, logs on stderr:
//
//	go run ./examples/securitymodule
//
// See --help for the flags; every flag has an environment variable
// equivalent (EDGESEC_CONFIG, EDGESEC_STATE_DIR, EDGESEC_OUTPUT,
// EDGESEC_HOST_ROOT, EDGESEC_LOG_LEVEL).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/defaults"
	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/outbox/boltstore"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/file"
	"github.com/edgesec/edgesec/twinconfig"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

//go:embed default-config.json
var defaultConfig []byte

const usage = `securitymodule — edgesec reference security module for Azure IoT Edge

Usage:
  securitymodule [flags]

Collects security events from this host, aggregates them and packs them into
ASC security messages (schema 1.0). With no flags it runs on its embedded
default configuration and prints one message per line on stdout; logs go to
stderr. SIGINT or SIGTERM flush what is queued (aggregations included) and
exit 0.

Flags:
  --config FILE      configuration in the module twin's JSON: a full twin
                     document (properties.desired.<object>), {"<object>": {…}},
                     or the bare {key: {"value": …}} map. Watched for changes;
                     a bad file keeps the last good configuration.
                     Default: the embedded default.            [EDGESEC_CONFIG]
  --state-dir DIR    where the agent id, the message spool and the reported
                     configuration are kept; created (mode 0700) if missing
                     (default: $XDG_STATE_HOME/edgesec or ~/.local/state/edgesec,
                     /var/lib/edgesec as root)                 [EDGESEC_STATE_DIR]
  --output OUT       "stdout" or a file path (JSON lines, fsync'd). Default:
                     chosen from the environment — EdgeHubConnectionString
                     (+ EdgeModuleCACertificateFile) or
                     IotHubConnectionString, else IoT Edge (IOTEDGE_*
                     variables: edgeHub with workload API tokens), else
                     --mqtt; otherwise stdout.
                                                               [EDGESEC_OUTPUT]
  --mqtt URL         send to an MQTT 3.1.1 broker: tcp://, ssl:// or mqtts://
                     host:port, with optional ?ca=&cert=&key=&topic=&client_id=
                     (user:password in the URL or EDGESEC_MQTT_USERNAME and
                     EDGESEC_MQTT_PASSWORD)                    [EDGESEC_MQTT_URL]
  --host-root DIR    where the host's filesystem is: "/" on the host, "/host"
                     inside a container (default /)            [EDGESEC_HOST_ROOT]
  --log-level LEVEL  debug, info, warn or error (default info) [EDGESEC_LOG_LEVEL]
  --memory-limit N   the Go runtime's soft memory limit (heap, stacks, runtime
                     metadata), e.g. 16MiB, or off; default GOMEMLIMIT when
                     set, else 32MiB                     [EDGESEC_MEMORY_LIMIT]
  --gc-percent N     the garbage collector's target (GOGC): the heap may grow
                     N % over the live heap before a collection; off
                     disables it. Default: GOGC when set, else 50
                                                    [EDGESEC_GC_PERCENT]
  --max-procs N      how many threads run the module's Go code at once
                     (GOMAXPROCS). Default: GOMAXPROCS when set, else 1:
                     the eBPF programs capture in the kernel on every CPU,
                     and one thread keeps up with hundreds of execs a
                     second with less memory and CPU   [EDGESEC_MAX_PROCS]
  --release-memory D how long after start-up the memory only start-up used
                     is given back (free heap, executable pages touched
                     once); then after each garbage collection (at most
                     every 10 s) and at least every minute the executable's
                     pages are unmapped, and every 10 minutes also dropped
                     from the page cache; 0 keeps it all (default 30s)
                                                [EDGESEC_RELEASE_MEMORY]
  --memory-report F  diagnostic: on SIGUSR1, write the Go runtime's memory
                     classes and the resident memory by mapping to F (and
                     the heap profile to F.pprof in a build with -tags
                     memprofile; scripts/footprint -m)
                                                        [EDGESEC_MEMORY_REPORT]
  --alerts DEST      where the on-device analysis prints a one-line summary of
                     every alert and recommendation change: stderr, stdout,
                     a file (appended), or off (default stderr). The alerts
                     are also sent as SecurityAlert and SecurityRecommendation
                     events.                                  [EDGESEC_ALERTS]
  --no-bpf           use the proc connector and sock_diag snapshots even where
                     the eBPF kernel source can load (it is used by default
                     when the kernel has BTF and the module has CAP_BPF and
                     CAP_PERFMON)                             [EDGESEC_NO_BPF=1]
  --once             run every periodic collector once, send, and exit:
                     a one-shot security snapshot of the host
  --version          print the version and exit
  --help             print this help and exit
`

type options struct {
	config, stateDir, output, hostRoot, logLevel, mqtt string
	alerts                                             string
	memoryLimit, memoryReport, gcPercent, maxProcs     string
	releaseMemory                                      time.Duration
	once, version, noBPF                               bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{
		config:   os.Getenv("EDGESEC_CONFIG"),
		stateDir: os.Getenv("EDGESEC_STATE_DIR"),
		output:   os.Getenv("EDGESEC_OUTPUT"),
		hostRoot: envOr("EDGESEC_HOST_ROOT", "/"),
		logLevel: envOr("EDGESEC_LOG_LEVEL", "info"),
		mqtt:     os.Getenv("EDGESEC_MQTT_URL"),
		alerts:   envOr("EDGESEC_ALERTS", "stderr"),
		noBPF:    os.Getenv("EDGESEC_NO_BPF") == "1",

		memoryLimit:   os.Getenv("EDGESEC_MEMORY_LIMIT"),
		memoryReport:  os.Getenv("EDGESEC_MEMORY_REPORT"),
		gcPercent:     os.Getenv("EDGESEC_GC_PERCENT"),
		maxProcs:      os.Getenv("EDGESEC_MAX_PROCS"),
		releaseMemory: defaultReleaseAfter,
	}
	if v := os.Getenv("EDGESEC_RELEASE_MEMORY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("EDGESEC_RELEASE_MEMORY: %w", err)
		}
		o.releaseMemory = d
	}
	fs := flag.NewFlagSet("securitymodule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&o.config, "config", o.config, "")
	fs.StringVar(&o.stateDir, "state-dir", o.stateDir, "")
	fs.StringVar(&o.output, "output", o.output, "")
	fs.StringVar(&o.hostRoot, "host-root", o.hostRoot, "")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "")
	fs.StringVar(&o.mqtt, "mqtt", o.mqtt, "")
	fs.StringVar(&o.memoryLimit, "memory-limit", o.memoryLimit, "")
	fs.DurationVar(&o.releaseMemory, "release-memory", o.releaseMemory, "")
	fs.StringVar(&o.memoryReport, "memory-report", o.memoryReport, "")
	fs.StringVar(&o.gcPercent, "gc-percent", o.gcPercent, "")
	fs.StringVar(&o.maxProcs, "max-procs", o.maxProcs, "")
	fs.StringVar(&o.alerts, "alerts", o.alerts, "")
	fs.BoolVar(&o.once, "once", false, "")
	fs.BoolVar(&o.noBPF, "no-bpf", o.noBPF, "")
	fs.BoolVar(&o.version, "version", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		// The flag package has printed the error and the usage.
		return o, fmt.Errorf("%w: %w", errReported, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.stateDir == "" {
		o.stateDir = defaultStateDir()
	}
	return o, nil
}

// errReported marks errors already printed with the usage.
var errReported = errors.New("reported")

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/edgesec"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "edgesec")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "edgesec")
	}
	return filepath.Join(os.TempDir(), "edgesec")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errReported) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "securitymodule: %v\n\n%s", err, usage)
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "securitymodule %s\n", version)
		return 0
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "securitymodule: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := setMemoryLimit(o.memoryLimit, log); err != nil {
		fmt.Fprintf(stderr, "securitymodule: --memory-limit: %v\n", err)
		return 2
	}
	if err := setGCPercent(o.gcPercent, log); err != nil {
		fmt.Fprintf(stderr, "securitymodule: --gc-percent: %v\n", err)
		return 2
	}
	if err := setMaxProcs(o.maxProcs, log); err != nil {
		fmt.Fprintf(stderr, "securitymodule: --max-procs: %v\n", err)
		return 2
	}

	if o.releaseMemory > 0 && !o.once {
		// Package initialisation ran code and read data all over the
		// executable (some 65 64-KiB runs): unmap them before the
		// configuration and the engine add theirs. The start-up peak
		// was reached here (see unmapWhileStarting).
		if ms := unmapExecutable(log); ms != nil {
			// From now on, each page comes back alone (faultaround.go).
			f, err := disableFaultAround(ms)
			if f != nil {
				defer f.Close() // the registrations last while it is open
			}
			if err != nil {
				log.Debug("the kernel still maps (some of) the executable's pages 64 KiB at a time", "err", err)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The transport: --output when given; otherwise chosen from the
	// environment as the Azure SDKs do (connection strings, IoT Edge, an
	// MQTT URL), and stdout when nothing is configured.
	var out transport.Transport
	var twin []edgesec.ConfigSource
	output := o.output
	switch o.output {
	case "":
		t, srcs, how, err := selectTransport(o, version, log)
		if err != nil {
			log.Error("cannot set up the transport", "err", err)
			return 1
		}
		out, twin, output = t, srcs, "auto ("+how+")"
		if out == nil {
			out, output = file.New(stdout), "auto (stdout)"
		}
	case "stdout", "-":
		out = file.New(stdout)
	default:
		f, err := file.Open(o.output)
		if err != nil {
			log.Error("cannot open output", "err", err)
			return 1
		}
		out = f
	}

	config := o.config
	if config == "" {
		config = "embedded default"
	}
	log.Info("securitymodule starting", "version", version, "host_root", o.hostRoot, "state_dir", o.stateDir, "output", output, "config", config, "once", o.once)
	created, err := ensureStateDir(o.stateDir)
	if err != nil {
		log.Error("cannot create the state directory", "state_dir", o.stateDir, "err", err)
		return 1
	}
	if created {
		log.Info("created the state directory (agent id, message spool, reported configuration, read positions)", "state_dir", o.stateDir)
	}

	cfg, problems, err := twinconfig.Decode(defaultConfig)
	if err != nil || len(problems) > 0 {
		log.Error("embedded default configuration is invalid", "err", err, "problems", problems)
		return 1
	}
	if o.once && o.config != "" {
		// A one-shot run has no second chance to read the file: a missing
		// or unreadable one is an error, not a ConfigurationError event.
		f, err := os.Open(o.config)
		if err != nil {
			log.Error("cannot read configuration", "err", err)
			return 1
		}
		f.Close()
	}
	// The on-device analysis: alerts and recommendations from the events,
	// configured from the twin's detection keys, printed for a person.
	ds, err := detect.NewFromTwin(cfg, detect.Options{Logger: log.With("stage", detect.StageName)})
	if err != nil {
		log.Error("on-device analysis", "err", err)
		return 1
	}
	stages := []stage.Stage{ds}
	aw, closeAlerts, err := alertsOutput(o.alerts, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "securitymodule: --alerts: %v\n", err)
		return 2
	}
	defer closeAlerts()
	if aw != nil {
		stages = append(stages, detect.PrintStage(aw))
	}
	opts := edgesec.Options{
		AgentVersion: version,
		StateDir:     o.stateDir,
		Transport:    out,
		Store:        openSpool(filepath.Join(o.stateDir, "spool.db"), log),
		Config:       &cfg,
		Logger:       log,
		Stages:       stages,
		// The analysis reads MessageStatistics and ConfigurationError
		// (recommendations about the agent's own messages and twin).
		StageEngineEvents: true,
	}
	if o.config != "" {
		// Watched by Run; read once by Once.
		opts.ConfigSources = append(opts.ConfigSources, &twinconfig.FileSource{Path: o.config, Logger: log})
	}
	opts.ConfigSources = append(opts.ConfigSources, twin...)
	eng := edgesec.New(opts)
	if o.releaseMemory > 0 && !o.once {
		// Package initialisation and the configuration are done: give
		// their pages back before the eBPF loader parses the kernel's
		// BTF, so that the two do not add up in the start-up peak.
		releaseNow(log, true)
	}
	release := defaults.Add(eng, defaults.Options{
		HostRoot: o.hostRoot,
		StateDir: o.stateDir,
		// Comma-separated host paths or unix:// addresses that replace
		// the engines' default socket paths.
		MobySockets:       splitList(os.Getenv("EDGESEC_MOBY_SOCKETS")),
		ContainerdSockets: splitList(os.Getenv("EDGESEC_CONTAINERD_SOCKETS")),
		NoBPF:             o.noBPF,
	})
	defer release()
	if o.releaseMemory > 0 && !o.once {
		// Initialisation is over (packages, configuration, the eBPF
		// programs loaded with the kernel's BTF parsed and dropped): give
		// its memory back before the collectors' first snapshots add
		// theirs, which lowers the start-up peak.
		releaseNow(log, true)
	}

	if o.once {
		if err := eng.Once(ctx); err != nil {
			log.Error("snapshot failed", "err", err)
			return 1
		}
		return 0
	}
	var wg sync.WaitGroup
	relCtx, stopRelease := context.WithCancel(ctx)
	wg.Go(func() { releaseMemory(relCtx, o.releaseMemory, eng.SnapshotFrequency, log) })
	if o.memoryReport != "" {
		sig := notifyMemoryReport()
		defer signal.Stop(sig)
		wg.Go(func() { memoryReports(relCtx, sig, o.memoryReport, log) })
	}
	err = eng.Run(ctx)
	stopRelease()
	wg.Wait()
	if err != nil {
		log.Error("securitymodule stopped", "err", err)
		return 1
	}
	log.Info("securitymodule stopped", "agent_id", eng.AgentID())
	return 0
}

// alertsOutput opens the destination of --alerts: nil for off.
func alertsOutput(dest string, stdout, stderr io.Writer) (io.Writer, func(), error) {
	switch dest {
	case "off", "none", "":
		return nil, func() {}, nil
	case "stderr":
		return stderr, func() {}, nil
	case "stdout", "-":
		return stdout, func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}

// openSpool opens the durable message spool; a damaged one is moved aside,
// and without any the messages wait in memory.
func openSpool(path string, log *slog.Logger) outbox.Store {
	st, moved, cause, err := boltstore.OpenOrMoveAside(path, boltstore.Options{MaxBytes: 16 << 20}, time.Now())
	if moved != "" {
		log.Error("spool unusable; moved aside, starting a new one", "err", cause, "moved_to", moved)
	}
	if errors.Is(err, boltstore.ErrInUse) {
		log.Error("spool locked by another process (a second instance on the same state directory?); keeping messages in memory only", "path", path, "err", err)
		return nil
	}
	if err != nil {
		log.Error("spool unusable; keeping messages in memory only", "err", err)
		return nil
	}
	return st
}

// ensureStateDir creates dir (0700) when it does not exist and reports
// whether it did.
func ensureStateDir(dir string) (created bool, err error) {
	if _, err := os.Stat(dir); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	return true, nil
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Memory defaults of the module (targets: RSS ≤ 15 MB, goal
// ≤ 6 MB).
const (
	// defaultMemoryLimit is the Go runtime's soft memory limit (heap,
	// stacks and runtime metadata; not the executable's pages) unless
	// GOMEMLIMIT or --memory-limit says otherwise. The module's live heap
	// is 2-4 MB; the limit only matters when a burst (a large container
	// inventory, an exec storm queued for enrichment) would otherwise let
	// the heap double past it, and makes the collector work harder
	// instead. It is soft: the runtime exceeds it rather than thrash.
	defaultMemoryLimit = 32 << 20
	// defaultGCPercent is the garbage collector's target unless GOGC or
	// --gc-percent says otherwise: the heap grows by half the live heap
	// between collections instead of doubling (the runtime's default,
	// 100). The module's heap is small (3-5 MB live), so a collection
	// costs little CPU, while the headroom is resident memory: at 100 the
	// heap's pages reach twice the live heap (plus the runtime's 4 MB
	// minimum) before each collection. BENCHMARKS.md has the figures.
	defaultGCPercent = 50
	// defaultReleaseAfter is how long after start-up (and after each
	// snapshot period) the memory only start-up and the snapshot used is
	// given back: see releaseMemory.
	defaultReleaseAfter = 30 * time.Second
)

// parseBytes parses a byte count: a plain number or one with a B, KiB,
// MiB or GiB suffix (GOMEMLIMIT's syntax); "off" or "0" means no limit.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad byte count %q (want e.g. 32MiB, or off)", s)
	}
	return n * mult, nil
}

// setMemoryLimit applies the soft memory limit: --memory-limit
// (EDGESEC_MEMORY_LIMIT) when given, else GOMEMLIMIT when set (the
// runtime has applied it already), else defaultMemoryLimit.
func setMemoryLimit(flagValue string, log *slog.Logger) error {
	if flagValue == "" {
		if os.Getenv("GOMEMLIMIT") != "" {
			return nil
		}
		debug.SetMemoryLimit(defaultMemoryLimit)
		return nil
	}
	n, err := parseBytes(flagValue)
	if err != nil {
		return err
	}
	if n == 0 {
		n = 1<<63 - 1 // the runtime's "no limit"
	}
	debug.SetMemoryLimit(n)
	log.Debug("soft memory limit", "bytes", n)
	return nil
}

// setGCPercent applies the garbage collector's target: --gc-percent
// (EDGESEC_GC_PERCENT) when given, else GOGC when set (the runtime has
// applied it already), else defaultGCPercent. "off" disables the
// collector (only the memory limit then triggers one).
func setGCPercent(flagValue string, log *slog.Logger) error {
	if flagValue == "" {
		if os.Getenv("GOGC") != "" {
			return nil
		}
		debug.SetGCPercent(defaultGCPercent)
		return nil
	}
	n := -1
	if flagValue != "off" {
		v, err := strconv.Atoi(strings.TrimSpace(flagValue))
		if err != nil || v <= 0 {
			return fmt.Errorf("bad percentage %q (want e.g. 50, or off)", flagValue)
		}
		n = v
	}
	debug.SetGCPercent(n)
	log.Debug("garbage collector target", "percent", n)
	return nil
}

// defaultMaxProcs is how many threads run Go code at once (GOMAXPROCS)
// unless GOMAXPROCS or --max-procs says otherwise. The process events are
// captured in the kernel on every CPU whatever it is; the module's Go
// code (reading the ring buffer, aggregating, analysing, sending) needs
// well under one core even under an exec flood, and every further P
// costs its own caches of heap spans and pages, threads and their stacks.
// Measured side by side with 2 (BENCHMARKS.md): 0.3 MB less resident
// memory, a start-up peak 0.7 MB lower, a fifth less CPU, and the same
// capture at the machine's exec ceiling.
const defaultMaxProcs = 1

// setMaxProcs applies --max-procs (EDGESEC_MAX_PROCS) when given, else
// leaves GOMAXPROCS when set (the runtime has applied it), else sets
// defaultMaxProcs.
func setMaxProcs(flagValue string, log *slog.Logger) error {
	if flagValue == "" {
		if os.Getenv("GOMAXPROCS") != "" {
			return nil
		}
		runtime.GOMAXPROCS(defaultMaxProcs)
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(flagValue))
	if err != nil || n <= 0 {
		return fmt.Errorf("bad thread count %q (want e.g. 1)", flagValue)
	}
	runtime.GOMAXPROCS(n)
	log.Debug("threads running Go code", "GOMAXPROCS", n)
	return nil
}

// releaseMemory gives back, after after (start-up and the first snapshot
// of every periodic collector) and then every releaseInterval, the memory
// that only those used: the free heap pages (debug.FreeOSMemory, which
// the runtime's scavenger would return only slowly) and the pages of the
// executable that package initialisation, the snapshots and rare paths
// touched (pageOutExecutable; a release every dropCacheEvery drops them
// from the page cache). The module's steady state touches a fraction of
// its code and read-only data; what it touches again is read back from
// the page cache or the disk on demand.
//
// A garbage collection is the steady state's largest toucher of pages
// (its stack scans read the function tables of every frame of every
// goroutine, 0.8 MB here, and its own code): a release also follows each
// collection, when the last one is at least minReleaseGap old, so that
// those pages go again at once instead of staying until the next
// release. It returns when ctx is done; after <= 0 disables it.
func releaseMemory(ctx context.Context, after time.Duration, period func() time.Duration, log *slog.Logger) {
	if after <= 0 {
		return
	}
	t := time.NewTimer(after)
	defer t.Stop()
	unmapWhileStarting(ctx, min(startupUnmapFor, after), log)
	gcs := newGCNotifier()
	var last, lastDrop time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case gen := <-gcs.c:
			if gen != gcs.gen {
				continue // a sentinel a release's own collection took
			}
			if time.Since(last) < minReleaseGap {
				gcs.arm() // too soon: wait for the next collection
				continue
			}
		}
		// The next time is read first: reading the configuration is
		// code the steady state does not run (see releaseNow).
		next := releaseInterval(period())
		drop := lastDrop.IsZero() || time.Since(lastDrop) >= dropCacheEvery
		releaseNow(log, drop)
		last = time.Now()
		if drop {
			lastDrop = last
		}
		gcs.arm()
		t.Reset(next)
	}
}

// minReleaseGap is the shortest time between a release and one that
// follows a garbage collection: on a busy host collections run every few
// seconds, and a release costs a forced collection and a few hundred
// minor faults (about 3 ms of CPU here).
const minReleaseGap = 10 * time.Second

// gcNotifier sends the generation of each arm on c after the garbage
// collection that follows it (without blocking; c has room for a stale
// notice and the current one). gen is the latest arm's: an earlier one's
// notice is stale (a collection forced meanwhile took its sentinel). It is
// used by one goroutine.
type gcNotifier struct {
	c   chan uint64
	gen uint64
}

func newGCNotifier() *gcNotifier { return &gcNotifier{c: make(chan uint64, 2)} }

// gcSentinel is the object whose collection signals one: large enough not
// to share a block of the runtime's tiny allocator with other objects
// (which could keep it alive).
type gcSentinel struct{ _ [32]byte }

// arm allocates an object that nothing references and asks the runtime
// to notify once it has been collected: after the next collection.
func (n *gcNotifier) arm() {
	n.gen++
	runtime.AddCleanup(new(gcSentinel), func(a gcNotice) {
		select {
		case a.c <- a.gen:
		default:
		}
	}, gcNotice{n.c, n.gen})
}

// gcNotice is what a sentinel's cleanup sends, and where.
type gcNotice struct {
	c   chan uint64
	gen uint64
}

// While the collectors take their first snapshots, all at once, the code
// and read-only data that each touches once would add up in the resident
// set: unmapWhileStarting unmaps the executable's read-only pages every
// startupUnmapEvery for startupUnmapFor. An unmap reads nothing from
// storage (the pages stay in the page cache); the paths running then fault
// theirs back in, about 2 ms of CPU a round here. Measured (VmHWM, two
// runs each): 11.9-12.0 MB without, 11.0-11.2 MB with, for 0.08 s of CPU
// once. Longer or denser (every 20 ms for 5 s) gained 0.1-0.2 MB more for
// 0.5 s of CPU; unmapping whenever the resident executable grew by a
// threshold unmapped again and again, as the running paths keep faulting
// pages back in for tens of milliseconds after each unmap.
const (
	startupUnmapEvery = 25 * time.Millisecond
	startupUnmapFor   = time.Second
)

// unmapExecutable unmaps the executable's read-only pages, as the
// releases do, without giving back the heap (pageOutExecutable), and
// returns the mappings (nil on an error, logged).
func unmapExecutable(log *slog.Logger) []exeMapping {
	ms, _, err := pageOutExecutable(false)
	if err != nil {
		log.Debug("cannot page out the executable's pages", "err", err)
		return nil
	}
	pageOut(ms)
	return ms
}

// unmapWhileStarting unmaps the executable's read-only pages every
// startupUnmapEvery for d, or until ctx is done.
func unmapWhileStarting(ctx context.Context, d time.Duration, log *slog.Logger) {
	ms := unmapExecutable(log)
	if ms == nil {
		return
	}
	t := time.NewTicker(startupUnmapEvery)
	defer t.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pageOut(ms)
		}
	}
}

// releaseEvery is the longest time between two releases of memory: the
// pages that paths running now and then touch (a garbage collection's
// stack scans, a message sent, a reconnection, an alert) would otherwise
// stay until the next snapshot, 13 hours apart by default. Most releases
// only unmap (see pageOutExecutable): a forced garbage collection and a
// few hundred minor faults, no I/O. Measured side by side against 10
// minutes: mean VmRSS 9.4 -> 8.8 MB, CPU +3 %.
const releaseEvery = time.Minute

// dropCacheEvery: the first release, and the first after each
// dropCacheEvery, also drops the executable's pages from the page cache,
// so that what the module no longer runs leaves memory altogether, at the
// cost of reading back what it still runs (about a hundred pages).
const dropCacheEvery = 10 * time.Minute

// releaseInterval is the time to the next release: after each snapshot
// when snapshots are more frequent than releaseEvery, else releaseEvery.
func releaseInterval(snapshotPeriod time.Duration) time.Duration {
	if snapshotPeriod > 0 && snapshotPeriod < releaseEvery {
		return snapshotPeriod
	}
	return releaseEvery
}

// releaseNow returns the free heap pages to the OS and pages out the
// executable's resident read-only pages (see releaseMemory). Its last act
// is the page-out: the code that runs after it stays resident until the
// next release.
func releaseNow(log *slog.Logger, dropCache bool) {
	debug.FreeOSMemory()
	ms, n, err := pageOutExecutable(dropCache)
	if err != nil {
		log.Debug("cannot page out the executable's pages", "err", err)
	} else {
		log.Debug("released memory", "executable_bytes_advised", n)
	}
	pageOut(ms)
}
