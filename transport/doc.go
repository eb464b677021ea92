// Package transport defines how packed security messages leave the device:
// the [Transport] interface and the [Message] it carries.
//
// A Transport's Send returns nil only once the message is durably accepted
// by the other side (an MQTT PUBACK, an fsync), because the engine removes a
// message from its spool only then. Errors say whether trying again can
// help: wrap an error with [Permanent] when the message itself will never
// be accepted (too large, rejected by the broker); anything else is
// retryable and the engine retries it with backoff and jitter. When the
// other side asks to slow down (throttling), wrap the error with
// [RetryAfter] and the outbox waits at least that long. After Close, Send
// returns an error matching [ErrClosed].
//
// The package outbox wraps any Transport in a durable, bounded queue, and
// transport/transporttest checks a Transport against this contract
// (transporttest.Run); docs/writing-a-transport.md shows how to write one.
//
// Transports live in their own packages (transport/file, and the MQTT ones)
// so that importing one never links another.
package transport
