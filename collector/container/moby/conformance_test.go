package moby_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/mobyct"
)

func hour() time.Duration { return time.Hour }

// idleConns are the engine's idle HTTP connections: the Backend, not Run,
// owns them (Close releases them).
var idleConns = collectortest.WithLeakOptions(
	goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))

func TestConformanceInventory(t *testing.T) {
	mobyct.Connect(t)
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return ctr.NewInventoryCollector(ctr.InventoryOptions{}, hour, engine(t))
	}, collectortest.WithWait(10*time.Second), idleConns)
}

func TestConformanceActivity(t *testing.T) {
	cli, image := mobyct.Connect(t)
	prefix := mobyct.Prefix(t)
	n := 0
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		e := engine(t)
		return ctr.NewActivityCollector(ctr.ActivityOptions{Resolver: ctr.NewResolver(ctr.ResolverOptions{}, e)}, e)
	}, collectortest.WithWait(10*time.Second), collectortest.WithTrigger(func(t *testing.T) {
		n++
		c := mobyct.Create(t, cli, image, prefix, containertest.Case{Name: "trigger" + string(rune('a'+n%26)) + string(rune('a'+n/26%26))})
		mobyct.Remove(cli, c.ID)
	}), idleConns)
}

// analyser is a small runtime-risk analyser standing in for the manifest
// package's.
func analyser(inv []event.ContainerInventoryPayload) []event.DeploymentRecommendationPayload {
	var out []event.DeploymentRecommendationPayload
	for _, c := range inv {
		for _, m := range c.Mounts {
			if m.Risk == ctr.RiskDockerSocket {
				out = append(out, event.DeploymentRecommendationPayload{RuleID: "TEST001", Severity: event.FindingCritical,
					Title: "Docker socket mounted", Module: c.ModuleName, Evidence: c.Name + ": " + m.Source + " -> " + m.Destination})
			}
		}
	}
	return out
}

func TestRecommendations(t *testing.T) {
	cli, image := mobyct.Connect(t)
	e := engine(t)
	c := mobyct.Create(t, cli, image, mobyct.Prefix(t), containertest.Cases()[2]) // "sock"
	inv := ctr.NewInventory(ctr.InventoryOptions{}, e)
	evs, err := ctr.NewRecommendations(inv, analyser).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Name != event.DeploymentRecommendation {
		t.Fatalf("events: %v", evs)
	}
	found := false
	for _, it := range evs[0].Payload {
		p := it.(*event.DeploymentRecommendationPayload)
		if strings.HasPrefix(p.Evidence, c.Name+":") {
			found = true
			if p.Source != ctr.SourceRuntime || p.RuleID != "TEST001" {
				t.Errorf("finding %+v", p)
			}
		}
	}
	if !found {
		t.Errorf("no finding for %s", c.Name)
	}
	validate(t, evs)
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return ctr.NewRecommendationCollector(inv, analyser, hour)
	}, collectortest.WithWait(10*time.Second), idleConns)
}

// hangingEngine serves a unix socket that accepts requests and never
// answers, or answers with a huge body.
func hangingEngine(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	})
	return sock
}

func TestHangingEngineIsBounded(t *testing.T) {
	release := make(chan struct{})
	sock := hangingEngine(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	e := moby.New(moby.Options{Sockets: []string{"unix://" + sock}, CallTimeout: 300 * time.Millisecond})
	defer e.Close()
	start := time.Now()
	inv := ctr.NewInventory(ctr.InventoryOptions{Timeout: time.Second}, e)
	evs, err := inv.Poll(context.Background())
	if err == nil || len(evs) != 0 {
		t.Fatalf("Poll = %v, %v; want an error and no event", evs, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Poll took %v against a hanging engine", d)
	}
	err = e.Watch(context.Background(), time.Time{}, nil, func(ctr.Activity) {})
	if err == nil {
		t.Fatal("Watch on a hanging engine returned nil")
	}
	if _, err := e.Lookup(context.Background(), "x"); err == nil {
		t.Fatal("Lookup on a hanging engine succeeded")
	}
}

func TestHugeAnswersAreBounded(t *testing.T) {
	sock := hangingEngine(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			_, _ = w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/containers/json"):
			_, _ = w.Write([]byte(`[{"Id":"aaaa"}]`))
		case strings.HasSuffix(r.URL.Path, "/events"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Type":"container","Action":"start","Actor":{"ID":"` + strings.Repeat("a", 2<<20)))
		default: // inspect: a label of 64 MiB, streamed
			_, _ = w.Write([]byte(`{"Id":"aaaa","Config":{"Labels":{"net.azure-devices.edge.owner":"`))
			chunk := []byte(strings.Repeat("x", 1<<20))
			for i := 0; i < 64; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			_, _ = w.Write([]byte(`"}}}`))
		}
	})
	e := moby.New(moby.Options{Sockets: []string{"unix://" + sock}, CallTimeout: 5 * time.Second, MaxResponseBytes: 1 << 20})
	defer e.Close()
	items, err := e.Inventory(context.Background(), 0)
	if err == nil || len(items) != 0 {
		t.Fatalf("Inventory = %d items, %v; want the oversized answer refused", len(items), err)
	}
	if !strings.Contains(err.Error(), "too large") || !errors.Is(err, moby.ErrTooLarge) {
		t.Errorf("error %v does not say the answer was too large", err)
	}
	err = e.Watch(context.Background(), time.Time{}, nil, func(ctr.Activity) { t.Error("an oversized event was delivered") })
	if err == nil || !strings.Contains(err.Error(), "too large") || !errors.Is(err, moby.ErrTooLarge) {
		t.Errorf("Watch = %v, want too large", err)
	}
}

func TestNoEngineReachable(t *testing.T) {
	e := moby.New(moby.Options{HostRoot: t.TempDir()})
	rec := collectortest.NewRecorder()
	if err := ctr.NewInventoryCollector(ctr.InventoryOptions{}, hour, e).PollOnce(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if rec.Len() != 0 {
		t.Fatalf("an unreachable engine produced %d events", rec.Len())
	}
	errs := rec.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "no container engine reachable") {
		t.Fatalf("reported %v", errs)
	}
}
