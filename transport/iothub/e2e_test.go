package iothub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/schemas"
)

// TestReferenceModuleEndToEnd builds the reference module and runs it with
// IoT Edge environment variables against the emulated edgeHub and workload
// API: it connects, reads its twin, reports its effective configuration,
// sends schema-valid security messages with the security marker, and
// applies a desired change live.
func TestReferenceModuleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reference module")
	}
	// EDGESEC_E2E_BINARY runs a module built elsewhere instead.
	bin := os.Getenv("EDGESEC_E2E_BINARY")
	if bin == "" {
		root, err := filepath.Abs("../..")
		require.NoError(t, err)
		mainGo, err := os.ReadFile(filepath.Join(root, "examples/securitymodule/main.go"))
		require.NoError(t, err)
		if !bytes.Contains(mainGo, []byte("selectTransport(")) {
			t.Skip("examples/securitymodule/main.go does not call selectTransport yet")
		}
		bin = filepath.Join(t.TempDir(), "securitymodule")
		build := exec.Command("go", "build", "-o", bin, "./examples/securitymodule")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}

	h := mqtttest.StartHub(t, mqtttest.HubOptions{Desired: json.RawMessage(desiredPatch("eventPriorityListeningPorts", "Off"))})
	key, err := base64.StdEncoding.DecodeString(h.KeyBase64())
	require.NoError(t, err)
	wl := mqtttest.StartWorkload(t, h.Options().ModuleID, "gen-7", key, h.CA().CertPEM)

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "EDGESEC_STATE_DIR=" + t.TempDir(), "EDGESEC_LOG_LEVEL=debug"}
	for k, v := range wl.Env(h) {
		env = append(env, k+"="+v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	var stdout bytes.Buffer
	stderr := &syncLog{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	require.NoError(t, cmd.Start())
	var waitOnce sync.Once
	wait := func() { waitOnce.Do(func() { cancel(); _ = cmd.Wait() }) }
	defer func() {
		wait()
		if t.Failed() {
			t.Logf("module log:\n%s", stderr.String())
		}
	}()

	reported := func(key string) any {
		rep, _ := h.Reported()
		obj, _ := rep[objectName].(map[string]any)
		v, _ := obj[key].(map[string]any)
		return v["value"]
	}
	h.WaitFor(t, 30*time.Second, "the module's CONNECT, twin GET and reported configuration", func() bool {
		return h.TwinGets() > 0 && reported("eventPriorityListeningPorts") == "Off"
	})
	assert.True(t, h.Connects()[0].Accepted)
	assert.Equal(t, "edgesec/", h.Connects()[0].ClientType[:8])
	time.Sleep(time.Second) // a second, identical start-up patch would be here by now
	patches := h.ReportedPatches()
	for i := 1; i < len(patches); i++ {
		assert.NotEqual(t, string(patches[i-1]), string(patches[i]), "reported patch %d repeats the one before", i)
	}

	h.WaitFor(t, 30*time.Second, "the first security message", func() bool { return len(h.Messages()) > 0 })
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	for _, m := range h.Messages() {
		assert.Equal(t, "urn:azureiot:Security:SecurityAgent:1", m.Properties["$.ifid"])
		assert.Equal(t, "application/json", m.Properties["$.ct"])
		assert.Equal(t, "utf-8", m.Properties["$.ce"])
		assert.NotEmpty(t, m.Properties["$.mid"])
		assert.NoError(t, v.ValidateMessage(m.Body), "%s", m.Body)
		// The twin turns ListeningPorts Off before the collectors start:
		// not even the start-up snapshot may carry it.
		var env struct{ Events []struct{ Name string } }
		require.NoError(t, json.Unmarshal(m.Body, &env))
		for _, e := range env.Events {
			assert.NotEqual(t, "ListeningPorts", e.Name)
		}
	}

	// A live change: LocalUsers off, shorter frequencies.
	h.UpdateDesired(`{"`+objectName+`": {"eventPriorityLocalUsers": {"value": "Off"},
		"highPriorityMessageFrequency": {"value": "PT5S"}, "lowPriorityMessageFrequency": {"value": "PT5S"},
		"snapshotFrequency": {"value": "PT5S"}}}`, true)
	h.WaitFor(t, 20*time.Second, "the new configuration reported", func() bool {
		return reported("eventPriorityLocalUsers") == "Off" && reported("highPriorityMessageFrequency") == "PT5S"
	})
	time.Sleep(2 * time.Second)
	after := len(h.Messages())
	h.WaitFor(t, 30*time.Second, "messages at the shorter frequency", func() bool { return len(h.Messages()) >= after+2 })
	for _, m := range h.Messages()[after:] {
		assert.NotContains(t, string(m.Body), `"Name":"LocalUsers"`, "LocalUsers is Off")
		assert.NoError(t, v.ValidateMessage(m.Body))
	}
	assert.Positive(t, wl.Signs.Load())
	assert.Empty(t, h.Violations())
	wait()
	assert.Empty(t, strings.TrimSpace(stdout.String()), "nothing on stdout: messages go to edgeHub")
}
