package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

// TestModuleIncludesContainerCollectors: pointed at the test engines (the
// EDGESEC_*_SOCKETS variables replace the default socket paths), the module
// reports the containers in its start-up snapshot, and its container
// collectors run.
func TestModuleIncludesContainerCollectors(t *testing.T) {
	cli, image := mobyct.Connect(t)
	ctrd := containertest.Env(t, containertest.EnvContainerd)
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Cases()[0])

	t.Setenv("EDGESEC_MOBY_SOCKETS", os.Getenv(containertest.EnvDocker))
	t.Setenv("EDGESEC_CONTAINERD_SOCKETS", "unix://"+ctrd)
	m := startModule(t, "--state-dir", t.TempDir())
	m.waitFor(t, 10*time.Second, "the first message after start-up (with the Heartbeat)", hasHeartbeat)
	require.Equal(t, 0, m.stop(t))
	lines := m.output()
	validateAll(t, lines)

	var found bool
	collectors := map[string]string{}
	for _, l := range lines {
		var msg struct {
			Events []struct {
				Name    string
				Payload []struct {
					ContainerId, Runtime string
					Collectors           []struct{ Name, State string }
				}
			}
		}
		require.NoError(t, json.Unmarshal([]byte(l), &msg))
		for _, e := range msg.Events {
			for _, p := range e.Payload {
				if e.Name == "ContainerInventory" && p.ContainerId == c.ID {
					found = true
					require.Equal(t, "moby", p.Runtime, "Moby's containers are listed once, by the Moby engine")
				}
				for _, h := range p.Collectors {
					collectors[h.Name] = h.State
				}
			}
		}
	}
	require.True(t, found, "container %s not in the module's ContainerInventory", c.ID)
	require.Equal(t, "running", collectors["ContainerInventory"])
	require.Equal(t, "running", collectors["ContainerActivity"])
}
