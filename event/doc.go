// Package event is the wire model of the Azure Security Center for IoT
// security message, schema version 1.0, plus edgesec's extension events.
//
// A message is an [Envelope] holding one or more [Event] values. Each Event
// has a name from the catalogue ([ProcessCreate], [ListeningPorts], …), a
// [Category] (Periodic or Triggered), an [EventType] (Security, Operational
// or Diagnostic) and a payload: a slice of [Item] values, all of the typed
// payload struct that belongs to the event's name (for example
// [ProcessCreatePayload] for ProcessCreate).
//
// The JSON encoding is written by hand ([Event.AppendJSON]) so that it
// matches the official JSON Schemas exactly (ports are strings, process ids
// integers, ExtraDetails an object of string values, RFC 3339 timestamps in
// local time and UTC) and so that the engine can encode hundreds of
// thousands of events per second. The package depends on the standard
// library only.
//
// Values in this package are plain data: they are safe to share between
// goroutines as long as nobody mutates them. Collectors hand events over to
// a Sink and must not modify them afterwards.
package event
