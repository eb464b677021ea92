package moby_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/edgesec/edgesec/collector/collectortest"
	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

// runActivity runs the ContainerActivity collector over e until the test
// ends.
func runActivity(t *testing.T, o ctr.ActivityOptions, e ctr.Backend) *collectortest.Recorder {
	t.Helper()
	rec := collectortest.NewRecorder()
	c := ctr.NewActivityCollector(o, e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx, rec) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec
}

func TestActivityLifecycleAndExec(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	res := ctr.NewResolver(ctr.ResolverOptions{}, e)
	rec := runActivity(t, ctr.ActivityOptions{Resolver: res}, e)
	time.Sleep(300 * time.Millisecond) // let the stream subscribe
	prefix := mobyct.Prefix(t)
	edge := containertest.Case{Name: "edgeHub", Cmd: []string{"/bin/sleep", "600"}, Start: true, Labels: containertest.EdgeLabels(64)}
	c := mobyct.Create(t, cli, image, prefix, edge)
	mobyct.Exec(t, cli, c.ID, "/bin/sh", "-c", "echo pwned > /tmp/x")
	ctx := context.Background()
	if _, err := cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	const wait = 10 * time.Second
	for _, a := range []string{"create", "start"} {
		p := containertest.WaitActivity(t, rec, wait, c.ID, a, nil)
		if p.ContainerName != c.Name || p.ModuleName != c.Name || p.Runtime != ctr.RuntimeMoby || p.Image != image {
			t.Errorf("%s: %+v", a, p)
		}
	}
	for _, a := range []string{"exec_create", "exec_start"} {
		p := containertest.WaitActivity(t, rec, wait, c.ID, a, nil)
		if p.Command != "/bin/sh -c echo pwned > /tmp/x" {
			t.Errorf("%s command = %q", a, p.Command)
		}
		if p.ExtraDetails["ExecId"] == "" {
			t.Errorf("%s without ExecId: %v", a, p.ExtraDetails)
		}
	}
	k := containertest.WaitActivity(t, rec, wait, c.ID, "kill", nil)
	if k.ExtraDetails["Signal"] == "" {
		t.Errorf("kill without signal: %v", k.ExtraDetails)
	}
	die := containertest.WaitActivity(t, rec, wait, c.ID, "die", nil)
	if die.ExitCode == nil || *die.ExitCode != 137 {
		t.Errorf("die exit code = %v, want 137", die.ExitCode)
	}
	if _, ok := res.Identify(ctx, c.ID); !ok || !res.Cached(c.ID) {
		t.Errorf("resolver does not know %s", c.ID)
	}
	mobyct.Remove(cli, c.ID)
	containertest.WaitActivity(t, rec, wait, c.ID, "destroy", nil)
	deadline := time.Now().Add(2 * time.Second)
	for res.Cached(c.ID) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if res.Cached(c.ID) {
		t.Errorf("resolver still caches %s after destroy", c.ID)
	}
	if n := containertest.Count(rec, c.ID, "create"); n != 1 {
		t.Errorf("%d create events, want 1", n)
	}
	validate(t, rec.Events())
}

func TestResolver(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	res := ctr.NewResolver(ctr.ResolverOptions{NegativeTTL: time.Hour}, e)
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Case{Name: "edgeAgent", Labels: containertest.EdgeLabels(1000)})
	ctx := context.Background()
	name, module, ok := res.Resolve(ctx, c.ID)
	if !ok || name != c.Name || module != c.Name {
		t.Fatalf("Resolve = %q %q %v", name, module, ok)
	}
	if _, _, ok := res.Resolve(ctx, "0000000000000000000000000000000000000000000000000000000000000000"); ok {
		t.Fatal("unknown id resolved")
	}
	// A cached answer does not ask the engine: close it and ask again.
	_ = e.Close()
	if name2, _, ok := res.Resolve(ctx, c.ID); !ok || name2 != name {
		t.Fatalf("cached Resolve = %q %v", name2, ok)
	}
	res.Forget(c.ID)
	if res.Cached(c.ID) {
		t.Fatal("Forget kept the entry")
	}
}

var validator = func() func(t *testing.T, evs []event.Event) {
	return func(t *testing.T, evs []event.Event) {
		t.Helper()
		v := newValidator(t)
		for _, ev := range evs {
			if err := v.ValidateEvent(ev); err != nil {
				t.Errorf("event %s does not validate: %v\n%s", ev.Name, err, ev.AppendJSON(nil))
			}
		}
	}
}()

func validate(t *testing.T, evs []event.Event) { t.Helper(); validator(t, evs) }

// TestActivityImageEvents: tagging and removing an image reach the
// activity stream (the engine's event filter asks for image events too).
func TestActivityImageEvents(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	rec := runActivity(t, ctr.ActivityOptions{}, e)
	time.Sleep(300 * time.Millisecond) // let the stream subscribe
	ctx := context.Background()
	tag := "edgesec-test/" + strings.TrimSuffix(mobyct.Prefix(t), "-") + ":tagged"
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: image, Target: tag}); err != nil {
		t.Fatal(err)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			_, _ = cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{})
		}
	})
	if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	removed = true
	const wait = 10 * time.Second
	tp := containertest.WaitActivity(t, rec, wait, "", "tag", func(p *event.ContainerActivityPayload) bool { return p.Image == tag })
	// The engine names the image by its id when a tag is removed.
	up := containertest.WaitActivity(t, rec, wait, "", "untag", func(p *event.ContainerActivityPayload) bool {
		return strings.HasPrefix(p.Image, "sha256:")
	})
	for _, p := range []*event.ContainerActivityPayload{tp, up} {
		if p.Runtime != ctr.RuntimeMoby || p.ContainerID != "" {
			t.Errorf("%s: %+v", p.Action, p)
		}
	}
	validate(t, rec.Events())
}

// TestActivityOOM: a container killed by the kernel's OOM killer inside its
// memory limit produces an "oom" activity and a "die" with exit code 137.
// (busybox tail buffers /dev/zero, which has no newline, until it is
// killed.)
func TestActivityOOM(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	rec := runActivity(t, ctr.ActivityOptions{}, e)
	time.Sleep(300 * time.Millisecond) // let the stream subscribe
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Case{
		Name: "oom", Cmd: []string{"/bin/tail", "/dev/zero"}, Start: true, MemoryLimit: 16 << 20,
	})
	const wait = 30 * time.Second
	p := containertest.WaitActivity(t, rec, wait, c.ID, "oom", nil)
	if p.Runtime != ctr.RuntimeMoby || p.ContainerName != c.Name {
		t.Errorf("oom: %+v", p)
	}
	die := containertest.WaitActivity(t, rec, wait, c.ID, "die", nil)
	if die.ExitCode == nil || *die.ExitCode != 137 {
		t.Errorf("die after oom: exit code = %v, want 137", die.ExitCode)
	}
	for _, ev := range rec.Events() {
		if err := newValidator(t).ValidateEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
}
