package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A process whose command line looks like a reverse shell raises a
// SecurityAlert within seconds (default message timers: the alert does not
// wait for the 7-minute High priority timer), printed on stderr for a
// person and sent on stdout. The shell only runs ':' (a no-op).
func TestModuleRaisesAlertsOnTheDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the process collector's proc connector")
	}
	alertsFile := filepath.Join(t.TempDir(), "alerts.log")
	m := startModule(t, "--state-dir", t.TempDir(), "--alerts", alertsFile)
	m.waitFor(t, 10*time.Second, "the first message after start-up (with the Heartbeat)", hasHeartbeat)

	marker := "edgesec-alert-test-" + time.Now().Format("150405.000000")
	hasAlert := func(lines []string) bool {
		for _, l := range lines {
			var env struct {
				Events []struct {
					Name    string
					Payload []map[string]any
				}
			}
			if json.Unmarshal([]byte(l), &env) != nil {
				continue
			}
			for _, ev := range env.Events {
				for _, p := range ev.Payload {
					if ev.Name == "SecurityAlert" && p["AlertType"] == "IoT_ReverseShell" && strings.Contains(p["CommandLine"].(string), marker) {
						return true
					}
				}
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for !hasAlert(m.output()) {
		require.True(t, time.Now().Before(deadline), "no SecurityAlert within 20 s; logs:\n%s", m.logs())
		// The command line names /dev/tcp, as a reverse shell does; the
		// shell runs ':' and a sleep long enough to be read from /proc.
		require.NoError(t, exec.Command("/bin/sh", "-c", ": bash -i '>&' /dev/tcp/127.0.0.1/9 0'>&'1 "+marker+"; sleep 0.2").Run())
		time.Sleep(500 * time.Millisecond)
	}
	printed, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	require.Contains(t, string(printed), "IoT_ReverseShell", "the one-line summary for a person")
	require.Equal(t, 0, m.stop(t))
	validateAll(t, m.output())
}
