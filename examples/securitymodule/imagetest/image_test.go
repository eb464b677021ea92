package imagetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
	"github.com/edgesec/edgesec/schemas"
)

// EnvModuleImage names the image under test (scripts/image prints it).
const EnvModuleImage = "EDGESEC_TEST_MODULE_IMAGE"

// createOptions is the module's createOptions from its deployment snippet,
// decoded as the Docker API types edgeAgent hands them to.
type createOptions struct {
	Labels     map[string]string    `json:"Labels"`
	HostConfig container.HostConfig `json:"HostConfig"`
}

// Deployment snippets.
const (
	defaultSnippet = "../deploy/layered.deployment.json"
	ebpfSnippet    = "../deploy/layered.deployment.ebpf.json"
)

func deploymentCreateOptions(t *testing.T, file string) (createOptions, []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var doc struct {
		ModulesContent map[string]map[string]json.RawMessage `json:"modulesContent"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	var mod struct {
		Settings struct {
			CreateOptions createOptions `json:"createOptions"`
		} `json:"settings"`
		Env map[string]struct {
			Value string `json:"value"`
		} `json:"env"`
	}
	raw := doc.ModulesContent["$edgeAgent"]["properties.desired.modules.securitymodule"]
	require.NotEmpty(t, raw, "the snippet has no securitymodule module")
	require.NoError(t, json.Unmarshal(raw, &mod))
	var env []string
	for k, v := range mod.Env {
		env = append(env, k+"="+v.Value)
	}
	return mod.Settings.CreateOptions, env
}

// message is the part of an envelope the test reads.
type message struct {
	AgentVersion string
	AgentID      string `json:"AgentId"`
	Events       []struct {
		Name    string
		IsEmpty bool
		Payload []map[string]any
	}
}

// run runs the image as container prefix+name with the default
// deployment's createOptions (user overrides the image's user when set; the
// state volume is prefix+"state") and args, and returns its exit code,
// stdout and stderr.
func run(t *testing.T, cli *client.Client, image, prefix, name, user string, args ...string) (int64, []byte, string) {
	t.Helper()
	co, env := deploymentCreateOptions(t, defaultSnippet)
	id, wait := start(t, cli, co, env, image, prefix, name, user, args...)
	return finish(t, cli, id, wait)
}

// start creates and starts the image as container prefix+name with the
// createOptions co and the environment env, adapted to the test daemon.
func start(t *testing.T, cli *client.Client, co createOptions, env []string, image, prefix, name, user string, args ...string) (string, client.ContainerWaitResult) {
	t.Helper()
	hc := co.HostConfig
	// The snippet's bind sources are the IoT Edge host's: the Moby socket
	// is the test daemon's here, the state volume is this run's own.
	sock := strings.TrimPrefix(containertest.Env(t, containertest.EnvDocker), "unix://")
	volume := prefix + "state"
	var binds []string
	for _, b := range hc.Binds {
		src, rest, _ := strings.Cut(b, ":")
		switch {
		case strings.HasSuffix(src, "docker.sock"):
			src = sock
		case !strings.HasPrefix(src, "/"):
			src = volume
		}
		binds = append(binds, src+":"+rest)
	}
	hc.Binds = binds
	// The module finds the engine under the host root by default; the test
	// daemon's socket is not at a default path, so name the mount.
	env = append(env, "EDGESEC_MOBY_SOCKETS=unix:///var/run/docker.sock")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cfg := &container.Config{Image: image, Cmd: args, Env: env, Labels: co.Labels, User: user}
	name = prefix + name
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: &hc, Name: name})
	require.NoError(t, err, "create the module container with the deployment's createOptions")
	t.Cleanup(func() {
		mobyct.Remove(cli, res.ID)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = cli.VolumeRemove(ctx, volume, client.VolumeRemoveOptions{Force: true})
	})
	wait := cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	_, err = cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
	require.NoError(t, err, "start the module container (host PID and network, host root, Moby socket, capabilities of docs/privileges.md)")
	return res.ID, wait
}

// finish waits for the container to exit and returns its exit code, stdout
// and stderr.
func finish(t *testing.T, cli *client.Client, id string, wait client.ContainerWaitResult) (int64, []byte, string) {
	t.Helper()
	var code int64
	select {
	case r := <-wait.Result:
		code = r.StatusCode
	case err := <-wait.Error:
		t.Fatalf("wait for the module: %v", err)
	}
	stdout, stderr := containerLogs(t, cli, id)
	return code, stdout, stderr
}

// containerLogs returns what the container printed so far.
func containerLogs(t *testing.T, cli *client.Client, id string) ([]byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stderr, logs)
	require.NoError(t, err)
	return stdout.Bytes(), stderr.String()
}

// parse validates every line of out against the schemas and returns the
// messages.
func parse(t *testing.T, out []byte) []message {
	t.Helper()
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	var msgs []message
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		require.NoError(t, v.ValidateMessage(line), "message %d is not schema-valid", len(msgs)+1)
		var m message
		require.NoError(t, json.Unmarshal(line, &m))
		msgs = append(msgs, m)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, msgs, "the module printed no message")
	return msgs
}

// payloads returns the payload items of every event called name.
func payloads(msgs []message, name string) []map[string]any {
	var out []map[string]any
	for _, m := range msgs {
		for _, e := range m.Events {
			if e.Name == name {
				out = append(out, e.Payload...)
			}
		}
	}
	return out
}

func skipUnlessImage(t *testing.T) string {
	t.Helper()
	image := os.Getenv(EnvModuleImage)
	if image == "" {
		t.Skipf("%s not set: build the image with scripts/image (scripts/image-test does both)", EnvModuleImage)
	}
	return image
}

// TestImageOnce runs the image as IoT Edge would (the snippet's
// createOptions) with --once, next to a busybox container and with a TCP
// port listening on the host, and checks that its snapshot describes them.
func TestImageOnce(t *testing.T) {
	image := skipUnlessImage(t)
	cli, busybox := mobyct.Connect(t)
	prefix := mobyct.Prefix(t)
	other := mobyct.Create(t, cli, busybox, prefix, containertest.Case{Name: "neighbour", Cmd: []string{"/bin/sleep", "600"}, Start: true})

	// A port of this test, in the host's network namespace.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	code, out, logs := run(t, cli, image, prefix, "module", "", "--once")
	t.Logf("module stderr:\n%s", logs)
	require.Zero(t, code, "the module's --once run failed")
	msgs := parse(t, out)

	for _, m := range msgs {
		require.NotEmpty(t, m.AgentVersion)
	}
	if v := os.Getenv("EDGESEC_TEST_MODULE_VERSION"); v != "" {
		require.Equal(t, v, msgs[0].AgentVersion, "the version stamped by scripts/image")
	}

	// The host, not the container: its hostname, architecture and users.
	hostname, err := os.Hostname()
	require.NoError(t, err)
	sys := payloads(msgs, "SystemInformation")
	require.Len(t, sys, 1, "one SystemInformation")
	require.Equal(t, hostname, sys[0]["HostName"])
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "arm": "armv7l"}[runtime.GOARCH]
	if arch != "" {
		require.Equal(t, arch, sys[0]["OsArchitecture"])
	}
	require.True(t, hasItem(payloads(msgs, "LocalUsers"), "UserName", "root"), "LocalUsers lists the host's root")

	// The host's network namespace: this test's port.
	require.True(t, hasItem(payloads(msgs, "ListeningPorts"), "LocalPort", port),
		"ListeningPorts lists the test's port %s on the host", port)

	// The other containers, through the mounted Moby socket: the
	// neighbour and the module itself.
	inv := payloads(msgs, "ContainerInventory")
	require.True(t, hasItem(inv, "ContainerId", other.ID), "ContainerInventory lists the busybox container %s", other.ID)
	require.True(t, hasItem(inv, "Name", prefix+"module"), "ContainerInventory lists the module's own container")

	// Every periodic host collector ran: the health report says so.
	hb := payloads(msgs, "Heartbeat")
	require.NotEmpty(t, hb)
	for _, name := range []string{"SystemInformation", "LocalUsers", "ListeningPorts", "OSBaseline", "ContainerInventory"} {
		require.NotEmpty(t, payloads(msgs, name), "no %s event", name)
	}
}

// TestImageNonRoot runs the image twice as the nonroot user of its
// /etc/passwd, with the same createOptions and state volume: the snapshot
// is produced (with less detail: the capabilities are not effective for a
// non-root user) and the state directory is writable, so the second run
// keeps the agent id the first one created.
func TestImageNonRoot(t *testing.T) {
	image := skipUnlessImage(t)
	cli, _ := mobyct.Connect(t)
	prefix := mobyct.Prefix(t)
	var ids []string
	for _, name := range []string{"nonroot-1", "nonroot-2"} {
		code, out, logs := run(t, cli, image, prefix, name, "65532:65532", "--once")
		t.Logf("%s stderr:\n%s", name, logs)
		require.Zero(t, code, "the module's --once run as nonroot failed")
		msgs := parse(t, out)
		require.NotEmpty(t, payloads(msgs, "SystemInformation"))
		ids = append(ids, msgs[0].AgentID)
	}
	require.NotEmpty(t, ids[0])
	require.Equal(t, ids[0], ids[1], "the agent id was not kept in the state volume")
}

// TestImageEBPF runs the image with the eBPF deployment snippet's
// createOptions (CAP_BPF and CAP_PERFMON added) and checks that the module
// loads the eBPF kernel-event source inside its container and reports
// processes started on the host, with their command line, from the kernel.
//
// Moby before 23 (Debian's docker.io 20.10, the moby-engine of IoT Edge
// 1.4) does not know CAP_BPF and CAP_PERFMON and refuses the container;
// on such a daemon the test substitutes CAP_SYS_ADMIN, the alternative
// docs/privileges.md gives for those engines, and says so.
func TestImageEBPF(t *testing.T) {
	image := skipUnlessImage(t)
	cli, _ := mobyct.Connect(t)
	prefix := mobyct.Prefix(t)
	co, env := deploymentCreateOptions(t, ebpfSnippet)
	require.Subset(t, co.HostConfig.CapAdd, []string{"BPF", "PERFMON"}, "the eBPF snippet adds CAP_BPF and CAP_PERFMON")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sv, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	require.NoError(t, err)
	if major, _, _ := strings.Cut(sv.Version, "."); major != "" && atoiOr(major, 99) < 23 {
		var caps []string
		for _, c := range co.HostConfig.CapAdd {
			if c != "BPF" && c != "PERFMON" {
				caps = append(caps, c)
			}
		}
		co.HostConfig.CapAdd = append(caps, "SYS_ADMIN")
		t.Logf("Moby %s does not know CAP_BPF and CAP_PERFMON: running with CAP_SYS_ADMIN instead (docs/privileges.md)", sv.Version)
	}

	id, wait := start(t, cli, co, env, image, prefix, "ebpf", "")
	// Wait until the eBPF source is loaded, then start marked processes on
	// the host.
	deadline := time.Now().Add(time.Minute)
	for {
		_, logs := containerLogs(t, cli, id)
		if strings.Contains(logs, "kernel events from eBPF") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the module did not load the eBPF source within a minute; stderr:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	marker := "edgesec-imagetest-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range 3 {
		require.NoError(t, exec.Command("/bin/sh", "-c", "exit 0", marker+"-"+strconv.Itoa(i)).Run())
	}
	time.Sleep(time.Second) // the source wakes its reader in batches (50 ms deadline)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Minute)
	defer stopCancel()
	_, err = cli.ContainerStop(stopCtx, id, client.ContainerStopOptions{})
	require.NoError(t, err, "stop the module (SIGTERM: it sends what it queued)")
	code, out, logs := finish(t, cli, id, wait)
	require.Zero(t, code, "the module did not exit cleanly on SIGTERM; stderr:\n%s", logs)
	require.NotContains(t, logs, "falling back", "the module fell back from eBPF")
	msgs := parse(t, out)
	var seen int
	for _, p := range payloads(msgs, "ProcessCreate") {
		if strings.Contains(fmt.Sprint(p["CommandLine"]), marker) {
			x, _ := p["ExtraDetails"].(map[string]any)
			require.Equal(t, "ebpf", x["Source"], "ProcessCreate of %s not from the eBPF source: %v", marker, p)
			seen++
		}
	}
	require.Equal(t, 3, seen, "ProcessCreate events with the marker %s", marker)
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

func hasItem(items []map[string]any, key, want string) bool {
	for _, it := range items {
		if fmt.Sprint(it[key]) == want {
			return true
		}
	}
	return false
}
