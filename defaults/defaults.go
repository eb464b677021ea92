package defaults

import (
	"log/slog"
	"path/filepath"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/collector/firewall"
	"github.com/edgesec/edgesec/collector/hardware"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/collector/listening"
	"github.com/edgesec/edgesec/collector/login"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/collector/sysinfo"
	"github.com/edgesec/edgesec/collector/users"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/manifest"
	"github.com/edgesec/edgesec/twinconfig"
)

// Options configure Add. The zero value watches the host the process runs
// on, keeps no collector state and looks for the container engines at
// their default sockets.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default) on the
	// host, "/host" inside a container that mounts it there.
	HostRoot string
	// StateDir is where collectors keep state across restarts (the Login
	// collector's read positions, in StateDir/login). Empty keeps none:
	// after a restart Login starts at the end of the logs. Use the
	// engine's StateDir.
	StateDir string
	// MobySockets and ContainerdSockets replace the default socket paths
	// of the container engines (container.DefaultMobySockets,
	// container.DefaultContainerdSockets): absolute host paths, taken
	// under HostRoot, or unix:// addresses, taken as they are.
	MobySockets, ContainerdSockets []string
	// NoContainers leaves the container collectors out, and with them the
	// container attribution of processes, connections and ports.
	NoContainers bool
	// NoBPF forces the proc connector (process events) and sock_diag
	// snapshots (TCP connections and UDP flows) even where the eBPF kernel source
	// (collector/kernel) can load. Without it the eBPF source is used when
	// the kernel, its BTF and the module's capabilities allow it, and the
	// module says once why it is not when they do not.
	NoBPF bool
	// Logger receives the collectors' logs, each tagged with the
	// collector's name ("collector" attribute); nil means the engine's
	// logger (eng.Logger()), so that their warnings become Diagnostic
	// events.
	Logger *slog.Logger
}

// Add adds the standard collectors to eng (see the package documentation)
// and returns a function that releases the container engines' connections;
// call it after eng.Run or eng.Once has returned. It must be called before
// Run. Its only I/O is checking which engine sockets exist and loading the
// eBPF programs (see Options.NoBPF).
func Add(eng *edgesec.Engine, o Options) (release func()) {
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	log := o.Logger
	if log == nil {
		log = eng.Logger()
	}
	named := func(name string) *slog.Logger { return log.With("collector", name) }
	// Collectors that take their logger from the Sink (collector.Logger)
	// get none here unless Options.Logger says otherwise: the engine's Sink
	// gives them its logger, tagged with their name.
	sinkOr := func(name string) *slog.Logger {
		if o.Logger == nil {
			return nil
		}
		return named(name)
	}
	root := o.HostRoot
	every := eng.SnapshotFrequency

	var engines []container.Backend
	if !o.NoContainers {
		engines = containerEngines(root, o.MobySockets, o.ContainerdSockets, log)
	}
	var containers collector.ContainerResolver
	var inventory container.InventorySource
	if len(engines) > 0 {
		res := container.NewResolver(container.ResolverOptions{Logger: named(event.ContainerActivity)}, engines...)
		inv := container.NewInventory(container.InventoryOptions{Logger: named(event.ContainerInventory)}, engines...)
		containers, inventory = res, inv
		eng.AddCollector(collector.Every(event.ContainerInventory, every, inv))
		eng.AddCollector(container.NewActivityCollector(container.ActivityOptions{Resolver: res, Logger: named(event.ContainerActivity)}, engines...))
	} else if !o.NoContainers {
		log.Info("no container engine socket found; container collectors disabled", "host_root", root)
	}

	// Deployment analysis: the manifest the configuration names and the
	// running containers, with the drift between them.
	eng.AddCollector(manifest.NewCollector(manifest.Options{
		ManifestPath: func() string { return eng.Config().DeploymentManifestPath },
		Inventory:    inventory,
		Config:       func() manifest.Config { return DeploymentConfig(eng.Config()) },
		Logger:       named(event.DeploymentRecommendation),
	}, every))

	// Host facts, periodic.
	eng.AddCollector(sysinfo.NewCollector(sysinfo.Options{HostRoot: root, Logger: named(event.SystemInformation)}, every))
	eng.AddCollector(users.NewCollector(users.Options{HostRoot: root, Logger: named(event.LocalUsers)}, every))
	eng.AddCollector(hardware.NewCollector(hardware.Options{HostRoot: root, Logger: named(event.ConnectedHardware)}, every))
	eng.AddCollector(listening.NewCollector(listening.Options{HostRoot: root, Logger: named(event.ListeningPorts), Containers: containers}, every))
	eng.AddCollector(firewall.NewCollector(firewall.Options{HostRoot: root, Logger: named(event.FirewallConfiguration)}, every))
	eng.AddCollector(baseline.NewCollector(baseline.Options{
		HostRoot:     root,
		Logger:       named(event.OSBaseline),
		CustomChecks: baseline.CustomChecksFrom(eng.Config),
	}, every))

	// Host activity, triggered: the eBPF kernel source when it loads
	// (every process with its argv, every TCP connection however short,
	// the first UDP datagram of each process to each peer, sensitive file
	// and syscall activity), else the proc connector and sock_diag
	// snapshots.
	k, kerr := kernel.New(kernel.Options{HostRoot: root, Logger: named("kernel"), Resolver: containers,
		Connections: true, Activity: true, Disable: o.NoBPF})
	if kerr == nil {
		eng.AddCollector(k)
	} else {
		if o.NoBPF {
			log.Info("eBPF kernel source disabled; using the proc connector and sock_diag", "collector", event.ProcessCreate)
		}
		eng.AddCollector(kernel.WithFallbackNotice(process.New(process.Options{HostRoot: root, Logger: named(event.ProcessCreate), Resolver: containers}), kerr))
	}
	// UDP: where the eBPF source reports the first datagram of each
	// process to each peer whatever the system call (Linux >= 6.4 for
	// write(2) on a connected socket), sock_diag has nothing left to add;
	// on older kernels it keeps snapshotting connected UDP sockets.
	if kerr != nil || !kernelUDP(k.Stats()) {
		eng.AddCollector(connection.New(connection.Options{HostRoot: root, Logger: sinkOr(event.ConnectionCreate), Containers: containers,
			ExcludeTCP: kerr == nil}))
	}
	lo := login.Options{HostRoot: root, Logger: sinkOr(event.Login)}
	if o.StateDir != "" {
		lo.StateDir = filepath.Join(o.StateDir, "login")
	}
	eng.AddCollector(login.New(lo))

	return func() {
		if k != nil {
			if err := k.Close(); err != nil {
				log.Debug("close eBPF kernel source", "err", err)
			}
		}
		for _, e := range engines {
			if err := e.Close(); err != nil {
				log.Debug("close container engine", "runtime", e.Runtime(), "err", err)
			}
		}
	}
}

// kernelUDP reports whether the eBPF kernel source reports every UDP
// peer: sends with an address and sends by any system call on connected
// sockets.
func kernelUDP(s kernel.Stats) bool { return s.UDP && s.UDPConnectedSends }

// containerEngines returns the container engines whose sockets exist:
// Moby, and containerd (without its "moby" namespace when Moby is there
// too, so that Moby's containers are listed once).
func containerEngines(root string, mobySockets, containerdSockets []string, log *slog.Logger) []container.Backend {
	var engines []container.Backend
	found := container.Discover(root, mobySockets, containerdSockets)
	if len(found.Moby) > 0 {
		engines = append(engines, moby.New(moby.Options{HostRoot: root, Sockets: mobySockets, Logger: log}))
	}
	if len(found.Containerd) > 0 {
		if e := containerdEngine(root, containerdSockets, log, len(found.Moby) > 0); e != nil {
			engines = append(engines, e)
		}
	}
	return engines
}

// DeploymentConfig returns the deployment analysis configuration of the
// twin's deploymentRulesDisabled and deploymentRuleSeverities keys.
// Entries the analysis does not know (a rule id of a newer version) are
// left out: twinconfig has validated their form only.
func DeploymentConfig(c twinconfig.Config) manifest.Config {
	mc := manifest.Config{DisabledRules: c.DeploymentDisabledRules()}
	for id, sev := range c.DeploymentRuleSeverityOverrides() {
		s, err := manifest.ParseSeverity(sev)
		if err != nil {
			continue
		}
		if mc.Severity == nil {
			mc.Severity = map[string]manifest.Severity{}
		}
		mc.Severity[id] = s
	}
	return mc
}
