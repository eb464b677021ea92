package sysinfo_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/sysinfo"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

func TestConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		c := sysinfo.NewCollector(sysinfo.Options{HostRoot: "testdata/hostroot-debian"}, func() time.Duration { return time.Hour })
		require.Equal(t, event.SystemInformation, c.Name())
		return c
	})
}

// Every event the collector produces, from every fixture and from this
// machine, validates against the official ASC schema.
func TestEventsValidateAgainstSchema(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	for _, root := range []string{"testdata/hostroot-debian", "testdata/hostroot-alpine", "testdata/hostroot-broken", "/"} {
		t.Run(root, func(t *testing.T) {
			evs, err := sysinfo.New(sysinfo.Options{HostRoot: root}).Poll(context.Background())
			if err != nil {
				t.Logf("poll reported: %v", err)
			}
			require.NotEmpty(t, evs)
			for _, ev := range evs {
				require.Equal(t, event.SystemInformation, ev.Name)
				require.NoError(t, v.ValidateEvent(ev))
			}
		})
	}
}
