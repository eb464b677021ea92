// Package aggregate is edgesec's default aggregator and packer: it turns
// the events of the collectors into security messages the way the Azure
// Security Center for IoT agents did, but schema-valid.
//
// A [Pipeline] has three parts.
//
// # Aggregation
//
// ProcessCreate, ConnectionCreate and ProcessTerminate events are
// aggregated when [Settings].Aggregation enables it for their name
// (twin keys aggregationEnabled<Name> and aggregationInterval<Name>):
// identical payload items seen within the interval become one event with a
// hit count. Identity is
//
//   - ProcessCreate: Executable, CommandLine, UserId, UserName;
//     ProcessId and ParentProcessId become 0;
//   - ConnectionCreate: Executable, CommandLine, UserId, Direction,
//     Protocol, LocalAddress, RemoteAddress, and LocalPort for inbound or
//     RemotePort for outbound connections; ProcessId becomes 0 and the
//     other port is blanked ("");
//   - ProcessTerminate: Executable, ExitStatus; ProcessId becomes 0;
//
// and, for all three, ExtraDetails["ContainerId"], so that the same
// command run in two containers is never attributed to one of them.
//
// An aggregated event keeps Category "Triggered" and has one payload item:
// the first hit's item, whose ExtraDetails (copied from the first hit) gain
// HitCount, StartTimeLocal, StartTimeUtc, EndTimeLocal and EndTimeUtc, all
// strings, from the times of the first and last hit. Its timestamp is the
// last hit's time. An input event with several items is aggregated item by
// item.
//
// A window starts at an identity's first hit and lasts Interval, measured
// with [Settings].Now. [Pipeline.NextFlush] tells the engine when the
// earliest window ends and [Pipeline.Flush] moves ended aggregates to the
// queues; aggregates are also flushed when aggregation is switched off or
// its interval changes ([Pipeline.Configure]) and on shutdown
// (Flush(true)). Aggregation memory, estimated as the encoded size of each
// aggregate, counts against MaxCacheBytes and may use at most half of it:
// beyond that the oldest aggregates are flushed into the queues early.
//
// # Queues
//
// Every other event is encoded once, when it is added, and the bytes are
// queued: events of EventType Operational in the Operational queue, the
// others in the High or Low queue by the priority of their name
// ([Settings].Priority; Off events are ignored). Queued bytes plus
// aggregation memory are bounded by MaxCacheBytes; on overflow the oldest
// events are dropped, lowest priority queue first (Low, High, Operational,
// never one of higher priority than the incoming event's), and counted.
// An event too large for any message is dropped and counted as oversize.
//
// # Packing
//
// [Pipeline.Pack] fills messages in the ASC order: on the high-priority
// timer Operational events first, then High, then Low as padding; on the
// low-priority timer Operational, Low, then High. Each queue gives up its
// events in FIFO order. A message body never exceeds MaxMessageBytes: the
// packer counts the exact serialized size
// ([event.MessageSize]) and copies the queued encodings, so an event is
// never encoded twice. [Pipeline.Ready] reports when the queues hold a full
// message, which the engine then sends at once. Because IoT Hub meters
// messages in 4 KB units, Pack pads timer messages with the other queue's
// events; the engine's outbox counts the messages sent under 4 KB
// (MessagesUnder4KB).
//
// [StatisticsEvents] builds the DroppedEventsStatistics and
// MessageStatistics events from counters; the engine calls it with the
// Pipeline's [Stats] and the outbox's delivery counters.
//
// A Pipeline is not safe for concurrent use; the engine serialises its
// calls.
package aggregate
