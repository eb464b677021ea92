package moby

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
)

// Bounds on what one inventory item keeps.
const (
	maxString  = 1024 // bytes of a name, image, user, profile
	maxPath    = 4096 // bytes of a mount path
	maxMounts  = 128
	maxDevices = 128
	maxCaps    = 64
	maxCommand = 4096 // bytes of an exec command
)

// ExtraDetails keys of the Moby inventory items.
const (
	KeyRestartCount     = "RestartCount"
	KeyExitCode         = "ExitCode"
	KeyOOMKilled        = "OomKilled"
	KeyImageID          = "ImageId"
	KeySecurityOpt      = "SecurityOpt"  // the raw --security-opt list, comma separated
	KeyCgroupnsMode     = "CgroupnsMode" // "host" is a risk
	KeyMountsTruncated  = "MountsTruncated"
	KeyDevicesTruncated = "DevicesTruncated"
)

// inspectResponse is the part of a container inspect answer (GET
// /containers/{id}/json) that the inventory reads; the field names are the
// Engine API's (unchanged from API 1.40 to 1.56). Unknown fields are
// ignored.
type inspectResponse struct {
	ID              string `json:"Id"`
	Name            string `json:"Name"`
	Image           string `json:"Image"`
	RestartCount    int    `json:"RestartCount"`
	AppArmorProfile string `json:"AppArmorProfile"`
	Config          *struct {
		Image  string            `json:"Image"`
		User   string            `json:"User"`
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	State *struct {
		Status     string `json:"Status"`
		Running    bool   `json:"Running"`
		OOMKilled  bool   `json:"OOMKilled"`
		ExitCode   int    `json:"ExitCode"`
		StartedAt  string `json:"StartedAt"`
		FinishedAt string `json:"FinishedAt"`
	} `json:"State"`
	HostConfig *hostConfig  `json:"HostConfig"`
	Mounts     []mountPoint `json:"Mounts"`
}

type hostConfig struct {
	Privileged     bool     `json:"Privileged"`
	NetworkMode    string   `json:"NetworkMode"`
	PidMode        string   `json:"PidMode"`
	IpcMode        string   `json:"IpcMode"`
	UTSMode        string   `json:"UTSMode"`
	CgroupnsMode   string   `json:"CgroupnsMode"`
	CapAdd         []string `json:"CapAdd"`
	CapDrop        []string `json:"CapDrop"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	RestartPolicy  struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
	Memory    int64 `json:"Memory"`
	NanoCPUs  int64 `json:"NanoCpus"`
	CPUQuota  int64 `json:"CpuQuota"`
	CPUPeriod int64 `json:"CpuPeriod"`
	Devices   []struct {
		PathOnHost        string `json:"PathOnHost"`
		PathInContainer   string `json:"PathInContainer"`
		CgroupPermissions string `json:"CgroupPermissions"`
	} `json:"Devices"`
	SecurityOpt []string `json:"SecurityOpt"`
}

type mountPoint struct {
	Type        string `json:"Type"`
	Name        string `json:"Name"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	RW          bool   `json:"RW"`
}

// decodeInspect decodes a container inspect answer.
func decodeInspect(data []byte) (*inspectResponse, error) {
	var c inspectResponse
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("moby: container inspect: %w", err)
	}
	return &c, nil
}

// ParseInspect decodes one container inspect answer (GET
// /containers/{id}/json, what `docker inspect` prints one element of) and
// maps it to an inventory item. It bounds every string and list it
// copies, and fails only when the answer is not JSON or has no id.
func ParseInspect(data []byte) (event.ContainerInventoryPayload, error) {
	c, err := decodeInspect(data)
	if err != nil {
		return event.ContainerInventoryPayload{}, err
	}
	return fromInspect(c)
}

// identity is what Lookup keeps of an inspect answer.
func identity(c *inspectResponse) ctr.Identity {
	id := ctr.Identity{ID: c.ID, Name: ctr.Truncate(strings.TrimPrefix(c.Name, "/"), maxString)}
	if c.Config != nil {
		id.Image = ctr.Truncate(c.Config.Image, maxString)
		id.Module = ctr.ModuleName(id.Name, c.Config.Labels)
	}
	return id
}

func fromInspect(c *inspectResponse) (event.ContainerInventoryPayload, error) {
	if c == nil || strings.TrimSpace(c.ID) == "" {
		return event.ContainerInventoryPayload{}, errors.New("moby: container inspect: no container id")
	}
	p := event.ContainerInventoryPayload{
		ContainerID:  ctr.Truncate(c.ID, maxString),
		Name:         ctr.Truncate(strings.TrimPrefix(c.Name, "/"), maxString),
		Runtime:      ctr.RuntimeMoby,
		ImageDigest:  ctr.Truncate(c.Image, maxString),
		CapAdd:       []string{},
		CapDrop:      []string{},
		Mounts:       []event.Mount{},
		Devices:      []string{},
		ExtraDetails: event.ExtraDetails{},
	}
	if p.Name == "" {
		p.Name = shortID(p.ContainerID)
	}
	x := p.ExtraDetails
	var labels map[string]string
	if cfg := c.Config; cfg != nil {
		p.Image = ctr.Truncate(cfg.Image, maxString)
		p.User = ctr.Truncate(cfg.User, maxString)
		labels = cfg.Labels
	}
	if p.Image == "" {
		p.Image = p.ImageDigest
	}
	if s := c.State; s != nil {
		p.State = ctr.Truncate(s.Status, maxString)
		p.StartedAt = engineTime(s.StartedAt)
		p.FinishedAt = engineTime(s.FinishedAt)
		if s.OOMKilled {
			x[KeyOOMKilled] = "true"
		}
		if !s.Running && p.FinishedAt != "" {
			x[KeyExitCode] = strconv.Itoa(s.ExitCode)
		}
	}
	if p.State == "" {
		p.State = "unknown"
	}
	if c.RestartCount > 0 {
		x[KeyRestartCount] = strconv.Itoa(c.RestartCount)
	}
	p.AppArmorProfile = ctr.Truncate(c.AppArmorProfile, maxString)
	if h := c.HostConfig; h != nil {
		p.Privileged = h.Privileged
		p.NetworkMode = ctr.Truncate(h.NetworkMode, maxString)
		p.PidMode = ctr.Truncate(h.PidMode, maxString)
		p.IpcMode = ctr.Truncate(h.IpcMode, maxString)
		p.UtsMode = ctr.Truncate(h.UTSMode, maxString)
		if h.CgroupnsMode != "" {
			x[KeyCgroupnsMode] = ctr.Truncate(h.CgroupnsMode, maxString)
		}
		p.CapAdd = caps(h.CapAdd)
		p.CapDrop = caps(h.CapDrop)
		p.ReadOnlyRootfs = h.ReadonlyRootfs
		if rp := h.RestartPolicy; rp.Name != "" && rp.Name != "no" {
			p.RestartPolicy = ctr.Truncate(rp.Name, maxString)
			if rp.MaximumRetryCount > 0 {
				p.RestartPolicy += ":" + strconv.Itoa(rp.MaximumRetryCount)
			}
		} else {
			p.RestartPolicy = "no"
		}
		p.MemoryLimit = h.Memory
		p.NanoCPUs = h.NanoCPUs
		if p.NanoCPUs == 0 && h.CPUQuota > 0 {
			period := h.CPUPeriod
			if period <= 0 {
				period = 100000 // the kernel's default CFS period, µs
			}
			p.NanoCPUs = h.CPUQuota * 1e9 / period
		}
		for i, d := range h.Devices {
			if i >= maxDevices {
				x[KeyDevicesTruncated] = "true"
				break
			}
			in := d.PathInContainer
			if in == "" {
				in = d.PathOnHost
			}
			perm := d.CgroupPermissions
			if perm == "" {
				perm = "rwm"
			}
			p.Devices = append(p.Devices, ctr.Truncate(d.PathOnHost+":"+in+":"+perm, maxPath))
		}
		applySecurityOpt(&p, h.SecurityOpt)
	}
	if p.SeccompProfile == "" {
		p.SeccompProfile = "default"
	}
	if p.Privileged {
		// Moby runs privileged containers without seccomp or AppArmor.
		p.SeccompProfile = "unconfined"
		if p.AppArmorProfile == "" {
			p.AppArmorProfile = "unconfined"
		}
	}
	for i, m := range c.Mounts {
		if i >= maxMounts {
			x[KeyMountsTruncated] = "true"
			break
		}
		p.Mounts = append(p.Mounts, mount(m))
	}
	p.ModuleName = ctr.ModuleName(p.Name, labels)
	kept, notes := ctr.LabelsOfInterest(labels)
	p.Labels = kept
	for k, v := range notes {
		x[k] = v
	}
	if len(x) == 0 {
		p.ExtraDetails = nil
	}
	return p, nil
}

func mount(m mountPoint) event.Mount {
	out := event.Mount{
		Type:        ctr.Truncate(m.Type, maxString),
		Source:      ctr.Truncate(m.Source, maxPath),
		Destination: ctr.Truncate(m.Destination, maxPath),
		ReadOnly:    !m.RW,
	}
	switch m.Type {
	case "volume":
		if m.Name != "" {
			out.Source = ctr.Truncate(m.Name, maxPath)
		}
	case "bind", "":
		if out.Type == "" {
			out.Type = "bind"
		}
		out.Risk = ctr.MountRisk(m.Source)
	}
	return out
}

func caps(in []string) []string {
	out := make([]string, 0, min(len(in), maxCaps))
	for _, c := range in {
		if len(out) >= maxCaps {
			break
		}
		if c = ctr.NormalizeCap(c); c != "" {
			out = append(out, ctr.Truncate(c, maxString))
		}
	}
	sort.Strings(out)
	return out
}

// applySecurityOpt reads seccomp, AppArmor and no-new-privileges from
// Moby's security options ("seccomp=unconfined", the old "seccomp:…"
// form, "apparmor=…", "no-new-privileges", "no-new-privileges=true").
func applySecurityOpt(p *event.ContainerInventoryPayload, opts []string) {
	var raw []string
	for _, o := range opts {
		if len(raw) < 32 {
			raw = append(raw, ctr.Truncate(o, 256))
		}
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "seccomp":
			switch {
			case !ok:
			case v == "unconfined":
				p.SeccompProfile = "unconfined"
			case strings.HasPrefix(strings.TrimSpace(v), "{"):
				p.SeccompProfile = "custom" // an inline profile (the CLI sends the file's JSON)
			default:
				p.SeccompProfile = ctr.Truncate(v, maxString)
			}
		case "apparmor":
			if ok {
				p.AppArmorProfile = ctr.Truncate(v, maxString)
			}
		case "no-new-privileges":
			p.NoNewPrivileges = !ok || v == "" || v == "true" || v == "1"
		}
	}
	if len(raw) > 0 {
		p.ExtraDetails[KeySecurityOpt] = ctr.Truncate(strings.Join(raw, ","), maxPath)
	}
}

// engineTime returns an engine timestamp as RFC 3339 in UTC, or "" for
// the zero time and unparsable values.
func engineTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() || t.Year() <= 1 {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// containerActions are the container events reported, and imageActions
// the image ones; the others (health_status, top, resize…) are noise.
var (
	containerActions = map[string]bool{
		"create": true, "start": true, "restart": true, "stop": true, "die": true, "kill": true, "oom": true,
		"destroy": true, "pause": true, "unpause": true, "rename": true, "update": true, "attach": true,
		"exec_create": true, "exec_start": true, "exec_die": true, "export": true, "commit": true, "copy": true,
		"archive-path": true, "extract-to-dir": true,
	}
	imageActions = map[string]bool{"pull": true, "delete": true, "import": true, "load": true, "tag": true, "untag": true, "push": true, "save": true}
)

// ExtraDetails keys of the Moby activity items.
const (
	KeyExecID = "ExecId"
	KeySignal = "Signal"
)

// message is the part of an event of GET /events that the activity
// stream reads (API 1.40 to 1.56; the deprecated status/id/from fields are
// not read).
type message struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// ParseEvent decodes one event of the engine's stream (one line of GET
// /events) and maps it to an activity. ok is false for events that are
// not reported (other types, noisy actions, no id); err is set only when
// line is not an event.
func ParseEvent(line []byte) (a ctr.Activity, ok bool, err error) {
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		return ctr.Activity{}, false, fmt.Errorf("moby: event: %w", err)
	}
	a, ok = fromMessage(&m)
	return a, ok, nil
}

func fromMessage(m *message) (ctr.Activity, bool) {
	action, arg, _ := strings.Cut(m.Action, ":")
	action = strings.TrimSpace(action)
	arg = strings.TrimSpace(arg)
	a := ctr.Activity{Payload: event.ContainerActivityPayload{Action: action, Runtime: ctr.RuntimeMoby}}
	switch {
	case m.TimeNano > 0:
		a.Time = time.Unix(0, m.TimeNano)
	case m.Time > 0:
		a.Time = time.Unix(m.Time, 0)
	default:
		a.Time = time.Now()
	}
	attrs := m.Actor.Attributes
	p := &a.Payload
	switch m.Type {
	case "container":
		if !containerActions[action] || m.Actor.ID == "" {
			return a, false
		}
		p.ContainerID = ctr.Truncate(m.Actor.ID, maxString)
		p.ContainerName = ctr.Truncate(attrs["name"], maxString)
		p.Image = ctr.Truncate(attrs["image"], maxString)
		p.ModuleName = ctr.ModuleName(p.ContainerName, attrs)
		x := event.ExtraDetails{}
		if action == "die" {
			if code, err := strconv.Atoi(attrs["exitCode"]); err == nil {
				p.ExitCode = &code
			}
		}
		if s := attrs["signal"]; s != "" {
			x[KeySignal] = ctr.Truncate(s, 64)
			a.Key = s
		}
		if id := attrs["execID"]; id != "" {
			x[KeyExecID] = ctr.Truncate(id, maxString)
			a.Key = id
		}
		if strings.HasPrefix(action, "exec_") && action != "exec_die" {
			p.Command = ctr.Truncate(arg, maxCommand)
		}
		if action == "die" && p.ExitCode == nil && attrs["exitCode"] != "" {
			x[KeyExitCode] = ctr.Truncate(attrs["exitCode"], 64)
		}
		if len(x) > 0 {
			p.ExtraDetails = x
		}
	case "image":
		if !imageActions[action] {
			return a, false
		}
		p.Image = ctr.Truncate(attrs["name"], maxString)
		if p.Image == "" {
			p.Image = ctr.Truncate(m.Actor.ID, maxString)
		}
		if p.Image == "" {
			return a, false
		}
		a.Key = ctr.Truncate(m.Actor.ID, maxString)
	default:
		return a, false
	}
	return a, true
}
