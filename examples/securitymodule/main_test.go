package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/twinconfig"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moduleBinary builds the real module binary once per test run.
func moduleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "securitymodule-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "securitymodule")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build module: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// module is a running module process whose stdout lines are collected.
type module struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr bytes.Buffer
	done   chan struct{}
	notify chan struct{}
}

func startModule(t *testing.T, args ...string) *module {
	t.Helper()
	cmd := exec.Command(moduleBinary(t), args...)
	cmd.Env = append(os.Environ(), "EDGESEC_LOG_LEVEL=debug")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	m := &module{cmd: cmd, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	cmd.Stderr = &syncWriter{mu: &m.mu, w: &m.stderr}
	require.NoError(t, cmd.Start())
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m.mu.Lock()
			m.lines = append(m.lines, sc.Text())
			m.mu.Unlock()
			select {
			case m.notify <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-m.done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("module stderr:\n%s", m.logs())
		}
	})
	return m
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (m *module) logs() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stderr.String()
}

func (m *module) output() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.lines...)
}

// hasHeartbeat reports whether the module printed the message that
// carries its first Heartbeat: the first one after its collectors started.
// An alert raised by other activity on the host leaves at once and may be
// printed before it.
func hasHeartbeat(lines []string) bool {
	for _, l := range lines {
		if strings.Contains(l, `"Name":"Heartbeat"`) {
			return true
		}
	}
	return false
}

// waitFor waits until cond holds for the lines printed so far.
func (m *module) waitFor(t *testing.T, d time.Duration, what string, cond func(lines []string) bool) {
	t.Helper()
	deadline := time.After(d)
	for !cond(m.output()) {
		select {
		case <-m.notify:
		case <-m.done:
			if cond(m.output()) {
				return
			}
			t.Fatalf("module exited while waiting for %s", what)
		case <-deadline:
			t.Fatalf("no %s within %v; got %d lines", what, d, len(m.output()))
		}
	}
}

// stop sends SIGTERM and returns the exit code.
func (m *module) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, m.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		t.Fatal("module did not exit within 15s of SIGTERM")
	}
	err := m.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// eventNames returns every event name in the printed messages.
func eventNames(t *testing.T, lines []string) map[string]int {
	t.Helper()
	names := map[string]int{}
	for _, l := range lines {
		var msg struct{ Events []struct{ Name string } }
		require.NoError(t, json.Unmarshal([]byte(l), &msg), l)
		for _, e := range msg.Events {
			names[e.Name]++
		}
	}
	return names
}

func validateAll(t *testing.T, lines []string) {
	t.Helper()
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	for i, l := range lines {
		require.NoError(t, v.ValidateMessage([]byte(l)), "line %d: %s", i, l)
	}
}

func TestModuleRunsOnThisHostAndPrintsValidMessages(t *testing.T) {
	state := t.TempDir()
	start := time.Now()
	m := startModule(t, "--state-dir", state)
	m.waitFor(t, 5*time.Second, "the first message after start-up (with the Heartbeat)", hasHeartbeat)
	t.Logf("first message after %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, 0, m.stop(t))

	lines := m.output()
	validateAll(t, lines)
	names := eventNames(t, lines)
	for _, n := range []string{"SystemInformation", "LocalUsers", "Heartbeat"} {
		require.Positive(t, names[n], "no %s event in %v", n, names)
	}

	// The agent id is persisted and reused by the next run.
	id, err := os.ReadFile(filepath.Join(state, "agent-id"))
	require.NoError(t, err)
	var msg struct{ AgentId string }
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &msg))
	require.Equal(t, strings.TrimSpace(string(id)), msg.AgentId)

	// The reported configuration is written to the state directory.
	rep, err := os.ReadFile(filepath.Join(state, "reported.json"))
	require.NoError(t, err)
	cfg, problems, err := twinconfig.Decode(rep)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, 7*time.Minute, cfg.HighPriorityMessageFrequency)
}

func TestModuleOnce(t *testing.T) {
	state := t.TempDir()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cmd := exec.Command(moduleBinary(t), "--once", "--state-dir", state, "--output", out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	validateAll(t, lines)
	names := eventNames(t, lines)
	require.Positive(t, names["SystemInformation"])
	require.Positive(t, names["LocalUsers"])
}

// TestModuleFlushesOnSIGINT: what is queued when SIGINT arrives, an
// open aggregation included, is sent before the module exits 0. As root
// (CI), processes started after the first message are aggregated
// ProcessCreate events (aggregation PT1H, low timer PT5H on the default
// configuration), which only the shutdown flush can send.
func TestModuleFlushesOnSIGINT(t *testing.T) {
	m := startModule(t, "--state-dir", t.TempDir())
	m.waitFor(t, 5*time.Second, "the first message after start-up (with the Heartbeat)", hasHeartbeat)
	marker := "edgesec-flush-marker-" + strconv.Itoa(os.Getpid())
	root := os.Geteuid() == 0
	if root {
		time.Sleep(500 * time.Millisecond) // the process collector is subscribed by now
		for range 3 {
			// Long enough (0.3 s) for /proc to be read even on a loaded
			// machine, so the three aggregate on the full command line.
			require.NoError(t, exec.Command("/bin/sh", "-c", "sleep 0.3", marker).Run())
		}
		time.Sleep(500 * time.Millisecond) // let the events reach the engine
	}
	require.NoError(t, m.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGINT")
	}
	require.NoError(t, m.cmd.Wait())
	lines := m.output()
	validateAll(t, lines)
	if !root {
		t.Log("not root: the process collector falls back to polling, which misses short processes; flush of an aggregation not checked")
		return
	}
	var hits string
	for _, l := range lines {
		var msg struct {
			Events []struct {
				Name    string
				Payload []struct {
					CommandLine  string
					ExtraDetails map[string]string
				}
			}
		}
		require.NoError(t, json.Unmarshal([]byte(l), &msg))
		for _, e := range msg.Events {
			for _, p := range e.Payload {
				if e.Name == "ProcessCreate" && strings.Contains(p.CommandLine, marker) {
					hits = p.ExtraDetails["HitCount"]
				}
			}
		}
	}
	require.Equal(t, "3", hits, "the aggregated ProcessCreate of the marker processes is flushed on SIGINT")
}

// TestModuleSurvivesBadConfiguration rewrites the watched configuration
// file with wrong types, unknown keys, conflicts, truncated JSON and a
// 10 MB file: the module keeps running on its last good configuration and
// reports each problem as a ConfigurationError event.
func TestModuleSurvivesBadConfiguration(t *testing.T) {
	state := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	good := `{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"}}`
	require.NoError(t, os.WriteFile(cfgPath, []byte(good), 0o600))
	m := startModule(t, "--state-dir", state, "--config", cfgPath)
	m.waitFor(t, 5*time.Second, "the first message after start-up (with the Heartbeat)", hasHeartbeat)

	countErrors := func(lines []string) int { return eventNames(t, lines)["ConfigurationError"] }
	bad := []struct{ name, doc string }{
		// Documents apply key by key: the good keys of a document with bad
		// ones apply, so this one keeps the fast message timers.
		{"wrong types and unknown key", `{"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"},` +
			`"maxMessageSizeInBytes":{"value":"big"},"snapshotFrequency":{"value":12},"noSuchKey":{"value":1}}`},
		{"conflict", `{"maxLocalCacheSizeInBytes":{"value":8192},"maxMessageSizeInBytes":{"value":16384}}`},
		{"truncated JSON", `{"highPriorityMessageFrequency":{"value":"PT1`},
		{"10 MB file", `{"x":"` + strings.Repeat("a", 10<<20) + `"}`},
	}
	for _, c := range bad {
		before := countErrors(m.output())
		// Write to a temporary file and rename it over the configuration,
		// as editors and deployment tools do.
		tmp := cfgPath + ".new"
		require.NoError(t, os.WriteFile(tmp, []byte(c.doc), 0o600))
		require.NoError(t, os.Rename(tmp, cfgPath))
		m.waitFor(t, 10*time.Second, "ConfigurationError for "+c.name, func(l []string) bool { return countErrors(l) > before })
	}
	// Still running on the last good configuration: messages keep coming
	// every second, and the reported configuration is the good one.
	n := len(m.output())
	m.waitFor(t, 5*time.Second, "messages after bad configurations", func(l []string) bool { return len(l) > n+1 })
	rep, err := os.ReadFile(filepath.Join(state, "reported.json"))
	require.NoError(t, err)
	cfg, _, err := twinconfig.Decode(rep)
	require.NoError(t, err)
	require.Equal(t, time.Second, cfg.HighPriorityMessageFrequency)
	require.Equal(t, 204800, cfg.MaxMessageSizeInBytes)

	require.Equal(t, 0, m.stop(t))
	validateAll(t, m.output())
}

func TestHelpAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"--help"}, &out, &errOut))
	for _, f := range []string{"--config", "--state-dir", "--output", "--host-root", "--once", "--version", "--help", "--mqtt", "--memory-limit", "--release-memory", "--alerts", "--no-bpf", "--memory-report"} {
		require.Contains(t, errOut.String(), f)
	}
	out.Reset()
	require.Equal(t, 0, run([]string{"--version"}, &out, &errOut))
	require.Contains(t, out.String(), version)
	require.Equal(t, 2, run([]string{"--no-such-flag"}, &out, &errOut))
	require.Equal(t, 2, run([]string{"--log-level", "loud"}, &out, &errOut))
}
