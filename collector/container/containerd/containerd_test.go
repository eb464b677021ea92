package containerd_test

import (
	"context"
	"testing"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/containerd"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/containerdct"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

func engine(t *testing.T) *containerd.Backend {
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

// TestExcludeNamespaces: the shared dockerd keeps its containers in
// containerd's "moby" namespace; with Moby monitored on its own, the
// reference module excludes that namespace so no container appears twice.
func TestExcludeNamespaces(t *testing.T) {
	sock := containertest.Env(t, containertest.EnvContainerd)
	mcli, image := mobyct.Connect(t)
	c := mobyct.Create(t, mcli, image, mobyct.Prefix(t), containertest.Cases()[0])

	all := engine(t)
	items, err := all.Inventory(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := containertest.Find(items, c.ID); !ok || p.Namespace != "moby" {
		t.Fatalf("the docker container %s is not listed in containerd's moby namespace (found=%v)", c.ID, ok)
	}

	excl := containerd.New(containerd.Options{Sockets: []string{"unix://" + sock}, CallTimeout: 10 * time.Second, ExcludeNamespaces: []string{"moby"}})
	t.Cleanup(func() { _ = excl.Close() })
	items, err = excl.Inventory(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Namespace == "moby" {
			t.Fatalf("namespace moby was excluded but %s is listed", it.ContainerID)
		}
	}
}
