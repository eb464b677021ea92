package containerd_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/containerd"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/containertest"
	"github.com/edgesec/edgesec/internal/containertest/containerdct"
)

func hour() time.Duration { return time.Hour }

// grpcConn are the engine's gRPC connection goroutines: the Backend, not
// Run, owns them (Close releases them).
var grpcConn = collectortest.WithLeakOptions(
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*controlBuffer).get"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*http2Client).keepalive"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*http2Client).reader"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc.(*addrConn).resetTransport"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc.(*ccBalancerWrapper).watcher"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.newHTTP2Client.func6"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*http2Client).reader.func1"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.newHTTP2Client.func3"),
	goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*loopyWriter).run"),
	goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))

func TestConformanceInventory(t *testing.T) {
	containerdct.Connect(t)
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return ctr.NewInventoryCollector(ctr.InventoryOptions{}, hour, engine(t))
	}, collectortest.WithWait(10*time.Second), grpcConn)
}

func TestConformanceActivity(t *testing.T) {
	cli, image := containerdct.Connect(t)
	prefix := containerdct.Prefix(t)
	n := 0
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		e := engine(t)
		return ctr.NewActivityCollector(ctr.ActivityOptions{Resolver: ctr.NewResolver(ctr.ResolverOptions{}, e)}, e)
	}, collectortest.WithWait(10*time.Second), collectortest.WithTrigger(func(t *testing.T) {
		n++
		c := containerdct.Create(t, cli, image, prefix, containertest.Case{Name: "trigger" + string(rune('a'+n%26)) + string(rune('a'+n/26%26))})
		containerdct.Remove(cli, c.ID)
	}), grpcConn)
}

func analyser(inv []event.ContainerInventoryPayload) []event.DeploymentRecommendationPayload {
	var out []event.DeploymentRecommendationPayload
	for _, c := range inv {
		if c.Privileged {
			out = append(out, event.DeploymentRecommendationPayload{RuleID: "TEST002", Severity: event.FindingHigh, Title: "Privileged container", Module: c.ModuleName, Evidence: c.Namespace + "/" + c.Name})
		}
	}
	return out
}

func TestRecommendations(t *testing.T) {
	cli, image := containerdct.Connect(t)
	e := engine(t)
	c := containerdct.Create(t, cli, image, containerdct.Prefix(t), containertest.Case{Name: "priv", Privileged: true})
	inv := ctr.NewInventory(ctr.InventoryOptions{}, e)
	evs, err := ctr.NewRecommendations(inv, analyser).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range evs[0].Payload {
		if p := it.(*event.DeploymentRecommendationPayload); p.Evidence == containerdct.Namespace+"/"+c.Name && p.Source == ctr.SourceRuntime {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding for %s", c.Name)
	}
	validate(t, evs)
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		return ctr.NewRecommendationCollector(inv, analyser, hour)
	}, collectortest.WithWait(10*time.Second), grpcConn)
}

// TestHangingEngineIsBounded points the engine at a socket that accepts
// connections and never speaks gRPC.
func TestHangingEngineIsBounded(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	e := containerd.New(containerd.Options{Sockets: []string{"unix://" + sock}, CallTimeout: 300 * time.Millisecond})
	defer e.Close()
	start := time.Now()
	evs, err := ctr.NewInventory(ctr.InventoryOptions{Timeout: time.Second}, e).Poll(context.Background())
	if err == nil || len(evs) != 0 {
		t.Fatalf("Poll = %v, %v", evs, err)
	}
	if !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("error %v", err)
	}
	if err := e.Watch(context.Background(), time.Time{}, nil, func(ctr.Activity) {}); err == nil {
		t.Fatal("Watch on a hanging engine returned nil")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v against a hanging engine", d)
	}
}
