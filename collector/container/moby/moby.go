package moby

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

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

// Backend is a Moby (Docker engine) daemon. It implements
// [ctr.Backend]; see there for the concurrency rules. The API version is
// negotiated with the daemon on each connection (Moby 19.03 / API 1.40 and
// later).
type Backend struct {
	o     Options
	cands []ctr.SocketPath
	log   *slog.Logger

	mu       sync.Mutex
	cli      *client.Client
	tr       *http.Transport
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
	if e.tr != nil {
		e.tr.CloseIdleConnections()
	}
	if e.cli != nil {
		_ = e.cli.Close()
	}
	e.cli, e.tr = nil, nil
}

// APIVersion connects if needed and returns the negotiated API version.
func (e *Backend) APIVersion(ctx context.Context) (string, error) {
	cli, err := e.client(ctx)
	if err != nil {
		return "", err
	}
	return cli.ClientVersion(), nil
}

// client returns the connected client, connecting to the first candidate
// socket that answers a ping.
func (e *Backend) client(ctx context.Context) (*client.Client, error) {
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
		cli, tr, err := e.dial(s.Path)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
			_, err = cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true, ForceNegotiate: true})
			cancel()
			if err == nil {
				e.cli, e.tr, e.endpoint = cli, tr, s.HostPath
				e.log.Debug("moby: connected", slog.String("socket", s.HostPath), slog.String("api", cli.ClientVersion()))
				return cli, nil
			}
			tr.CloseIdleConnections()
			_ = cli.Close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.HostPath, err))
	}
	return nil, fmt.Errorf("moby: %w: %w", ctr.ErrUnreachable, errors.Join(errs...))
}

func (e *Backend) dial(path string) (*client.Client, *http.Transport, error) {
	d := net.Dialer{Timeout: dialTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: e.o.CallTimeout,
		DisableCompression:    true,
	}
	hc := &http.Client{Transport: &limitTransport{base: tr, max: e.o.MaxResponseBytes, maxLine: e.o.MaxEventBytes}, CheckRedirect: client.CheckRedirect}
	cli, err := client.New(client.WithHTTPClient(hc), client.WithUserAgent("edgesec"))
	if err != nil {
		return nil, nil, fmt.Errorf("moby: client: %w", err)
	}
	return cli, tr, nil
}

// failed drops the connection after an error that is not the daemon's
// answer, so that the next call reconnects (maybe to another socket).
func (e *Backend) failed(cli *client.Client, err error) {
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsInvalidArgument(err) || errors.Is(err, context.Canceled) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli == cli {
		e.dropLocked()
	}
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
	lctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	list, err := cli.ContainerList(lctx, client.ContainerListOptions{All: true})
	cancel()
	if err != nil {
		e.failed(cli, err)
		return nil, fmt.Errorf("moby: list containers: %w: %w", ctr.ErrUnreachable, err)
	}
	var errs []error
	ids := list.Items
	if len(ids) > max {
		errs = append(errs, fmt.Errorf("moby: %d containers, inventory cut at %d", len(ids), max))
		ids = ids[:max]
	}
	out := make([]event.ContainerInventoryPayload, 0, len(ids))
	for _, s := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		ictx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
		res, err := cli.ContainerInspect(ictx, s.ID, client.ContainerInspectOptions{})
		cancel()
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue // removed since listed
			}
			e.failed(cli, err)
			errs = append(errs, fmt.Errorf("moby: inspect %s: %w", shortID(s.ID), err))
			continue
		}
		p, err := FromInspect(&res.Container)
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
	ctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	defer cancel()
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return ctr.Identity{}, fmt.Errorf("moby: %s: %w", id, ctr.ErrNotFound)
		}
		e.failed(cli, err)
		return ctr.Identity{}, fmt.Errorf("moby: inspect %s: %w", id, err)
	}
	c := &res.Container
	ident := ctr.Identity{ID: c.ID, Name: ctr.Truncate(strings.TrimPrefix(c.Name, "/"), maxString)}
	if c.Config != nil {
		ident.Image = ctr.Truncate(c.Config.Image, maxString)
		ident.Module = ctr.ModuleName(ident.Name, c.Config.Labels)
	}
	return ident, nil
}

// Watch implements [ctr.Backend]: it follows GET /events for container and
// image events. since is passed to the daemon, which replays what it still
// buffers from then on.
func (e *Backend) Watch(ctx context.Context, since time.Time, ready func(), fn func(ctr.Activity)) error {
	cli, err := e.client(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := client.EventsListOptions{Filters: make(client.Filters).Add("type", "container", "image")}
	if !since.IsZero() {
		opts.Since = strconv.FormatInt(since.Unix(), 10) + "." + fmt.Sprintf("%09d", since.Nanosecond())
	}
	res := cli.Events(ctx, opts)
	select {
	case err := <-res.Err:
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		e.failed(cli, err)
		return fmt.Errorf("moby: events: %w", err)
	default:
	}
	if ready != nil {
		ready()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-res.Err:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			e.failed(cli, err)
			return fmt.Errorf("moby: events: %w", err)
		case m := <-res.Messages:
			a, ok := FromMessage(&m)
			if !ok {
				continue
			}
			if a.Payload.Action == "exec_start" && a.Payload.Command == "" {
				a.Payload.Command = e.execCommand(ctx, cli, a.Key)
			}
			fn(a)
		}
	}
}

// execCommand finds an exec's command line when the event did not carry
// it: from the exec's process under the host's /proc.
func (e *Backend) execCommand(ctx context.Context, cli *client.Client, execID string) string {
	if execID == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	defer cancel()
	res, err := cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
	if err != nil || res.PID <= 0 {
		return ""
	}
	return ProcCmdline(e.o.HostRoot, res.PID)
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
