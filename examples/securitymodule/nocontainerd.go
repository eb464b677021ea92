//go:build nocontainerd

package main

import (
	"log/slog"

	"github.com/edgesec/edgesec/collector/container"
)

// containerdEngine is not built in: see containerd.go.
func containerdEngine(_ string, _ []string, log *slog.Logger, _ bool) container.Engine {
	log.Info("built without containerd support (-tags nocontainerd); containerd socket ignored")
	return nil
}
