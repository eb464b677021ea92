package moby_test

import (
	"bytes"
	"os"
	"slices"
	"testing"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/collector/container/moby"
)

// The fixtures are answers of a real dockerd (20.10, API 1.41) to the
// requests the Backend sends: inspect-privileged.json is a container
// created with `docker create --privileged --network host --pid host
// --restart on-failure:3 -v /var/run/docker.sock:… -v /:/host:ro -v
// edgesec-fixture-vol:/data --device /dev/null:/dev/xnull:r --cap-add
// SYS_ADMIN --cap-drop NET_RAW --security-opt no-new-privileges
// --security-opt seccomp=unconfined --memory 64m --cpus 0.5 --read-only
// --user 1000:1000` and IoT Edge labels; inspect-exited.json one run with
// `--cpu-quota 50000 --ipc host --uts host --security-opt
// apparmor=unconfined`, exec'd into (`/bin/sh -c id`) and killed;
// events.jsonl the GET /events stream of those steps and of an image tag
// and untag.

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseInspectFixture(t *testing.T) {
	p, err := moby.ParseInspect(readFixture(t, "inspect-edge.json"))
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

func TestParseInspectPrivileged(t *testing.T) {
	p, err := moby.ParseInspect(readFixture(t, "inspect-privileged.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "edgesec-fixture-edgehub" || p.Image != "edgesec-test/busybox:latest" || p.State != "created" || p.User != "1000:1000" {
		t.Errorf("identity %+v", p)
	}
	if !p.Privileged || p.NetworkMode != "host" || p.PidMode != "host" || !p.ReadOnlyRootfs || !p.NoNewPrivileges {
		t.Errorf("isolation %+v", p)
	}
	if p.SeccompProfile != "unconfined" || p.AppArmorProfile != "unconfined" {
		t.Errorf("profiles seccomp %q apparmor %q", p.SeccompProfile, p.AppArmorProfile)
	}
	if !slices.Equal(p.CapAdd, []string{"SYS_ADMIN"}) || !slices.Equal(p.CapDrop, []string{"NET_RAW"}) {
		t.Errorf("caps %v %v", p.CapAdd, p.CapDrop)
	}
	if p.RestartPolicy != "on-failure:3" || p.MemoryLimit != 64<<20 || p.NanoCPUs != 5e8 {
		t.Errorf("restart %q memory %d cpus %d", p.RestartPolicy, p.MemoryLimit, p.NanoCPUs)
	}
	if !slices.Equal(p.Devices, []string{"/dev/null:/dev/xnull:r"}) {
		t.Errorf("devices %v", p.Devices)
	}
	mounts := map[string]string{}
	for _, m := range p.Mounts {
		mounts[m.Destination] = m.Type + " " + m.Source + " ro=" + map[bool]string{true: "y", false: "n"}[m.ReadOnly] + " " + m.Risk
	}
	want := map[string]string{
		"/var/run/docker.sock": "bind /var/run/docker.sock ro=n " + ctr.RiskDockerSocket,
		"/host":                "bind / ro=y " + ctr.RiskHostRoot,
		"/data":                "volume edgesec-fixture-vol ro=n ",
	}
	for d, w := range want {
		if mounts[d] != w {
			t.Errorf("mount %s = %q, want %q", d, mounts[d], w)
		}
	}
	if p.ExtraDetails[moby.KeyCgroupnsMode] != "host" || p.ExtraDetails[moby.KeySecurityOpt] != "no-new-privileges,seccomp=unconfined,label=disable" {
		t.Errorf("extra %v", p.ExtraDetails)
	}
}

func TestParseInspectExited(t *testing.T) {
	p, err := moby.ParseInspect(readFixture(t, "inspect-exited.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.State != "exited" || p.ExtraDetails[moby.KeyExitCode] != "137" || p.StartedAt == "" || p.FinishedAt == "" || p.FinishedAt < p.StartedAt {
		t.Errorf("state %q exit %v started %q finished %q", p.State, p.ExtraDetails, p.StartedAt, p.FinishedAt)
	}
	if p.IpcMode != "host" || p.UtsMode != "host" || p.AppArmorProfile != "unconfined" || p.SeccompProfile != "default" {
		t.Errorf("%+v", p)
	}
	if p.NanoCPUs != 5e8 { // CpuQuota 50000 of the default 100000 µs period
		t.Errorf("NanoCPUs %d from a CPU quota", p.NanoCPUs)
	}
	if p.RestartPolicy != "no" || len(p.Mounts) != 0 || p.Privileged {
		t.Errorf("%+v", p)
	}
}

func TestParseInspectErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"Id":""}`, `{"Id":"x","HostConfig":{"Memory":"lots"}}`, `{"Id":"x"`} {
		if p, err := moby.ParseInspect([]byte(in)); err == nil {
			t.Errorf("ParseInspect(%q) = %+v, want an error", in, p)
		}
	}
}

// TestParseEventFixture reads the captured stream: every line is an event,
// and the reported ones carry what the Backend's consumers need.
func TestParseEventFixture(t *testing.T) {
	lines := bytes.Split(bytes.TrimSpace(readFixture(t, "events.jsonl")), []byte("\n"))
	var got []string
	for _, l := range lines {
		a, ok, err := moby.ParseEvent(l)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if !ok {
			continue
		}
		p := a.Payload
		if a.Time.IsZero() || a.Time.Year() != 2026 || a.Time.Nanosecond() == 0 || p.Runtime != ctr.RuntimeMoby {
			t.Errorf("%s: time %v runtime %q", p.Action, a.Time, p.Runtime)
		}
		got = append(got, p.Action)
		switch p.Action {
		case "exec_create", "exec_start":
			if p.Command != "/bin/sh -c id" || p.ExtraDetails[moby.KeyExecID] == "" || a.Key != p.ExtraDetails[moby.KeyExecID] {
				t.Errorf("%s: %+v key %q", p.Action, p, a.Key)
			}
		case "kill":
			if p.ExtraDetails[moby.KeySignal] != "9" {
				t.Errorf("kill: %v", p.ExtraDetails)
			}
		case "die":
			if p.ExitCode == nil || *p.ExitCode != 137 {
				t.Errorf("die: exit code %v", p.ExitCode)
			}
		case "tag":
			if p.Image != "edgesec-test/fixture:tag" || p.ContainerID != "" {
				t.Errorf("tag: %+v", p)
			}
		}
		if p.ContainerID != "" && (p.ContainerName == "" || p.Image != "edgesec-test/busybox:latest" || p.ModuleName != p.ContainerName) {
			t.Errorf("%s: %+v", p.Action, p)
		}
	}
	want := []string{"create", "create", "start", "exec_create", "exec_start", "exec_die", "kill", "die", "tag", "untag"}
	if !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
}

func TestParseEventNotReported(t *testing.T) {
	for _, in := range []string{
		`{"Type":"container","Action":"health_status: healthy","Actor":{"ID":"abc"}}`,
		`{"Type":"container","Action":"start","Actor":{"ID":""}}`,
		`{"Type":"network","Action":"connect","Actor":{"ID":"abc"}}`,
		`{"Type":"image","Action":"pull","Actor":{"ID":""}}`,
	} {
		if a, ok, err := moby.ParseEvent([]byte(in)); ok || err != nil {
			t.Errorf("ParseEvent(%s) = %+v %v %v, want not reported", in, a, ok, err)
		}
	}
	if _, _, err := moby.ParseEvent([]byte(`{"Type":"container","time":"x"}`)); err == nil {
		t.Error("an event with a string time decoded")
	}
}

func FuzzParseInspect(f *testing.F) {
	for _, name := range []string{"inspect-edge.json", "inspect-privileged.json", "inspect-exited.json"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
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

func FuzzParseEvent(f *testing.F) {
	if b, err := os.ReadFile("testdata/events.jsonl"); err == nil {
		for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"Type":"container","Action":"exec_start: ` + string(bytes.Repeat([]byte("a"), 5000)) + `","Actor":{"ID":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok, err := moby.ParseEvent(b)
		if err != nil && ok {
			t.Fatal("an error and an activity")
		}
		if !ok {
			return
		}
		p := a.Payload
		if p.Runtime != ctr.RuntimeMoby || p.Action == "" || p.ContainerID == "" && p.Image == "" {
			t.Fatalf("reported without its subject: %+v", p)
		}
		if len(p.Command) > 4096 || len(p.ContainerID) > 1024 || len(p.Image) > 1024 {
			t.Fatalf("unbounded field: %d %d %d", len(p.Command), len(p.ContainerID), len(p.Image))
		}
	})
}
