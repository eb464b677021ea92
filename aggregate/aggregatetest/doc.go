// Package aggregatetest checks that an [aggregate.Aggregator] follows the
// rules of package aggregate, in one line of a test, in the manner of
// testing/slogtest and collectortest:
//
//	func TestConformance(t *testing.T) {
//		aggregatetest.Run(t, func() aggregate.Aggregator { return myaggregator.New() })
//	}
//
// [Run] gives a fresh aggregator to each of its sub-tests, adds events
// whose Ids it can trace, packs as the engine does, and checks that
//
//   - SmallLoad: under a mixed load that fits in the cache, every event
//     (except those whose priority is Off) is sent exactly once and none is
//     counted as dropped; an aggregated event stands for its HitCount
//     events; every body is a complete message envelope that validates
//     against the schemas of package schemas (schemas.Validator), carries
//     the configured agent id and version, and is at most MaxMessageBytes;
//     Off events are neither sent nor counted;
//   - Priorities: the High trigger (Pack(High, false)) sends every High
//     priority and Operational event, Low priority events wait for the Low
//     trigger, and a High trigger with only Low events queued sends nothing;
//   - Ready: Ready is false while no full message is queued, and then
//     Pack(…, true) returns nothing; it is true once more than two messages
//     of High priority events are queued, and Pack(High, true) then sends
//     until no full message is left;
//   - Flush: when the suite owns the clock (the aggregator implements
//     [aggregate.Configurer]), Flush(false) at NextFlush flushes the
//     aggregates due; Flush(true) empties every aggregate (NextFlush is
//     zero, Stats().Aggregates is zero) and everything is then sent;
//   - Oversize: an event larger than a message is never sent and is counted
//     in Stats().Oversize and Dropped;
//   - Reconfigure: halving the message and cache sizes while events are
//     queued leaves every body within the new size and every event sent or
//     counted;
//   - Flood: a flood of at least 16 MiB of events (32 times the cache when
//     that is more), added without packing, leaves the heap the aggregator
//     retains bounded by 8 × MaxCacheBytes + 4 MiB, and every event is sent
//     or counted in Stats().Dropped (which must not be zero);
//
// and, in every sub-test, that no event is sent twice or invented, that
// the events given to Add are not modified, and that bodies returned by
// Pack are not modified afterwards (they belong to the caller). Counts are
// checked per queue against Stats().Collected and Stats().Dropped.
//
// # Optional interfaces
//
// An aggregator that implements [aggregate.Configurer] is configured with
// the suite's settings (small sizes, SystemInformation turned Off, the
// suite's clock; see [WithSettings] and [WithAggregation]). One that does
// not is checked against the settings it was built with, which
// [WithSettings] describes. Without [aggregate.StatsReporter] drops cannot
// be accounted for: the suite then requires that no event is lost at all
// under the loads that fit in the cache, and only logs what a flood lost.
//
// Run measures the heap: tests that call it must not run in parallel with
// other tests (t.Parallel).
package aggregatetest
