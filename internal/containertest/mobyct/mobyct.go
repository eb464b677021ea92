// Package mobyct creates the containers of containertest's table, and
// others, on a Moby daemon for the moby collector's tests.
package mobyct

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/edgesec/edgesec/internal/containertest"
)

// Connect returns a client for the test dockerd (EDGESEC_TEST_DOCKER) and
// the test image, or skips t when the daemon is not there.
func Connect(t testing.TB) (*client.Client, string) {
	t.Helper()
	host := containertest.Env(t, containertest.EnvDocker)
	image := containertest.Env(t, containertest.EnvImage)
	cli, err := ConnectTo(host)
	if err != nil {
		t.Skipf("needs the test dockerd at %s: %v", host, err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli, image
}

// ConnectTo connects to host ("unix://…") and checks that it answers.
func ConnectTo(host string) (*client.Client, error) {
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, err
	}
	return cli, nil
}

// Prefix returns a name prefix unique to this test run.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("edgesec-%d-", time.Now().UnixNano()%1_000_000_000)
}

// Create creates (and starts when c.Start) the container of c named
// prefix+c.Name, removed at the end of the test.
func Create(t testing.TB, cli *client.Client, image, prefix string, c containertest.Case) containertest.Created {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := prefix + c.Name
	cfg := &container.Config{Image: image, Cmd: c.Cmd, User: c.User, Labels: containertest.Labels(c, prefix)}
	if len(cfg.Cmd) == 0 {
		cfg.Cmd = []string{"/bin/true"}
	}
	hc := &container.HostConfig{
		NetworkMode:    "none",
		Privileged:     c.Privileged,
		CapAdd:         c.CapAdd,
		CapDrop:        c.CapDrop,
		ReadonlyRootfs: c.ReadOnlyRootfs,
	}
	if c.HostNetwork {
		hc.NetworkMode = "host"
	}
	if c.HostPID {
		hc.PidMode = "host"
	}
	if c.HostIPC {
		hc.IpcMode = "host"
	}
	if c.HostUTS {
		hc.UTSMode = "host"
	}
	for _, b := range c.Binds {
		s := b.Source + ":" + b.Destination
		if b.ReadOnly {
			s += ":ro"
		}
		hc.Binds = append(hc.Binds, s)
	}
	for _, d := range c.Devices {
		hc.Devices = append(hc.Devices, container.DeviceMapping{PathOnHost: d, PathInContainer: d, CgroupPermissions: "rwm"})
	}
	if c.SeccompUnconfined {
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp=unconfined")
	}
	if c.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges:true")
	}
	hc.Memory = c.MemoryLimit
	hc.NanoCPUs = c.NanoCPUs
	if c.Restart != "" {
		name, n, _ := strings.Cut(c.Restart, ":")
		hc.RestartPolicy.Name = container.RestartPolicyMode(name)
		hc.RestartPolicy.MaximumRetryCount, _ = strconv.Atoi(n)
	}
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: name})
	if err != nil {
		t.Fatalf("docker create %s: %v", name, err)
	}
	t.Cleanup(func() { Remove(cli, res.ID) })
	if c.Start {
		if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("docker start %s: %v", name, err)
		}
	}
	return containertest.Created{Case: c, ID: res.ID, Name: name}
}

// Remove force-removes a container, ignoring errors.
func Remove(cli *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
}

// Exec runs cmd in the running container id and waits for it to end.
func Exec(t testing.TB, cli *client.Client, id string, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd})
	if err != nil {
		t.Fatalf("exec create: %v", err)
	}
	if _, err := cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatalf("exec start: %v", err)
	}
	for ctx.Err() == nil {
		r, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err == nil && !r.Running {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ex.ID
}
