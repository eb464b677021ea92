// Package collector defines how security events enter edgesec: the
// [Collector] interface, the [Sink] it pushes events into, and the [Poller]
// + [Every] adapter for collectors that take periodic snapshots.
//
// # Writing a collector
//
// A triggered collector (process events, container activity, a vendor's
// "Modbus write" detector) implements Collector directly: Run blocks,
// pushes events into the Sink as they happen, and returns nil when its
// context is cancelled. A periodic collector (listening ports, local users)
// implements Poller and is wrapped with Every, which polls once at start and
// then at the configured interval.
//
// Collectors report problems they can live with (a file they cannot read, a
// missing privilege) through [ReportError]; the engine turns those into
// Diagnostic events, log lines and Heartbeat health. Run returns an error
// only when the collector cannot go on at all.
//
// # Lifecycle and ownership
//
//   - Run is called at most once at a time per Collector value.
//   - Run must return promptly (well under a second) after ctx is cancelled,
//     must not call the Sink after it has returned, and must stop every
//     goroutine it started before returning.
//   - Events handed to Emit belong to the Sink: the collector must not
//     modify them, or anything they point to, afterwards.
//
// Package collectortest checks all of this in one line of a test.
//
// # Optional interfaces
//
// A collector may also implement [Describer] (declare its events and their
// default priorities), [DropCounter] (count what it lost before the Sink),
// [Waker] (re-read a timer after a configuration change), [Snapshotter]
// (one snapshot on demand, for the engine's Once) and [Configurer] (follow
// the live configuration, refusing what it cannot use with a
// ConfigurationError).
//
// This package depends only on packages event and twinconfig, so importing
// one collector never links another collector's dependencies.
package collector
