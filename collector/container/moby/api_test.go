package moby_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

// TestLookupVanishedContainer: the daemon's 404 for a removed container is
// ErrNotFound carrying the daemon's answer, and does not drop the
// connection.
func TestLookupVanishedContainer(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Case{Name: "vanish"})
	ctx := context.Background()
	id, err := e.Lookup(ctx, c.ID)
	if err != nil || id.Name != c.Name || id.Image != image {
		t.Fatalf("Lookup = %+v, %v", id, err)
	}
	mobyct.Remove(cli, c.ID)
	_, err = e.Lookup(ctx, c.ID)
	if !errors.Is(err, ctr.ErrNotFound) {
		t.Fatalf("Lookup of a removed container = %v, want ErrNotFound", err)
	}
	var ae *moby.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || !strings.Contains(ae.Message, "No such container") {
		t.Fatalf("error %v does not carry the daemon's 404 answer", err)
	}
	if _, err := e.Inventory(ctx, 0); err != nil {
		t.Fatalf("Inventory after a 404: %v", err)
	}
}

// TestWatchStreamCut: the event stream of the real daemon, cut under
// Watch (a proxy closes the connection), ends Watch with an error wrapping
// io.ErrUnexpectedEOF, and the next Watch works again.
func TestWatchStreamCut(t *testing.T) {
	cli, image := mobyct.Connect(t)
	host := containertest.Env(t, containertest.EnvDocker)
	px := containertest.NewProxy(t, strings.TrimPrefix(host, "unix://"))
	e := moby.New(moby.Options{Sockets: []string{"unix://" + px.Socket}, CallTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = e.Close() })
	ready := make(chan struct{})
	got := make(chan ctr.Activity, 16)
	done := make(chan error, 1)
	go func() {
		done <- e.Watch(context.Background(), time.Time{}, func() { close(ready) }, func(a ctr.Activity) { got <- a })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Watch = %v before ready", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch not ready")
	}
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Case{Name: "cut"})
	waitAction(t, got, c.ID, "create")
	px.Cut()
	select {
	case err := <-done:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Watch after the cut = %v, want io.ErrUnexpectedEOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after the stream was cut")
	}
	px.Restore()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- e.Watch(ctx, time.Time{}, cancel, func(ctr.Activity) {}) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch after Restore = %v, want it to subscribe and end with its context", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch after Restore did not end with its context")
	}
}

func waitAction(t *testing.T, got <-chan ctr.Activity, id, action string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case a := <-got:
			if a.Payload.ContainerID == id && a.Payload.Action == action {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", action, id)
		}
	}
}

// fakeEngine answers like dockerd from the captured fixtures; handle
// overrides a path (without the version prefix). It counts the pings.
type fakeEngine struct {
	version string
	pings   atomic.Int32
	paths   chan string
	handle  map[string]http.HandlerFunc
}

func (f *fakeEngine) serve(t *testing.T) string {
	t.Helper()
	return hangingEngine(t, func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if f.paths != nil {
			select {
			case f.paths <- p:
			default:
			}
		}
		if p == "/_ping" {
			f.pings.Add(1)
			if f.version != "" {
				w.Header().Set("Api-Version", f.version)
			}
			_, _ = w.Write([]byte("OK"))
			return
		}
		_, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if h := f.handle["/"+rest]; h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case rest == "containers/json":
			_, _ = w.Write(readFixture(t, "containers-list.json"))
		case strings.HasPrefix(rest, "containers/13e615d1856d"):
			_, _ = w.Write(readFixture(t, "inspect-privileged.json"))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write(readFixture(t, "error-404.json"))
		}
	})
}

// TestInventorySkipsVanished: a container listed, then gone when inspected
// (the daemon's captured 404 answer), is left out without an error.
func TestInventorySkipsVanished(t *testing.T) {
	f := &fakeEngine{version: "1.41"}
	e := moby.New(moby.Options{Sockets: []string{"unix://" + f.serve(t)}})
	defer e.Close()
	items, err := e.Inventory(context.Background(), 0)
	if err != nil || len(items) != 1 || items[0].Name != "edgesec-fixture-edgehub" {
		t.Fatalf("Inventory = %+v, %v; want the one container still there", items, err)
	}
	if _, err := e.Inventory(context.Background(), 0); err != nil || f.pings.Load() != 1 {
		t.Fatalf("second Inventory: %v, %d pings; a 404 must not drop the connection", err, f.pings.Load())
	}
}

func TestAPIVersionNegotiation(t *testing.T) {
	for _, c := range []struct{ daemon, want string }{{"1.40", "1.40"}, {"1.41", "1.41"}, {"1.99", moby.MaxAPIVersion}, {"2.0", moby.MaxAPIVersion}} {
		f := &fakeEngine{version: c.daemon, paths: make(chan string, 8)}
		e := moby.New(moby.Options{Sockets: []string{"unix://" + f.serve(t)}})
		v, err := e.APIVersion(context.Background())
		if err != nil || v != c.want {
			t.Errorf("daemon %s: negotiated %q, %v; want %s", c.daemon, v, err, c.want)
		}
		if _, err := e.Inventory(context.Background(), 0); err != nil {
			t.Errorf("daemon %s: %v", c.daemon, err)
		}
		<-f.paths // the ping
		if p := <-f.paths; p != "/v"+c.want+"/containers/json" {
			t.Errorf("daemon %s: asked %s", c.daemon, p)
		}
		_ = e.Close()
	}
	for _, daemon := range []string{"1.39", "1.24", "", "one.two", "1"} {
		f := &fakeEngine{version: daemon}
		e := moby.New(moby.Options{Sockets: []string{"unix://" + f.serve(t)}})
		_, err := e.APIVersion(context.Background())
		if !errors.Is(err, moby.ErrAPIVersion) || !errors.Is(err, ctr.ErrUnreachable) {
			t.Errorf("daemon %q: %v, want ErrAPIVersion", daemon, err)
		}
		_ = e.Close()
	}
}

// TestDaemonErrors: an error answer other than 404/400 carries the
// daemon's message and drops the connection (the next call pings again);
// a redirect is not followed.
func TestDaemonErrors(t *testing.T) {
	var redirected atomic.Bool
	f := &fakeEngine{version: "1.41", handle: map[string]http.HandlerFunc{
		"/containers/json": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"message":"daemon is shutting down"}`))
		},
		"/containers/x/json": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		},
		"/elsewhere": func(w http.ResponseWriter, r *http.Request) { redirected.Store(true) },
	}}
	e := moby.New(moby.Options{Sockets: []string{"unix://" + f.serve(t)}})
	defer e.Close()
	_, err := e.Inventory(context.Background(), 0)
	var ae *moby.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Message != "daemon is shutting down" || !errors.Is(err, ctr.ErrUnreachable) {
		t.Fatalf("Inventory = %v, want the daemon's 500 answer", err)
	}
	_, _ = e.Inventory(context.Background(), 0)
	if n := f.pings.Load(); n != 2 {
		t.Errorf("%d pings, want a reconnection after the 500", n)
	}
	_, err = e.Lookup(context.Background(), "x")
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusMovedPermanently || redirected.Load() {
		t.Errorf("Lookup of a redirect = %v (followed: %v)", err, redirected.Load())
	}
}

// TestWatchDaemonEndsStream: a stream the daemon ends cleanly is an
// error (io.ErrUnexpectedEOF) after the events it sent; a line that is not
// an event is an error too.
func TestWatchDaemonEndsStream(t *testing.T) {
	var body atomic.Value
	f := &fakeEngine{version: "1.41", handle: map[string]http.HandlerFunc{
		"/events": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("filters") == "" {
				http.Error(w, "no filters", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body.Load().([]byte))
		},
	}}
	e := moby.New(moby.Options{Sockets: []string{"unix://" + f.serve(t)}})
	defer e.Close()
	body.Store(readFixture(t, "events.jsonl"))
	var n int
	err := e.Watch(context.Background(), time.Time{}, nil, func(ctr.Activity) { n++ })
	if !errors.Is(err, io.ErrUnexpectedEOF) || n != 10 {
		t.Fatalf("Watch = %v after %d events, want io.ErrUnexpectedEOF after 10", err, n)
	}
	body.Store([]byte("{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"a\"}}\nnot json\n"))
	n = 0
	err = e.Watch(context.Background(), time.Time{}, nil, func(ctr.Activity) { n++ })
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || n != 1 {
		t.Fatalf("Watch = %v after %d events, want a decoding error after 1", err, n)
	}
}

// TestWatchCancel: cancelling Watch's context ends a stream that sends
// nothing, at once.
func TestWatchCancel(t *testing.T) {
	f := &fakeEngine{version: "1.41", handle: map[string]http.HandlerFunc{
		"/events": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
	}}
	e := moby.New(moby.Options{Sockets: []string{"unix://" + f.serve(t)}, CallTimeout: time.Second})
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- e.Watch(ctx, time.Time{}, func() { close(ready) }, func(ctr.Activity) {}) }()
	<-ready
	time.Sleep(1500 * time.Millisecond) // past CallTimeout: the stream has no deadline
	select {
	case err := <-done:
		t.Fatalf("Watch ended by itself: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not end with its context")
	}
}

// TestExecCommandFromProc: an exec_start event without its command gets
// it from the exec's process (GET /exec/{id}/json, the captured answer)
// under HostRoot/proc.
func TestExecCommandFromProc(t *testing.T) {
	root := t.TempDir()
	proc := filepath.Join(root, "proc", "32668")
	if err := os.MkdirAll(proc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "cmdline"), []byte("/bin/sh\x00-c\x00id\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	const execID = "eea6b0afbc6c1af5e6506013eef2a928dccdc186f55a1b14be5ae1c5d1a770d5"
	f := &fakeEngine{version: "1.41", handle: map[string]http.HandlerFunc{
		"/exec/" + execID + "/json": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(readFixture(t, "exec-inspect.json"))
		},
		"/events": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"Type":"container","Action":"exec_start","Actor":{"ID":"7fd520fe5cc4","Attributes":{"execID":"` + execID + `"}},"timeNano":1}` + "\n"))
		},
	}}
	e := moby.New(moby.Options{HostRoot: root, Sockets: []string{"unix://" + f.serve(t)}})
	defer e.Close()
	var cmd []string
	_ = e.Watch(context.Background(), time.Time{}, nil, func(a ctr.Activity) { cmd = append(cmd, a.Payload.Command) })
	if len(cmd) != 1 || cmd[0] != "/bin/sh -c id" {
		t.Fatalf("commands %q, want the exec's from /proc", cmd)
	}
}
