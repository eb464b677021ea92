// Package detect is edgesec's on-device analysis: a processing stage
// (stage.Stage and stage.Runner) that turns raw security events into
// SecurityAlert and SecurityRecommendation events, in seconds, on the
// device, as the retired Azure Security Center for IoT cloud analytics did
// in hours.
//
// [New] returns a [Stage] running the built-in rules ([Builtin]: ASC for
// IoT's agent alerts and recommendations for Linux and IoT Edge under their
// AlertType/RecommendationType ids, and a few Falco rules), the custom
// alerts of the twin ([CustomAlert]) and any [Analyzer] an embedder adds.
// The engine runs it between the collectors and the aggregator
// (edgesec.Options.Stages), so rules see every raw event before
// aggregation; events pass through unchanged and alerts are added after
// the stage. The aggregator never aggregates SecurityAlert or
// SecurityRecommendation events.
//
// Shared state is bounded: the pid → process table (ancestry), the
// deduplication keys, and the [Window] and [Recent] tables analyzers use
// evict their least recently used entries and count the evictions
// ([Stats]). Alerts of the same rule about the same entity within
// Options.DedupWindow are folded into the next one (Count); each rule is
// rate-limited; [Config] disables rules, overrides severities and
// suppresses alerts. The clock is injected (Options.Clock) so tests drive
// windows deterministically.
//
// [FormatLine] renders an alert or recommendation as one line for a person;
// [WriteTable] renders a stream of them as a table.
package detect
