package container

import (
	"context"
	"errors"
	"time"

	"github.com/edgesec/edgesec/event"
)

// Runtime names, as they appear in the Runtime field of the events.
const (
	RuntimeMoby       = "moby"
	RuntimeContainerd = "containerd"
)

// ErrNotFound is returned by [Backend.Lookup] when the engine does not know
// the container.
var ErrNotFound = errors.New("container not found")

// ErrUnreachable wraps the error of an engine that could not be reached on
// any of its candidate sockets.
var ErrUnreachable = errors.New("container engine unreachable")

// Backend is one container engine (a Moby daemon or a containerd) as the
// collectors of this package see it. The implementations live in the
// moby and containerd sub-packages, so that an importer links only the
// client it uses.
//
// A Backend connects lazily, on the first call, and reconnects on a later
// call after the connection broke. All methods are safe for concurrent use
// and bound every call to the engine by a timeout of their own as well as
// by ctx: an engine that hangs makes them fail, never block forever (Watch
// excepted, which blocks while the stream is healthy).
type Backend interface {
	// Runtime returns RuntimeMoby or RuntimeContainerd.
	Runtime() string
	// Endpoint describes where the engine is (its socket), for messages.
	Endpoint() string
	// Inventory returns one item per container, at most max (max <= 0
	// means the engine's own default bound). It returns the items it
	// could build together with an error describing what it could not
	// (a container that vanished while listed is not an error); an
	// error wrapping ErrUnreachable means nothing could be asked.
	Inventory(ctx context.Context, max int) ([]event.ContainerInventoryPayload, error)
	// Watch streams the engine's activity to fn, from since when the
	// engine can replay (CanReplay) and since is not zero, else from now.
	// ready is called once the subscription is established. Watch
	// blocks until ctx is done (then it returns ctx.Err()) or the stream
	// breaks (then it returns the error). fn is called from Watch's
	// goroutine, one event at a time, in the engine's order.
	Watch(ctx context.Context, since time.Time, ready func(), fn func(Activity)) error
	// CanReplay reports whether Watch can replay events from a time in
	// the past (Moby can, for the events it still buffers; containerd
	// cannot).
	CanReplay() bool
	// Lookup returns the identity of the container id (a full id; Moby
	// also accepts a unique prefix), or an error wrapping ErrNotFound.
	Lookup(ctx context.Context, id string) (Identity, error)
	// Close releases the connection. The Backend may not be used after.
	Close() error
}

// Identity is what [Resolver] keeps per container.
type Identity struct {
	ID        string
	Name      string
	Module    string // IoT Edge module name, or ""
	Image     string
	Namespace string // containerd namespace, or ""
}

// Activity is one event of an engine's stream.
type Activity struct {
	// Time is when the engine says the event happened.
	Time time.Time
	// Key distinguishes events of the same container, action and time
	// (an exec id, a signal); it may be empty.
	Key string
	// Payload is the ContainerActivity item. Watch fills in what the
	// event itself carries; the Activity collector completes the names
	// from its Resolver.
	Payload event.ContainerActivityPayload
}

// dedupeKey identifies an activity for duplicate suppression after a
// replay.
func (a *Activity) dedupeKey() string {
	return a.Time.UTC().Format(time.RFC3339Nano) + "\x00" + a.Payload.Runtime + "\x00" + a.Payload.ContainerID + "\x00" + a.Payload.Image + "\x00" + a.Payload.Action + "\x00" + a.Key
}
