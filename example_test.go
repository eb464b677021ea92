package edgesec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport/file"
)

// A module author's engine with one periodic collector of their own, run
// once: every periodic collector polls, the events are packed into ASC
// security messages and written as JSON lines.
func Example() {
	var out bytes.Buffer
	eng := edgesec.New(edgesec.Options{
		AgentVersion: "example/1.0",
		AgentID:      "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60",
		Transport:    file.New(&out),
	})
	eng.AddPoller(event.ListeningPorts, collector.PollerFunc(func(context.Context) ([]event.Event, error) {
		return []event.Event{event.Must(event.ListeningPorts, time.Now(), &event.ListeningPortsPayload{
			Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "8883",
		})}, nil
	}))
	if err := eng.Once(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	var msg struct {
		AgentID string `json:"AgentId"`
		Events  []struct{ Name string }
	}
	if err := json.Unmarshal(out.Bytes(), &msg); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(msg.AgentID)
	for _, e := range msg.Events {
		fmt.Println(e.Name)
	}
	// Output:
	// 3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60
	// Heartbeat
	// ListeningPorts
}
