package event

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ExtraDetails is the free-form string map every payload item may carry.
// The schema allows only string values.
type ExtraDetails = map[string]string

// ProcessCreatePayload is one item of a ProcessCreate event.
type ProcessCreatePayload struct {
	Executable      string // full path of the executable
	ProcessID       int    // 0 once aggregated
	ParentProcessID int    // 0 once aggregated
	UserID          string // numeric uid as a string
	UserName        string // optional
	CommandLine     string
	ExtraDetails    ExtraDetails
}

// AppendJSON implements [Item].
func (p *ProcessCreatePayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Executable", p.Executable)
	w.int("ProcessId", int64(p.ProcessID))
	w.int("ParentProcessId", int64(p.ParentProcessID))
	w.str("UserId", p.UserID)
	w.optStr("UserName", p.UserName)
	w.str("CommandLine", p.CommandLine)
	w.extra(p.ExtraDetails)
	return w.end()
}

// ProcessTerminatePayload is one item of a ProcessTerminate event.
type ProcessTerminatePayload struct {
	Executable   string
	ProcessID    int
	ExitStatus   int
	ExtraDetails ExtraDetails
}

// AppendJSON implements [Item].
func (p *ProcessTerminatePayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Executable", p.Executable)
	w.int("ProcessId", int64(p.ProcessID))
	w.int("ExitStatus", int64(p.ExitStatus))
	w.extra(p.ExtraDetails)
	return w.end()
}

// Directions of a connection.
const (
	DirectionIn  = "In"
	DirectionOut = "Out"
)

// ConnectionCreatePayload is one item of a ConnectionCreate event.
// Addresses must be IPv4 or IPv6 literals; ports are decimal strings.
type ConnectionCreatePayload struct {
	RemoteAddress string
	RemotePort    string
	LocalAddress  string // optional
	LocalPort     string // optional
	Direction     string // DirectionIn or DirectionOut
	Protocol      string // "TCP", "UDP"
	ProcessID     int
	UserID        string // optional
	Executable    string
	CommandLine   string // optional
	ExtraDetails  ExtraDetails
}

// AppendJSON implements [Item].
func (p *ConnectionCreatePayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("RemoteAddress", p.RemoteAddress)
	w.str("RemotePort", p.RemotePort)
	w.optStr("LocalAddress", p.LocalAddress)
	w.optStr("LocalPort", p.LocalPort)
	w.str("Direction", p.Direction)
	w.str("Protocol", p.Protocol)
	w.int("ProcessId", int64(p.ProcessID))
	w.optStr("UserId", p.UserID)
	w.str("Executable", p.Executable)
	w.optStr("CommandLine", p.CommandLine)
	w.extra(p.ExtraDetails)
	return w.end()
}

// Results of a login attempt.
const (
	LoginSuccess = "Success"
	LoginFail    = "Fail"
)

// LoginPayload is one item of a Login event.
type LoginPayload struct {
	ProcessID     int
	UserID        string // optional
	UserName      string // optional
	Operation     string // for example "Login", "Logout"
	Executable    string // the program that handled the login, e.g. /usr/sbin/sshd
	RemoteAddress string // optional, IP literal
	RemotePort    string // optional
	LocalPort     string // optional
	Result        string // LoginSuccess or LoginFail
	ExtraDetails  ExtraDetails
}

// AppendJSON implements [Item].
func (p *LoginPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.int("ProcessId", int64(p.ProcessID))
	w.optStr("UserId", p.UserID)
	w.optStr("UserName", p.UserName)
	w.str("Operation", p.Operation)
	w.str("Executable", p.Executable)
	w.optStr("RemoteAddress", p.RemoteAddress)
	w.optStr("RemotePort", p.RemotePort)
	w.optStr("LocalPort", p.LocalPort)
	w.str("Result", p.Result)
	w.extra(p.ExtraDetails)
	return w.end()
}

// ListeningPortsPayload is one item of a ListeningPorts snapshot.
type ListeningPortsPayload struct {
	Protocol      string // "TCP", "UDP" or "RAW"; the address family goes in ExtraDetails
	LocalAddress  string // optional, IP literal
	LocalPort     string
	RemoteAddress string // optional
	RemotePort    string // optional
	ExtraDetails  ExtraDetails
}

// AppendJSON implements [Item].
func (p *ListeningPortsPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.optStr("RemoteAddress", p.RemoteAddress)
	w.optStr("RemotePort", p.RemotePort)
	w.optStr("LocalAddress", p.LocalAddress)
	w.str("LocalPort", p.LocalPort)
	w.str("Protocol", p.Protocol)
	w.extra(p.ExtraDetails)
	return w.end()
}

// LocalUsersPayload is one item (one account) of a LocalUsers snapshot.
type LocalUsersPayload struct {
	UserName     string
	UserID       string
	GroupIDs     string // ";"-joined
	GroupNames   string // ";"-joined
	ExtraDetails ExtraDetails
}

// AppendJSON implements [Item].
func (p *LocalUsersPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("GroupIds", p.GroupIDs)
	w.str("GroupNames", p.GroupNames)
	w.str("UserId", p.UserID)
	w.str("UserName", p.UserName)
	w.extra(p.ExtraDetails)
	return w.end()
}

// Firewall rule actions.
const (
	ActionAllow = "Allow"
	ActionDeny  = "Deny"
	ActionOther = "Other"
)

// FirewallRulePayload is one rule (or chain policy) of a
// FirewallConfiguration snapshot.
type FirewallRulePayload struct {
	Priority           int    // position of the rule in its chain
	Direction          string // optional: DirectionIn or DirectionOut
	ChainName          string // optional
	Application        string // optional
	Enabled            bool
	Action             string // ActionAllow, ActionDeny or ActionOther
	SourceAddress      string // optional; address, CIDR, range or tag
	SourcePort         string // optional
	DestinationAddress string // optional
	DestinationPort    string // optional
	Protocol           string // optional
	ExtraDetails       ExtraDetails
}

// AppendJSON implements [Item].
func (p *FirewallRulePayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.int("Priority", int64(p.Priority))
	w.optStr("Direction", p.Direction)
	w.optStr("ChainName", p.ChainName)
	w.optStr("Application", p.Application)
	w.bool("Enabled", p.Enabled)
	w.str("Action", p.Action)
	w.optStr("SourceAddress", p.SourceAddress)
	w.optStr("SourcePort", p.SourcePort)
	w.optStr("DestinationAddress", p.DestinationAddress)
	w.optStr("DestinationPort", p.DestinationPort)
	w.optStr("Protocol", p.Protocol)
	w.extra(p.ExtraDetails)
	return w.end()
}

// SystemInformationPayload is the single item of a SystemInformation
// snapshot. Memory figures are in KiB.
type SystemInformationPayload struct {
	OSName                  string
	OSVersion               string
	OSVendor                string
	OSArchitecture          string
	HostName                string
	BIOSVersion             string
	BootDevice              string
	TotalPhysicalMemoryInKB int64
	FreePhysicalMemoryInKB  int64
	TotalVirtualMemoryInKB  int64
	FreeVirtualMemoryInKB   int64
	ExtraDetails            ExtraDetails
}

// AppendJSON implements [Item].
func (p *SystemInformationPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.optStr("OSName", p.OSName)
	w.optStr("OSVersion", p.OSVersion)
	w.optStr("OSVendor", p.OSVendor)
	w.optStr("OsArchitecture", p.OSArchitecture)
	w.optStr("HostName", p.HostName)
	w.optStr("BIOSVersion", p.BIOSVersion)
	w.optStr("BootDevice", p.BootDevice)
	w.int("TotalPhysicalMemoryInKB", p.TotalPhysicalMemoryInKB)
	w.int("FreePhysicalMemoryInKB", p.FreePhysicalMemoryInKB)
	w.int("TotalVirtualMemoryInKB", p.TotalVirtualMemoryInKB)
	w.int("FreeVirtualMemoryInKB", p.FreeVirtualMemoryInKB)
	w.extra(p.ExtraDetails)
	return w.end()
}

// OS baseline results and severities.
const (
	BaselinePass = "Pass"
	BaselineFail = "Fail"
	BaselineErr  = "Err"

	SeverityCritical      = "Critical"
	SeverityImportant     = "Important"
	SeverityWarning       = "Warning"
	SeverityInformational = "Informational"
)

// OSBaselinePayload is one check result of an OSBaseline snapshot.
type OSBaselinePayload struct {
	CceID        string
	Description  string
	Result       string // BaselinePass, BaselineFail or BaselineErr
	Error        string // why the check could not run (Err), else ""
	Severity     string // SeverityCritical … SeverityInformational
	ExtraDetails ExtraDetails
}

// AppendJSON implements [Item].
func (p *OSBaselinePayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Description", p.Description)
	w.str("CceId", p.CceID)
	w.str("Result", p.Result)
	w.str("Error", p.Error)
	w.str("Severity", p.Severity)
	w.extra(p.ExtraDetails)
	return w.end()
}

// ConnectedHardwarePayload is one device of a ConnectedHardware snapshot.
type ConnectedHardwarePayload struct {
	HardwareCategory    string
	HardwareSubCategory string
	HardwareName        string
	ExtraDetails        ExtraDetails
}

// AppendJSON implements [Item].
func (p *ConnectedHardwarePayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("HardwareCategory", p.HardwareCategory)
	w.str("HardwareSubCategory", p.HardwareSubCategory)
	w.str("HardwareName", p.HardwareName)
	w.extra(p.ExtraDetails)
	return w.end()
}

// Diagnostic severities.
const (
	DiagFatal       = "Fatal"
	DiagError       = "Error"
	DiagWarning     = "Warning"
	DiagInformation = "Information"
	DiagDebug       = "Debug"
)

// DiagnosticPayload is one item of a Diagnostic event: a message of the
// agent's own log.
type DiagnosticPayload struct {
	CorrelationID string // optional GUID
	Severity      string // DiagFatal … DiagDebug
	Message       string
	ProcessID     int
	ThreadID      int
	ExtraDetails  ExtraDetails
}

// AppendJSON implements [Item].
func (p *DiagnosticPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.optStr("CorrelationId", p.CorrelationID)
	w.str("Severity", p.Severity)
	w.str("Message", p.Message)
	w.int("ProcessId", int64(p.ProcessID))
	w.int("ThreadId", int64(p.ThreadID))
	w.extra(p.ExtraDetails)
	return w.end()
}

// Configuration error types.
const (
	TypeMismatch = "TypeMismatch"
	NotOptimal   = "NotOptimal"
	Conflict     = "Conflict"
)

// ConfigurationErrorPayload is one problem found in a configuration.
type ConfigurationErrorPayload struct {
	ConfigurationName string // the twin key, e.g. "maxMessageSizeInBytes"
	ErrorType         string // TypeMismatch, NotOptimal or Conflict
	UsedConfiguration string // the value the agent uses instead
	Message           string
	ExtraDetails      ExtraDetails
}

// AppendJSON implements [Item].
func (p *ConfigurationErrorPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("ConfigurationName", p.ConfigurationName)
	w.str("ErrorType", p.ErrorType)
	w.str("UsedConfiguration", p.UsedConfiguration)
	w.str("Message", p.Message)
	w.extra(p.ExtraDetails)
	return w.end()
}

// DroppedEventsPayload is one queue's counters of a DroppedEventsStatistics
// event. The schema allows the queues "High" and "Low".
type DroppedEventsPayload struct {
	Queue           string
	CollectedEvents int64
	DroppedEvents   int64
	ExtraDetails    ExtraDetails
}

// AppendJSON implements [Item].
func (p *DroppedEventsPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.str("Queue", p.Queue)
	w.int("CollectedEvents", p.CollectedEvents)
	w.int("DroppedEvents", p.DroppedEvents)
	w.extra(p.ExtraDetails)
	return w.end()
}

// MessageStatisticsPayload is the single item of a MessageStatistics event.
type MessageStatisticsPayload struct {
	MessagesSent     int64
	MessagesUnder4KB int64
	TotalFailed      int64
	ExtraDetails     ExtraDetails
}

// AppendJSON implements [Item].
func (p *MessageStatisticsPayload) AppendJSON(dst []byte) []byte {
	w := beginObject(dst)
	w.int("MessagesSent", p.MessagesSent)
	w.int("MessagesUnder4KB", p.MessagesUnder4KB)
	w.int("TotalFailed", p.TotalFailed)
	w.extra(p.ExtraDetails)
	return w.end()
}

// Object is a free-form payload item for vendor events outside the
// catalogue. It is encoded with encoding/json; values that cannot be
// encoded become a {"error": "..."} object so the message stays valid JSON.
type Object map[string]any

// AppendJSON implements [Item].
func (o Object) AppendJSON(dst []byte) []byte {
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		return AppendStringMap(dst, map[string]string{"error": fmt.Sprintf("unencodable payload: %v", err)})
	}
	return append(dst, b...)
}

// Itoa formats a port or id number as the decimal string the schema wants.
func Itoa(n int) string { return strconv.Itoa(n) }
