package event

// Event names of the ASC security message schema v1.0.
const (
	ProcessCreate           = "ProcessCreate"
	ProcessTerminate        = "ProcessTerminate"
	ConnectionCreate        = "ConnectionCreate"
	Login                   = "Login"
	ListeningPorts          = "ListeningPorts"
	LocalUsers              = "LocalUsers"
	FirewallConfiguration   = "FirewallConfiguration"
	SystemInformation       = "SystemInformation"
	OSBaseline              = "OSBaseline"
	ConnectedHardware       = "ConnectedHardware"
	DiagnosticEvent         = "Diagnostic"
	ConfigurationError      = "ConfigurationError"
	DroppedEventsStatistics = "DroppedEventsStatistics"
	MessageStatistics       = "MessageStatistics"
)

// Extension event names: edgesec's own events, in the same envelope, with
// JSON Schemas shipped in this repository (schemas/).
const (
	ContainerInventory       = "ContainerInventory"
	ContainerActivity        = "ContainerActivity"
	DeploymentRecommendation = "DeploymentRecommendation"
	Heartbeat                = "Heartbeat"
)

// Info describes a catalogued event name.
type Info struct {
	Name     string
	Category Category
	Type     EventType
	// DefaultPriority is the priority used when the configuration does not
	// set eventPriority<Name>.
	DefaultPriority Priority
	// Extension is true for edgesec's own events (not in the ASC schema).
	Extension bool
}

var catalogue = []Info{
	{ProcessCreate, Triggered, Security, Low, false},
	{ProcessTerminate, Triggered, Security, Low, false},
	{ConnectionCreate, Triggered, Security, Low, false},
	{Login, Triggered, Security, High, false},
	{ListeningPorts, Periodic, Security, High, false},
	{LocalUsers, Periodic, Security, High, false},
	{FirewallConfiguration, Periodic, Security, Low, false},
	{SystemInformation, Periodic, Security, Low, false},
	{OSBaseline, Periodic, Security, Low, false},
	{ConnectedHardware, Periodic, Security, Low, false},
	{DiagnosticEvent, Triggered, Diagnostic, Off, false},
	{ConfigurationError, Triggered, Operational, Low, false},
	{DroppedEventsStatistics, Periodic, Operational, Low, false},
	{MessageStatistics, Periodic, Operational, Low, false},
	{ContainerInventory, Periodic, Security, High, true},
	{ContainerActivity, Triggered, Security, High, true},
	{DeploymentRecommendation, Periodic, Security, High, true},
	{Heartbeat, Periodic, Operational, Low, true},
}

// Lookup returns the catalogue entry of name.
func Lookup(name string) (Info, bool) {
	for _, in := range catalogue {
		if in.Name == name {
			return in, true
		}
	}
	return Info{}, false
}

// Catalogue returns a copy of every catalogued event name's description, in
// a stable order (ASC events first, then the extensions).
func Catalogue() []Info {
	return append([]Info(nil), catalogue...)
}
