// Package container holds the container system collectors' shared model:
// the [Backend] interface the runtime packages implement (Moby in
// collector/container/moby, containerd in collector/container/containerd),
// socket discovery under the host root ([Discover]), the
// ContainerInventory poller ([NewInventoryCollector]), the
// ContainerActivity collector with reconnection, backoff and resume
// ([NewActivityCollector]), the identity service other collectors use to
// attribute processes and connections to containers and IoT Edge modules
// ([Resolver], a [collector.ContainerResolver]), and the runtime-risk seam
// that turns the live inventory into DeploymentRecommendation events with
// an [Analyzer] ([NewRecommendationCollector]).
//
// This package links neither container client: an importer picks the
// runtime packages it needs.
//
// # IoT Edge
//
// A container is an IoT Edge module when edgeAgent's owner label
// (net.azure-devices.edge.owner) is set; its module name is the container
// name. The create options edgeAgent splits over the labels
// net.azure-devices.edge.create-options, …01, …02 are reassembled,
// compacted when they are JSON, and bounded; environment values whose
// names look secret (KEY, TOKEN, PASSWORD, SAS, CONNECTIONSTRING, …) are
// redacted before they leave the device.
//
// # Privileges
//
// The collectors need access to the engine sockets (root, or membership
// of the docker group for Moby; root for containerd). In a container, the
// sockets are bind-mounted from the host (read-write: the APIs are over
// HTTP and gRPC) and found under Options.HostRoot (/host). Without access
// the inventory reports the error (Diagnostic and Heartbeat health) and
// emits nothing rather than an empty snapshot, and the activity collector
// keeps retrying with backoff. Reading exec command lines of containerd
// and task start times needs the host's /proc under HostRoot (host PID
// namespace); without it those fields stay empty.
//
// # Bounds
//
// Every engine call has a timeout; answers are size-bounded (HTTP bodies
// and event lines for Moby, gRPC messages for containerd); the inventory
// keeps at most MaxContainers items per engine, MaxLabels labels of at
// most MaxLabelValue bytes (MaxCreateOptions for the create options), and
// bounded lists of mounts, devices and capabilities.
package container
