// Package siemaggregator is an example [aggregate.Aggregator] for a
// security information and event management system (SIEM) that wants one
// record per event: every message carries exactly one event, nothing is
// aggregated.
//
// It is small on purpose, to show what an Aggregator owes the engine:
//
//   - it follows the live configuration ([aggregate.Configurer]): message
//     and cache sizes, event priorities (Off events are ignored, not
//     counted), the agent id and version written in every envelope;
//   - its memory is bounded: the queued event encodings never exceed
//     MaxCacheBytes; on overflow the oldest events of the lowest priority
//     queue are dropped, never those of a higher priority than the
//     incoming event's;
//   - every drop is counted ([aggregate.StatsReporter]), so the engine
//     reports it in the DroppedEventsStatistics event; an event too large
//     for a message is dropped and counted as oversize;
//   - priorities are respected: Operational and High priority events are
//     announced by Ready and sent at once, Low priority events wait for the
//     low-priority timer.
//
// Wire it into the engine with edgesec.Options.Aggregator (see the
// example). aggregatetest.Run checks it in this package's tests, as it
// checks the default aggregate.Pipeline.
package siemaggregator
