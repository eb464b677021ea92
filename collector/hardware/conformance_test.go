package hardware_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/collector/hardware"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

func TestConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		c := hardware.NewCollector(hardware.Options{HostRoot: hardware.GatewayRoot(t)}, func() time.Duration { return time.Hour })
		require.Equal(t, event.ConnectedHardware, c.Name())
		return c
	})
}

// Every event the collector produces, from the fixture (whole and split
// small) and from this machine, validates against the official ASC schema.
func TestEventsValidateAgainstSchema(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	gw := hardware.GatewayRoot(t)
	for name, o := range map[string]hardware.Options{
		"gateway":       {HostRoot: gw},
		"gateway-split": {HostRoot: gw, MaxEventBytes: 600},
		"host":          {HostRoot: "/"},
	} {
		t.Run(name, func(t *testing.T) {
			evs, err := hardware.New(o).Poll(context.Background())
			if err != nil {
				t.Logf("poll reported: %v", err)
			}
			require.NotEmpty(t, evs)
			for _, ev := range evs {
				require.Equal(t, event.ConnectedHardware, ev.Name)
				require.NoError(t, v.ValidateEvent(ev))
			}
		})
	}
}
