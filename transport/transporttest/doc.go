// Package transporttest checks transports and provides fakes for tests of
// code that sends security messages (the engine, a custom module).
//
// [Run] is the conformance suite of transport.Transport: given a factory
// for the transport under test and a view of its peer, it checks that Send
// delivers bodies unchanged and does not modify the message, that Send and
// Close honour their contexts while the peer hangs, that Send after Close
// matches transport.ErrClosed and Close is idempotent, that an oversize
// message is a permanent error, and that no goroutine is left after Close.
// [Proxy] is a TCP proxy that can make any TCP peer hang for it.
// docs/writing-a-transport.md walks through a transport that passes it.
//
// The fakes:
//
//   - [Recorder] accepts and records every message;
//   - [Flaky] fails, or hangs, for a number of sends before it passes
//     messages on, to exercise retry, backoff, spooling and shutdown.
//
// Both are safe for concurrent use.
package transporttest
