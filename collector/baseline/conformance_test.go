package baseline_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

func TestConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		c := baseline.NewCollector(baseline.Options{HostRoot: "testdata/hostroot-noncompliant"}, func() time.Duration { return time.Hour })
		require.Equal(t, event.OSBaseline, c.Name())
		return c
	})
}

// Every event the collector produces, from every fixture and from this
// machine, validates against the official ASC schema.
func TestEventsValidateAgainstSchema(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	for _, root := range []string{"testdata/hostroot-compliant", "testdata/hostroot-noncompliant", "testdata/hostroot-broken", "/"} {
		t.Run(root, func(t *testing.T) {
			evs, err := baseline.New(baseline.Options{HostRoot: root}).Poll(context.Background())
			require.NoError(t, err)
			require.NotEmpty(t, evs)
			for _, ev := range evs {
				require.Equal(t, event.OSBaseline, ev.Name)
				require.NoError(t, v.ValidateEvent(ev))
				for _, it := range ev.Payload {
					p := it.(*event.OSBaselinePayload)
					require.NotEqual(t, event.BaselinePass, p.Result)
					require.Equal(t, p.Result == event.BaselineErr, p.Error != "", "%s: Error is set exactly for Err", p.CceID)
				}
			}
		})
	}
}

// On this machine every check runs (no Err) when the test has the
// privileges the collector documents, and the results agree with what the
// kernel reports through other means.
func TestRealHost(t *testing.T) {
	results, cfgErr := baseline.New(baseline.Options{}).Run(context.Background())
	require.Nil(t, cfgErr)
	require.Len(t, results, len(baseline.Builtin()))
	root := os.Geteuid() == 0
	for _, r := range results {
		t.Logf("%-15s %-4s %s %v", r.Check.ID, r.Result.Status, r.Result.Details[baseline.KeyEvidence], r.Result.Err)
		if r.Result.Status == event.BaselineErr {
			shadow := r.Check.ID == "CCE-85972-8" || r.Check.ID == "EDGESEC-ACCT-1"
			if root || !shadow {
				t.Errorf("%s: Err on this host: %v", r.Check.ID, r.Result.Err)
			}
		}
	}
	byID := map[string]baseline.Result{}
	for _, r := range results {
		byID[r.Check.ID] = r.Result
	}
	// Cross-check two results against the kernel's own files.
	aslr, err := os.ReadFile("/proc/sys/kernel/randomize_va_space")
	require.NoError(t, err)
	require.Equal(t, string(aslr) == "2\n", byID["CCE-80916-0"].Status == event.BaselinePass)
	mounts, err := os.ReadFile("/proc/mounts")
	require.NoError(t, err)
	m, ok := baseline.MountAt(baseline.ParseMounts(mounts), "/dev/shm")
	if ok {
		want := m.Has("noexec") && m.Has("nosuid") && m.Has("nodev")
		require.Equal(t, want, byID["EDGESEC-MNT-3"].Status == event.BaselinePass)
	}
}

// A cancelled context stops the poll.
func TestPollCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs, err := baseline.New(baseline.Options{HostRoot: "testdata/hostroot-noncompliant"}).Poll(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, evs)
}
