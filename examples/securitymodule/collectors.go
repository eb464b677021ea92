package main

import (
	"path/filepath"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/collector/connection"
	"github.com/edgesec/edgesec/collector/firewall"
	"github.com/edgesec/edgesec/collector/listening"
	"github.com/edgesec/edgesec/collector/login"
	"github.com/edgesec/edgesec/collector/sysinfo"
	"github.com/edgesec/edgesec/collector/users"
)

// addCollectors adds the reference module's collectors to eng. Each one
// runs only while the configuration gives its events a priority other than
// Off, and says (Diagnostic events, Heartbeat health) what it cannot do with
// the privileges the module has. containers resolves container ids to
// names for process and connection events; nil gives ids only.
func addCollectors(eng *edgesec.Engine, o options, containers collector.ContainerResolver) {
	log := eng.Logger()
	root := o.hostRoot
	every := eng.SnapshotFrequency

	// Host facts, periodic.
	eng.AddCollector(sysinfo.NewCollector(sysinfo.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(users.NewCollector(users.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(listening.NewCollector(listening.Options{HostRoot: root, Logger: log, Containers: containers}, every))
	eng.AddCollector(firewall.NewCollector(firewall.Options{HostRoot: root, Logger: log}, every))
	eng.AddCollector(baseline.NewCollector(baseline.Options{
		HostRoot:     root,
		Logger:       log,
		CustomChecks: baseline.CustomChecksFrom(eng.Config),
	}, every))

	// Host activity, triggered.
	eng.AddCollector(connection.New(connection.Options{HostRoot: root, Logger: log, Containers: containers}))
	eng.AddCollector(login.New(login.Options{HostRoot: root, StateDir: filepath.Join(o.stateDir, "login"), Logger: log}))
}
