package container

import (
	"strings"
	"testing"
)

func TestCreateOptionsReassembled(t *testing.T) {
	whole := `{"HostConfig":{"Privileged":true},"Env":["A=1"]}`
	labels := map[string]string{LabelEdgeOwner: "Microsoft.Azure.Devices.Edge.Agent"}
	for i, n := 0, 0; n < len(whole); i++ {
		k := LabelEdgeCreateOptions
		if i > 0 {
			k += string(rune('0'+i/10)) + string(rune('0'+i%10))
		}
		m := min(7, len(whole)-n)
		labels[k] = whole[n : n+m]
		n += m
	}
	kept, notes := LabelsOfInterest(labels)
	if got := kept[LabelEdgeCreateOptions]; got != whole {
		t.Fatalf("create options %q, want %q", got, whole)
	}
	if notes[KeyCreateOptionsChunks] != "7" {
		t.Errorf("notes %v", notes)
	}
}

func TestLabelsHostile(t *testing.T) {
	for name, tc := range map[string]struct {
		labels map[string]string
		check  func(t *testing.T, kept, notes map[string]string)
	}{
		"huge value": {map[string]string{"net.azure-devices.edge.version": strings.Repeat("x", 10<<20)}, func(t *testing.T, kept, notes map[string]string) {
			if len(kept["net.azure-devices.edge.version"]) != MaxLabelValue || notes[KeyLabelsTruncated] != "true" {
				t.Errorf("len %d notes %v", len(kept["net.azure-devices.edge.version"]), notes)
			}
		}},
		"odd create options": {map[string]string{LabelEdgeCreateOptions: `{"HostConfig":`, "net.azure-devices.edge.create-options01": "\xff\xfe not json"}, func(t *testing.T, kept, notes map[string]string) {
			if notes[KeyCreateOptionsInvalid] != "true" || !strings.HasPrefix(kept[LabelEdgeCreateOptions], `{"HostConfig":`) {
				t.Errorf("kept %q notes %v", kept, notes)
			}
		}},
		"create options array": {map[string]string{LabelEdgeCreateOptions: `[1,2]`}, func(t *testing.T, kept, notes map[string]string) {
			if notes[KeyCreateOptionsInvalid] != "true" {
				t.Errorf("notes %v", notes)
			}
		}},
		"huge create options": {map[string]string{LabelEdgeCreateOptions: `{"Env":["` + strings.Repeat("y", 1<<20) + `"]}`}, func(t *testing.T, kept, notes map[string]string) {
			if len(kept[LabelEdgeCreateOptions]) > MaxCreateOptions || notes[KeyCreateOptionsTruncated] != "true" {
				t.Errorf("len %d notes %v", len(kept[LabelEdgeCreateOptions]), notes)
			}
		}},
		"many labels": {func() map[string]string {
			m := map[string]string{}
			for i := 0; i < 1000; i++ {
				m[LabelEdgePrefix+strings.Repeat("k", i%50)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
			}
			return m
		}(), func(t *testing.T, kept, notes map[string]string) {
			if len(kept) != MaxLabels || notes[KeyLabelsTruncated] != "true" {
				t.Errorf("kept %d", len(kept))
			}
		}},
		"secret env label": {map[string]string{LabelEdgeEnv: `{"IOTHUB_CONNECTIONSTRING":{"value":"HostName=x;SharedAccessKey=abc"},"Level":{"value":"info"}}`}, func(t *testing.T, kept, notes map[string]string) {
			if strings.Contains(kept[LabelEdgeEnv], "SharedAccessKey") || !strings.Contains(kept[LabelEdgeEnv], "info") || notes[KeyEnvRedacted] != "true" {
				t.Errorf("env %q", kept[LabelEdgeEnv])
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			kept, notes := LabelsOfInterest(tc.labels)
			tc.check(t, kept, notes)
		})
	}
}

func TestMountRisk(t *testing.T) {
	for src, want := range map[string]string{
		"/var/run/docker.sock": RiskDockerSocket, "/run/edgesec-test/docker.sock": RiskDockerSocket,
		"/run/containerd/containerd.sock": RiskContainerdSocket, "/run/containerd": RiskContainerdSocket,
		"/": RiskHostRoot, "//": RiskHostRoot, "/etc/shadow": RiskSensitiveHostPath, "/var/lib/aziot/keyd": RiskSensitiveHostPath,
		"/proc": RiskSensitiveHostPath, "/srv/data": "", "/etcetera": "", "": "",
	} {
		if got := MountRisk(src); got != want {
			t.Errorf("MountRisk(%q) = %q, want %q", src, got, want)
		}
	}
}

func FuzzLabelsOfInterest(f *testing.F) {
	f.Add(`{"HostConfig":{}}`, `,"Env":["KEY=1"]}`, "Microsoft.Azure.Devices.Edge.Agent")
	f.Add("\xff", "{", "")
	f.Fuzz(func(t *testing.T, a, b, owner string) {
		kept, _ := LabelsOfInterest(map[string]string{LabelEdgeCreateOptions: a, LabelEdgeCreateOptions + "01": b, LabelEdgeOwner: owner, LabelEdgeEnv: b})
		for k, v := range kept {
			if k == LabelEdgeCreateOptions && len(v) > MaxCreateOptions || k != LabelEdgeCreateOptions && len(v) > MaxLabelValue {
				t.Fatalf("label %s of %d bytes", k, len(v))
			}
		}
	})
}
