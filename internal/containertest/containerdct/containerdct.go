// Package containerdct creates the containers of containertest's table,
// and others, on containerd for the containerd collector's tests.
package containerdct

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/internal/containertest"
)

// Namespace is where the test containers are created (the test image is
// imported there by scripts/test-services).
const Namespace = "default"

// Connect returns a client for the test containerd and the test image's
// name in it, or skips t when containerd is not there.
func Connect(t testing.TB) (*client.Client, string) {
	t.Helper()
	sock := containertest.Env(t, containertest.EnvContainerd)
	image := "docker.io/" + containertest.Env(t, containertest.EnvImage)
	cli, err := ConnectTo(sock)
	if err != nil {
		t.Skipf("needs the test containerd at %s: %v", sock, err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli, image
}

// ConnectTo connects to the containerd socket and checks that it answers.
func ConnectTo(sock string) (*client.Client, error) {
	cli, err := client.New(sock, client.WithTimeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Version(ctx); err != nil {
		_ = cli.Close()
		return nil, err
	}
	return cli, nil
}

// Ctx returns a context in the test namespace.
func Ctx(ctx context.Context) context.Context { return namespaces.WithNamespace(ctx, Namespace) }

// Prefix returns a container id prefix unique to this test run.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("edgesec-%d-", time.Now().UnixNano()%1_000_000_000)
}

// withSeccomp applies a small seccomp profile (allow all but kexec), so
// that a confined container is told apart from an unconfined one.
func withSeccomp(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchAARCH64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"kexec_load"}, Action: specs.ActErrno}},
	}
	return nil
}

// Create creates (and starts when c.Start) the container of c with id
// prefix+c.Name (labelled nerdctl-style with that name), removed at the
// end of the test.
func Create(t testing.TB, cli *client.Client, image, prefix string, c containertest.Case) containertest.Created {
	t.Helper()
	ctx, cancel := context.WithTimeout(Ctx(context.Background()), 30*time.Second)
	defer cancel()
	id := prefix + c.Name
	img, err := cli.GetImage(ctx, image)
	if err != nil {
		t.Fatalf("containerd image %s: %v", image, err)
	}
	cmd := c.Cmd
	if len(cmd) == 0 {
		cmd = []string{"/bin/true"}
	}
	opts := []oci.SpecOpts{oci.WithImageConfigArgs(img, cmd)}
	if c.HostNetwork {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	}
	if c.HostPID {
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	}
	if c.HostIPC {
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace))
	}
	if c.HostUTS {
		opts = append(opts, oci.WithHostNamespace(specs.UTSNamespace))
	}
	if c.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	}
	if len(c.CapAdd) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(capNames(c.CapAdd)))
	}
	if len(c.CapDrop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(capNames(c.CapDrop)))
	}
	var mounts []specs.Mount
	for _, b := range c.Binds {
		o := []string{"rbind"}
		if b.ReadOnly {
			o = append(o, "ro")
		}
		mounts = append(mounts, specs.Mount{Type: "bind", Source: b.Source, Destination: b.Destination, Options: o})
	}
	if len(mounts) > 0 {
		opts = append(opts, oci.WithMounts(mounts))
	}
	for _, d := range c.Devices {
		opts = append(opts, oci.WithLinuxDevice(d, "rwm"))
	}
	if !c.SeccompUnconfined && !c.Privileged {
		opts = append(opts, withSeccomp)
	}
	// containerd's default spec sets no_new_privileges; Moby's does not.
	// The table follows Moby's default.
	opts = append(opts, withNoNewPrivileges(c.NoNewPrivileges))
	if c.ReadOnlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if c.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(c.MemoryLimit)))
	}
	if c.NanoCPUs > 0 {
		opts = append(opts, oci.WithCPUCFS(c.NanoCPUs*100000/1e9, 100000))
	}
	if c.User != "" {
		u, g, _ := strings.Cut(c.User, ":")
		uid, _ := strconv.Atoi(u)
		gid, _ := strconv.Atoi(g)
		opts = append(opts, oci.WithUIDGID(uint32(uid), uint32(gid)))
	}
	labels := containertest.Labels(c, prefix)
	labels[ctr.LabelNerdctlName] = id
	if c.Restart != "" {
		labels[ctr.LabelContainerdRestart] = c.Restart
	}
	cont, err := cli.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithNewSnapshot(id+"-snap", img),
		client.WithContainerLabels(labels),
		client.WithNewSpec(opts...))
	if err != nil {
		t.Fatalf("containerd create %s: %v", id, err)
	}
	t.Cleanup(func() { Remove(cli, id) })
	if c.Start {
		task, err := cont.NewTask(ctx, cio.NullIO)
		if err != nil {
			t.Fatalf("containerd task %s: %v", id, err)
		}
		if err := task.Start(ctx); err != nil {
			t.Fatalf("containerd start %s: %v", id, err)
		}
	}
	return containertest.Created{Case: c, ID: id, Name: id}
}

func withNoNewPrivileges(v bool) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process != nil {
			s.Process.NoNewPrivileges = v
		}
		return nil
	}
}

func capNames(in []string) []string {
	out := make([]string, len(in))
	for i, c := range in {
		out[i] = "CAP_" + strings.TrimPrefix(c, "CAP_")
	}
	return out
}

// Remove kills the container's task and deletes it with its snapshot,
// ignoring errors.
func Remove(cli *client.Client, id string) {
	ctx, cancel := context.WithTimeout(Ctx(context.Background()), 30*time.Second)
	defer cancel()
	c, err := cli.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	StopTask(ctx, c)
	_ = c.Delete(ctx, client.WithSnapshotCleanup)
}

// StopTask kills and deletes the container's task, if any.
func StopTask(ctx context.Context, c client.Container) {
	task, err := c.Task(ctx, nil)
	if err != nil {
		return
	}
	wait, werr := task.Wait(ctx)
	_ = task.Kill(ctx, syscall.SIGKILL)
	if werr == nil {
		select {
		case <-wait:
		case <-ctx.Done():
		}
	}
	_, _ = task.Delete(ctx, client.WithProcessKill)
}

// Exec runs cmd in the container's task and waits for it to end.
func Exec(t testing.TB, cli *client.Client, id, execID string, cmd ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(Ctx(context.Background()), 30*time.Second)
	defer cancel()
	c, err := cli.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps := *spec.Process
	ps.Args = cmd
	ps.Terminal = false
	p, err := task.Exec(ctx, execID, &ps, cio.NullIO)
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	wait, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatalf("exec start: %v", err)
	}
	select {
	case <-wait:
	case <-ctx.Done():
		t.Fatal("exec did not end")
	}
	_, _ = p.Delete(ctx)
}
