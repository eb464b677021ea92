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
	SecurityAlert            = "SecurityAlert"
	SecurityRecommendation   = "SecurityRecommendation"
	KernelActivity           = "KernelActivity"
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
	// PayloadSchema is, for a vendor's event, the JSON Schema (draft
	// 2020-12) of one payload item, as JSON; nil means the payload is not
	// validated beyond the envelope's rules. Catalogued events have their
	// schemas in package schemas and leave it nil.
	PayloadSchema []byte
}

var catalogue = []Info{
	{Name: ProcessCreate, Category: Triggered, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: ProcessTerminate, Category: Triggered, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: ConnectionCreate, Category: Triggered, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: Login, Category: Triggered, Type: Security, DefaultPriority: High, Extension: false},
	{Name: ListeningPorts, Category: Periodic, Type: Security, DefaultPriority: High, Extension: false},
	{Name: LocalUsers, Category: Periodic, Type: Security, DefaultPriority: High, Extension: false},
	{Name: FirewallConfiguration, Category: Periodic, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: SystemInformation, Category: Periodic, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: OSBaseline, Category: Periodic, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: ConnectedHardware, Category: Periodic, Type: Security, DefaultPriority: Low, Extension: false},
	{Name: DiagnosticEvent, Category: Triggered, Type: Diagnostic, DefaultPriority: Off, Extension: false},
	{Name: ConfigurationError, Category: Triggered, Type: Operational, DefaultPriority: Low, Extension: false},
	{Name: DroppedEventsStatistics, Category: Periodic, Type: Operational, DefaultPriority: Low, Extension: false},
	{Name: MessageStatistics, Category: Periodic, Type: Operational, DefaultPriority: Low, Extension: false},
	{Name: ContainerInventory, Category: Periodic, Type: Security, DefaultPriority: High, Extension: true},
	{Name: ContainerActivity, Category: Triggered, Type: Security, DefaultPriority: High, Extension: true},
	{Name: DeploymentRecommendation, Category: Periodic, Type: Security, DefaultPriority: High, Extension: true},
	{Name: Heartbeat, Category: Periodic, Type: Operational, DefaultPriority: Low, Extension: true},
	{Name: SecurityAlert, Category: Triggered, Type: Security, DefaultPriority: High, Extension: true},
	{Name: SecurityRecommendation, Category: Periodic, Type: Security, DefaultPriority: High, Extension: true},
	{Name: KernelActivity, Category: Triggered, Type: Security, DefaultPriority: High, Extension: true},
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

// Infos returns the catalogue entries of names, in order, skipping names
// outside the catalogue. A collector's Events method (collector.Describer)
// uses it to declare catalogued events.
func Infos(names ...string) []Info {
	out := make([]Info, 0, len(names))
	for _, n := range names {
		if in, ok := Lookup(n); ok {
			out = append(out, in)
		}
	}
	return out
}

// Catalogue returns a copy of every catalogued event name's description, in
// a stable order (ASC events first, then the extensions).
func Catalogue() []Info {
	return append([]Info(nil), catalogue...)
}
