package containerd_test

import (
	"context"
	"testing"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/containerd"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/containerdct"
)

func engine(t *testing.T) *containerd.Engine {
	t.Helper()
	sock := containertest.Env(t, containertest.EnvContainerd)
	e := containerd.New(containerd.Options{Sockets: []string{"unix://" + sock}, CallTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestInventoryTable(t *testing.T) {
	cli, image := containerdct.Connect(t)
	e := engine(t)
	prefix := containerdct.Prefix(t)
	var created []containertest.Created
	for _, c := range containertest.Cases() {
		created = append(created, containerdct.Create(t, cli, image, prefix, c))
	}
	items, err := e.Inventory(context.Background(), 0)
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	for _, c := range created {
		t.Run(c.Case.Name, func(t *testing.T) {
			p, ok := containertest.Find(items, c.ID)
			if !ok {
				t.Fatalf("container %s not in the inventory", c.Name)
			}
			if p.Namespace != containerdct.Namespace {
				t.Errorf("Namespace = %q", p.Namespace)
			}
			containertest.CheckInventory(t, ctr.RuntimeContainerd, c, p)
		})
	}
	// Walking all namespaces: the shared dockerd's containers live in
	// containerd's "moby" namespace.
	nss := map[string]int{}
	for _, it := range items {
		nss[it.Namespace]++
	}
	t.Logf("containers per namespace: %v", nss)
}
