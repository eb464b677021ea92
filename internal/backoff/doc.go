// Package backoff holds the one exponential backoff with jitter that every
// retry loop of edgesec uses (the engine's collector supervisor and outbox,
// the MQTT connection manager, the twin client, the container event
// streams), and a context-aware Sleep.
//
// A Backoff is not safe for concurrent use: each retry loop owns its own.
package backoff
