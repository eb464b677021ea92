// Package spool is the engine's durable, bounded store of packed messages
// waiting for the transport: at-least-once delivery across restarts and
// outages.
//
// Messages are appended in order to a bbolt database (fsync'd on every
// commit) and removed only once the transport has acknowledged them. The
// spool is bounded in bytes: appending beyond the bound drops the oldest
// messages and counts them. A record that cannot be decoded (a damaged
// file) is removed and counted, never fatal.
//
// A Spool is safe for concurrent use.
package spool
