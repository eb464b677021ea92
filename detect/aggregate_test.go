package detect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/event"
)

// TestAlertsAreNeverAggregated: with aggregation on for every aggregatable
// name, identical alerts and recommendations each reach the messages.
func TestAlertsAreNeverAggregated(t *testing.T) {
	on := aggregate.AggSetting{Enabled: true, Interval: time.Hour}
	p := aggregate.New(aggregate.Settings{AgentVersion: "test", AgentID: "2f1ae4a0-6c1b-4f57-9a58-0d3f1c9e7b21",
		Aggregation: map[string]aggregate.AggSetting{event.ProcessCreate: on, event.ConnectionCreate: on, event.ProcessTerminate: on,
			event.SecurityAlert: on, event.SecurityRecommendation: on}})
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for range 3 {
		p.Add(event.Must(event.SecurityAlert, at, &event.SecurityAlertPayload{AlertType: "IoT_CryptoMiner", DisplayName: "Crypto coin miner image",
			Severity: event.AlertHigh, Description: "same", TriggerEventIDs: []string{}}))
		p.Add(event.Must(event.SecurityRecommendation, at, &event.SecurityRecommendationPayload{RecommendationType: "IoT_OpenPorts",
			Name: "Open ports on device", Severity: event.AlertMedium, State: event.RecommendationActive, Entity: "TCP 0.0.0.0:8888"}))
		p.Add(event.Must(event.ProcessCreate, at, &event.ProcessCreatePayload{Executable: "/bin/true", UserID: "0", CommandLine: "true"}))
	}
	p.Flush(true)
	var all string
	for _, b := range p.Pack(event.Low, false) {
		all += string(b)
	}
	if n := strings.Count(all, `"Name":"SecurityAlert"`); n != 3 {
		t.Errorf("%d SecurityAlert events, want 3", n)
	}
	if n := strings.Count(all, `"Name":"SecurityRecommendation"`); n != 3 {
		t.Errorf("%d SecurityRecommendation events, want 3", n)
	}
	if n := strings.Count(all, `"Name":"ProcessCreate"`); n != 1 {
		t.Errorf("%d ProcessCreate events, want 1 (aggregated): the test does not exercise aggregation", n)
	}
}
