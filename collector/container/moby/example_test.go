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
