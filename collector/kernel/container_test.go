package kernel

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
)

// moduleResolver names one container id "tempSensor" once it is told
// the id (docker returns it after the container is created).
type moduleResolver struct {
	mu sync.Mutex
	id string
}

func (r *moduleResolver) set(id string) { r.mu.Lock(); r.id = id; r.mu.Unlock() }

func (r *moduleResolver) Resolve(_ context.Context, id string) (string, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == r.id {
		return "tempSensor", "tempSensor", true
	}
	return "", "", false
}

// A process in a real Docker container carries the container's id, read
// from its cgroup in the kernel, and the module name from the resolver.
func TestContainerAttribution(t *testing.T) {
	host, img := os.Getenv("EDGESEC_TEST_DOCKER"), os.Getenv("EDGESEC_TEST_IMAGE")
	if host == "" || img == "" {
		t.Skip("needs dockerd: run eval \"$(scripts/test-services)\" to set EDGESEC_TEST_DOCKER and EDGESEC_TEST_IMAGE")
	}
	docker := func(args ...string) (string, error) {
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	res := &moduleResolver{}
	c := newCollector(t, Options{Resolver: res})
	rec := run(t, c)
	name := "edgesec-kernel-test-" + strconv.Itoa(os.Getpid())
	_, _ = docker("rm", "-f", name)
	id, err := docker("create", "--name", name, "--network", "none", img, "sh", "-c", "/bin/true in-container; exit 7")
	require.NoError(t, err, id)
	t.Cleanup(func() { _, _ = docker("rm", "-f", name) })
	res.set(id)
	out, err := docker("start", "-a", name)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	require.Equal(t, 7, ee.ExitCode(), out)

	var sh, child *event.ProcessCreatePayload
	waitUntil(5*time.Second, func() bool {
		for _, p := range payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate) {
			switch p.CommandLine {
			case "sh -c /bin/true in-container; exit 7":
				sh = p
			case "/bin/true in-container":
				child = p
			}
		}
		return sh != nil && child != nil
	})
	require.NotNil(t, sh, "no ProcessCreate for the container's entrypoint")
	require.NotNil(t, child, "no ProcessCreate for the entrypoint's child")
	for _, p := range []*event.ProcessCreatePayload{sh, child} {
		assert.Equal(t, id, p.ExtraDetails[KeyContainerID], "%+v", p)
		assert.Equal(t, "tempSensor", p.ExtraDetails[KeyModuleName])
	}
	assert.Equal(t, sh.ProcessID, child.ParentProcessID)
	var term *event.ProcessTerminatePayload
	waitUntil(5*time.Second, func() bool {
		for _, p := range payloads[*event.ProcessTerminatePayload](rec, event.ProcessTerminate) {
			if p.ProcessID == sh.ProcessID {
				term = p
			}
		}
		return term != nil
	})
	require.NotNil(t, term)
	assert.Equal(t, 7, term.ExitStatus)
	assert.Equal(t, id, term.ExtraDetails[KeyContainerID])
}

func TestProgramStats(t *testing.T) {
	on, err := EnableProgramStats()
	if err != nil {
		t.Skipf("BPF statistics need CAP_SYS_ADMIN: %v", err)
	}
	defer on.Close()
	c := newCollector(t, Options{})
	require.NoError(t, exec.Command("/bin/true").Run())
	ps, err := c.ProgramStats()
	require.NoError(t, err)
	assert.NotZero(t, ps["handle_exec"].Runs)
	assert.NotZero(t, ps["handle_exec"].RunTime)
	assert.Contains(t, ps, "handle_exit")
	require.NoError(t, c.Close())
	_, err = c.ProgramStats()
	assert.ErrorIs(t, err, os.ErrClosed)
}
