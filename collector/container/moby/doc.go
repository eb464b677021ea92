// Package moby is the Moby (Docker engine, IoT Edge's moby-engine)
// implementation of [container.Backend], built on
// github.com/moby/moby/client with API version negotiation (API 1.40 and
// later: Moby 19.03+, Debian's 20.10 speaks 1.41).
//
// The inventory lists every container (running or not) and inspects each;
// the activity stream is GET /events for container and image events,
// resumed with since= after a reconnection (the daemon replays what it
// still buffers). Exec commands come from the event ("exec_create: cmd"),
// or from the exec's process under HostRoot/proc.
//
// Every call is bounded by Options.CallTimeout, every answer by
// MaxResponseBytes and every event line by MaxEventBytes. The Backend needs
// read-write access to the Docker socket (root or the docker group);
// without it its methods return errors wrapping container.ErrUnreachable.
//
// Importing this package does not link the containerd client.
package moby
