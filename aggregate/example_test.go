package aggregate_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/event"
)

// Three runs of the same command within the aggregation window become one
// ProcessCreate event with a hit count; a login is queued as it is. The
// high-priority timer sends the High events first and pads the message
// with the Low queue.
func Example() {
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	p := aggregate.New(aggregate.Settings{
		AgentVersion:    "1.0.0",
		AgentID:         "0f8fad5b-d9cb-469f-a165-70867728950e",
		MaxCacheBytes:   2560000,
		MaxMessageBytes: 204800,
		Aggregation: map[string]aggregate.AggSetting{
			event.ProcessCreate: {Enabled: true, Interval: time.Hour},
		},
		Now: func() time.Time { return clock },
	})

	for pid := 100; pid < 103; pid++ {
		p.Add(event.Must(event.ProcessCreate, clock, &event.ProcessCreatePayload{
			Executable: "/usr/bin/curl", CommandLine: "curl -s http://10.0.0.1/health", UserID: "0", ProcessID: pid, ParentProcessID: 1,
		}))
	}
	p.Add(event.Must(event.Login, clock, &event.LoginPayload{
		ProcessID: 42, UserName: "admin", Operation: "Login", Executable: "/usr/sbin/sshd", Result: event.LoginSuccess,
	}))
	fmt.Println("pending aggregates:", p.Stats().Aggregates, "flush at:", p.NextFlush().Format(time.Kitchen))

	clock = clock.Add(time.Hour) // the window has ended
	p.Flush(false)
	for _, body := range p.Pack(event.High, false) {
		var m struct {
			Events []struct {
				Name    string
				Payload []struct {
					ProcessId    int
					ExtraDetails map[string]string
				}
			}
		}
		if err := json.Unmarshal(body, &m); err != nil {
			fmt.Println(err)
			return
		}
		for _, e := range m.Events {
			fmt.Println(e.Name, "ProcessId", e.Payload[0].ProcessId, "HitCount", e.Payload[0].ExtraDetails["HitCount"]+";")
		}
		p.RecordSent(len(body))
	}
	fmt.Println("sent:", p.Stats().Sent)
	// Output:
	// pending aggregates: 1 flush at: 1:00PM
	// Login ProcessId 42 HitCount ;
	// ProcessCreate ProcessId 0 HitCount 3;
	// sent: 1
}
