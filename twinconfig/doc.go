// Package twinconfig is the configuration of the security module: its
// schema and defaults, strict decoding and validation, the reported
// properties, and the sources it comes from (the module twin, a local file).
//
// The configuration is the object
// ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration ([ObjectName]) of
// the module twin's desired properties, the same object, keys and defaults
// as the retired Azure Security Center for IoT security module, plus
// edgesec's extensions (the priorities of its own events and
// heartbeatFrequency). Every value is wrapped as {"value": X}:
//
//	{
//	  "ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration": {
//	    "highPriorityMessageFrequency": {"value": "PT7M"},
//	    "maxMessageSizeInBytes":        {"value": 204800},
//	    "eventPriorityProcessCreate":   {"value": "High"},
//	    "aggregationEnabledProcessCreate": {"value": true}
//	  }
//	}
//
// [Keys] documents every key (type, default, range); [Default] returns the
// defaults as a typed [Config].
//
// # Decoding
//
// [Decode] reads a full twin, a desired-properties section or patch, or the
// bare object, starting from the defaults for absent keys. It is strict and
// total: it returns every [Problem], each of one of the kinds of the
// ConfigurationError event:
//
//   - TypeMismatch: wrong JSON type, a value out of range or not valid (a
//     bad ISO 8601 duration, an unknown priority), an unknown key, or a
//     value not wrapped in {"value": ...};
//   - Conflict: maxLocalCacheSizeInBytes below maxMessageSizeInBytes, or
//     highPriorityMessageFrequency longer than lowPriorityMessageFrequency;
//   - NotOptimal: maxMessageSizeInBytes not a multiple of 4096 (IoT Hub
//     meters messages in 4 KB units), or custom baseline checks enabled
//     without a file.
//
// Durations are ISO 8601 as the official schema's pattern allows them
// ([ParseDuration], [FormatDuration]); every duration must be at least one
// second.
//
// # Running configuration
//
// A [Manager] holds the running configuration. [Manager.Apply] replaces it
// with a new document unless the document has a TypeMismatch or Conflict
// problem, in which case the last good configuration stays; either way it
// returns the ConfigurationError events to send. [Reported] produces the
// reported-properties patch publishing the configuration in effect, and
// [MergeDesired] keeps a full desired document up to date from the patches
// IoT Hub sends, with $version ordering and gap detection.
//
// # Sources
//
// [FileSource] watches a local JSON file (inotify on its directory, so
// rename-replace writes are seen, with a polling fallback). The module twin
// itself is read through the transport that carries it; the
// caller passes its documents to [MergeDesired] and [Manager.Apply].
//
// All functions are safe for concurrent use; a [Config] is a value whose
// maps must be copied ([Config.Clone]) before they are changed.
package twinconfig
