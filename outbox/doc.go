// Package outbox is a durable, bounded queue in front of any
// [transport.Transport]: at-least-once delivery across outages and
// restarts.
//
// [New] wraps the next transport and returns an [Outbox], which is a
// transport.Transport itself. Its Send returns as soon as the message is
// stored in the [Store] (on disk with boltstore, in memory with
// [MemoryStore]); one goroutine, started by New and stopped by Close,
// sends the stored messages through next, oldest first, one at a time:
//
//   - nil from next: the message is delivered and removed from the store;
//   - a permanent error ([transport.Permanent]): the message is dropped and
//     counted in Stats.Rejected;
//   - any other error: the same message is tried again after a jittered,
//     exponential backoff (MinBackoff to MaxBackoff), or after the delay
//     next asked for with [transport.RetryAfter] when that is longer.
//
// A message next accepted is never sent again by this Outbox, even when
// the store cannot delete it (a full disk): the outbox remembers it until
// the delete commits, and retries the delete with backoff. After a
// restart, a message whose delete had not committed is sent again: delivery
// is at least once, and each message's ID lets the receiver drop duplicates.
//
// The store is bounded in bytes: beyond the bound, and when a durable
// store's disk is full, the oldest messages are dropped and counted in
// Stats.Dropped; drops are never silent. Repeated failures are logged at
// most once per LogEvery.
//
// Lifecycle: New starts the sending goroutine; Close(ctx) refuses further
// Sends (transport.ErrClosed), keeps sending until the queue is empty or
// ctx is done, stops the goroutine, closes the store and then next. Drain
// waits for the queue to empty without closing. The outbox owns its store
// and its next transport.
//
// Importing this package with the memory store does not link bbolt; the
// durable store is in the subpackage boltstore.
package outbox
