// Package moby is the Moby (Docker engine, IoT Edge's moby-engine)
// implementation of [container.Backend]: a small Engine API client on
// net/http over the daemon's unix socket, with API version negotiation
// (API 1.40 and later: Moby 19.03+, Debian's 20.10 speaks 1.41).
//
// It asks five endpoints, all GET: /_ping (the daemon's API version, on
// each connection), /containers/json?all=1 and /containers/{id}/json (the
// inventory, and Lookup), /events filtered to container and image events
// (the activity stream, resumed with since= after a reconnection: the
// daemon replays what it still buffers) and /exec/{id}/json (the pid of
// an exec whose event did not carry its command, read from HostRoot/proc).
// The answers are decoded into small structs holding only the fields
// used; [ParseInspect] and [ParseEvent] are those parsers, without I/O.
//
// Every call is bounded by Options.CallTimeout, every answer by
// MaxResponseBytes and every event line by MaxEventBytes (past them the
// error wraps [ErrTooLarge] and nothing more is read). The daemon's error
// answers are [*APIError]s. The Backend needs read-write access to the
// Docker socket (root or the docker group); without it its methods return
// errors wrapping container.ErrUnreachable.
//
// Importing this package links neither the Moby client library nor the
// containerd client.
package moby
