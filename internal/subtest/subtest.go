// Package subtest is the sub-test harness of edgesec's conformance suites
// (collector/collectortest, aggregate/aggregatetest and
// transport/transporttest).
//
// A conformance suite runs its checks as sub-tests of a [Suite]. [Testing]
// maps a Suite onto testing.T.Run: what a suite's users get. A [Recorder]
// records each sub-test's failures instead of failing the test, so that a
// suite's own tests can run it against deliberately broken implementations
// and check that it reports each fault ([WantFailure]).
package subtest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Reporter is where a check reports: a *testing.T, or a Recorder's
// sub-test. Its methods are safe for concurrent use.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// Suite runs the sub-tests of a conformance suite.
type Suite interface {
	Reporter
	// Run runs f as the sub-test name and returns when f has. t is the
	// testing.T that the implementation under test may be given (for
	// t.TempDir, t.Cleanup, …); failures go to r.
	Run(name string, f func(t *testing.T, r Reporter))
}

// Testing returns the Suite of t: each Run is a t.Run sub-test, and its
// failures fail it.
func Testing(t *testing.T) Suite { return testingSuite{t} }

type testingSuite struct{ *testing.T }

func (s testingSuite) Run(name string, f func(t *testing.T, r Reporter)) {
	s.T.Run(name, func(t *testing.T) { f(t, t) })
}

// Recorder is a Suite that runs every sub-test in the calling test and
// records failures per sub-test instead of failing. It is safe for
// concurrent use.
type Recorder struct {
	t        *testing.T
	mu       sync.Mutex
	failures map[string][]string // sub-test name ("" for the suite) → messages
}

// NewRecorder returns a Recorder that runs sub-tests in t and logs to it.
func NewRecorder(t *testing.T) *Recorder {
	return &Recorder{t: t, failures: map[string][]string{}}
}

// Helper implements Reporter.
func (s *Recorder) Helper() {}

// Errorf implements Reporter: it records a failure of the suite itself.
func (s *Recorder) Errorf(format string, args ...any) { s.record("", format, args...) }

// Logf implements Reporter.
func (s *Recorder) Logf(format string, args ...any) { s.t.Logf(format, args...) }

// Run implements Suite.
func (s *Recorder) Run(name string, f func(t *testing.T, r Reporter)) {
	f(s.t, subReporter{s, name})
}

func (s *Recorder) record(name, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[name] = append(s.failures[name], fmt.Sprintf(format, args...))
}

// Failures returns the recorded failures by sub-test name ("" for the
// suite itself), after logging the first line of each.
func (s *Recorder) Failures() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.failures))
	for name, msgs := range s.failures {
		for _, m := range msgs {
			s.t.Logf("reported in %s: %s", name, firstLine(m))
		}
		out[name] = append([]string(nil), msgs...)
	}
	return out
}

type subReporter struct {
	s    *Recorder
	name string
}

func (r subReporter) Helper()                           {}
func (r subReporter) Errorf(format string, args ...any) { r.s.record(r.name, format, args...) }
func (r subReporter) Logf(format string, args ...any)   { r.s.t.Logf(r.name+": "+format, args...) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// WantFailure fails t unless a failure of sub-test sub (of any, when sub
// is "") contains substr.
func WantFailure(t *testing.T, failures map[string][]string, sub, substr string) {
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
