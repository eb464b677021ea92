package aggregate

import (
	"time"

	"github.com/edgesec/edgesec/event"
)

// Aggregator turns events into message bodies: it queues (and may
// aggregate) the events given to Add and packs them into security message
// envelopes when asked. [Pipeline] is the default; a vendor replaces it (for
// example with one message per event for a SIEM) through
// edgesec.Options.Aggregator.
//
// Concurrency: the engine never calls an Aggregator's methods concurrently;
// it serialises every call (Add, Flush, NextFlush, Ready, Pack and the
// optional interfaces below) with one mutex. An Aggregator needs no locking
// of its own.
//
// Ownership: events passed to Add are read, never modified, and must not be
// modified by the caller afterwards. Bodies returned by Pack belong to the
// caller.
//
// Bounds: an Aggregator holds a bounded amount of memory (MaxCacheBytes of
// its [Settings] when it implements [Configurer]) and never loses an event
// without counting it in the [Stats] that [StatsReporter] returns. Every
// body returned by Pack is a complete message envelope (see
// event.AppendMessageStart) of at most MaxMessageBytes bytes.
// aggregatetest.Run checks these rules.
type Aggregator interface {
	// Add takes one event. Events whose name has priority Off are ignored.
	Add(ev event.Event)
	// Flush moves the aggregates whose window has closed (all of them when
	// force is true) to the queues.
	Flush(force bool)
	// NextFlush returns when Flush(false) has work next, or the zero time
	// when no aggregate is pending.
	NextFlush() time.Time
	// Ready reports whether enough events are queued to fill a message,
	// so that the engine packs it now (Pack(High, true)) rather than
	// waiting for a timer: memory is better spent in a message on its way
	// than in a queue.
	Ready() bool
	// Pack returns the message bodies of the queued events the trigger
	// priority sends. High sends the Operational and High queues; Low
	// sends the Operational and Low queues. Events of the other queue may
	// fill the room left in those messages (the ASC fill order), so a High
	// trigger may also carry Low events and the reverse. With full set it
	// returns only full messages (while Ready) and leaves a partial one
	// queued.
	Pack(trigger event.Priority, full bool) [][]byte
}

// Configurer is implemented by Aggregators that follow the live
// configuration (sizes, priorities, aggregation windows). The engine calls
// Configure before the first Add and after every configuration change.
type Configurer interface {
	Configure(s Settings)
}

// StatsReporter is implemented by Aggregators that count what they
// collected and dropped. The engine reads Stats (Collected, Dropped and
// Oversize; the other fields are informative) to build the
// DroppedEventsStatistics event. An Aggregator that does not implement it
// is reported as having dropped nothing.
type StatsReporter interface {
	Stats() Stats
}

var (
	_ Aggregator    = (*Pipeline)(nil)
	_ Configurer    = (*Pipeline)(nil)
	_ StatsReporter = (*Pipeline)(nil)
)
