package twinconfig

import (
	"maps"
	"math"
	"time"

	"github.com/edgesec/edgesec/event"
)

// ObjectName is the name of the configuration object in the module twin's
// desired and reported properties, the same as the original ASC for IoT
// security module's.
const ObjectName = "ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration"

// MaxDocumentSize is the largest configuration document (twin, desired
// section, patch or local file) accepted, in bytes: 1 MiB.
const MaxDocumentSize = 1 << 20

// Limits of the configuration values.
const (
	// MinDuration is the shortest interval any duration key accepts.
	MinDuration = time.Second
	// MinLocalCacheSize is the smallest maxLocalCacheSizeInBytes.
	MinLocalCacheSize = 8192
	// MaxLocalCacheSize is the largest maxLocalCacheSizeInBytes. It keeps
	// the value in an int on 32-bit devices.
	MaxLocalCacheSize = math.MaxInt32
	// MinMessageSize and MaxMessageSize bound maxMessageSizeInBytes; IoT
	// Hub rejects device-to-cloud messages above 256 KiB.
	MinMessageSize = 8192
	MaxMessageSize = 262144
	// MessageSizeUnit is the unit IoT Hub meters messages in: a message size
	// that is not a multiple of it is NotOptimal.
	MessageSizeUnit = 4096
	// maxStringLen bounds the string keys.
	maxStringLen = 4096
)

// Aggregation is the aggregation setting of one event name
// (aggregationEnabled<Name> and aggregationInterval<Name>).
type Aggregation struct {
	// Enabled turns aggregation of the event name on.
	Enabled bool
	// Interval is the aggregation window: identical events within it become
	// one event with a hit count.
	Interval time.Duration
}

// Config is a complete, typed security module configuration. The zero
// value is not useful; start from [Default] or [Decode].
//
// A Config holds maps: copy it with [Config.Clone] before changing a
// Config that somebody else may read.
type Config struct {
	// HighPriorityMessageFrequency is how often the high-priority message
	// is sent (highPriorityMessageFrequency, default PT7M).
	HighPriorityMessageFrequency time.Duration
	// LowPriorityMessageFrequency is how often the low-priority message is
	// sent (lowPriorityMessageFrequency, default PT5H).
	LowPriorityMessageFrequency time.Duration
	// SnapshotFrequency is how often periodic collectors run
	// (snapshotFrequency, default PT13H).
	SnapshotFrequency time.Duration
	// MaxLocalCacheSizeInBytes bounds the memory of the event queues
	// (maxLocalCacheSizeInBytes, default 2560000, at least 8192).
	MaxLocalCacheSizeInBytes int
	// MaxMessageSizeInBytes bounds a serialized message
	// (maxMessageSizeInBytes, default 204800, 8192 to 262144).
	MaxMessageSizeInBytes int
	// Priorities holds the priority of every catalogued event name
	// (eventPriority<Name>), keyed by event name, for example
	// "ProcessCreate". Use [Config.Priority] to read it.
	Priorities map[string]event.Priority
	// Aggregation holds the aggregation settings of ProcessCreate,
	// ConnectionCreate and ProcessTerminate, keyed by event name.
	Aggregation map[string]Aggregation
	// HeartbeatFrequency is how often the Heartbeat event is produced
	// (heartbeatFrequency, an edgesec extension, default PT30M).
	HeartbeatFrequency time.Duration
	// BaselineCustomChecksEnabled turns on the custom OS baseline checks of
	// BaselineCustomChecksFilePath (baselineCustomChecksEnabled, default
	// false).
	BaselineCustomChecksEnabled bool
	// BaselineCustomChecksFilePath is the absolute path of the custom
	// baseline checks file (baselineCustomChecksFilePath, default "").
	BaselineCustomChecksFilePath string
	// BaselineCustomChecksFileHash is the SHA-256 (hexadecimal, as printed
	// by sha256sum) the custom checks file must have
	// (baselineCustomChecksFileHash, default "").
	BaselineCustomChecksFileHash string
	// HubResourceID is the Azure resource id of the IoT hub
	// (hubResourceId, default "").
	HubResourceID string
	// DeploymentManifestPath is the deployment manifest file the
	// DeploymentRecommendation analysis reads, as seen by the module
	// (deploymentManifestPath, extension, default "": analyse the running
	// containers only).
	DeploymentManifestPath string
	// DeploymentRulesDisabled lists the manifest rule ids not to run,
	// comma-separated (deploymentRulesDisabled, extension, default "").
	DeploymentRulesDisabled string
	// DeploymentRuleSeverities overrides the severity of manifest rules,
	// as comma-separated RULE=severity pairs, e.g. "EDGE026=high"
	// (deploymentRuleSeverities, extension, default "").
	DeploymentRuleSeverities string
	// Detection configures the on-device analysis (detectionRulesDisabled,
	// detectionRuleSeverities, detectionSuppressions, customAlerts;
	// extensions, default empty).
	Detection Detection
	// KernelWatchedPaths is the kernelWatchedPaths extension key: the path
	// prefixes whose file operations the eBPF kernel source reports, as
	// the compact JSON array of the document ("" for the built-in list:
	// null, [] or ["defaults"]). twinconfig checks its form
	// ([ParseWatchedPaths]); collector/kernel parses its meaning and
	// refuses, with a ConfigurationError, a list it cannot use.
	KernelWatchedPaths string
	// Version is the twin $version the configuration was decoded from;
	// 0 for a local or default configuration.
	Version int64
}

// aggregatedEvents lists the event names that have aggregation settings.
var aggregatedEvents = []string{event.ProcessCreate, event.ConnectionCreate, event.ProcessTerminate}

// AggregatedEvents returns the event names that have aggregationEnabled<Name>
// and aggregationInterval<Name> keys.
func AggregatedEvents() []string { return append([]string(nil), aggregatedEvents...) }

// Default returns the default configuration: the official defaults of the
// ASC for IoT security module, and edgesec's for its extension keys. Every
// call returns fresh maps.
func Default() Config {
	c := Config{
		HighPriorityMessageFrequency: 7 * time.Minute,
		LowPriorityMessageFrequency:  5 * time.Hour,
		SnapshotFrequency:            13 * time.Hour,
		MaxLocalCacheSizeInBytes:     2560000,
		MaxMessageSizeInBytes:        204800,
		Priorities:                   make(map[string]event.Priority),
		Aggregation:                  make(map[string]Aggregation, len(aggregatedEvents)),
		HeartbeatFrequency:           30 * time.Minute,
	}
	for _, in := range event.Catalogue() {
		c.Priorities[in.Name] = in.DefaultPriority
	}
	for _, name := range aggregatedEvents {
		c.Aggregation[name] = defaultAggregation()
	}
	return c
}

func defaultAggregation() Aggregation { return Aggregation{Enabled: true, Interval: time.Hour} }

// Priority returns the priority of an event name: the configured one, else
// the catalogue's default for a catalogued name missing from Priorities,
// else Low (vendor event names).
func (c Config) Priority(name string) event.Priority {
	if p, ok := c.Priorities[name]; ok {
		return p
	}
	if in, ok := event.Lookup(name); ok {
		return in.DefaultPriority
	}
	return event.Low
}

// AggregationFor returns the aggregation setting of an event name: the
// configured one, the default (enabled, one hour) for the three aggregated
// names when missing, and disabled for any other name.
func (c Config) AggregationFor(name string) Aggregation {
	if a, ok := c.Aggregation[name]; ok {
		return a
	}
	for _, n := range aggregatedEvents {
		if n == name {
			return defaultAggregation()
		}
	}
	return Aggregation{}
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	c.Priorities = maps.Clone(c.Priorities)
	c.Aggregation = maps.Clone(c.Aggregation)
	return c
}

// SameSettings reports whether c and o configure the same behaviour: every
// field equal except Version. Missing map entries count as their defaults
// (see [Config.Priority] and [Config.AggregationFor]).
func (c Config) SameSettings(o Config) bool {
	if c.HighPriorityMessageFrequency != o.HighPriorityMessageFrequency ||
		c.LowPriorityMessageFrequency != o.LowPriorityMessageFrequency ||
		c.SnapshotFrequency != o.SnapshotFrequency ||
		c.MaxLocalCacheSizeInBytes != o.MaxLocalCacheSizeInBytes ||
		c.MaxMessageSizeInBytes != o.MaxMessageSizeInBytes ||
		c.HeartbeatFrequency != o.HeartbeatFrequency ||
		c.BaselineCustomChecksEnabled != o.BaselineCustomChecksEnabled ||
		c.BaselineCustomChecksFilePath != o.BaselineCustomChecksFilePath ||
		c.BaselineCustomChecksFileHash != o.BaselineCustomChecksFileHash ||
		c.HubResourceID != o.HubResourceID ||
		c.DeploymentManifestPath != o.DeploymentManifestPath ||
		c.DeploymentRulesDisabled != o.DeploymentRulesDisabled ||
		c.DeploymentRuleSeverities != o.DeploymentRuleSeverities ||
		c.Detection != o.Detection ||
		c.KernelWatchedPaths != o.KernelWatchedPaths {
		return false
	}
	pc, po := c.Priorities, o.Priorities
	ac, ao := c.Aggregation, o.Aggregation
	for _, m := range []map[string]event.Priority{pc, po} {
		for name := range m {
			if (Config{Priorities: pc}).Priority(name) != (Config{Priorities: po}).Priority(name) {
				return false
			}
		}
	}
	for _, m := range []map[string]Aggregation{ac, ao} {
		for name := range m {
			if (Config{Aggregation: ac}).AggregationFor(name) != (Config{Aggregation: ao}).AggregationFor(name) {
				return false
			}
		}
	}
	return true
}

// Validate checks a configuration built in code with the rules [Decode]
// applies to a document: ranges (TypeMismatch), Conflict and NotOptimal.
// Problem.Used is the value in c.
func (c Config) Validate() []Problem { return builtin.Validate(c) }

// Validate is [Config.Validate] with the schema's keys.
func (s *Schema) Validate(c Config) []Problem {
	var probs []Problem
	for i := range s.keys {
		k := &s.keys[i]
		if err := k.check(c); err != nil {
			probs = append(probs, Problem{Key: k.info.Name, Kind: event.TypeMismatch, Message: err.Error(), Used: k.text(c)})
		}
	}
	return append(probs, crossCheck(c)...)
}
