package aggregatetest_test

import (
	"testing"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/aggregate/aggregatetest"
)

// The default aggregator, with ASC aggregation switched on for one minute
// windows, checked in a test of its own.
func ExampleRun() {
	_ = func(t *testing.T) {
		aggregatetest.Run(t, func() aggregate.Aggregator { return aggregate.New(aggregate.Settings{}) },
			aggregatetest.WithAggregation(time.Minute))
	}
}
