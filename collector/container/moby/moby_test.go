package moby_test

import (
	"context"
	"strings"
	"testing"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

// engine returns a Backend on the test dockerd.
func engine(t *testing.T) *moby.Backend {
	t.Helper()
	host := containertest.Env(t, containertest.EnvDocker)
	e := moby.New(moby.Options{Sockets: []string{host}, CallTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestAPIVersionNegotiated(t *testing.T) {
	mobyct.Connect(t)
	e := engine(t)
	v, err := e.APIVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The client speaks up to 1.56; the test daemon (Debian's 20.10)
	// speaks 1.41: negotiation must have come down to the daemon's.
	if v == "" || v == "1.56" && !strings.HasPrefix(v, "1.") {
		t.Fatalf("negotiated API version %q", v)
	}
	t.Logf("negotiated API %s", v)
}

func TestInventoryTable(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	prefix := mobyct.Prefix(t)
	var created []containertest.Created
	for _, c := range containertest.Cases() {
		created = append(created, mobyct.Create(t, cli, image, prefix, c))
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
			containertest.CheckInventory(t, ctr.RuntimeMoby, c, p)
		})
	}
}
