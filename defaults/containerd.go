//go:build !nocontainerd

package defaults

import (
	"log/slog"

	"github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/containerd"
)

// ContainerdBuiltIn reports whether the containerd engine is built in (the
// binary was not built with -tags nocontainerd).
const ContainerdBuiltIn = true

// containerdEngine returns the containerd engine. Building with
// -tags nocontainerd leaves the containerd client (and its gRPC stack) out
// of the binary: about 7 MB less RSS for devices that run only Moby, as
// IoT Edge does.
func containerdEngine(root string, sockets []string, log *slog.Logger, withMoby bool) container.Backend {
	o := containerd.Options{HostRoot: root, Sockets: sockets, Logger: log}
	if withMoby {
		// Moby's own containers live in containerd's "moby" namespace:
		// don't list them twice.
		o.ExcludeNamespaces = []string{"moby"}
	}
	return containerd.New(o)
}
