package depcheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// deps lists the packages pkg links (go list -deps).
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command: " + err.Error())
	}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestLightImportsStayLight(t *testing.T) {
	heavy := []string{
		"github.com/containerd/",
		"github.com/moby/moby/", // the Moby engine speaks the Engine API on net/http itself
		"go.opentelemetry.io/",
		"github.com/eclipse/paho.mqtt.golang",
		"github.com/mochi-mqtt/",
		"google.golang.org/grpc",
		"go.etcd.io/bbolt",
		"github.com/cilium/ebpf",
	}
	cases := []struct {
		name  string
		pkgs  []string
		allow []string
	}{
		{"a host collector and the file transport", []string{
			"github.com/edgesec/edgesec/collector/connection", "github.com/edgesec/edgesec/collector/listening",
			"github.com/edgesec/edgesec/collector/users", "github.com/edgesec/edgesec/transport/file"}, nil},
		{"the proc connector process collector", []string{"github.com/edgesec/edgesec/collector/process"}, nil},
		{"the eBPF kernel events source", []string{"github.com/edgesec/edgesec/collector/kernel"}, []string{"github.com/cilium/ebpf"}},
		{"the container model without an engine", []string{"github.com/edgesec/edgesec/collector/container"}, nil},
		{"the manifest analyser", []string{"github.com/edgesec/edgesec/manifest"}, nil},
		{"the on-device analysis", []string{"github.com/edgesec/edgesec/detect"}, nil},
		{"the Moby engine", []string{"github.com/edgesec/edgesec/collector/container/moby"}, nil},
		{"the generic MQTT transport", []string{"github.com/edgesec/edgesec/transport/mqtt"}, []string{"github.com/eclipse/paho.mqtt.golang"}},
		{"the outbox with its memory store", []string{"github.com/edgesec/edgesec/outbox", "github.com/edgesec/edgesec/transport/file"}, nil},
		{"the outbox's bbolt store", []string{"github.com/edgesec/edgesec/outbox/boltstore"}, []string{"go.etcd.io/bbolt"}},
		{"the engine, a host collector and the file transport (no spool)", []string{"github.com/edgesec/edgesec",
			"github.com/edgesec/edgesec/collector/users", "github.com/edgesec/edgesec/transport/file", "github.com/edgesec/edgesec/stage"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range deps(t, c.pkgs...) {
				for _, h := range heavy {
					if strings.HasPrefix(d, h) && !allowed(d, c.allow) {
						t.Errorf("%v links %s", c.pkgs, d)
					}
				}
			}
		})
	}
}

// TestReferenceModuleLinks: the reference module links no Moby client
// library (its Moby engine is a small net/http client), and its Moby-only
// build (-tags nocontainerd, the image's) nothing of OpenTelemetry, gRPC
// or containerd either; the default build gets OpenTelemetry only through
// the containerd client.
func TestReferenceModuleLinks(t *testing.T) {
	const module = "github.com/edgesec/edgesec/examples/securitymodule"
	for _, c := range []struct {
		tags  string
		heavy []string
	}{
		{"", []string{"github.com/moby/moby/"}},
		{"nocontainerd", []string{"github.com/moby/moby/", "go.opentelemetry.io/", "google.golang.org/grpc", "github.com/containerd/"}},
	} {
		t.Run("tags="+c.tags, func(t *testing.T) {
			ds := deps(t, "-tags", c.tags, module)
			if !slices.Contains(ds, "github.com/edgesec/edgesec/collector/container/moby") {
				t.Fatalf("the module does not link the Moby engine: %v", ds)
			}
			for _, d := range ds {
				for _, h := range c.heavy {
					if strings.HasPrefix(d, h) {
						t.Errorf("the module (-tags %q) links %s", c.tags, d)
					}
				}
			}
		})
	}
}

func allowed(dep string, allow []string) bool {
	for _, a := range allow {
		if strings.HasPrefix(dep, a) {
			return true
		}
	}
	return false
}
