// Package stage defines processing stages: steps that the engine runs on
// every event between the collectors' sinks and the aggregator. A stage can
// filter events (drop those of one IoT Edge module), change them (redact a
// command line), or add events (an analysis that raises an alert when it
// sees a reverse shell).
//
// A stage is a value implementing [Stage]; the engine is given an ordered
// list of them (edgesec.Options.Stages) and runs each event through them in
// order. [ErrDrop] drops an event, and the engine counts it. A stage that
// keeps state over time (windows, timers) also implements [Runner]: the
// engine owns its goroutine and stops it at shutdown.
//
// The engine's own Operational events (Heartbeat, statistics,
// ConfigurationError) and Diagnostic events bypass the stages unless
// edgesec.Options.StageEngineEvents is set, so a filter cannot hide the
// engine's health.
//
// [Filter], [Map] and [MapItems] build the common stateless stages from a
// function, in the manner of OpenTelemetry's processorhelper.
package stage
