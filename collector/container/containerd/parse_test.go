package containerd_test

import (
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector/container/containerd"
)

func TestParseStartTime(t *testing.T) {
	st, err := containerd.ParseStartTime([]byte("42 (a) b) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 250 1 1"), []byte("cpu 1\nbtime 1000\n"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Equal(time.Unix(1002, 500_000_000)) {
		t.Errorf("start %v", st)
	}
	if _, err := containerd.ParseStartTime([]byte("42 (a"), nil, 100); err == nil {
		t.Error("truncated stat accepted")
	}
}

func TestFromContainerBadSpec(t *testing.T) {
	p, err := containerd.FromContainer(&containerd.Container{ID: "x", Spec: []byte(`{"process":`)})
	if err != nil || p.ExtraDetails[containerd.KeySpecError] == "" || p.SeccompProfile != "" {
		t.Errorf("%+v %v", p, err)
	}
}

func FuzzFromContainer(f *testing.F) {
	f.Add([]byte(`{"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN"]}},"linux":{"namespaces":[{"type":"pid"}],"devices":[{"path":"/dev/zero","type":"c","major":1,"minor":5}],"resources":{"devices":[{"allow":true,"access":"rwm"}]}},"mounts":[{"type":"bind","source":"/","destination":"/host","options":["rbind","ro"]}]}`))
	f.Add([]byte(`{"linux":{"resources":{"cpu":{"quota":-5,"period":0}}}}`))
	f.Fuzz(func(t *testing.T, spec []byte) {
		p, err := containerd.FromContainer(&containerd.Container{ID: "x", Namespace: "n", Spec: spec, Labels: map[string]string{"net.azure-devices.edge.create-options": string(spec)}})
		if err != nil || p.ContainerID != "x" {
			t.Fatal(err)
		}
	})
}
