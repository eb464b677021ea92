package container_test

import (
	"fmt"

	"github.com/edgesec/edgesec/collector/container"
)

// The create options IoT Edge's agent splits over several labels are
// reassembled, and secret-looking environment values are redacted.
func ExampleLabelsOfInterest() {
	kept, notes := container.LabelsOfInterest(map[string]string{
		"net.azure-devices.edge.owner":            "Microsoft.Azure.Devices.Edge.Agent",
		"net.azure-devices.edge.create-options":   `{"Env":["SAS_TOKEN=abc",`,
		"net.azure-devices.edge.create-options01": `"Level=info"]}`,
		"com.example.other":                       "dropped",
	})
	fmt.Println(kept["net.azure-devices.edge.create-options"])
	fmt.Println(notes)
	fmt.Println(container.ModuleName("/edgeHub", map[string]string{"net.azure-devices.edge.owner": "Microsoft.Azure.Devices.Edge.Agent"}))
	// Output:
	// {"Env":["SAS_TOKEN=<redacted>","Level=info"]}
	// map[CreateOptionsChunks:2 EnvRedacted:true]
	// edgeHub
}

// Discover finds the engine sockets under the host root; the moby and
// containerd packages build the engines, and the collectors of this
// package run over them.
func ExampleDiscover() {
	found := container.Discover("/nonexistent-host-root", nil, nil)
	fmt.Println(len(found.Moby), len(found.Containerd))
	// Output: 0 0
}
