package kernel

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/process"
	"github.com/edgesec/edgesec/event"
)

// The forced fallback: New refuses, the proc connector collector runs
// wrapped and says once why.
func TestForcedFallbackIsStated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the proc connector needs CAP_NET_ADMIN")
	}
	_, err := New(Options{Disable: true})
	require.ErrorIs(t, err, ErrNotAvailable)
	c := WithFallbackNotice(process.New(process.Options{Mode: process.ModeNetlink}), err)
	assert.Equal(t, []string{event.ProcessCreate, event.ProcessTerminate}, collector.Produces(c))
	_, counts := c.(collector.DropCounter)
	assert.True(t, counts, "the wrapper reports the proc connector's losses")

	rec := collectortest.NewRecorder()
	for range 2 { // a restarted collector does not say it again
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, rec) }()
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, exec.Command("/bin/true").Run())
		time.Sleep(100 * time.Millisecond)
		cancel()
		require.NoError(t, <-done)
	}
	var notices int
	for _, e := range rec.Errors() {
		if errors.Is(e.Err, ErrFallback) {
			notices++
			assert.ErrorIs(t, e.Err, ErrNotAvailable)
			assert.Equal(t, event.ProcessCreate, e.Collector)
		}
	}
	assert.Equal(t, 1, notices, "%v", rec.Errors())
	assert.NotEmpty(t, payloads[*event.ProcessCreatePayload](rec, event.ProcessCreate), "the fallback collects")
}

func TestFallbackConformance(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the proc connector needs CAP_NET_ADMIN")
	}
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return WithFallbackNotice(process.New(process.Options{Mode: process.ModeNetlink}), ErrNotAvailable)
	}, collectortest.WithTrigger(func(t *testing.T) { _ = exec.Command("/bin/true").Run() }))
}
