//go:build !nocontainerd

package main

import (
	"log/slog"

	"github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/containerd"
)

// containerdEngine returns the containerd engine. Building with
// -tags nocontainerd leaves the containerd client (and its gRPC stack) out
// of the binary: about 7 MB less RSS for devices that run only Moby, as
// IoT Edge does.
func containerdEngine(root string, sockets []string, log *slog.Logger, withMoby bool) container.Engine {
	o := containerd.Options{HostRoot: root, Sockets: sockets, Logger: log}
	if withMoby {
		o.ExcludeNamespaces = []string{"moby"}
	}
	return containerd.New(o)
}
