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
// bbolt copies pages on write, so even a delete needs free disk space to
// commit. The spool keeps a reserve file beside the database
// (Options.Reserve) and deletes it when a transaction fails because the
// disk is full, so that deletes can still commit; it then holds the spool
// at its size (dropping the oldest messages to store new ones) until it can
// take the reserve back, which it tries every Options.ProbeEvery.
//
// A Spool is safe for concurrent use.
package spool
