package edgesec_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// reporting reports one problem through its sink, then waits.
type reporting struct{ reported atomic.Bool }

func (c *reporting) Name() string { return "Modbus" }

func (c *reporting) Run(ctx context.Context, sink collector.Sink) error {
	collector.ReportError(ctx, sink, c.Name(), errors.New("register 40001 unreadable"))
	c.reported.Store(true)
	<-ctx.Done()
	return nil
}

// TestReportedProblemIsOneDiagnosticEvent: a collector problem reported
// with collector.ReportError becomes exactly one Diagnostic event and one
// warning in the user's log, tagged with the collector's name.
func TestReportedProblemIsOneDiagnosticEvent(t *testing.T) {
	rec := transporttest.NewRecorder()
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	c := &reporting{}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Logger: logger,
		Config: fastConfig(t, `,"eventPriorityDiagnostic":{"value":"High"}`), FirstMessageDelay: -1})
	e.AddCollector(c)
	stop := run(t, e)
	waitFor(t, 5*time.Second, "the report", c.reported.Load)
	stop()
	var diags []eventLine
	for _, ev := range decode(t, rec.Messages()) {
		if ev.Name == event.DiagnosticEvent {
			diags = append(diags, ev)
		}
	}
	require.Len(t, diags, 1, "one problem, one Diagnostic event")
	require.Len(t, diags[0].Payload, 1)
	require.Contains(t, fmt.Sprint(diags[0].Payload[0]), "register 40001 unreadable")
	require.Contains(t, fmt.Sprint(diags[0].Payload[0]), "Modbus")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, strings.Count(logs.String(), "register 40001 unreadable"), logs.String())
}

// broken fails with a permanent error.
type broken struct{ runs atomic.Int64 }

func (b *broken) Name() string { return "Modbus" }

func (b *broken) Run(context.Context, collector.Sink) error {
	b.runs.Add(1)
	return collector.Permanent(errors.New("no serial port"))
}

// TestPermanentErrorStopsRestarts: a collector that fails with a permanent
// error is not restarted and stays "failed" in the Heartbeat.
func TestPermanentErrorStopsRestarts(t *testing.T) {
	rec := transporttest.NewRecorder()
	b := &broken{}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		Config: fastConfig(t, `,"heartbeatFrequency":{"value":"PT1S"}`), FirstMessageDelay: -1})
	e.AddCollector(b)
	run(t, e)
	heartbeats := func() int {
		return strings.Count(bodies(rec), `"Name":"Modbus","State":"failed","LastError":"no serial port"`)
	}
	// The first restart comes 0.5-1s after a failure: by the third heartbeat
	// reporting the failure a restartable collector would have run again.
	waitFor(t, 15*time.Second, "three heartbeats reporting the failure", func() bool { return heartbeats() >= 3 })
	require.Equal(t, int64(1), b.runs.Load(), "a permanent failure is not restarted")
	require.True(t, errors.Is(collector.Permanent(errors.New("x")), collector.ErrPermanent))
	require.NoError(t, collector.Permanent(nil))
}

func bodies(rec *transporttest.Recorder) string {
	var sb strings.Builder
	for _, m := range rec.Messages() {
		sb.Write(m.Body)
	}
	return sb.String()
}

// TestDroppedDiagnosticsAreReported: warnings logged while the engine
// cannot take them (here: before Run, beyond the queue) are counted in
// DroppedEventsStatistics.
func TestDroppedDiagnosticsAreReported(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		Config: fastConfig(t, `,"eventPriorityDiagnostic":{"value":"High"}`), FirstMessageDelay: -1})
	const logged = 200
	for i := range logged {
		e.Logger().Warn("early warning", "i", i)
	}
	run(t, e)
	var diags, dropped int
	waitFor(t, 10*time.Second, "statistics counting every warning", func() bool {
		diags, dropped = 0, 0
		for _, ev := range decode(t, rec.Messages()) {
			switch ev.Name {
			case event.DiagnosticEvent:
				diags += len(ev.Payload)
			case event.DroppedEventsStatistics:
				for _, it := range ev.Payload {
					if x, ok := it["ExtraDetails"].(map[string]any); ok {
						n, err := strconv.Atoi(fmt.Sprint(x[edgesec.ExtraDiagnosticDropped]))
						require.NoError(t, err)
						dropped += n
					}
				}
			}
		}
		return diags+dropped >= logged && dropped > 0
	})
	require.Equal(t, logged, diags+dropped, "every warning is sent or counted")
	require.Less(t, diags, logged)
}
