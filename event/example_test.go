package event_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/event"
)

// A collector builds events from the typed payloads; the engine packs them
// into an envelope and encodes it without reflection.
func ExampleEnvelope_AppendJSON() {
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	ev, err := event.New(event.ListeningPorts, at,
		&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: event.Itoa(22),
			ExtraDetails: event.ExtraDetails{"Executable": "/usr/sbin/sshd"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	env := event.Envelope{AgentVersion: "1.0.0", AgentID: "9c647395-b913-4997-a732-a7fe7303b649", Events: []event.Event{ev}}
	body := env.AppendJSON(nil)

	var msg struct {
		MessageSchemaVersion string
		Events               []struct {
			TimestampUTC, Category, Name string
			IsEmpty                      bool
			Payload                      []json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		fmt.Println(err)
		return
	}
	e := msg.Events[0]
	fmt.Println(msg.MessageSchemaVersion, e.Name, e.Category, e.TimestampUTC, e.IsEmpty)
	fmt.Println(string(e.Payload[0]))
	// Output:
	// 1.0 ListeningPorts Periodic 2026-03-14T15:09:26.000Z false
	// {"LocalAddress":"0.0.0.0","LocalPort":"22","Protocol":"TCP","ExtraDetails":{"Executable":"/usr/sbin/sshd"}}
}
