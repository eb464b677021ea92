package moby

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
)

// Defaults of Options.
const (
	DefaultCallTimeout      = 10 * time.Second
	DefaultMaxResponseBytes = 8 << 20 // one API answer
	DefaultMaxEventBytes    = 1 << 20 // one event of the stream
	dialTimeout             = 3 * time.Second
)

// Options configure a Moby Backend.
type Options struct {
	// HostRoot is where the host's filesystem is ("/" when empty, "/host"
	// in a container); the sockets are looked up below it, and so is
	// /proc when an exec's command must be read from its process.
	HostRoot string
	// Sockets are the candidate sockets, as host paths (or "unix://…"
	// taken as is), tried in order on every (re)connection;
	// container.DefaultMobySockets when empty.
	Sockets []string
	// CallTimeout bounds every API call (DefaultCallTimeout when 0), and
	// the wait for the event stream's response headers.
	CallTimeout time.Duration
	// MaxResponseBytes bounds one API answer (DefaultMaxResponseBytes),
	// MaxEventBytes one line of the event stream (DefaultMaxEventBytes).
	MaxResponseBytes, MaxEventBytes int64
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Backend is a Moby (Docker engine) daemon, asked over its unix socket
// with the Engine API (see the package documentation for the endpoints).
// It implements [ctr.Backend]; see there for the concurrency rules. The
// API version is negotiated with the daemon on each connection (API 1.40,
// Moby 19.03, and later).
type Backend struct {
	o     Options
	cands []ctr.SocketPath
	log   *slog.Logger

	mu       sync.Mutex
	cli      *apiClient
	endpoint string
}

var _ ctr.Backend = (*Backend)(nil)

// New returns a Backend; it does not connect until used.
func New(o Options) *Backend {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cands := ctr.Candidates(o.HostRoot, o.Sockets, ctr.DefaultMobySockets)
	return &Backend{o: o, cands: cands, log: log, endpoint: cands[0].HostPath}
}

// Runtime implements [ctr.Backend].
func (e *Backend) Runtime() string { return ctr.RuntimeMoby }

// Endpoint implements [ctr.Backend]: the socket in use, or the first
// candidate before the first connection.
func (e *Backend) Endpoint() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.endpoint
}

// CanReplay implements [ctr.Backend]: Moby replays the events it still
// buffers (the last 256 or so) from a given time.
func (e *Backend) CanReplay() bool { return true }

// Close implements [ctr.Backend].
func (e *Backend) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropLocked()
	return nil
}

func (e *Backend) dropLocked() {
	if e.cli != nil {
		e.cli.close()
	}
	e.cli = nil
}

// APIVersion connects if needed and returns the negotiated API version.
func (e *Backend) APIVersion(ctx context.Context) (string, error) {
	cli, err := e.client(ctx)
	if err != nil {
		return "", err
	}
	return cli.version, nil
}

// client returns the connected client, connecting to the first candidate
// socket that answers a ping with a supported API version.
func (e *Backend) client(ctx context.Context) (*apiClient, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli != nil {
		return e.cli, nil
	}
	var errs []error
	for _, s := range e.cands {
		if !ctr.IsSocket(s.Path) {
			errs = append(errs, fmt.Errorf("%s: no socket", s.HostPath))
			continue
		}
		cli := newAPIClient(s.Path, e.o.CallTimeout, e.o.MaxResponseBytes, e.o.MaxEventBytes)
		pctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
		err := cli.ping(pctx)
		cancel()
		if err == nil {
			e.cli, e.endpoint = cli, s.HostPath
			e.log.Debug("moby: connected", slog.String("socket", s.HostPath), slog.String("api", cli.version))
			return cli, nil
		}
		cli.close()
		errs = append(errs, fmt.Errorf("%s: %w", s.HostPath, err))
	}
	return nil, fmt.Errorf("moby: %w: %w", ctr.ErrUnreachable, errors.Join(errs...))
}

// failed drops the connection after an error that is not the daemon's
// answer about the request (no such container, a bad argument) nor a
// cancellation, so that the next call reconnects (maybe to another
// socket) and negotiates again.
func (e *Backend) failed(cli *apiClient, err error) {
	if err == nil || isStatus(err, http.StatusNotFound) || isStatus(err, http.StatusBadRequest) || errors.Is(err, context.Canceled) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli == cli {
		e.dropLocked()
	}
}

// inspect asks GET /containers/{id}/json, bounded by the CallTimeout.
func (e *Backend) inspect(ctx context.Context, cli *apiClient, id string) (*inspectResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	defer cancel()
	b, err := cli.getRaw(ctx, "/containers/"+url.PathEscape(id)+"/json")
	if err != nil {
		return nil, err
	}
	return decodeInspect(b)
}

// Inventory implements [ctr.Backend]: it lists the containers (all of
// them, running or not) and inspects each, every call bounded by the
// CallTimeout.
func (e *Backend) Inventory(ctx context.Context, max int) ([]event.ContainerInventoryPayload, error) {
	if max <= 0 {
		max = ctr.DefaultMaxContainers
	}
	cli, err := e.client(ctx)
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID string `json:"Id"`
	}
	lctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	err = cli.get(lctx, "/containers/json", url.Values{"all": {"1"}}, &list)
	cancel()
	if err != nil {
		e.failed(cli, err)
		return nil, fmt.Errorf("moby: list containers: %w: %w", ctr.ErrUnreachable, err)
	}
	var errs []error
	if len(list) > max {
		errs = append(errs, fmt.Errorf("moby: %d containers, inventory cut at %d", len(list), max))
		list = list[:max]
	}
	out := make([]event.ContainerInventoryPayload, 0, len(list))
	for _, s := range list {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		c, err := e.inspect(ctx, cli, s.ID)
		if err != nil {
			if isStatus(err, http.StatusNotFound) {
				continue // removed since listed
			}
			e.failed(cli, err)
			errs = append(errs, fmt.Errorf("moby: inspect %s: %w", shortID(s.ID), err))
			continue
		}
		p, err := fromInspect(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// Lookup implements [ctr.Backend].
func (e *Backend) Lookup(ctx context.Context, id string) (ctr.Identity, error) {
	cli, err := e.client(ctx)
	if err != nil {
		return ctr.Identity{}, err
	}
	c, err := e.inspect(ctx, cli, id)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return ctr.Identity{}, fmt.Errorf("moby: %s: %w: %w", id, ctr.ErrNotFound, err)
		}
		e.failed(cli, err)
		return ctr.Identity{}, fmt.Errorf("moby: inspect %s: %w", id, err)
	}
	return identity(c), nil
}

// eventFilters asks the daemon for container and image events only.
const eventFilters = `{"type":{"container":true,"image":true}}`

// Watch implements [ctr.Backend]: it follows GET /events for container and
// image events. since is passed to the daemon, which replays what it still
// buffers from then on. The wait for the stream's response headers is
// bounded by the CallTimeout, each event line by MaxEventBytes; the
// stream itself has no deadline (ctx ends it). A stream the daemon ends,
// a line that is not an event and a line too long all end Watch with an
// error.
func (e *Backend) Watch(ctx context.Context, since time.Time, ready func(), fn func(ctr.Activity)) error {
	cli, err := e.client(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{"filters": {eventFilters}}
	if !since.IsZero() {
		q.Set("since", strconv.FormatInt(since.Unix(), 10)+"."+fmt.Sprintf("%09d", since.Nanosecond()))
	}
	resp, err := cli.do(ctx, "/events", q)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.failed(cli, err)
		return fmt.Errorf("moby: events: %w", err)
	}
	defer resp.Body.Close()
	if ready != nil {
		ready()
	}
	r := newEventReader(resp.Body, cli.maxLine)
	for {
		line, err := r.next()
		if err == nil {
			var a ctr.Activity
			var ok bool
			a, ok, err = ParseEvent(line)
			if ok {
				if a.Payload.Action == "exec_start" && a.Payload.Command == "" {
					a.Payload.Command = e.execCommand(ctx, cli, a.Key)
				}
				fn(a)
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the daemon ended the stream
		}
		e.failed(cli, err)
		return fmt.Errorf("moby: events: %w", err)
	}
}

// execCommand finds an exec's command line when the event did not carry
// it: from the exec's process (GET /exec/{id}/json) under the host's
// /proc.
func (e *Backend) execCommand(ctx context.Context, cli *apiClient, execID string) string {
	if execID == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	defer cancel()
	var res struct {
		Pid int `json:"Pid"`
	}
	if err := cli.get(ctx, "/exec/"+url.PathEscape(execID)+"/json", nil, &res); err != nil || res.Pid <= 0 {
		return ""
	}
	return ProcCmdline(e.o.HostRoot, res.Pid)
}

// ProcCmdline reads /proc/pid/cmdline under hostRoot as a space-separated
// command line, bounded; "" when it cannot be read.
func ProcCmdline(hostRoot string, pid int) string {
	f, err := os.Open(ctr.HostPath(hostRoot, "/proc/"+strconv.Itoa(pid)+"/cmdline"))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxCommand))
	return ctr.Truncate(strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))), maxCommand)
}
