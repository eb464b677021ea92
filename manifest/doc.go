// Package manifest analyses IoT Edge deployment manifests, and the
// deployment actually running on a device, for security risks.
//
// # Loading
//
// [Load] (and [LoadFile], [LoadReader]) parse a deployment manifest into a
// [Deployment]: $edgeAgent (schemaVersion 1.0 and 1.1: runtime settings,
// registry credentials, system modules, modules with image, createOptions,
// env, restartPolicy, status, startupOrder, imagePullPolicy), $edgeHub
// (routes in string and object form, store-and-forward) and the modules'
// twins. It accepts the documents IoT Hub, the Azure CLI and the VS Code /
// iotedgedev tooling use: modulesContent at the top, under "content", or
// the legacy "moduleContent"; layered deployments
// ("properties.desired.modules.x" keys, or deeper paths that set one
// setting, "properties.desired.modules.x.settings.createOptions01");
// templates with unresolved
// ${VAR}, $VAR, <placeholder> values (which are never reported as
// secrets or unpinned images); createOptions as an object, a JSON string
// or chunked strings (createOptions01 …). createOptions keys match
// case-insensitively, as in Docker.
//
// Every value keeps its RFC 6901 JSON pointer and file offset, so errors
// ([*Error], [*SyntaxError]) and findings carry a pointer, a line and a
// column. Values inside a createOptions string point at that string and
// name their path inside it. Loading is bounded ([Limits]: size, depth,
// number of values), never panics, and is fuzzed.
//
// # Rules
//
// [Catalogue] lists the built-in rules (EDGE001 …), each with a stable id,
// title, [Severity], rationale and remediation; "edgesec rules" prints
// them. They cover privileged containers, dangerous capabilities, host
// namespaces, engine sockets and sensitive or writable host mounts,
// devices, seccomp/AppArmor, no-new-privileges, image pinning, registry
// credentials and plain-HTTP registries, end-of-life edgeAgent/edgeHub,
// ports published on every interface, unused edgeHub protocol heads (ASC's
// "EdgeHubMemOptimize"), catch-all routes to $upstream, secrets in
// environment variables and desired properties (reported redacted),
// system module restart policy, memory limits and disabled logging (ASC's
// "EdgeLoggingOptions"), and drift (EDGE090 …).
//
// [Analyze] / [Analyzer.Analyze] run the rules; a [Config] (decoded with
// [DecodeConfig] from the twin or the lint command's --config file)
// disables rules, overrides severities and holds suppressions.
//
// # Suppressions
//
// Intended risks are accepted, not hidden: a [Suppression] names the rule,
// optionally the module and file, who accepted it and why (both
// required), and optionally an expiry date. Suppressed findings stay in
// the results, marked, for audit (text and SARIF show them; JSON and
// events leave them out). A module can carry its own suppression as a
// container label, which also reaches the running container:
//
//	"createOptions": {"Labels": {"edgesec.suppress.EDGE004":
//	    "by=security-team@contoso.com; reason=host process monitoring needs the host PID namespace"}}
//
// # Outputs
//
// [Report] writes findings as text (grouped by file and module), as JSON
// ({"findings":[…],"errors":[…]}, the lint command's stable shape) and as
// SARIF 2.1.0 with rule metadata, file/line/column locations and the JSON
// pointer as a logical location. [Events] turns findings into
// DeploymentRecommendation events.
//
// # Runtime analysis and drift
//
// [Reconstruct] builds a Deployment from the container inventory
// (event.ContainerInventoryPayload, from the container collectors): the
// create-options and env labels IoT Edge's agent puts on module
// containers, overwritten by what the engine reports, so the same rules
// run on what is deployed. [Analyzer.Drift] compares it with a manifest.
//
// # Collector
//
// [NewCollector] is the DeploymentRecommendation collector: every
// interval (and at start) it analyses the manifest file named in its
// [Options] and, given an [container.InventorySource], the running containers and
// their drift from the manifest. It needs read access to the manifest file
// (mount it into the module) and nothing else; the container inventory
// brings its own privileges (access to the engine's socket). Without an
// inventory it analyses the manifest only. This package imports only the
// standard library, event and collector.
package manifest
