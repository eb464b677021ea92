package moby_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

// TestActivityResumesWithoutDuplicatesOrGaps breaks the event stream (a
// proxy cuts the connection), creates a container while it is broken, and
// checks that after the reconnection the stream resumed from the last
// event: the container created in the gap is reported once (replayed by
// the daemon), and nothing before the gap is reported twice.
func TestActivityResumesWithoutDuplicatesOrGaps(t *testing.T) {
	cli, image := mobyct.Connect(t)
	host := containertest.Env(t, containertest.EnvDocker)
	px := containertest.NewProxy(t, strings.TrimPrefix(host, "unix://"))
	e := moby.New(moby.Options{Sockets: []string{"unix://" + px.Socket}, CallTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = e.Close() })
	rec := runActivity(t, ctr.ActivityOptions{MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second}, e)
	time.Sleep(300 * time.Millisecond)
	prefix := mobyct.Prefix(t)
	a := mobyct.Create(t, cli, image, prefix, containertest.Case{Name: "before"})
	containertest.WaitActivity(t, rec, 10*time.Second, a.ID, "create", nil)

	px.Cut()
	b := mobyct.Create(t, cli, image, prefix, containertest.Case{Name: "during"})
	time.Sleep(300 * time.Millisecond)
	px.Restore()

	containertest.WaitActivity(t, rec, 15*time.Second, b.ID, "create", nil)
	c := mobyct.Create(t, cli, image, prefix, containertest.Case{Name: "after"})
	containertest.WaitActivity(t, rec, 10*time.Second, c.ID, "create", nil)
	for _, id := range []string{a.ID, b.ID, c.ID} {
		if n := containertest.Count(rec, id, "create"); n != 1 {
			t.Errorf("%d create events for %s, want 1:\n%s", n, id, containertest.Describe(containertest.Activities(rec.Events()), ""))
		}
	}
	if len(rec.Errors()) == 0 {
		t.Error("the broken stream was not reported")
	}
	for _, err := range rec.Errors() {
		if strings.Contains(err.Err.Error(), "may have been missed") {
			t.Errorf("moby replays: no missed-events diagnostic expected, got %v", err.Err)
		}
	}
}

// TestActivitySurvivesDaemonRestart restarts a private dockerd under the
// collector and checks that the stream comes back.
func TestActivitySurvivesDaemonRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private dockerd")
	}
	_, image := mobyct.Connect(t)
	shared := containertest.Env(t, containertest.EnvDocker)
	d := containertest.StartDockerd(t, containertest.Env(t, containertest.EnvContainerd))
	load := exec.Command("sh", "-c", "docker -H "+shared+" save "+image+" | docker -H unix://"+d.Socket+" load -q")
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("copy the test image to the private dockerd: %v\n%s", err, out)
	}
	cli, err := mobyct.ConnectTo("unix://" + d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	e := moby.New(moby.Options{Sockets: []string{"unix://" + d.Socket}, CallTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = e.Close() })
	rec := runActivity(t, ctr.ActivityOptions{MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second}, e)
	time.Sleep(300 * time.Millisecond)
	prefix := mobyct.Prefix(t)
	a := mobyct.Create(t, cli, image, prefix, containertest.Case{Name: "before"})
	containertest.WaitActivity(t, rec, 10*time.Second, a.ID, "create", nil)

	d.Restart(t)
	b := mobyct.Create(t, cli, image, prefix, containertest.Case{Name: "after"})
	containertest.WaitActivity(t, rec, 20*time.Second, b.ID, "create", nil)
	if n := containertest.Count(rec, a.ID, "create"); n != 1 {
		t.Errorf("%d create events for the container created before the restart, want 1", n)
	}
	if len(rec.Errors()) == 0 {
		t.Error("the restart was not reported")
	}
	inv, err := e.Inventory(context.Background(), 0)
	if err != nil {
		t.Fatalf("inventory after restart: %v", err)
	}
	if _, ok := containertest.Find(inv, b.ID); !ok {
		t.Error("inventory after restart misses the new container")
	}
}
