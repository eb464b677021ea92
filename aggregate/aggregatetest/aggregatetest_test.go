package aggregatetest

import (
	"testing"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/internal/subtest"
)

func TestPipelineAggregationOff(t *testing.T) {
	Run(t, func() aggregate.Aggregator { return aggregate.New(aggregate.Settings{}) })
}

func TestPipelineAggregationOn(t *testing.T) {
	Run(t, func() aggregate.Aggregator { return aggregate.New(aggregate.Settings{}) }, WithAggregation(time.Minute))
}

// runFake runs the suite against newAggregator and returns the failures
// per sub-test.
func runFake(t *testing.T, newAggregator func() aggregate.Aggregator, opts ...Option) map[string][]string {
	t.Helper()
	s := subtest.NewRecorder(t)
	run(s, newAggregator, opts...)
	return s.Failures()
}

// wantFailure checks that some failure of sub-test sub (any, if "")
// contains substr.
var wantFailure = subtest.WantFailure
