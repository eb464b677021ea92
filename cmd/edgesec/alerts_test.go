package main

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/mqtttest"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/mqtt"
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

// The live view: alerts published by a module to a real broker are shown
// as they arrive.
func TestAlertsCommandMQTT(t *testing.T) {
	mq := mqtttest.StartMosquitto(t)
	u, err := url.Parse(mq.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(mq.User, mq.Password)
	u.RawQuery = url.Values{"ca": {mq.CAFile}}.Encode()

	ev := event.Must(event.SecurityAlert, time.Now(), &event.SecurityAlertPayload{AlertType: "IoT_ReverseShell", DisplayName: "Reverse shells",
		Severity: event.AlertHigh, Description: "bash redirects a shell to /dev/tcp/203.0.113.7/4444", TriggerEventIDs: []string{}, ProcessID: 4242})
	env := event.Envelope{AgentVersion: "test", AgentID: "2f1ae4a0-6c1b-4f57-9a58-0d3f1c9e7b21", Events: []event.Event{ev}}
	tr, err := mqtt.New(mqtt.Options{URL: mq.URL, Username: mq.User, Password: mq.Password, CAFile: mq.CAFile, Device: "gw1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())

	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"alerts", "--mqtt", u.String(), "--for", "6s"}, nil, &out, &errb) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		m := transport.NewSecurityMessage(env.AppendJSON(nil), event.High, time.Now())
		if err := tr.Send(ctx, m); err != nil && ctx.Err() == nil {
			t.Logf("send: %v", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(400 * time.Millisecond):
		}
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "IoT_ReverseShell") || !strings.Contains(out.String(), "pid 4242") {
		t.Fatalf("no alert in the live view:\n%s\nstderr: %s", out.String(), errb.String())
	}
	if strings.Contains(out.String()+errb.String(), mq.Password) {
		t.Fatal("the password was printed")
	}
}
