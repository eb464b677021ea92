// Package collectortest checks that a [collector.Collector] follows the
// rules of package collector, in one line of a test, in the manner of
// testing/slogtest:
//
//	func TestConformance(t *testing.T) {
//		collectortest.Run(t, func(t *testing.T) collector.Collector {
//			return mycollector.New(mycollector.Options{Root: "testdata/root"})
//		})
//	}
//
// [Run] runs a fresh collector in each of its sub-tests and checks that
//
//   - it emits at least the expected number of events while it runs
//     ([WithMinEvents], within [WithWait]), and every event is valid: events
//     of catalogued names validate against the JSON Schemas of package
//     schemas, vendor events (names outside the catalogue) are checked for
//     the structure every event needs;
//   - events are not modified after they were handed to Emit;
//   - Run keeps running until its context is cancelled, then returns nil
//     within two seconds, also when the context is cancelled before Run
//     starts;
//   - it survives a Sink whose Emit always fails and one whose Emit blocks
//     until the context is done;
//   - neither Emit nor ReportError is called after Run returned;
//   - every goroutine Run started has ended when it returns
//     (go.uber.org/goleak; goroutines that existed before Run are ignored);
//   - a collector that follows the configuration ([collector.Configurer])
//     accepts twinconfig.Default() before Run and while Run runs.
//
// A triggered collector (process, login, container activity) has nothing
// to report unless something happens: give [WithTrigger] a function that
// makes it happen. Tests calling Run must not run in parallel with other
// tests (t.Parallel), since their goroutines would look like leaks.
//
// [Recorder] is a Sink (and [collector.ErrorReporter]) that records what a
// collector emits, for a package's own tests.
package collectortest
