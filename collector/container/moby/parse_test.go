package moby_test

import (
	"os"
	"testing"

	"github.com/moby/moby/api/types/events"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
)

func TestParseInspectFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/inspect-edge.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := moby.ParseInspect(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "edgesec-fixture" || p.ModuleName != "edgesec-fixture" || p.State != "created" || len(p.CapAdd) != 1 || p.CapAdd[0] != "NET_ADMIN" {
		t.Errorf("%+v", p)
	}
	if len(p.Mounts) != 1 || p.Mounts[0].Risk != ctr.RiskDockerSocket {
		t.Errorf("mounts %+v", p.Mounts)
	}
}

func TestFromMessageExec(t *testing.T) {
	a, ok := moby.FromMessage(&events.Message{Type: events.ContainerEventType, Action: "exec_start: /bin/sh -c id", TimeNano: 5,
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{"name": "edgeHub", "execID": "e1", ctr.LabelEdgeOwner: "x"}}})
	if !ok || a.Payload.Action != "exec_start" || a.Payload.Command != "/bin/sh -c id" || a.Payload.ModuleName != "edgeHub" || a.Key != "e1" {
		t.Errorf("%+v", a)
	}
	if _, ok := moby.FromMessage(&events.Message{Type: events.ContainerEventType, Action: "health_status: healthy", Actor: events.Actor{ID: "abc"}}); ok {
		t.Error("health_status reported")
	}
}

func FuzzParseInspect(f *testing.F) {
	if b, err := os.ReadFile("testdata/inspect-edge.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"Id":"x","HostConfig":{"SecurityOpt":["seccomp","apparmor=","no-new-privileges=false"],"CpuQuota":5}}`))
	f.Add([]byte(`{"Id":"x","Config":{"Labels":{"net.azure-devices.edge.create-options":"{"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := moby.ParseInspect(b)
		if err == nil && p.ContainerID == "" {
			t.Fatal("item without id")
		}
	})
}
