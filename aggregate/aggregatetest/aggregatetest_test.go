package aggregatetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/aggregate"
)

func TestPipelineAggregationOff(t *testing.T) {
	Run(t, func() aggregate.Aggregator { return aggregate.New(aggregate.Settings{}) })
}

func TestPipelineAggregationOn(t *testing.T) {
	Run(t, func() aggregate.Aggregator { return aggregate.New(aggregate.Settings{}) }, WithAggregation(time.Minute))
}

// fakeSuite runs the sub-tests in the calling test and records failures
// instead of failing it.
type fakeSuite struct {
	t        *testing.T
	failures map[string][]string // sub-test name → messages
}

type fakeReporter struct {
	s    *fakeSuite
	name string
}

func (r fakeReporter) Helper() {}
func (r fakeReporter) Errorf(format string, args ...any) {
	r.s.failures[r.name] = append(r.s.failures[r.name], fmt.Sprintf(format, args...))
}
func (r fakeReporter) Logf(format string, args ...any) { r.s.t.Logf(r.name+": "+format, args...) }

func (s *fakeSuite) Helper()                           {}
func (s *fakeSuite) Errorf(format string, args ...any) { fakeReporter{s, ""}.Errorf(format, args...) }
func (s *fakeSuite) Logf(format string, args ...any)   { s.t.Logf(format, args...) }
func (s *fakeSuite) Run(name string, f func(r reporter)) {
	f(fakeReporter{s, name})
}

// runFake runs the suite against newAggregator and returns the failures
// per sub-test.
func runFake(t *testing.T, newAggregator func() aggregate.Aggregator, opts ...Option) map[string][]string {
	t.Helper()
	s := &fakeSuite{t: t, failures: map[string][]string{}}
	run(s, newAggregator, opts...)
	for name, msgs := range s.failures {
		for _, m := range msgs {
			t.Logf("reported in %s: %s", name, firstLine(m))
		}
	}
	return s.failures
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// wantFailure checks that some failure of sub-test sub (any, if "")
// contains substr.
func wantFailure(t *testing.T, failures map[string][]string, sub, substr string) {
	t.Helper()
	for name, msgs := range failures {
		if sub != "" && name != sub {
			continue
		}
		for _, m := range msgs {
			if strings.Contains(m, substr) {
				return
			}
		}
	}
	t.Errorf("no failure containing %q reported in sub-test %q; got %q", substr, sub, failures)
}
