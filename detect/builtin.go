package detect

import (
	"path"
	"strings"
	"time"

	"github.com/edgesec/edgesec/event"
)

// BuiltinOptions tune the built-in rules. The zero value uses the defaults
// given with each field.
type BuiltinOptions struct {
	// AllowedPorts are listening ports IoT_OpenPorts does not report:
	// "22" (any protocol) or "tcp/8883".
	AllowedPorts []string
	// TrustedImages are image patterns (shell globs, e.g.
	// "mcr.microsoft.com/azureiotedge-*") exempt from
	// IoT_PrivilegedContainer.
	TrustedImages []string
	// Services are extra executable base names whose shell children raise
	// ES_ShellSpawnedByService (web, database and broker servers are built
	// in).
	Services []string
	// BruteForceFailures within BruteForceWindow from one source raise
	// IoT_FailedBruteforce (default 5 in 10 minutes); a success from that
	// source within BruteForceSuccessWindow (default 30 minutes) raises
	// IoT_SuccessfulBruteforce.
	BruteForceFailures      int
	BruteForceWindow        time.Duration
	BruteForceSuccessWindow time.Duration
	// DownloadTTL is how long a downloaded file's path is remembered for
	// IoT_LinuxBackdoor (default 15 minutes).
	DownloadTTL time.Duration
	// UnderutilizedWindow is the window of
	// IoT_AgentSendsUnutilizedMessages (default 24 hours).
	UnderutilizedWindow time.Duration
	// ContainerGrace: a shell in a container whose first process was seen
	// less than this long before is its entrypoint, not a terminal shell
	// (default 2 seconds).
	ContainerGrace time.Duration
	// TrustedPrograms are extra executable base names the kernel activity
	// rules trust (with their children): to read sensitive files, to write
	// below /etc and binary directories, to load BPF programs.
	TrustedPrograms []string
	// DropTTL is how long a file written in a container is remembered
	// for ES_DropAndExecuteNewBinaryInContainer (default 1 hour).
	DropTTL time.Duration
	// SnapshotSettle is how long the parts of a split snapshot may take to
	// arrive before it is evaluated (default 200 ms).
	SnapshotSettle time.Duration
}

func (o *BuiltinOptions) defaults() {
	if o.BruteForceFailures <= 0 {
		o.BruteForceFailures = 5
	}
	if o.BruteForceWindow <= 0 {
		o.BruteForceWindow = 10 * time.Minute
	}
	if o.BruteForceSuccessWindow <= 0 {
		o.BruteForceSuccessWindow = 30 * time.Minute
	}
	if o.DownloadTTL <= 0 {
		o.DownloadTTL = 15 * time.Minute
	}
	if o.UnderutilizedWindow <= 0 {
		o.UnderutilizedWindow = 24 * time.Hour
	}
	if o.ContainerGrace <= 0 {
		o.ContainerGrace = 2 * time.Second
	}
	if o.DropTTL <= 0 {
		o.DropTTL = time.Hour
	}
	if o.SnapshotSettle <= 0 {
		o.SnapshotSettle = 200 * time.Millisecond
	}
}

// Builtin returns the built-in analyzers, each bounding its tables to
// maxEntities entries. New uses it unless Options.NoBuiltin is set.
func Builtin(o BuiltinOptions, maxEntities int) []Analyzer {
	o.defaults()
	if maxEntities <= 0 {
		maxEntities = DefaultMaxEntities
	}
	return []Analyzer{
		newProcRules(o, maxEntities),
		newLoginRules(o, maxEntities),
		newSnapshotRules(o, maxEntities),
		newPostureRules(o),
		newKernelRules(o, maxEntities),
	}
}

// Rule ids of the built-in alerts.
const (
	RuleReverseShell         = "IoT_ReverseShell"
	RuleDownloadThenRun      = "IoT_DownloadFileThenRun"
	RuleLinuxBackdoor        = "IoT_LinuxBackdoor"
	RuleCryptoMiner          = "IoT_CryptoMiner"
	RuleCryptoMinerContainer = "IoT_CryptoMinerContainer"
	RuleBinaryCommandLine    = "IoT_BinaryCommandLine"
	RuleDisableFirewall      = "IoT_DisableFirewall"
	RuleDisableAuditd        = "IoT_DisableAuditdLogging"
	RuleRemovalOfSystemLogs  = "IoT_RemovalOfSystemLogs"
	RuleClearHistoryFile     = "IoT_ClearHistoryFile"
	RulePortForwarding       = "IoT_PortForwarding"
	RuleFailedBruteforce     = "IoT_FailedBruteforce"
	RuleSuccessfulBruteforce = "IoT_SuccessfulBruteforce"
	RuleSuccessfulLocalLogin = "IoT_SuccessfulLocalLogin"
	RuleFailedLocalLogin     = "IoT_FailedLocalLogin"
	RuleExposedDocker        = "IoT_ExposedDocker"
	RulePrivilegedContainer  = "IoT_PrivilegedContainer"
	RuleShellInContainer     = "ES_TerminalShellInContainer"
	RuleShellByService       = "ES_ShellSpawnedByService"
	RuleNetcatRCE            = "ES_NetcatRemoteCodeExecution"
	RuleUSBConnection        = "IoT_USBConnection"
)

// Rule ids of the built-in recommendations.
const (
	RecOpenPorts               = "IoT_OpenPorts"
	RecPermissivePolicy        = "IoT_PermissiveFirewallPolicy"
	RecPermissiveInputRules    = "IoT_PermissiveInputFirewallRules"
	RecPermissiveOutputRules   = "IoT_PermissiveOutputFirewallRules"
	RecBaseline                = "IoT_Baseline"
	RecUnderutilizedMessages   = "IoT_AgentSendsUnutilizedMessages"
	RecTwinNotOptimal          = "IoT_TwinConfigurationNotOptimal"
	RecTwinConflict            = "IoT_TwinConfigurationConflict"
	RecPrivilegedDockerOptions = "IoT_PrivilegedDockerOptions"
	RecEdgeHubMemOptimize      = "IoT_EdgeHubMemOptimize"
	RecEdgeLoggingOptions      = "IoT_EdgeLoggingOptions"
	RecACRAuthentication       = "IoT_ACRAuthentication"
)

func alertRule(id, name, sev, origin, desc, trigger, remediation string, inputs ...string) Rule {
	return Rule{ID: id, Name: name, Kind: KindAlert, Severity: sev, Origin: origin, Description: desc, Trigger: trigger,
		Remediation: remediation, Inputs: inputs}
}

func recRule(id, name, sev, desc, trigger, remediation string, inputs ...string) Rule {
	return Rule{ID: id, Name: name, Kind: KindRecommendation, Severity: sev, Origin: "ASC", Description: desc, Trigger: trigger,
		Remediation: remediation, Inputs: inputs}
}

const (
	pc = event.ProcessCreate
	pt = event.ProcessTerminate
	cc = event.ConnectionCreate
)

// procAlert returns an alert payload with the entity of a ProcessCreate
// item.
func procAlert(p *event.ProcessCreatePayload) *event.SecurityAlertPayload {
	x := p.ExtraDetails
	user := p.UserName
	return &event.SecurityAlertPayload{Executable: p.Executable, CommandLine: p.CommandLine, UserID: p.UserID, UserName: user,
		ProcessID: p.ProcessID, ParentProcessID: p.ParentProcessID, ParentExecutable: x[keyParentExe],
		ContainerID: x[keyContainerID], ModuleName: x[keyModuleName]}
}

func loginAlert(p *event.LoginPayload) *event.SecurityAlertPayload {
	return &event.SecurityAlertPayload{Executable: p.Executable, UserID: p.UserID, UserName: p.UserName, ProcessID: p.ProcessID,
		RemoteAddress: validIP(p.RemoteAddress), RemotePort: p.RemotePort, LocalPort: p.LocalPort}
}

// base returns the base name of a path ("" for "").
func base(p string) string {
	if p == "" {
		return ""
	}
	return path.Base(p)
}

// toolName normalises an executable base name: versions and variants are
// stripped ("python3.11" → "python", "iptables-nft" → "iptables",
// "nc.openbsd" → "nc").
func toolName(b string) string {
	if i := strings.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	b = strings.TrimSuffix(strings.TrimSuffix(b, "-legacy"), "-nft")
	switch b {
	case "ip6tables":
		return "iptables"
	case "ncat", "netcat":
		return "nc"
	}
	return strings.TrimRight(b, "0123456789")
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ash": true, "ksh": true, "mksh": true, "fish": true, "tcsh": true, "csh": true}

func isShell(name string) bool { return shells[name] }
