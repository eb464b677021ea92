package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
)

// Defaults of Options.
const (
	DefaultCallTimeout = 10 * time.Second
	// DefaultMaxMessageBytes bounds one gRPC answer (a container with
	// its spec is streamed as one message).
	DefaultMaxMessageBytes = 8 << 20
)

// Options configure a containerd Backend.
type Options struct {
	// HostRoot is where the host's filesystem is ("/" when empty, "/host"
	// in a container); the sockets are looked up below it, and so is
	// /proc (task start times, exec command lines).
	HostRoot string
	// Sockets are the candidate sockets, as host paths (or "unix://…"
	// taken as is), tried in order on every (re)connection;
	// container.DefaultContainerdSockets when empty.
	Sockets []string
	// Namespaces restricts the namespaces walked; all of them (moby,
	// k8s.io, default, …) when empty.
	Namespaces []string
	// ExcludeNamespaces are namespaces not walked, for example "moby"
	// when the Moby engine is monitored too (its containers live in
	// containerd's "moby" namespace and would otherwise appear twice).
	ExcludeNamespaces []string
	// CallTimeout bounds every API call (DefaultCallTimeout when 0).
	CallTimeout time.Duration
	// MaxMessageBytes bounds one gRPC answer (DefaultMaxMessageBytes).
	MaxMessageBytes int
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Backend is a containerd daemon, walked across all its namespaces. It
// implements [ctr.Backend]; see there for the concurrency rules.
type Backend struct {
	o     Options
	cands []ctr.SocketPath
	log   *slog.Logger

	mu       sync.Mutex
	cli      *client.Client
	endpoint string
}

var _ ctr.Backend = (*Backend)(nil)

// New returns a Backend; it does not connect until used.
func New(o Options) *Backend {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cands := ctr.Candidates(o.HostRoot, o.Sockets, ctr.DefaultContainerdSockets)
	return &Backend{o: o, cands: cands, log: log, endpoint: cands[0].HostPath}
}

// Runtime implements [ctr.Backend].
func (e *Backend) Runtime() string { return ctr.RuntimeContainerd }

// Endpoint implements [ctr.Backend].
func (e *Backend) Endpoint() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.endpoint
}

// CanReplay implements [ctr.Backend]: containerd's event service only
// streams live events.
func (e *Backend) CanReplay() bool { return false }

// Close implements [ctr.Backend].
func (e *Backend) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropLocked()
	return nil
}

func (e *Backend) dropLocked() {
	if e.cli != nil {
		_ = e.cli.Close()
		e.cli = nil
	}
}

// Version connects if needed and returns containerd's version.
func (e *Backend) Version(ctx context.Context) (string, error) {
	cli, err := e.client(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	defer cancel()
	v, err := cli.Version(ctx)
	if err != nil {
		e.failed(cli, err)
		return "", fmt.Errorf("containerd: version: %w", err)
	}
	return v.Version, nil
}

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
		cli, err := client.New(s.Path, client.WithTimeout(e.o.CallTimeout),
			client.WithCallOpts([]grpc.CallOption{grpc.MaxCallRecvMsgSize(e.o.MaxMessageBytes)}))
		if err == nil {
			vctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
			_, err = cli.Version(vctx)
			cancel()
			if err == nil {
				e.cli, e.endpoint = cli, s.HostPath
				e.log.Debug("containerd: connected", slog.String("socket", s.HostPath))
				return cli, nil
			}
			_ = cli.Close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.HostPath, err))
	}
	return nil, fmt.Errorf("containerd: %w: %w", ctr.ErrUnreachable, errors.Join(errs...))
}

// failed drops the connection after an error that is not the daemon's
// answer, so that the next call reconnects.
func (e *Backend) failed(cli *client.Client, err error) {
	if err == nil || errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) || errors.Is(err, context.Canceled) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli == cli {
		e.dropLocked()
	}
}

func (e *Backend) namespaces(ctx context.Context, cli *client.Client) ([]string, error) {
	if len(e.o.Namespaces) > 0 {
		return e.o.Namespaces, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.CallTimeout)
	defer cancel()
	ns, err := cli.NamespaceService().List(ctx)
	if err != nil {
		e.failed(cli, err)
		return nil, fmt.Errorf("containerd: list namespaces: %w", err)
	}
	return slices.DeleteFunc(ns, func(n string) bool { return slices.Contains(e.o.ExcludeNamespaces, n) }), nil
}

// Inventory implements [ctr.Backend]: for every namespace it lists the
// containers (with their OCI specs), the tasks and the images, each call
// bounded by the CallTimeout.
func (e *Backend) Inventory(ctx context.Context, max int) ([]event.ContainerInventoryPayload, error) {
	if max <= 0 {
		max = ctr.DefaultMaxContainers
	}
	cli, err := e.client(ctx)
	if err != nil {
		return nil, err
	}
	nss, err := e.namespaces(ctx, cli)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ctr.ErrUnreachable, err)
	}
	var out []event.ContainerInventoryPayload
	var errs []error
	for _, ns := range nss {
		if len(out) >= max {
			errs = append(errs, fmt.Errorf("containerd: inventory cut at %d containers", max))
			break
		}
		items, err := e.namespaceInventory(ctx, cli, ns, max-len(out))
		out = append(out, items...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (e *Backend) namespaceInventory(ctx context.Context, cli *client.Client, ns string, max int) ([]event.ContainerInventoryPayload, error) {
	nctx := namespaces.WithNamespace(ctx, ns)
	cctx, cancel := context.WithTimeout(nctx, e.o.CallTimeout)
	cs, err := cli.ContainerService().List(cctx)
	cancel()
	if err != nil {
		e.failed(cli, err)
		return nil, fmt.Errorf("containerd: namespace %s: list containers: %w", ns, err)
	}
	if len(cs) == 0 {
		return nil, nil
	}
	var errs []error
	if len(cs) > max {
		errs = append(errs, fmt.Errorf("containerd: namespace %s: %d containers, inventory cut at %d", ns, len(cs), max))
		cs = cs[:max]
	}
	tasks := map[string]*tasktypes.Process{}
	tctx, cancel := context.WithTimeout(nctx, e.o.CallTimeout)
	tl, err := cli.TaskService().List(tctx, &tasksapi.ListTasksRequest{})
	cancel()
	if err != nil {
		errs = append(errs, fmt.Errorf("containerd: namespace %s: list tasks: %w", ns, err))
	} else {
		for _, t := range tl.GetTasks() {
			tasks[t.GetID()] = t
		}
	}
	digests := map[string]string{}
	ictx, cancel := context.WithTimeout(nctx, e.o.CallTimeout)
	imgs, err := cli.ImageService().List(ictx)
	cancel()
	if err == nil {
		for _, im := range imgs {
			digests[im.Name] = im.Target.Digest.String()
		}
	}
	out := make([]event.ContainerInventoryPayload, 0, len(cs))
	for i := range cs {
		c := &cs[i]
		in := Container{Namespace: ns, ID: c.ID, Labels: c.Labels, Image: c.Image, ImageDigest: digests[c.Image], Runtime: c.Runtime.Name}
		if c.Spec != nil {
			in.Spec = c.Spec.GetValue()
		}
		if t := tasks[c.ID]; t != nil {
			in.Task = e.task(t)
		}
		p, err := FromContainer(&in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func (e *Backend) task(t *tasktypes.Process) *Task {
	out := &Task{Pid: t.GetPid(), ExitStatus: t.GetExitStatus()}
	switch t.GetStatus() {
	case tasktypes.Status_CREATED:
		out.Status = "created"
	case tasktypes.Status_RUNNING:
		out.Status = "running"
	case tasktypes.Status_STOPPED:
		out.Status = "stopped"
	case tasktypes.Status_PAUSED:
		out.Status = "paused"
	case tasktypes.Status_PAUSING:
		out.Status = "pausing"
	default:
		out.Status = "unknown"
	}
	if ts := t.GetExitedAt(); ts != nil {
		out.ExitedAt = ts.AsTime()
	}
	if out.Pid > 0 && out.Status != "stopped" {
		out.StartedAt = e.startTime(int(out.Pid))
	}
	return out
}

// startTime reads a process's start time under the host root, or returns
// the zero time.
func (e *Backend) startTime(pid int) time.Time {
	ps, err := readBounded(ctr.HostPath(e.o.HostRoot, "/proc/"+strconv.Itoa(pid)+"/stat"), 4096)
	if err != nil {
		return time.Time{}
	}
	st, err := readBounded(ctr.HostPath(e.o.HostRoot, "/proc/stat"), 1<<20)
	if err != nil {
		return time.Time{}
	}
	t, err := ParseStartTime(ps, st, 100)
	if err != nil {
		return time.Time{}
	}
	return t
}

func readBounded(name string, n int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// Lookup implements [ctr.Backend]: the first namespace that has id.
func (e *Backend) Lookup(ctx context.Context, id string) (ctr.Identity, error) {
	cli, err := e.client(ctx)
	if err != nil {
		return ctr.Identity{}, err
	}
	nss, err := e.namespaces(ctx, cli)
	if err != nil {
		return ctr.Identity{}, err
	}
	for _, ns := range nss {
		cctx, cancel := context.WithTimeout(namespaces.WithNamespace(ctx, ns), e.o.CallTimeout)
		c, err := cli.ContainerService().Get(cctx, id)
		cancel()
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue
			}
			e.failed(cli, err)
			return ctr.Identity{}, fmt.Errorf("containerd: namespace %s: get %s: %w", ns, id, err)
		}
		name := ContainerName(c.ID, c.Labels)
		return ctr.Identity{ID: c.ID, Name: name, Module: ctr.ModuleName(name, c.Labels), Image: ctr.Truncate(c.Image, maxString), Namespace: ns}, nil
	}
	return ctr.Identity{}, fmt.Errorf("containerd: %s: %w", id, ctr.ErrNotFound)
}

// Watch implements [ctr.Backend]: it subscribes to the event service for
// all namespaces. since is ignored (containerd cannot replay).
func (e *Backend) Watch(ctx context.Context, _ time.Time, ready func(), fn func(ctr.Activity)) error {
	cli, err := e.client(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, errs := cli.Subscribe(ctx, `topic~="^/(tasks|containers|images)/"`)
	// The subscription is established lazily; a round trip after it
	// makes it likely to be in place before ready is called.
	vctx, vcancel := context.WithTimeout(ctx, e.o.CallTimeout)
	_, err = cli.Version(vctx)
	vcancel()
	if err != nil {
		e.failed(cli, err)
		return fmt.Errorf("containerd: events: %w", err)
	}
	if ready != nil {
		ready()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			e.failed(cli, err)
			return fmt.Errorf("containerd: events: %w", err)
		case env, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				e.failed(cli, io.ErrUnexpectedEOF)
				return fmt.Errorf("containerd: events: %w", io.ErrUnexpectedEOF)
			}
			if env == nil || env.Event == nil {
				continue
			}
			v, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				e.log.Debug("containerd: undecodable event", slog.String("topic", env.Topic), slog.Any("error", err))
				continue
			}
			a, ok := FromEvent(env.Namespace, env.Timestamp, v)
			if !ok {
				continue
			}
			if a.Payload.Action == "exec_start" && a.Payload.Command == "" {
				if pid, err := strconv.Atoi(a.Payload.ExtraDetails[KeyExecPid]); err == nil && pid > 0 {
					a.Payload.Command = procCmdline(e.o.HostRoot, pid)
				}
			}
			fn(a)
		}
	}
}

// ExtraDetails keys of the containerd activity items.
const (
	KeyExecID  = "ExecId"
	KeyExecPid = "Pid"
)

// FromEvent maps a decoded containerd event to an activity. ok is false
// for events that are not reported.
func FromEvent(ns string, ts time.Time, v any) (ctr.Activity, bool) {
	a := ctr.Activity{Time: ts, Payload: event.ContainerActivityPayload{Runtime: ctr.RuntimeContainerd}}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	p := &a.Payload
	x := event.ExtraDetails{ctr.KeyNamespace: ctr.Truncate(ns, maxString)}
	p.ExtraDetails = x
	switch ev := v.(type) {
	case *apievents.ContainerCreate:
		p.Action, p.ContainerID, p.Image = "create", ev.GetID(), ev.GetImage()
	case *apievents.ContainerDelete:
		p.Action, p.ContainerID = "destroy", ev.GetID()
	case *apievents.TaskStart:
		p.Action, p.ContainerID = "start", ev.GetContainerID()
		x[KeyExecPid] = strconv.FormatUint(uint64(ev.GetPid()), 10)
	case *apievents.TaskExit:
		p.ContainerID = ev.GetContainerID()
		code := int(ev.GetExitStatus())
		p.ExitCode = &code
		if ev.GetID() != "" && ev.GetID() != ev.GetContainerID() {
			p.Action = "exec_die"
			x[KeyExecID] = ctr.Truncate(ev.GetID(), maxString)
			a.Key = ev.GetID()
		} else {
			p.Action = "die"
		}
		if t := ev.GetExitedAt(); t != nil && t.AsTime().Year() > 1970 {
			a.Time = t.AsTime()
		}
	case *apievents.TaskOOM:
		p.Action, p.ContainerID = "oom", ev.GetContainerID()
	case *apievents.TaskExecAdded:
		p.Action, p.ContainerID, a.Key = "exec_create", ev.GetContainerID(), ev.GetExecID()
		x[KeyExecID] = ctr.Truncate(ev.GetExecID(), maxString)
	case *apievents.TaskExecStarted:
		p.Action, p.ContainerID, a.Key = "exec_start", ev.GetContainerID(), ev.GetExecID()
		x[KeyExecID] = ctr.Truncate(ev.GetExecID(), maxString)
		x[KeyExecPid] = strconv.FormatUint(uint64(ev.GetPid()), 10)
	case *apievents.TaskPaused:
		p.Action, p.ContainerID = "pause", ev.GetContainerID()
	case *apievents.TaskResumed:
		p.Action, p.ContainerID = "unpause", ev.GetContainerID()
	case *apievents.ImageCreate:
		p.Action, p.Image = "pull", ev.GetName()
		x["Topic"] = "/images/create"
	case *apievents.ImageDelete:
		p.Action, p.Image = "delete", ev.GetName()
	default:
		return a, false
	}
	p.ContainerID = ctr.Truncate(p.ContainerID, maxString)
	p.Image = ctr.Truncate(p.Image, maxString)
	if p.ContainerID == "" && p.Image == "" {
		return a, false
	}
	return a, true
}

// procCmdline reads the command line of an exec'd process. runc returns
// (and containerd publishes exec_start) possibly before the process's
// execve has set up the new arguments; the kernel shows an empty command
// line meanwhile, so an empty one is read again a few times.
func procCmdline(hostRoot string, pid int) string {
	name := ctr.HostPath(hostRoot, "/proc/"+strconv.Itoa(pid)+"/cmdline")
	for try := 0; ; try++ {
		b, err := readBounded(name, maxCommand)
		if err != nil {
			return "" // gone
		}
		if len(b) > 0 || try == 4 {
			return ctr.Truncate(strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")), maxCommand)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
