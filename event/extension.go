package event

// Extension payloads: edgesec's own events. Their JSON Schemas live in the
// repository's schemas/ folder, in the style of the ASC ones.

// Mount is one mount of a container.
type Mount struct {
	Type        string // "bind", "volume", "tmpfs", …
	Source      string // host path or volume name
	Destination string // path inside the container
	ReadOnly    bool
	// Risk names why the mount matters, or is empty: "DockerSocket",
	// "ContainerdSocket", "HostRoot", "SensitiveHostPath".
	Risk string
}

// ContainerInventoryPayload is one container of a ContainerInventory
// snapshot.
type ContainerInventoryPayload struct {
	ContainerID     string
	Name            string
	ModuleName      string // IoT Edge module name, when the container is an Edge module
	Runtime         string // "moby" or "containerd"
	Namespace       string // containerd namespace; empty for moby
	Image           string
	ImageDigest     string
	State           string // "created", "running", "exited", …
	StartedAt       string // RFC 3339, optional
	FinishedAt      string // RFC 3339, optional
	Privileged      bool
	NetworkMode     string
	PidMode         string
	IpcMode         string
	UtsMode         string
	User            string
	CapAdd          []string
	CapDrop         []string
	Mounts          []Mount
	Devices         []string // "host:container:perms"
	ReadOnlyRootfs  bool
	SeccompProfile  string // "default", "unconfined", or a profile name
	AppArmorProfile string
	NoNewPrivileges bool
	RestartPolicy   string
	MemoryLimit     int64             // bytes; 0 = unlimited
	NanoCPUs        int64             // 0 = unlimited
	Labels          map[string]string // the IoT Edge labels of interest
	ExtraDetails    ExtraDetails
}

// AppendJSON implements [Item].
func (p *ContainerInventoryPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("ContainerId", p.ContainerID)
	w.str("Name", p.Name)
	w.optStr("ModuleName", p.ModuleName)
	w.str("Runtime", p.Runtime)
	w.optStr("Namespace", p.Namespace)
	w.str("Image", p.Image)
	w.optStr("ImageDigest", p.ImageDigest)
	w.str("State", p.State)
	w.optStr("StartedAt", p.StartedAt)
	w.optStr("FinishedAt", p.FinishedAt)
	w.bool("Privileged", p.Privileged)
	w.optStr("NetworkMode", p.NetworkMode)
	w.optStr("PidMode", p.PidMode)
	w.optStr("IpcMode", p.IpcMode)
	w.optStr("UtsMode", p.UtsMode)
	w.optStr("User", p.User)
	w.strs("CapAdd", nonNil(p.CapAdd))
	w.strs("CapDrop", nonNil(p.CapDrop))
	w.key("Mounts")
	w.b = append(w.b, '[')
	for i := range p.Mounts {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		m := &p.Mounts[i]
		mw := beginObject(w.b)
		mw.str("Type", m.Type)
		mw.str("Source", m.Source)
		mw.str("Destination", m.Destination)
		mw.bool("ReadOnly", m.ReadOnly)
		mw.optStr("Risk", m.Risk)
		w.b = mw.end()
	}
	w.b = append(w.b, ']')
	w.strs("Devices", nonNil(p.Devices))
	w.bool("ReadOnlyRootfs", p.ReadOnlyRootfs)
	w.optStr("SeccompProfile", p.SeccompProfile)
	w.optStr("AppArmorProfile", p.AppArmorProfile)
	w.bool("NoNewPrivileges", p.NoNewPrivileges)
	w.optStr("RestartPolicy", p.RestartPolicy)
	w.int("MemoryLimit", p.MemoryLimit)
	w.int("NanoCpus", p.NanoCPUs)
	if len(p.Labels) > 0 {
		w.strMap("Labels", p.Labels)
	}
	w.extra(p.ExtraDetails)
	return w.end()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ContainerActivityPayload is one lifecycle or exec event of a container
// engine.
type ContainerActivityPayload struct {
	Action        string // "create", "start", "die", "kill", "oom", "destroy", "exec_create", "exec_start", "pull", "delete", …
	ContainerID   string // empty for image events
	ContainerName string
	ModuleName    string
	Image         string
	Runtime       string // "moby" or "containerd"
	ExitCode      *int   // set for "die"
	Command       string // the executed command, for exec events
	ExtraDetails  ExtraDetails
}

// AppendJSON implements [Item].
func (p *ContainerActivityPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Action", p.Action)
	w.optStr("ContainerId", p.ContainerID)
	w.optStr("ContainerName", p.ContainerName)
	w.optStr("ModuleName", p.ModuleName)
	w.optStr("Image", p.Image)
	w.str("Runtime", p.Runtime)
	if p.ExitCode != nil {
		w.int("ExitCode", int64(*p.ExitCode))
	}
	w.optStr("Command", p.Command)
	w.extra(p.ExtraDetails)
	return w.end()
}

// Finding severities of DeploymentRecommendation.
const (
	FindingCritical = "Critical"
	FindingHigh     = "High"
	FindingMedium   = "Medium"
	FindingLow      = "Low"
)

// DeploymentRecommendationPayload is one finding of the deployment manifest
// (or running configuration) analysis.
type DeploymentRecommendationPayload struct {
	RuleID       string // stable id, e.g. "EDGE001"
	Severity     string // FindingCritical … FindingLow
	Title        string
	Module       string // module name, or "" for deployment-wide findings
	Pointer      string // JSON pointer into the manifest
	Evidence     string
	Remediation  string
	Source       string // manifest file, or "runtime"
	ExtraDetails ExtraDetails
}

// AppendJSON implements [Item].
func (p *DeploymentRecommendationPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("RuleId", p.RuleID)
	w.str("Severity", p.Severity)
	w.str("Title", p.Title)
	w.optStr("Module", p.Module)
	w.optStr("Pointer", p.Pointer)
	w.optStr("Evidence", p.Evidence)
	w.optStr("Remediation", p.Remediation)
	w.optStr("Source", p.Source)
	w.extra(p.ExtraDetails)
	return w.end()
}

// CollectorHealth is the state of one collector in a Heartbeat.
type CollectorHealth struct {
	Name      string
	State     string // "running", "stopped", "failed", "degraded"
	LastError string // empty when healthy
	Events    int64  // events emitted since start
}

// HeartbeatPayload is the single item of a Heartbeat event.
type HeartbeatPayload struct {
	AgentVersion         string
	StartTimeUTC         string // RFC 3339
	UptimeSeconds        int64
	ConfigurationVersion int64 // the twin's $version of the running configuration, 0 for local
	Collectors           []CollectorHealth
	ExtraDetails         ExtraDetails
}

// AppendJSON implements [Item].
func (p *HeartbeatPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("AgentVersion", p.AgentVersion)
	w.str("StartTimeUtc", p.StartTimeUTC)
	w.int("UptimeSeconds", p.UptimeSeconds)
	w.int("ConfigurationVersion", p.ConfigurationVersion)
	w.key("Collectors")
	w.b = append(w.b, '[')
	for i := range p.Collectors {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		c := &p.Collectors[i]
		cw := beginObject(w.b)
		cw.str("Name", c.Name)
		cw.str("State", c.State)
		cw.optStr("LastError", c.LastError)
		cw.int("Events", c.Events)
		w.b = cw.end()
	}
	w.b = append(w.b, ']')
	w.extra(p.ExtraDetails)
	return w.end()
}

// Severities of SecurityAlert and SecurityRecommendation, as ASC for IoT
// named them.
const (
	AlertHigh   = "High"
	AlertMedium = "Medium"
	AlertLow    = "Low"
)

// States of a SecurityRecommendation.
const (
	RecommendationActive   = "Active"
	RecommendationResolved = "Resolved"
)

// SecurityAlertPayload is one alert raised by the on-device analysis
// (package detect): what happened, how bad it is, what to do, and the
// entity and events involved.
type SecurityAlertPayload struct {
	AlertType   string // stable rule id, e.g. "IoT_ReverseShell"
	DisplayName string // ASC's wording, e.g. "Reverse shells"
	Severity    string // AlertHigh, AlertMedium or AlertLow
	Description string // what was seen, for a person
	Remediation string // what to do
	// TriggerEventIDs are the ids of the events that raised the alert (the
	// last one is the event that completed the pattern).
	TriggerEventIDs []string
	// TriggerEventNames are the names of those events, in the same order.
	TriggerEventNames []string
	// Entity: whatever of it is known.
	Executable       string
	CommandLine      string
	UserID           string
	UserName         string
	ProcessID        int
	ParentProcessID  int
	ParentExecutable string
	ContainerID      string
	ModuleName       string
	Image            string
	RemoteAddress    string
	RemotePort       string
	LocalPort        string
	// Count is how many times the alert was raised for the same rule and
	// entity since the previous report of it (1 for the first; repeats
	// within the deduplication window are folded into the next report).
	Count        int64
	ExtraDetails ExtraDetails
}

// AppendJSON implements [Item].
func (p *SecurityAlertPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("AlertType", p.AlertType)
	w.str("DisplayName", p.DisplayName)
	w.str("Severity", p.Severity)
	w.str("Description", p.Description)
	w.optStr("Remediation", p.Remediation)
	w.strs("TriggerEventIds", nonNil(p.TriggerEventIDs))
	if len(p.TriggerEventNames) > 0 {
		w.strs("TriggerEventNames", p.TriggerEventNames)
	}
	w.optStr("Executable", p.Executable)
	w.optStr("CommandLine", p.CommandLine)
	w.optStr("UserId", p.UserID)
	w.optStr("UserName", p.UserName)
	if p.ProcessID > 0 {
		w.int("ProcessId", int64(p.ProcessID))
	}
	if p.ParentProcessID > 0 {
		w.int("ParentProcessId", int64(p.ParentProcessID))
	}
	w.optStr("ParentExecutable", p.ParentExecutable)
	w.optStr("ContainerId", p.ContainerID)
	w.optStr("ModuleName", p.ModuleName)
	w.optStr("Image", p.Image)
	w.optStr("RemoteAddress", p.RemoteAddress)
	w.optStr("RemotePort", p.RemotePort)
	w.optStr("LocalPort", p.LocalPort)
	if p.Count > 0 {
		w.int("Count", p.Count)
	}
	w.extra(p.ExtraDetails)
	return w.end()
}

// SecurityRecommendationPayload is one posture finding of the on-device
// analysis. It is raised (State Active) while a condition holds and
// reported again with State Resolved when a later observation no longer
// shows it, as ASC's "Open ports on device" resolved when the listener
// closed.
type SecurityRecommendationPayload struct {
	RecommendationType string // stable rule id, e.g. "IoT_OpenPorts"
	Name               string // ASC's wording, e.g. "Open ports on device"
	Severity           string // AlertHigh, AlertMedium or AlertLow
	State              string // RecommendationActive or RecommendationResolved
	// Entity identifies the finding within its type (e.g. "TCP 0.0.0.0:8888"):
	// an Active and a Resolved report of the same finding share it.
	Entity       string
	Evidence     string // what was found
	Remediation  string
	FirstSeenUTC string // RFC 3339: when the finding was first raised
	ExtraDetails ExtraDetails
}

// AppendJSON implements [Item].
func (p *SecurityRecommendationPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("RecommendationType", p.RecommendationType)
	w.str("Name", p.Name)
	w.str("Severity", p.Severity)
	w.str("State", p.State)
	w.str("Entity", p.Entity)
	w.optStr("Evidence", p.Evidence)
	w.optStr("Remediation", p.Remediation)
	w.optStr("FirstSeenUtc", p.FirstSeenUTC)
	w.extra(p.ExtraDetails)
	return w.end()
}

// KernelActivity actions.
const (
	ActivityOpenRead     = "open_read"     // a watched file opened for reading
	ActivityOpenWrite    = "open_write"    // a watched file opened for writing (or created)
	ActivityUnlink       = "unlink"        // a watched file removed
	ActivityRename       = "rename"        // a watched file renamed, or another renamed over it
	ActivityTruncate     = "truncate"      // a watched file truncated (truncate(2) or O_TRUNC)
	ActivityLink         = "link"          // a hard link from or to a watched path
	ActivitySymlink      = "symlink"       // a symbolic link from or to a watched path
	ActivityChmodSetuid  = "chmod_setuid"  // a file made setuid or setgid
	ActivityPtrace       = "ptrace_attach" // PTRACE_ATTACH or PTRACE_SEIZE
	ActivityMemfdCreate  = "memfd_create"  // an anonymous in-memory file created
	ActivityExecMemfd    = "exec_memfd"    // a program executed from a memfd (fileless)
	ActivityPacketSocket = "packet_socket" // socket(AF_PACKET): raw link-layer access
	ActivityMount        = "mount"         // a file system mounted
	ActivityModuleLoad   = "module_load"   // init_module or finit_module
	ActivityBPFLoad      = "bpf_prog_load" // a BPF program loaded
)

// KernelActivityPayload is one security-relevant file operation or system
// call seen in the kernel: an attempt, at the call's entry (it does not
// say whether the call succeeded).
type KernelActivityPayload struct {
	Action          string // one of the Activity constants
	Path            string // the file (or memfd name, mount source), when the action has one
	TargetPath      string // the new name of a rename or link, the mount target
	Operations      string // the watched operations matched: "read", "write|truncate", …
	TargetProcessID int    // the traced process, for ptrace_attach; 0 otherwise
	ProcessID       int
	ParentProcessID int
	Executable      string
	CommandLine     string // optional
	UserID          string
	UserName        string // optional
	ExtraDetails    ExtraDetails
}

// AppendJSON implements [Item].
func (p *KernelActivityPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Action", p.Action)
	w.optStr("Path", p.Path)
	w.optStr("TargetPath", p.TargetPath)
	w.optStr("Operations", p.Operations)
	if p.TargetProcessID != 0 {
		w.int("TargetProcessId", int64(p.TargetProcessID))
	}
	w.int("ProcessId", int64(p.ProcessID))
	w.int("ParentProcessId", int64(p.ParentProcessID))
	w.str("Executable", p.Executable)
	w.optStr("CommandLine", p.CommandLine)
	w.str("UserId", p.UserID)
	w.optStr("UserName", p.UserName)
	w.extra(p.ExtraDetails)
	return w.end()
}
