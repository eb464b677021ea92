// Package defaults adds edgesec's standard collector set to an engine in
// one call: the host facts (SystemInformation, LocalUsers, Hardware,
// ListeningPorts, FirewallConfiguration, OSBaseline), the host activity
// (ProcessCreate/ProcessTerminate, ConnectionCreate, Login), the container
// collectors for the container engines found on the host (Moby, and
// containerd unless built with -tags nocontainerd), and the deployment
// analysis (DeploymentRecommendation) configured from the module twin.
//
// A vendor's module is then New, Add, its own AddCollector, Run:
//
//	eng := edgesec.New(edgesec.Options{Transport: out, Logger: log})
//	release := defaults.Add(eng, defaults.Options{HostRoot: "/host", StateDir: "/var/lib/mymodule"})
//	defer release()
//	eng.AddCollector(myCollector)
//	err := eng.Run(ctx)
//
// Every collector runs only while the configuration gives one of its
// events a priority other than Off. Importing this package links every
// collector and both container engines' clients; import the collector
// packages one by one for a lighter binary.
//
// # Container engines
//
// Add looks for the engines' sockets under the host root (or at
// Options.MobySockets and Options.ContainerdSockets) once, when it is
// called; the engines connect lazily and reconnect by themselves. When
// both Moby and containerd are found, containerd's "moby" namespace is not
// walked: Moby's containers are listed once, by the Moby engine. Building
// with -tags nocontainerd leaves the containerd client (and its gRPC stack)
// out of the binary; a containerd socket found is then logged and ignored.
package defaults
