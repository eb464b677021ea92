package manifest

import (
	"strings"
)

// Deployment is a loaded deployment manifest (or the deployment
// reconstructed from the running containers): the settings the rules look
// at, each with the [Node] it came from so that findings can point at it.
type Deployment struct {
	// Source names where the deployment came from: a file name, "-" for
	// standard input, or "runtime".
	Source string
	// Data is the document the deployment was loaded from.
	Data []byte
	// Root is the parsed document.
	Root *Node
	// Layered is true for a layered deployment (properties.desired.modules.x
	// paths): it adds modules to a base deployment, so the absence of
	// runtime settings or system modules is not a problem.
	Layered bool
	// SchemaVersion is $edgeAgent's schemaVersion ("1.0", "1.1", …).
	SchemaVersion string
	// Runtime holds $edgeAgent's runtime settings.
	Runtime Runtime
	// Modules are the system modules (edgeAgent, edgeHub) followed by the
	// other modules in name order.
	Modules []*Module
	// Hub holds $edgeHub's desired properties; nil when the manifest has
	// none.
	Hub *Hub
	// Twins are the desired properties of the modules' twins, in name
	// order.
	Twins []*Twin
}

// Module returns the module called name, or nil.
func (d *Deployment) Module(name string) *Module {
	for _, m := range d.Modules {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Runtime is $edgeAgent's runtime section.
type Runtime struct {
	Node             *Node
	Type             string // "docker"
	MinDockerVersion string
	// LoggingOptions is runtime.settings.loggingOptions: the default
	// Docker log configuration of every module (a JSON string or object).
	LoggingOptions *Node
	Registries     []Registry
}

// Registry is one entry of runtime.settings.registryCredentials.
type Registry struct {
	Name     string // the key of the entry
	Address  string
	Username string
	Password string
	Node     *Node // the entry
}

// Module is one module of $edgeAgent (system module or not).
type Module struct {
	Name string
	// System is true for edgeAgent and edgeHub (systemModules).
	System bool
	// Node is the module's object in the manifest.
	Node            *Node
	Type            string // "docker"
	Status          string // "running", "stopped"
	RestartPolicy   Setting[string]
	ImagePullPolicy string
	Version         string
	StartupOrder    *Node
	Image           Setting[string]
	// Env are the module's environment variables from "env" followed by
	// those of createOptions.Env.
	Env []EnvVar
	// CreateOptions are the Docker create options; never nil.
	CreateOptions *CreateOptions
}

// Setting is a value of the manifest and the node it came from. Node is
// nil when the manifest does not set it (Value is then the zero value).
type Setting[T any] struct {
	Value T
	Node  *Node
}

// Set reports whether the manifest sets the value.
func (s Setting[T]) Set() bool { return s.Node != nil }

// EnvVar is one environment variable of a module.
type EnvVar struct {
	Name  string
	Value string
	Node  *Node // the value
}

// CreateOptions are the Docker container create options of a module (the
// subset the rules look at). Docker and IoT Edge match their keys
// case-insensitively; so does the loader.
type CreateOptions struct {
	// Root is the parsed create options, or nil when the module has none.
	// When the manifest gives them as a (possibly chunked) JSON string,
	// every node has the pointer of that string and its path inside the
	// string in Inner.
	Root       *Node
	User       Setting[string]
	Labels     map[string]Setting[string]
	Env        []EnvVar
	HostConfig HostConfig
}

// HostConfig is the HostConfig of the create options.
type HostConfig struct {
	Node              *Node
	Privileged        Setting[bool]
	CapAdd            []Setting[string] // upper case, without the CAP_ prefix
	CapDrop           []Setting[string]
	NetworkMode       Setting[string]
	PidMode           Setting[string]
	IpcMode           Setting[string]
	UTSMode           Setting[string]
	UsernsMode        Setting[string]
	CgroupnsMode      Setting[string]
	Mounts            []Mount // Binds and Mounts
	Devices           []Device
	DeviceCgroupRules []Setting[string]
	SecurityOpt       []Setting[string]
	Memory            Setting[int64] // bytes
	ReadonlyRootfs    Setting[bool]
	PortBindings      []PortBinding
	LogType           Setting[string] // LogConfig.Type
	RestartPolicy     Setting[string] // RestartPolicy.Name
}

// Mount is a bind mount, volume or tmpfs of a container.
type Mount struct {
	Type     string // "bind", "volume", "tmpfs", "npipe"
	Source   string // host path (bind) or volume name
	Target   string
	ReadOnly bool
	Node     *Node
}

// IsHostPath reports whether the mount exposes a host path (a bind mount
// of an absolute path).
func (m Mount) IsHostPath() bool {
	if m.Type != "bind" {
		return false
	}
	return strings.HasPrefix(m.Source, "/") || isWindowsPath(m.Source)
}

// Device is a device passed through to a container.
type Device struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
	Node              *Node
}

// PortBinding publishes a container port on the host.
type PortBinding struct {
	ContainerPort string // "8883/tcp"
	HostIP        string // "" means every interface
	HostPort      string
	Node          *Node
}

// Hub is $edgeHub's desired properties.
type Hub struct {
	Node            *Node
	SchemaVersion   string
	Routes          []Route
	StoreAndForward *Node
}

// Route is one edgeHub route.
type Route struct {
	Name            string
	Text            string // FROM … [WHERE …] INTO …
	From, Where, To string // parsed parts; empty when Text does not parse
	Priority        *Node
	TimeToLiveSecs  *Node
	Node            *Node // the route string, or the object of the object form
}

// Twin is the desired properties of one module twin.
type Twin struct {
	Module  string
	Desired *Node
}
