package defaults_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector/kernel"
	"github.com/edgesec/edgesec/defaults"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
	"github.com/edgesec/edgesec/manifest"
	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
	"github.com/edgesec/edgesec/twinconfig"
)

const agentID = "0b6a4f3e-6d0c-4d7e-9a53-2f4b8d2c1a10"

type line struct {
	Name    string
	Payload []json.RawMessage
}

// snapshot runs eng.Once with the standard collectors and returns the
// events sent, validated against the schemas.
func snapshot(t *testing.T, o defaults.Options) []line {
	t.Helper()
	rec := transporttest.NewRecorder()
	eng := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: agentID, Transport: rec})
	release := defaults.Add(eng, o)
	require.NoError(t, eng.Once(context.Background()))
	release()
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	var out []line
	for _, m := range rec.Messages() {
		require.NoError(t, v.ValidateMessage(m.Body))
		var env struct{ Events []line }
		require.NoError(t, json.Unmarshal(m.Body, &env))
		out = append(out, env.Events...)
	}
	return out
}

// collectors returns the names of the collectors in the Heartbeat.
func collectors(t *testing.T, evs []line) []string {
	t.Helper()
	var names []string
	for _, ev := range evs {
		if ev.Name != event.Heartbeat {
			continue
		}
		var hb struct{ Collectors []struct{ Name string } }
		require.NoError(t, json.Unmarshal(ev.Payload[0], &hb))
		for _, c := range hb.Collectors {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

func TestAddsTheStandardSet(t *testing.T) {
	// NoBPF: the process events come from the proc connector collector.
	evs := snapshot(t, defaults.Options{NoContainers: true, StateDir: t.TempDir(), NoBPF: true})
	require.Equal(t, []string{
		event.ConnectedHardware, event.ConnectionCreate, event.DeploymentRecommendation, event.FirewallConfiguration,
		event.Heartbeat, event.ListeningPorts, event.LocalUsers, event.Login, event.OSBaseline, event.ProcessCreate,
		event.SystemInformation,
	}, collectors(t, evs))
	got := map[string]bool{}
	for _, ev := range evs {
		got[ev.Name] = true
	}
	// The periodic collectors ran once (an empty snapshot is still sent).
	for _, name := range []string{event.SystemInformation, event.LocalUsers, event.ListeningPorts, event.OSBaseline} {
		require.True(t, got[name], "no %s event", name)
	}
}

func TestNoContainerEngineFound(t *testing.T) {
	evs := snapshot(t, defaults.Options{HostRoot: t.TempDir(), MobySockets: []string{"/nowhere/docker.sock"},
		ContainerdSockets: []string{"/nowhere/containerd.sock"}})
	names := collectors(t, evs)
	require.NotContains(t, names, event.ContainerInventory)
	require.NotContains(t, names, event.ContainerActivity)
}

// TestMobyContainersListedOnce: with both engines found, a Moby container
// (which also lives in containerd's "moby" namespace when dockerd uses
// that containerd) is listed once, by the Moby engine.
func TestMobyContainersListedOnce(t *testing.T) {
	cli, image := mobyct.Connect(t)
	ctrd := containertest.Env(t, containertest.EnvContainerd)
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Cases()[0])

	evs := snapshot(t, defaults.Options{MobySockets: []string{os.Getenv(containertest.EnvDocker)},
		ContainerdSockets: []string{"unix://" + ctrd}})
	names := collectors(t, evs)
	require.Contains(t, names, event.ContainerInventory)
	require.Contains(t, names, event.ContainerActivity)
	var runtimes []string
	for _, ev := range evs {
		if ev.Name != event.ContainerInventory {
			continue
		}
		for _, p := range ev.Payload {
			var it struct{ ContainerId, Runtime string }
			require.NoError(t, json.Unmarshal(p, &it))
			if it.ContainerId == c.ID {
				runtimes = append(runtimes, it.Runtime)
			}
		}
	}
	require.Equal(t, []string{"moby"}, runtimes)
}

func TestDeploymentConfigFromTwin(t *testing.T) {
	c, problems, err := twinconfig.Decode([]byte(`{"deploymentRulesDisabled":{"value":"EDGE016, EDGE026"},"deploymentRuleSeverities":{"value":"EDGE010=high,EDGE020=low,EDGE999=low"}}`))
	require.NoError(t, err)
	require.Empty(t, problems)
	mc := defaults.DeploymentConfig(c)
	require.Equal(t, []string{"EDGE016", "EDGE026"}, mc.DisabledRules)
	require.Equal(t, manifest.High, mc.Severity["EDGE010"])
	require.Equal(t, manifest.Low, mc.Severity["EDGE020"])
	require.Empty(t, defaults.DeploymentConfig(twinconfig.Default()).Severity)
}

// TestNoContainerdTag: -tags nocontainerd leaves the containerd client out.
func TestNoContainerdTag(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command: " + err.Error())
	}
	deps := func(tags ...string) string {
		out, err := exec.Command("go", append(append([]string{"list", "-deps"}, tags...), "github.com/edgesec/edgesec/defaults")...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	const client = "github.com/edgesec/edgesec/collector/container/containerd\n"
	require.Contains(t, deps(), client)
	without := deps("-tags", "nocontainerd")
	require.NotContains(t, without, client)
	require.NotContains(t, without, "google.golang.org/grpc\n")
	require.True(t, strings.Contains(without, "github.com/edgesec/edgesec/collector/container/moby\n"), "Moby stays")
}

// Where the eBPF kernel source loads (root, BTF, CAP_BPF), it replaces the
// proc connector collector; elsewhere the proc connector is used and says
// why.
func TestKernelSourceWhereItLoads(t *testing.T) {
	k, err := kernel.New(kernel.Options{Connections: true})
	if err != nil {
		t.Skipf("the eBPF kernel source does not load here: %v", err)
	}
	s := k.Stats()
	_ = k.Close()
	names := collectors(t, snapshot(t, defaults.Options{NoContainers: true, StateDir: t.TempDir()}))
	require.Contains(t, names, "KernelEvents")
	require.NotContains(t, names, event.ProcessCreate)
	if s.UDP && s.UDPConnectedSends {
		require.NotContains(t, names, event.ConnectionCreate, "UDP from eBPF too: no sock_diag snapshots")
	} else {
		require.Contains(t, names, event.ConnectionCreate, "UDP flows still come from sock_diag")
	}
}

// The kernelWatchedPaths key works with the standard collectors as they
// are: the eBPF source reports an open below a prefix the configuration
// adds to the defaults.
func TestKernelWatchedPathsKey(t *testing.T) {
	k, err := kernel.New(kernel.Options{})
	if err != nil {
		if os.Getenv("EDGESEC_TEST_REQUIRE_BPF") != "" {
			t.Fatal(err)
		}
		t.Skipf("the eBPF kernel source does not load here: %v", err)
	}
	_ = k.Close()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s\n"), 0o600))
	cfg, probs, err := twinconfig.Decode([]byte(`{"highPriorityMessageFrequency": {"value": "PT1S"},
		"kernelWatchedPaths": {"value": ["defaults", {"prefix": "` + dir + `/", "ops": "read"}]}}`))
	require.NoError(t, err)
	require.Empty(t, probs)

	rec := transporttest.NewRecorder()
	eng := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: agentID, Transport: rec, Config: &cfg,
		FirstMessageDelay: 100 * time.Millisecond})
	release := defaults.Add(eng, defaults.Options{NoContainers: true, StateDir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
		release()
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		cmd := exec.Command("cat", secret)
		require.NoError(t, cmd.Run())
		ok := slices.ContainsFunc(rec.Messages(), func(m transport.Message) bool {
			return strings.Contains(string(m.Body), `"Action":"`+event.ActivityOpenRead+`"`) &&
				strings.Contains(string(m.Body), `"Path":"`+secret+`"`)
		})
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s of %s within 15s", event.ActivityOpenRead, secret)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
