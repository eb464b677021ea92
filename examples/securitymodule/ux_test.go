package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBadFlagPrintsTheUsageOnce(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--once=maybe"}, {"stray-argument"}} {
		var out, errOut bytes.Buffer
		require.Equal(t, 2, run(args, &out, &errOut), args)
		require.Equal(t, 1, strings.Count(errOut.String(), "Usage:"), "%v:\n%s", args, errOut.String())
	}
}

// TestStartupLogSaysWhatItUses: the start-up log names the output chosen
// automatically and the state directory, and says when it created it.
func TestStartupLogSaysWhatItUses(t *testing.T) {
	for _, k := range []string{"EdgeHubConnectionString", "IotHubConnectionString", "IOTEDGE_WORKLOADURI", "IOTEDGE_MODULEID",
		"EDGESEC_MQTT_URL", "EDGESEC_OUTPUT", "EDGESEC_CONFIG", "EDGESEC_STATE_DIR"} {
		t.Setenv(k, "")
	}
	state := filepath.Join(t.TempDir(), "state")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"--once", "--state-dir", state, "--memory-limit", "off", "--host-root", t.TempDir()}, &out, &errOut), errOut.String())
	logs := errOut.String()
	require.Contains(t, logs, `output="auto (stdout)"`)
	require.Contains(t, logs, `config="embedded default"`)
	require.Contains(t, logs, "created the state directory")
	require.Contains(t, logs, "state_dir="+state)
	require.NotEmpty(t, out.String(), "the snapshot went to stdout")
	fi, err := os.Stat(state)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	// A second run finds it: nothing created.
	errOut.Reset()
	require.Equal(t, 0, run([]string{"--once", "--state-dir", state, "--memory-limit", "off", "--output", "stdout", "--host-root", t.TempDir()}, &out, &errOut), errOut.String())
	require.NotContains(t, errOut.String(), "created the state directory")
	require.Contains(t, errOut.String(), `output=stdout`)
}
