package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/manifest"
)

// TestOwnDeploymentLintsClean runs the deployment analysis on the module's
// own deployment snippets (the default one, and the eBPF one for engines
// that know CAP_BPF and CAP_PERFMON): every risky setting they need is
// suppressed with who and why, and nothing else is found.
func TestOwnDeploymentLintsClean(t *testing.T) {
	for _, file := range []string{"deploy/layered.deployment.json", "deploy/layered.deployment.ebpf.json"} {
		t.Run(file, func(t *testing.T) { lintsClean(t, file) })
	}
}

func lintsClean(t *testing.T, file string) {
	d, err := manifest.LoadFile(file, manifest.LoadOptions{})
	require.NoError(t, err)
	findings := manifest.Analyze(d, manifest.Config{})
	suppressed := map[string]bool{}
	for _, f := range findings {
		if f.Suppression == nil {
			t.Errorf("unsuppressed finding %s %s: %s at %s", f.RuleID, f.Title, f.Evidence, f.Pointer)
			continue
		}
		require.NotEmpty(t, f.Suppression.By)
		require.NotEmpty(t, f.Suppression.Reason)
		suppressed[f.RuleID] = true
	}
	// The module really does use the host namespaces, the host root and
	// the engine socket: the suppressions are for real findings.
	for _, id := range []string{"EDGE003", "EDGE004", "EDGE007", "EDGE008"} {
		require.True(t, suppressed[id], "expected a suppressed %s finding", id)
	}
}

// TestEBPFDeploymentFollowsDefault: the eBPF snippet is the default one
// with CAP_BPF and CAP_PERFMON added (and the reason for them), so the two
// cannot drift apart.
func TestEBPFDeploymentFollowsDefault(t *testing.T) {
	load := func(file string) map[string]any {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		return doc
	}
	def, ebpf := load("deploy/layered.deployment.json"), load("deploy/layered.deployment.ebpf.json")
	module := func(doc map[string]any) map[string]any {
		return doc["modulesContent"].(map[string]any)["$edgeAgent"].(map[string]any)["properties.desired.modules.securitymodule"].(map[string]any)
	}
	co := func(doc map[string]any) map[string]any {
		return module(doc)["settings"].(map[string]any)["createOptions"].(map[string]any)
	}
	hc := co(ebpf)["HostConfig"].(map[string]any)
	caps := hc["CapAdd"].([]any)
	require.Subset(t, caps, []any{"BPF", "PERFMON"})
	var rest []any
	for _, c := range caps {
		if c != "BPF" && c != "PERFMON" {
			rest = append(rest, c)
		}
	}
	hc["CapAdd"] = rest
	labels := co(ebpf)["Labels"].(map[string]any)
	require.Contains(t, labels["edgesec.suppress.EDGE002"], "BPF and PERFMON")
	labels["edgesec.suppress.EDGE002"] = co(def)["Labels"].(map[string]any)["edgesec.suppress.EDGE002"]
	require.Equal(t, def, ebpf, "layered.deployment.ebpf.json differs from layered.deployment.json by more than the eBPF capabilities")
}
