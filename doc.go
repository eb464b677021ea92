// Package edgesec is an SDK for host and container security monitoring in
// Azure IoT Edge modules, and the engine that runs it.
//
// It rebuilds, as composable Go packages, what the retired Azure Security
// Center for IoT security module did: collect security events from the
// Linux host and its containers, aggregate them, pack them into compact
// messages in the ASC security message format (schema 1.0, validated), and
// send them through IoT Edge Hub — configured remotely through the same
// module twin object (ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration).
//
// # Data flow
//
//	collectors ─events─▶ Sink ─▶ stages ─▶ Aggregator ─messages─▶ outbox ─▶ Transport
//	(push, ctx)                  (filter,   (aggregate, bounded    (durable,  (edgeHub MQTT,
//	                              change,    queues, pack by        ordered,   MQTT, file)
//	                              add)       priority and size)     retried)
//	                        ▲
//	twin / local file ──▶ twinconfig.Manager (layered key by key, ConfigurationError events, reported properties)
//
// docs/architecture.md describes the engine loop, its guarantees (at least
// once, in order) and its drop policy, and every extension point with its
// conformance suite.
//
// The packages, each usable on its own:
//
//   - event: the wire model (Event, payload types, exact JSON encoding).
//   - collector: the Collector and Sink interfaces, Poller + Every for
//     periodic snapshots; collector/<name> holds the built-in collectors and
//     collector/collectortest a conformance suite for your own.
//   - stage: processing stages between the collectors and the aggregator.
//   - aggregate: the Aggregator interface and its default: ASC aggregation,
//     bounded queues and the message packer.
//   - transport: the Transport interface; transport/<name> the transports.
//   - twinconfig: the twin configuration: defaults, strict decoding,
//     validation, reported properties, a watched local file source.
//   - schemas: the official ASC JSON Schemas and edgesec's extension
//     schemas, with a validator.
//
// # Embedding
//
// A module author builds an Engine from a transport and collectors (the
// standard set of package defaults, and its own), and runs it until its
// context is cancelled:
//
//	eng := edgesec.New(edgesec.Options{
//		AgentVersion: "1.0.0",
//		StateDir:     "/var/lib/mymodule",
//		Transport:    file.New(os.Stdout),
//		Logger:       logger,
//	})
//	release := defaults.Add(eng, defaults.Options{HostRoot: "/host", StateDir: "/var/lib/mymodule"})
//	defer release()
//	eng.AddCollector(myModbusCollector) // a collector.Collector of your own
//	err := eng.Run(ctx)                 // blocks; cancel ctx to flush and stop
//
// The engine runs every periodic collector once at start and then every
// snapshotFrequency, stops collectors whose events are configured Off,
// applies new configurations without restart, retries a failing transport
// with backoff and jitter, restarts a failed collector with backoff (unless
// its error is collector.Permanent), turns its own and the collectors'
// warnings and errors into Diagnostic events (one per log record; the
// user's slog handler sees every record unchanged), and emits a Heartbeat.
package edgesec
