// Package transporttest provides fake transports for tests of code that
// sends security messages (the engine, a custom module):
//
//   - [Recorder] accepts and records every message;
//   - [Flaky] fails, or hangs, for a number of sends before it passes
//     messages on, to exercise retry, backoff, spooling and shutdown.
//
// Both are safe for concurrent use.
package transporttest
