package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/manifest"
)

// TestOwnDeploymentLintsClean runs the deployment analysis on the module's
// own deployment snippet: every risky setting it needs is suppressed with
// who and why, and nothing else is found.
func TestOwnDeploymentLintsClean(t *testing.T) {
	d, err := manifest.LoadFile("deploy/layered.deployment.json", manifest.LoadOptions{})
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
