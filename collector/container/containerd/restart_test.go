package containerd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/containerd"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/containerdct"
)

// TestActivitySurvivesDaemonRestart restarts a private containerd under
// the collector: the stream must come back, and the collector must say
// that events during the outage may have been missed (containerd cannot
// replay).
func TestActivitySurvivesDaemonRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private containerd")
	}
	d := containertest.StartContainerd(t)
	cli, err := containerdct.ConnectTo(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	e := containerd.New(containerd.Options{Sockets: []string{"unix://" + d.Socket}, CallTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = e.Close() })
	rec := runActivity(t, ctr.ActivityOptions{MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second}, e)
	time.Sleep(300 * time.Millisecond)
	ctx := namespaces.WithNamespace(context.Background(), "k8s.io")
	create := func(id string) {
		t.Helper()
		if _, err := cli.NewContainer(ctx, id, client.WithNewSpec()); err != nil {
			t.Fatal(err)
		}
	}
	create("before")
	containertest.WaitActivity(t, rec, 10*time.Second, "before", "create", nil)

	d.Restart(t)
	// The test's own client reconnects by itself (gRPC); retry a while.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := cli.NewContainer(ctx, "after", client.WithNewSpec()); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The collector may still be reconnecting when "after" is created:
	// keep creating containers until one is seen.
	seen := false
	for i := 0; i < 50 && !seen; i++ {
		id := "after-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		create(id)
		end := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(end) && !seen {
			seen = containertest.Count(rec, id, "create") == 1
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !seen {
		t.Fatalf("no event after the restart:\n%s", containertest.Describe(containertest.Activities(rec.Events()), ""))
	}
	missed := false
	for _, err := range rec.Errors() {
		if strings.Contains(err.Err.Error(), "may have been missed") {
			missed = true
		}
	}
	if !missed {
		t.Errorf("no diagnostic that events may have been missed; reported: %v", rec.Errors())
	}
	if n := containertest.Count(rec, "before", "create"); n != 1 {
		t.Errorf("%d create events for the container created before the restart", n)
	}
	// Walking all namespaces: the container is in k8s.io.
	inv, err := e.Inventory(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := containertest.Find(inv, "before"); !ok || p.Namespace != "k8s.io" {
		t.Errorf("inventory: %+v %v", p, ok)
	}
}
