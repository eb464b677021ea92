package edgesec_test

import (
	"errors"
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
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport/transporttest"
	"github.com/edgesec/edgesec/twinconfig"
)

// requireBPFEnv turns the skip of tests that need the eBPF kernel source
// into a failure (CI sets it).
const requireBPFEnv = "EDGESEC_TEST_REQUIRE_BPF"

// kernelActivityCollector loads the eBPF kernel source with system call
// activity, or skips the test where this machine cannot.
func kernelActivityCollector(t *testing.T) *kernel.Collector {
	t.Helper()
	k, err := kernel.New(kernel.Options{Activity: true})
	if err != nil {
		if errors.Is(err, kernel.ErrNotAvailable) && os.Getenv(requireBPFEnv) == "" {
			t.Skipf("needs eBPF (root with CAP_BPF+CAP_PERFMON, kernel BTF, Linux >= 5.8): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { require.NoError(t, k.Close()) })
	if !k.Stats().Activity {
		t.Skip("system call activity is only built for amd64 and arm64")
	}
	return k
}

// The kernelWatchedPaths key of a configuration file reaches the running
// eBPF source through the engine: a prefix added is reported, a prefix
// removed is not, and a list the collector cannot use is sent as a
// ConfigurationError while the previous list stays in effect.
func TestKernelWatchedPathsFromAConfigurationFile(t *testing.T) {
	k := kernelActivityCollector(t)
	dir, marker := t.TempDir(), t.TempDir()
	secret, mark := filepath.Join(dir, "secret"), filepath.Join(marker, "mark")
	require.NoError(t, os.WriteFile(secret, []byte("s\n"), 0o600))
	require.NoError(t, os.WriteFile(mark, []byte("m\n"), 0o600))

	cfgPath := filepath.Join(t.TempDir(), "edgesec.json")
	write := func(watched string) {
		t.Helper()
		doc := `{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},` +
			`"eventPriorityProcessCreate":{"value":"Off"},"eventPriorityProcessTerminate":{"value":"Off"},` +
			`"kernelWatchedPaths":{"value":` + watched + `}}`
		tmp := cfgPath + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(doc), 0o600))
		require.NoError(t, os.Rename(tmp, cfgPath))
	}
	watching := func(prefix string) bool {
		return slices.ContainsFunc(k.WatchedPaths(), func(w kernel.WatchedPath) bool { return w.Prefix == prefix })
	}
	write(`["defaults", {"prefix": "` + dir + `/", "ops": "read"}, {"prefix": "` + marker + `/", "ops": ["read"]}]`)

	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Config: fastConfig(t, ""),
		ConfigSources:     []edgesec.ConfigSource{&twinconfig.FileSource{Path: cfgPath, PollInterval: 100 * time.Millisecond}},
		FirstMessageDelay: 100 * time.Millisecond})
	e.AddCollector(k)
	run(t, e)
	waitFor(t, 10*time.Second, "the file's list applied", func() bool { return watching(dir + "/") })

	// opened runs cat on the secret and the marker, and returns whether
	// the secret's open was reported, once the marker's (after it) was.
	opened := func() bool {
		t.Helper()
		cmd := exec.Command("cat", secret, mark)
		require.NoError(t, cmd.Run())
		pid := float64(cmd.Process.Pid)
		var got map[string]bool
		waitFor(t, 10*time.Second, "KernelActivity of "+mark, func() bool {
			got = map[string]bool{}
			for _, ev := range decode(t, rec.Messages()) {
				if ev.Name != event.KernelActivity {
					continue
				}
				for _, p := range ev.Payload {
					if p["ProcessId"] == pid && p["Action"] == event.ActivityOpenRead {
						got[p["Path"].(string)] = true
					}
				}
			}
			return got[mark]
		})
		return got[secret]
	}
	require.True(t, opened(), "a watched prefix is reported")

	write(`["defaults", {"prefix": "` + marker + `/", "ops": "read"}]`)
	waitFor(t, 10*time.Second, "the prefix removed", func() bool { return !watching(dir + "/") })
	require.False(t, opened(), "a prefix removed is no longer reported")

	write(`["defaults", {"prefix": "` + dir + `/", "ops": "read|execute"}]`)
	waitFor(t, 10*time.Second, "ConfigurationError of kernelWatchedPaths", func() bool {
		for _, it := range configErrors(t, rec) {
			if it["ConfigurationName"] == twinconfig.KeyKernelWatchedPaths {
				require.Equal(t, event.TypeMismatch, it["ErrorType"])
				require.Contains(t, it["Message"], `unknown operation "execute"`)
				require.True(t, strings.Contains(it["UsedConfiguration"].(string), marker), it["UsedConfiguration"])
				return true
			}
		}
		return false
	})
	require.False(t, opened(), "the refused list is not applied; the previous one works")
	require.True(t, watching(marker+"/"))
}
