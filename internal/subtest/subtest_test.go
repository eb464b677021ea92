package subtest_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/edgesec/edgesec/internal/subtest"
)

// check is a tiny conformance suite: an int must be positive and even.
func check(s subtest.Suite, n int) {
	s.Run("Positive", func(_ *testing.T, r subtest.Reporter) {
		if n <= 0 {
			r.Errorf("%d is not positive", n)
		}
	})
	s.Run("Even", func(_ *testing.T, r subtest.Reporter) {
		if n%2 != 0 {
			r.Errorf("%d is odd\nsecond line", n)
		}
	})
}

func TestRecorderRecordsPerSubTest(t *testing.T) {
	rec := subtest.NewRecorder(t)
	check(rec, -3)
	rec.Errorf("suite-level problem")
	got := rec.Failures()
	if len(got["Positive"]) != 1 || len(got["Even"]) != 1 || len(got[""]) != 1 {
		t.Fatalf("failures = %q", got)
	}
	subtest.WantFailure(t, got, "Even", "is odd")
	subtest.WantFailure(t, got, "", "not positive")

	// WantFailure fails when nothing matches: run it on a throwaway T.
	var inner testing.T
	done := make(chan struct{})
	go func() { // a failing testing.T must not stop this test's goroutine
		defer close(done)
		subtest.WantFailure(&inner, got, "Positive", "is odd")
	}()
	<-done
	if !inner.Failed() {
		t.Error("WantFailure passed with no matching failure")
	}
}

func TestRecorderIsSafeForConcurrentUse(t *testing.T) {
	rec := subtest.NewRecorder(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rec.Run("Concurrent", func(_ *testing.T, r subtest.Reporter) { r.Errorf("x") })
		})
	}
	wg.Wait()
	if n := len(rec.Failures()["Concurrent"]); n != 8 {
		t.Fatalf("recorded %d failures, want 8", n)
	}
}

func TestTestingRunsSubTests(t *testing.T) {
	var names []string
	s := subtest.Testing(t)
	s.Run("Sub", func(st *testing.T, r subtest.Reporter) {
		names = append(names, st.Name())
		if r != subtest.Reporter(st) {
			t.Error("the sub-test's reporter is not its testing.T")
		}
	})
	if len(names) != 1 || !strings.HasSuffix(names[0], "/Sub") {
		t.Fatalf("sub-tests run: %q", names)
	}
}
