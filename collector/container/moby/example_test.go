package moby_test

import (
	"fmt"
	"os"

	"github.com/edgesec/edgesec/collector/container/moby"
)

// ParseInspect turns a container's inspect answer (GET
// /containers/{id}/json, what `docker inspect` prints one element of) into
// a ContainerInventory item, without a daemon.
func ExampleParseInspect() {
	b, err := os.ReadFile("testdata/inspect-edge.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := moby.ParseInspect(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("module %s, privileged %v, network %s, caps added %v\n", p.ModuleName, p.Privileged, p.NetworkMode, p.CapAdd)
	// Output: module edgesec-fixture, privileged false, network none, caps added [NET_ADMIN]
}

// ParseEvent turns one line of the engine's event stream (GET /events,
// what `docker events --format '{{json .}}'` prints) into an activity,
// without a daemon.
func ExampleParseEvent() {
	line := []byte(`{"Type":"container","Action":"exec_start: /bin/sh -c id","Actor":{"ID":"7fd520fe5cc4","Attributes":{"name":"edgeHub","execID":"eea6b0afbc6c","net.azure-devices.edge.owner":"Microsoft.Azure.Devices.Edge.Agent","image":"mcr.microsoft.com/azureiotedge-hub:1.5"}},"time":1796572067,"timeNano":1796572067115184812}`)
	a, ok, err := moby.ParseEvent(line)
	if err != nil || !ok {
		fmt.Println(ok, err)
		return
	}
	p := a.Payload
	fmt.Printf("%s in %s (module %s): %s\n", p.Action, p.ContainerName, p.ModuleName, p.Command)
	// Output: exec_start in edgeHub (module edgeHub): /bin/sh -c id
}
