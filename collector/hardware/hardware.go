package hardware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/hostfs"
)

// DefaultMaxEventBytes is the default of [Options.MaxEventBytes]: small
// enough that every event fits in the smallest message the configuration
// allows (maxMessageSizeInBytes 8192) with its envelope.
const DefaultMaxEventBytes = 7 << 10

// Options configure the ConnectedHardware collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default, when
	// empty) or "/host" when running in a container with the host
	// filesystem mounted there. sysfs is read at HostRoot/sys, which
	// must be the host's sysfs (see the package documentation).
	HostRoot string
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// MaxEventBytes bounds the JSON size of each ConnectedHardware event:
	// a host with more devices than fit gets several events per snapshot.
	// Zero means DefaultMaxEventBytes. A single device larger than the
	// bound gets an event of its own.
	MaxEventBytes int
}

// Poller takes ConnectedHardware snapshots. It implements
// [collector.Poller]; a Poller may be used by one goroutine at a time.
type Poller struct {
	root     string
	log      *slog.Logger
	maxBytes int
	now      func() time.Time
}

// New returns a Poller reading sysfs under o.HostRoot.
func New(o Options) *Poller {
	root := o.HostRoot
	if root == "" {
		root = "/"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBytes := o.MaxEventBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	return &Poller{root: filepath.Clean(root), log: log, maxBytes: maxBytes, now: time.Now}
}

// NewCollector returns the ConnectedHardware collector: New(o) polled
// once at start and then every interval().
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.ConnectedHardware, interval, New(o))
}

// Poll implements [collector.Poller]. It returns the ConnectedHardware
// snapshot as one or more Periodic events (see Options.MaxEventBytes),
// one item per device, in the order of [Scan].
//
// When sysfs cannot be opened or is not mounted at HostRoot/sys it
// returns no event and the error: an empty snapshot would tell the hub
// that nothing is connected. Files that could not be read are reported in
// a *ScanError returned alongside the events.
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.now()
	dir, err := hostfs.Resolve(p.root, "sys", true)
	if err != nil {
		return nil, fmt.Errorf("hardware: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("hardware: sysfs: %w", err)
	}
	defer r.Close()
	devs, err := Scan(ctx, r.FS())
	if errors.Is(err, ErrNoSysfs) {
		return nil, fmt.Errorf("hardware: %s: %w", dir, err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	if err != nil {
		err = fmt.Errorf("hardware: %s: %w", dir, err)
	}
	p.log.Debug("hardware: snapshot", slog.String("sysfs", dir), slog.Int("devices", len(devs)))
	return collector.Split(event.ConnectedHardware, now, Items(devs), p.maxBytes), err
}
