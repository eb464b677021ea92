package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
)

func TestAlertsCommand(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ev := event.Must(event.SecurityAlert, at, &event.SecurityAlertPayload{AlertType: "IoT_CryptoMiner", DisplayName: "Crypto coin miner image",
		Severity: event.AlertHigh, Description: "sh names the crypto miner \"cpuminer\"", TriggerEventIDs: []string{}, ProcessID: 42})
	env := event.Envelope{AgentVersion: "test", AgentID: "2f1ae4a0-6c1b-4f57-9a58-0d3f1c9e7b21", Events: []event.Event{ev}}
	in := string(env.AppendJSON(nil)) + "\n"
	var out, errb bytes.Buffer
	if code := run([]string{"alerts", "-"}, strings.NewReader(in), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "2026-12-06 12:00:00  alert  High      -      IoT_CryptoMiner  pid 42") {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"alerts", "--json", "-"}, strings.NewReader(in), &out, &errb); code != 0 || !strings.Contains(out.String(), `"id":"IoT_CryptoMiner"`) {
		t.Errorf("json exit %d:\n%s", code, out.String())
	}
	if code := run([]string{"alerts", "-"}, strings.NewReader("garbage"), &out, &errb); code != 1 {
		t.Errorf("garbage: exit %d", code)
	}
}
