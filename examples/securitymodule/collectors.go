package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/collector/firewall"
	"github.com/edgesec/edgesec/collector/hardware"
	"github.com/edgesec/edgesec/collector/listening"
	"github.com/edgesec/edgesec/collector/login"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/collector/sysinfo"
	"github.com/edgesec/edgesec/collector/users"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/manifest"
)

// addCollectors adds the reference module's collectors to eng. Each one
// runs only while the configuration gives its events a priority other than
// Off, and says (Diagnostic events, Heartbeat health) what it cannot do with
// the privileges the module has. The container collectors are added for the
// engines whose sockets exist under the host root. It returns a function
// that releases the container engines' connections.
func addCollectors(eng *edgesec.Engine, o options) (closeEngines func()) {
	log := eng.Logger()
	root := o.hostRoot
	every := eng.SnapshotFrequency

	// Containers: Moby (IoT Edge's engine) and containerd, when present.
	var engines []container.Engine
	// EDGESEC_MOBY_SOCKETS / EDGESEC_CONTAINERD_SOCKETS (comma-separated
	// host paths, or unix:// addresses) replace the default socket paths.
	mobySockets := splitList(os.Getenv("EDGESEC_MOBY_SOCKETS"))
	containerdSockets := splitList(os.Getenv("EDGESEC_CONTAINERD_SOCKETS"))
	found := container.Discover(root, mobySockets, containerdSockets)
	if len(found.Moby) > 0 {
		engines = append(engines, moby.New(moby.Options{HostRoot: root, Sockets: mobySockets, Logger: log}))
	}
	if len(found.Containerd) > 0 {
		// Moby's own containers live in containerd's "moby" namespace:
		// don't list them twice.
		if e := containerdEngine(root, containerdSockets, log, len(found.Moby) > 0); e != nil {
			engines = append(engines, e)
		}
	}
	var containers collector.ContainerResolver
	var inventory manifest.InventorySource
	if len(engines) > 0 {
		res := container.NewResolver(container.ResolverOptions{Logger: log}, engines...)
		inv := container.NewInventory(container.InventoryOptions{Logger: log}, engines...)
		containers, inventory = res, manifest.InventoryFunc(inv.Snapshot)
		eng.AddCollector(collector.Every(event.ContainerInventory, every, inv))
		eng.AddCollector(container.NewActivityCollector(container.ActivityOptions{Resolver: res, Logger: log}, engines...))
	} else {
		log.Info("no container engine socket found; container collectors disabled", "host_root", root)
	}
	// Deployment analysis: the manifest named by the configuration and the
	// running containers, with the drift between them.
	eng.AddCollector(manifest.NewCollector(manifest.Options{
		ManifestPath: func() string { return eng.Config().DeploymentManifestPath },
		Inventory:    inventory,
		Config:       func() manifest.Config { return deploymentConfig(eng.Config()) },
		Logger:       log,
	}, every))

	// Host facts, periodic.
	eng.AddCollector(sysinfo.NewCollector(sysinfo.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(users.NewCollector(users.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(hardware.NewCollector(hardware.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(listening.NewCollector(listening.Options{HostRoot: root, Logger: log, Containers: containers}, every))
	eng.AddCollector(firewall.NewCollector(firewall.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(baseline.NewCollector(baseline.Options{
		HostRoot:     root,
		Logger:       log,
		CustomChecks: baseline.CustomChecksFrom(eng.Config),
	}, every))

	// Host activity, triggered.
	eng.AddCollector(process.New(process.Options{HostRoot: root, Logger: log, Resolver: containers}))
	eng.AddCollector(connection.New(connection.Options{HostRoot: root, Logger: log, Containers: containers}))
	eng.AddCollector(login.New(login.Options{HostRoot: root, StateDir: filepath.Join(o.stateDir, "login"), Logger: log}))

	return func() {
		for _, e := range engines {
			if err := e.Close(); err != nil {
				log.Debug("close container engine", "err", err)
			}
		}
	}
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
