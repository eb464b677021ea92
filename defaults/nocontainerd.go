//go:build nocontainerd

package defaults

import (
	"log/slog"

	"github.com/edgesec/edgesec/collector/container"
)

// ContainerdBuiltIn reports whether the containerd engine is built in (the
// binary was not built with -tags nocontainerd).
const ContainerdBuiltIn = false

// containerdEngine is not built in: see containerd.go.
func containerdEngine(_ string, _ []string, log *slog.Logger, _ bool) container.Backend {
	log.Info("built without containerd support (-tags nocontainerd); containerd socket ignored")
	return nil
}
