package collectortest_test

import (
	"context"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
)

// In a collector package's tests, one call checks the whole contract.
func ExampleRun() {
	// func TestConformance(t *testing.T) {
	conformance := func(t *testing.T) {
		collectortest.Run(t, func(t *testing.T) collector.Collector {
			return collector.Every("SystemInformation", func() time.Duration { return time.Minute },
				collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
					return []event.Event{event.Must(event.SystemInformation, time.Now(),
						&event.SystemInformationPayload{OSName: "Linux", TotalPhysicalMemoryInKB: 4 << 20})}, nil
				}))
		})
	}
	_ = conformance
	// }
}
