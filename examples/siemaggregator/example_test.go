package siemaggregator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/examples/siemaggregator"
	"github.com/edgesec/edgesec/transport/file"
)

// An engine whose messages each carry one event, for a SIEM that stores
// one record per message: a snapshot of two listening ports becomes two
// messages, and the engine's Heartbeat a third.
func Example() {
	var out bytes.Buffer
	eng := edgesec.New(edgesec.Options{
		AgentVersion: "siem-example/1.0",
		AgentID:      "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60",
		Transport:    file.New(&out),
		Aggregator:   siemaggregator.New(),
	})
	eng.AddPoller(event.ListeningPorts, collector.PollerFunc(func(context.Context) ([]event.Event, error) {
		now := time.Now()
		return []event.Event{
			event.Must(event.ListeningPorts, now, &event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "22"}),
			event.Must(event.ListeningPorts, now, &event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "8883"}),
		}, nil
	}))
	if err := eng.Once(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	lines := bufio.NewScanner(&out)
	for lines.Scan() {
		var msg struct {
			Events []struct {
				Name    string
				Payload []map[string]any
			}
		}
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			fmt.Println(err)
			return
		}
		e := msg.Events[0]
		fmt.Println(len(msg.Events), e.Name, e.Payload[0]["LocalPort"])
	}
	// Output:
	// 1 Heartbeat <nil>
	// 1 ListeningPorts 22
	// 1 ListeningPorts 8883
}
