// Package containertest holds what the container collectors' tests share:
// the test daemons' environment (scripts/test-services), private daemons
// for restart tests, and one table of containers with risky settings with
// the inventory each one must produce, whatever the runtime. The
// sub-packages mobyct and containerdct create the table's containers with
// each engine's own client, so a test links only the client it needs.
package containertest

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
)

// Environment variables set by scripts/test-services.
const (
	EnvContainerd = "EDGESEC_TEST_CONTAINERD" // containerd socket path
	EnvDocker     = "EDGESEC_TEST_DOCKER"     // unix://… docker socket
	EnvImage      = "EDGESEC_TEST_IMAGE"      // busybox image name (docker; containerd has it as docker.io/…)
)

// Env returns the test daemons' settings, or skips t with the reason when
// scripts/test-services has not been run.
func Env(t testing.TB, key string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		t.Skipf("needs the test daemons: %s is not set (run: eval \"$(scripts/test-services)\")", key)
	}
	return v
}

// NeedRoot skips t unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: container engines and private daemons")
	}
}

// Bind is a bind mount of a Case.
type Bind struct {
	Source, Destination string
	ReadOnly            bool
}

// Case is a container with settings the inventory must report.
type Case struct {
	Name              string // suffix of the container name
	Cmd               []string
	HostNetwork       bool
	HostPID           bool
	HostIPC           bool
	HostUTS           bool
	Privileged        bool // created only: privileged containers cannot start here
	Binds             []Bind
	CapAdd, CapDrop   []string // without CAP_
	Devices           []string // host device paths, mapped to the same path
	SeccompUnconfined bool
	NoNewPrivileges   bool
	ReadOnlyRootfs    bool
	MemoryLimit       int64
	NanoCPUs          int64
	Restart           string // "always", "on-failure:3", "unless-stopped", "" (no)
	User              string // "uid:gid"
	Labels            map[string]string
	Start             bool
	// WantModule is the expected ModuleName ("" when not an Edge module).
	WantModule bool
}

// Long-running command of the cases that are started.
var sleeper = []string{"/bin/sleep", "600"}

// CreateOptionsChunks is IoT Edge's create options, split as edgeAgent
// splits them over labels; the whole is CreateOptionsWhole (with the
// secret redacted once reassembled: CreateOptionsRedacted).
var (
	CreateOptionsWhole    = `{"HostConfig":{"Binds":["/var/run/docker.sock:/var/run/docker.sock"],"Privileged":false},"Env":["SAS_KEY=hunter2","LogLevel=debug"]}`
	CreateOptionsRedacted = `{"Env":["SAS_KEY=<redacted>","LogLevel=debug"],"HostConfig":{"Binds":["/var/run/docker.sock:/var/run/docker.sock"],"Privileged":false}}`
)

// EdgeLabels returns labels like edgeAgent's, with the create options split
// in chunks of n bytes.
func EdgeLabels(n int) map[string]string {
	l := map[string]string{
		ctr.LabelEdgeOwner:                      "Microsoft.Azure.Devices.Edge.Agent",
		"net.azure-devices.edge.version":        "1.5.0",
		"net.azure-devices.edge.original-image": "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.5",
		"unrelated.label":                       "not reported",
	}
	s := CreateOptionsWhole
	for i := 0; len(s) > 0; i++ {
		k := ctr.LabelEdgeCreateOptions
		if i > 0 {
			k += fmt.Sprintf("%02d", i)
		}
		m := min(n, len(s))
		l[k] = s[:m]
		s = s[m:]
	}
	return l
}

// Cases returns the behavioural table; every container name starts with
// prefix.
func Cases() []Case {
	return []Case{
		{Name: "plain", Cmd: sleeper, Start: true},
		{Name: "hostns", Cmd: sleeper, Start: true, HostNetwork: true, HostPID: true, HostIPC: true, HostUTS: true},
		{Name: "sock", Binds: []Bind{{Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock"}, {Source: "/", Destination: "/host", ReadOnly: true}, {Source: "/etc", Destination: "/hostetc", ReadOnly: true}}},
		{Name: "caps", Cmd: sleeper, Start: true, CapAdd: []string{"NET_ADMIN", "SYS_ADMIN"}, CapDrop: []string{"MKNOD", "NET_RAW"}},
		{Name: "dev", Cmd: sleeper, Start: true, Devices: []string{"/dev/zero"}},
		{Name: "seccomp", Cmd: sleeper, Start: true, SeccompUnconfined: true},
		{Name: "locked", Cmd: sleeper, Start: true, ReadOnlyRootfs: true, NoNewPrivileges: true, MemoryLimit: 64 << 20, NanoCPUs: 500_000_000, User: "1000:1000", Restart: "on-failure:3"},
		{Name: "edge", Cmd: sleeper, Start: true, Restart: "always", Labels: EdgeLabels(40), WantModule: true},
		{Name: "priv", Privileged: true},
	}
}

// Created is a container of a Case as created by an engine helper.
type Created struct {
	Case Case
	ID   string
	Name string // the name the inventory must report
}

// Find returns the inventory item of id.
func Find(items []event.ContainerInventoryPayload, id string) (event.ContainerInventoryPayload, bool) {
	for _, it := range items {
		if it.ContainerID == id {
			return it, true
		}
	}
	return event.ContainerInventoryPayload{}, false
}

// CheckInventory asserts every field of p that c determines. runtime is
// ctr.RuntimeMoby or ctr.RuntimeContainerd.
func CheckInventory(t testing.TB, runtime string, c Created, p event.ContainerInventoryPayload) {
	t.Helper()
	k := c.Case
	errf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s %s: "+format, append([]any{runtime, k.Name}, args...)...)
	}
	eq := func(field string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			errf("%s = %v, want %v", field, got, want)
		}
	}
	eq("ContainerID", p.ContainerID, c.ID)
	eq("Name", p.Name, c.Name)
	eq("Runtime", p.Runtime, runtime)
	if p.Image == "" || !strings.Contains(p.Image, "busybox") {
		errf("Image = %q, want the busybox test image", p.Image)
	}
	if !strings.HasPrefix(p.ImageDigest, "sha256:") {
		errf("ImageDigest = %q, want sha256:…", p.ImageDigest)
	}
	if k.Start {
		eq("State", p.State, "running")
		if p.StartedAt == "" {
			errf("StartedAt empty for a running container")
		}
	} else {
		eq("State", p.State, "created")
	}
	eq("Privileged", p.Privileged, k.Privileged)
	eq("host network", p.NetworkMode == "host", k.HostNetwork)
	eq("host pid", p.PidMode == "host", k.HostPID)
	eq("host ipc", p.IpcMode == "host", k.HostIPC)
	eq("host uts", p.UtsMode == "host", k.HostUTS)
	if k.User != "" {
		eq("User", p.User, k.User)
	}
	if !k.Privileged {
		eq("CapAdd", p.CapAdd, sorted(k.CapAdd))
		eq("CapDrop", p.CapDrop, sorted(k.CapDrop))
	} else if runtime == ctr.RuntimeContainerd && !slices.Contains(p.CapAdd, "SYS_ADMIN") {
		errf("privileged container without SYS_ADMIN: %v", p.CapAdd)
	}
	for _, b := range k.Binds {
		var found *event.Mount
		for i := range p.Mounts {
			if p.Mounts[i].Destination == b.Destination {
				found = &p.Mounts[i]
			}
		}
		if found == nil {
			errf("no mount at %s in %+v", b.Destination, p.Mounts)
			continue
		}
		eq("mount "+b.Destination+" Type", found.Type, "bind")
		eq("mount "+b.Destination+" Source", found.Source, b.Source)
		eq("mount "+b.Destination+" ReadOnly", found.ReadOnly, b.ReadOnly)
		eq("mount "+b.Destination+" Risk", found.Risk, ctr.MountRisk(b.Source))
		if found.Risk == "" {
			errf("mount of %s not flagged", b.Source)
		}
	}
	if len(k.Binds) == 0 {
		for _, m := range p.Mounts {
			if m.Type == "bind" {
				errf("unexpected bind mount %+v", m)
			}
		}
	}
	for _, d := range k.Devices {
		if !slices.Contains(p.Devices, d+":"+d+":rwm") {
			errf("Devices = %v, want %s:%s:rwm", p.Devices, d, d)
		}
	}
	if len(k.Devices) == 0 && !k.Privileged && len(p.Devices) != 0 {
		errf("Devices = %v, want none", p.Devices)
	}
	eq("ReadOnlyRootfs", p.ReadOnlyRootfs, k.ReadOnlyRootfs)
	switch {
	case k.SeccompUnconfined || k.Privileged:
		eq("SeccompProfile", p.SeccompProfile, "unconfined")
	default:
		eq("SeccompProfile", p.SeccompProfile, "default")
	}
	eq("NoNewPrivileges", p.NoNewPrivileges, k.NoNewPrivileges)
	want := k.Restart
	if want == "" {
		want = "no"
	}
	eq("RestartPolicy", p.RestartPolicy, want)
	eq("MemoryLimit", p.MemoryLimit, k.MemoryLimit)
	eq("NanoCPUs", p.NanoCPUs, k.NanoCPUs)
	if k.WantModule {
		eq("ModuleName", p.ModuleName, c.Name)
		eq("create options", p.Labels[ctr.LabelEdgeCreateOptions], CreateOptionsRedacted)
		eq("owner label", p.Labels[ctr.LabelEdgeOwner], k.Labels[ctr.LabelEdgeOwner])
		if _, ok := p.Labels["unrelated.label"]; ok {
			errf("unrelated label reported")
		}
		for l := range p.Labels {
			if strings.HasPrefix(l, ctr.LabelEdgeCreateOptions+"0") {
				errf("chunk label %s reported on its own", l)
			}
		}
		eq("EnvRedacted", p.ExtraDetails[ctr.KeyEnvRedacted], "true")
	} else {
		eq("ModuleName", p.ModuleName, "")
		if p.Labels[ctr.LabelEdgeOwner] != "" {
			errf("Labels = %v", p.Labels)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	sort.Strings(out)
	return out
}

// Labels returns c's labels plus the test marker label.
func Labels(c Case, marker string) map[string]string {
	l := maps.Clone(c.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l[MarkerLabel] = marker
	return l
}

// MarkerLabel marks the containers a test created, for cleanup.
const MarkerLabel = "edgesec.test"
