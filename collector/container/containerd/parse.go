package containerd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctr "github.com/edgesec/edgesec/collector/container"
	"github.com/edgesec/edgesec/event"
)

// Bounds on what one inventory item keeps.
const (
	maxString  = 1024
	maxPath    = 4096
	maxMounts  = 128
	maxDevices = 128
	maxCaps    = 64
	maxCommand = 4096
	// MaxSpecBytes bounds the OCI spec parsed per container.
	MaxSpecBytes = 4 << 20
)

// ExtraDetails keys of the containerd inventory items.
const (
	KeyRuntimeName       = "RuntimeName"       // e.g. io.containerd.runc.v2
	KeyPid               = "Pid"               // the task's pid, when running
	KeyExitCode          = "ExitCode"          // of a stopped task
	KeyAllDevicesAllowed = "AllDevicesAllowed" // "true" when the device cgroup allows every device
	KeyCgroupnsMode      = "CgroupnsMode"      // "host" when the container shares the host's cgroup namespace
	KeyMountsTruncated   = "MountsTruncated"
	KeyDevicesTruncated  = "DevicesTruncated"
	KeySpecError         = "SpecError" // why the OCI spec could not be read
)

// defaultCaps is the capability set containerd (and Moby) give a container
// by default; CapAdd and CapDrop are computed against it.
var defaultCaps = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
	"NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// privilegedCaps is how many capabilities a privileged container has at
// least (Linux 5.x has 40 or 41; all of them are granted).
const privilegedCaps = 38

// Container is what the inventory knows of one containerd container,
// gathered by the Backend from the containers, tasks and images services.
type Container struct {
	Namespace   string
	ID          string
	Labels      map[string]string
	Image       string
	ImageDigest string
	Runtime     string
	Spec        []byte // the OCI spec, JSON
	// Task, when the container has one.
	Task *Task
}

// Task is the state of a container's task.
type Task struct {
	Status     string // "created", "running", "stopped", "paused", "pausing", "unknown"
	Pid        uint32
	ExitStatus uint32
	ExitedAt   time.Time
	StartedAt  time.Time // from the process's start time, when /proc is readable
}

// ParseSpec decodes an OCI runtime spec, bounded by MaxSpecBytes.
func ParseSpec(data []byte) (*specs.Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, fmt.Errorf("containerd: OCI spec of %d bytes is over the %d bytes bound", len(data), MaxSpecBytes)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("containerd: OCI spec: %w", err)
	}
	return &s, nil
}

// ContainerName is the name reported for a containerd container: nerdctl's
// name label, Kubernetes' pod/container labels, or the id.
func ContainerName(id string, labels map[string]string) string {
	if n := labels[ctr.LabelNerdctlName]; n != "" {
		return ctr.Truncate(n, maxString)
	}
	if c := labels[ctr.LabelK8sContainerName]; c != "" {
		if pod := labels[ctr.LabelK8sPodName]; pod != "" {
			return ctr.Truncate(pod+"/"+c, maxString)
		}
		return ctr.Truncate(c, maxString)
	}
	return ctr.Truncate(id, maxString)
}

// FromContainer maps a containerd container (its OCI spec, task and
// labels) to an inventory item. A spec that cannot be parsed leaves the
// security fields empty and is noted in ExtraDetails (SpecError); it fails
// only when the container has no id.
func FromContainer(c *Container) (event.ContainerInventoryPayload, error) {
	if c == nil || strings.TrimSpace(c.ID) == "" {
		return event.ContainerInventoryPayload{}, errors.New("containerd: container without id")
	}
	p := event.ContainerInventoryPayload{
		ContainerID:  ctr.Truncate(c.ID, maxString),
		Name:         ContainerName(c.ID, c.Labels),
		Runtime:      ctr.RuntimeContainerd,
		Namespace:    ctr.Truncate(c.Namespace, maxString),
		Image:        ctr.Truncate(c.Image, maxString),
		ImageDigest:  ctr.Truncate(c.ImageDigest, maxString),
		State:        "created",
		CapAdd:       []string{},
		CapDrop:      []string{},
		Mounts:       []event.Mount{},
		Devices:      []string{},
		ExtraDetails: event.ExtraDetails{},
	}
	x := p.ExtraDetails
	if c.Runtime != "" {
		x[KeyRuntimeName] = ctr.Truncate(c.Runtime, maxString)
	}
	if t := c.Task; t != nil {
		switch t.Status {
		case "stopped":
			p.State = "exited"
			x[KeyExitCode] = strconv.FormatUint(uint64(t.ExitStatus), 10)
		case "pausing":
			p.State = "paused"
		case "":
			p.State = "unknown"
		default:
			p.State = ctr.Truncate(t.Status, 32)
		}
		if t.Pid > 0 && p.State != "exited" {
			x[KeyPid] = strconv.FormatUint(uint64(t.Pid), 10)
		}
		if !t.StartedAt.IsZero() {
			p.StartedAt = t.StartedAt.UTC().Format(time.RFC3339Nano)
		}
		if !t.ExitedAt.IsZero() && t.ExitedAt.Year() > 1970 {
			p.FinishedAt = t.ExitedAt.UTC().Format(time.RFC3339Nano)
		}
	}
	p.RestartPolicy = "no"
	if rp := c.Labels[ctr.LabelContainerdRestart]; rp != "" {
		p.RestartPolicy = ctr.Truncate(rp, maxString)
	}
	p.ModuleName = ctr.ModuleName(p.Name, c.Labels)
	kept, notes := ctr.LabelsOfInterest(c.Labels)
	p.Labels = kept
	for k, v := range notes {
		x[k] = v
	}
	spec, err := ParseSpec(c.Spec)
	if err != nil {
		x[KeySpecError] = ctr.Truncate(err.Error(), maxString)
		return p, nil
	}
	applySpec(&p, spec)
	return p, nil
}

func applySpec(p *event.ContainerInventoryPayload, s *specs.Spec) {
	x := p.ExtraDetails
	if s.Root != nil {
		p.ReadOnlyRootfs = s.Root.Readonly
	}
	var bounding []string
	if pr := s.Process; pr != nil {
		if pr.User.Username != "" {
			p.User = ctr.Truncate(pr.User.Username, maxString)
		} else {
			p.User = fmt.Sprintf("%d:%d", pr.User.UID, pr.User.GID)
		}
		p.NoNewPrivileges = pr.NoNewPrivileges
		p.AppArmorProfile = ctr.Truncate(pr.ApparmorProfile, maxString)
		if pr.Capabilities != nil {
			bounding = pr.Capabilities.Bounding
			if len(bounding) == 0 {
				bounding = pr.Capabilities.Effective
			}
		}
	}
	have := map[string]bool{}
	for _, c := range bounding {
		have[ctr.NormalizeCap(c)] = true
	}
	def := map[string]bool{}
	for _, c := range defaultCaps {
		def[c] = true
		if !have[c] {
			p.CapDrop = append(p.CapDrop, c)
		}
	}
	for c := range have {
		if !def[c] && c != "" && len(p.CapAdd) < maxCaps {
			p.CapAdd = append(p.CapAdd, ctr.Truncate(c, maxString))
		}
	}
	if len(p.CapDrop) == len(defaultCaps) {
		p.CapDrop = []string{"ALL"}
	}
	sort.Strings(p.CapAdd)
	sort.Strings(p.CapDrop)

	p.SeccompProfile = "unconfined"
	ns := map[specs.LinuxNamespaceType]*specs.LinuxNamespace{}
	if l := s.Linux; l != nil {
		if l.Seccomp != nil {
			p.SeccompProfile = "default"
		}
		for i := range l.Namespaces {
			ns[l.Namespaces[i].Type] = &l.Namespaces[i]
		}
		if r := l.Resources; r != nil {
			if r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit > 0 {
				p.MemoryLimit = *r.Memory.Limit
			}
			if r.CPU != nil && r.CPU.Quota != nil && *r.CPU.Quota > 0 {
				period := uint64(100000)
				if r.CPU.Period != nil && *r.CPU.Period > 0 {
					period = *r.CPU.Period
				}
				p.NanoCPUs = *r.CPU.Quota * 1e9 / int64(period)
			}
		}
		applyDevices(p, l)
	}
	p.NetworkMode = nsMode(ns[specs.NetworkNamespace], "private")
	p.PidMode = nsMode(ns[specs.PIDNamespace], "")
	p.IpcMode = nsMode(ns[specs.IPCNamespace], "private")
	p.UtsMode = nsMode(ns[specs.UTSNamespace], "")
	if ns[specs.CgroupNamespace] == nil {
		x[KeyCgroupnsMode] = "host"
	}
	masked := s.Linux != nil && len(s.Linux.MaskedPaths) > 0
	p.Privileged = have["SYS_ADMIN"] && len(have) >= privilegedCaps && !masked
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if defaultMount(m) {
			continue
		}
		if len(p.Mounts) >= maxMounts {
			x[KeyMountsTruncated] = "true"
			break
		}
		p.Mounts = append(p.Mounts, specMount(m))
	}
}

// nsMode names a namespace setting the way Moby does: "host" when the
// container does not get a namespace of its own, "container:…"-like
// "ns:path" when it joins an existing one, private otherwise.
func nsMode(n *specs.LinuxNamespace, private string) string {
	switch {
	case n == nil:
		return "host"
	case n.Path != "":
		return ctr.Truncate("ns:"+n.Path, maxPath)
	default:
		return private
	}
}

func applyDevices(p *event.ContainerInventoryPayload, l *specs.Linux) {
	var rules []specs.LinuxDeviceCgroup
	if l.Resources != nil {
		rules = l.Resources.Devices
	}
	for _, r := range rules {
		if r.Allow && (r.Type == "" || r.Type == "a") && r.Major == nil && r.Minor == nil && strings.Contains(r.Access, "rw") {
			p.ExtraDetails[KeyAllDevicesAllowed] = "true"
		}
	}
	for _, d := range l.Devices {
		if len(p.Devices) >= maxDevices {
			p.ExtraDetails[KeyDevicesTruncated] = "true"
			break
		}
		perm := ""
		for _, r := range rules {
			if !r.Allow || (r.Type != "" && r.Type != "a" && r.Type != d.Type) {
				continue
			}
			if (r.Major == nil || *r.Major == d.Major) && (r.Minor == nil || *r.Minor == d.Minor) {
				perm = r.Access
			}
		}
		if perm == "" {
			perm = "rwm"
		}
		dp := ctr.Truncate(d.Path, maxPath)
		p.Devices = append(p.Devices, dp+":"+dp+":"+ctr.Truncate(perm, 8))
	}
}

// defaultMount reports the mounts every container gets (proc, sysfs, the
// /dev tmpfs…) and the files the engine manages (resolv.conf, hosts,
// hostname from the engine's own directories), which are not reported.
func defaultMount(m *specs.Mount) bool {
	switch m.Type {
	case "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2":
		switch m.Destination {
		case "/proc", "/sys", "/dev/pts", "/dev/mqueue", "/sys/fs/cgroup":
			return true
		}
	case "tmpfs":
		return m.Destination == "/dev" || m.Destination == "/dev/shm" && strings.Contains(m.Source, "shm")
	}
	switch m.Destination {
	case "/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/dev/termination-log", "/dev/shm":
		src := m.Source
		return strings.Contains(src, "/containers/") || strings.Contains(src, "/pods/") || strings.Contains(src, "/sandboxes/")
	}
	return false
}

func specMount(m *specs.Mount) event.Mount {
	out := event.Mount{
		Type:        ctr.Truncate(m.Type, maxString),
		Source:      ctr.Truncate(m.Source, maxPath),
		Destination: ctr.Truncate(m.Destination, maxPath),
	}
	bind := m.Type == "bind"
	for _, o := range m.Options {
		switch o {
		case "ro":
			out.ReadOnly = true
		case "bind", "rbind":
			bind = true
		}
	}
	if bind {
		out.Type = "bind"
		out.Risk = ctr.MountRisk(path.Clean("/" + m.Source))
	}
	return out
}

// ParseStartTime returns when a process started, from /proc/pid/stat
// (field 22, clock ticks since boot) and /proc/stat's btime. clkTck is
// the kernel's USER_HZ (100 on Linux).
func ParseStartTime(pidStat, procStat []byte, clkTck int64) (time.Time, error) {
	// The command (field 2) is in parentheses and may contain anything:
	// fields are counted after its last ')'.
	i := bytes.LastIndexByte(pidStat, ')')
	if i < 0 {
		return time.Time{}, errors.New("containerd: /proc/pid/stat: no command field")
	}
	f := strings.Fields(string(pidStat[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return time.Time{}, errors.New("containerd: /proc/pid/stat: too few fields")
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil || ticks < 0 {
		return time.Time{}, fmt.Errorf("containerd: /proc/pid/stat: start time %q", f[19])
	}
	btime, err := parseBtime(bytes.NewReader(procStat))
	if err != nil {
		return time.Time{}, err
	}
	if clkTck <= 0 {
		clkTck = 100
	}
	return time.Unix(btime, 0).Add(time.Duration(ticks) * time.Second / time.Duration(clkTck)), nil
}

func parseBtime(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("containerd: /proc/stat: no btime")
}
