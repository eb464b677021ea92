package containerd_test

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector/collectortest"
	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/containerdct"
	"github.com/edgesec/edgesec/schemas"
)

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
	cli, image := containerdct.Connect(t)
	e := engine(t)
	res := ctr.NewResolver(ctr.ResolverOptions{}, e)
	rec := runActivity(t, ctr.ActivityOptions{Resolver: res}, e)
	time.Sleep(300 * time.Millisecond)
	edge := containertest.Case{Name: "edgeHub", Cmd: []string{"/bin/sleep", "600"}, Start: true, Labels: containertest.EdgeLabels(64)}
	c := containerdct.Create(t, cli, image, containerdct.Prefix(t), edge)
	// The exec lives long enough for its command line to be read when
	// exec_start is handled, also on a loaded machine.
	containerdct.Exec(t, cli, c.ID, "exec1", "/bin/sh", "-c", "sleep 2; echo pwned > /tmp/x")
	const wait = 10 * time.Second
	cr := containertest.WaitActivity(t, rec, wait, c.ID, "create", nil)
	if cr.Image != image || cr.ContainerName != c.Name || cr.ModuleName != c.Name || cr.ExtraDetails[ctr.KeyNamespace] != containerdct.Namespace {
		t.Errorf("create: %+v", cr)
	}
	containertest.WaitActivity(t, rec, wait, c.ID, "start", nil)
	containertest.WaitActivity(t, rec, wait, c.ID, "exec_create", func(p *event.ContainerActivityPayload) bool {
		return p.ExtraDetails["ExecId"] == "exec1"
	})
	st := containertest.WaitActivity(t, rec, wait, c.ID, "exec_start", nil)
	if st.Command != "/bin/sh -c sleep 2; echo pwned > /tmp/x" {
		t.Errorf("exec_start command = %q", st.Command)
	}
	ed := containertest.WaitActivity(t, rec, wait, c.ID, "exec_die", nil)
	if ed.ExitCode == nil || *ed.ExitCode != 0 {
		t.Errorf("exec_die exit code %v", ed.ExitCode)
	}
	ctx := containerdct.Ctx(context.Background())
	cont, err := cli.LoadContainer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	die := containertest.WaitActivity(t, rec, wait, c.ID, "die", nil)
	if die.ExitCode == nil || *die.ExitCode != 137 {
		t.Errorf("die exit code = %v, want 137", die.ExitCode)
	}
	if !res.Cached(c.ID) {
		t.Errorf("resolver does not cache %s", c.ID)
	}
	containerdct.Remove(cli, c.ID)
	d := containertest.WaitActivity(t, rec, wait, c.ID, "destroy", nil)
	if d.ContainerName != c.Name {
		t.Errorf("destroy names the container %q (resolved from the cache), want %q", d.ContainerName, c.Name)
	}
	deadline := time.Now().Add(2 * time.Second)
	for res.Cached(c.ID) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if res.Cached(c.ID) {
		t.Errorf("resolver still caches %s after destroy", c.ID)
	}
	validate(t, rec.Events())
}

func TestResolver(t *testing.T) {
	cli, image := containerdct.Connect(t)
	e := engine(t)
	res := ctr.NewResolver(ctr.ResolverOptions{}, e)
	c := containerdct.Create(t, cli, image, containerdct.Prefix(t), containertest.Case{Name: "edgeAgent", Labels: containertest.EdgeLabels(1000)})
	name, module, ok := res.Resolve(context.Background(), c.ID)
	if !ok || name != c.Name || module != c.Name {
		t.Fatalf("Resolve = %q %q %v", name, module, ok)
	}
	if _, _, ok := res.Resolve(context.Background(), "no-such-container"); ok {
		t.Fatal("unknown id resolved")
	}
	if !strings.HasPrefix(c.ID, "edgesec-") {
		t.Fatal(c.ID)
	}
}

var schemaValidator = sync.OnceValues(schemas.NewValidator)

func validate(t *testing.T, evs []event.Event) {
	t.Helper()
	v, err := schemaValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := v.ValidateEvent(ev); err != nil {
			t.Errorf("event %s does not validate: %v\n%s", ev.Name, err, ev.AppendJSON(nil))
		}
	}
}
