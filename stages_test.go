package edgesec_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport/transporttest"
)

// processPoller returns one ProcessCreate event per module name, each with
// a secret in its command line.
func processPoller(modules ...string) collector.Poller {
	return collector.PollerFunc(func(context.Context) ([]event.Event, error) {
		var evs []event.Event
		for i, m := range modules {
			evs = append(evs, event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{
				Executable: "/bin/app", CommandLine: "/bin/app --password=hunter2", ProcessID: 100 + i,
				ExtraDetails: event.ExtraDetails{"ModuleName": m},
			}))
		}
		return evs, nil
	})
}

func moduleOf(ev *event.Event) string {
	if len(ev.Payload) == 0 {
		return ""
	}
	if p, ok := ev.Payload[0].(*event.ProcessCreatePayload); ok {
		return p.ExtraDetails["ModuleName"]
	}
	return ""
}

// redact replaces the command line's secrets, building a new item.
func redact(_ *event.Event, it event.Item) event.Item {
	p, ok := it.(*event.ProcessCreatePayload)
	if !ok {
		return it
	}
	c := *p
	c.CommandLine = strings.ReplaceAll(c.CommandLine, "hunter2", "***")
	return &c
}

// marker is a stage that adds a LocalUsers event after every ProcessCreate
// of module "alerting" and has a Runner that emits one event at start.
type marker struct {
	ran, stopped atomic.Bool
}

func (m *marker) Name() string { return "marker" }

func (m *marker) Process(_ context.Context, ev *event.Event, emit stage.Emit) error {
	if ev.Name == event.ProcessCreate && moduleOf(ev) == "alerting" {
		emit(event.Must(event.LocalUsers, ev.Time, &event.LocalUsersPayload{UserName: "added-by-stage", UserID: "0"}))
	}
	return nil
}

func (m *marker) Run(ctx context.Context, sink collector.Sink) error {
	m.ran.Store(true)
	defer m.stopped.Store(true)
	if err := sink.Emit(ctx, event.Must(event.LocalUsers, time.Now(), &event.LocalUsersPayload{UserName: "from-runner", UserID: "1"})); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func TestStagesFilterChangeAndAddEvents(t *testing.T) {
	rec := transporttest.NewRecorder()
	mk := &marker{}
	var sawHeartbeat atomic.Bool
	e := edgesec.New(edgesec.Options{
		AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		Config: fastConfig(t, `,"eventPriorityProcessCreate":{"value":"High"},"aggregationEnabledProcessCreate":{"value":false}`),
		Stages: []stage.Stage{
			stage.Func{StageName: "spy", F: func(_ context.Context, ev *event.Event, _ stage.Emit) error {
				if ev.Name == event.Heartbeat {
					sawHeartbeat.Store(true)
				}
				return nil
			}},
			stage.Filter("drop-noisy", func(ev *event.Event) bool { return moduleOf(ev) != "noisy" }),
			stage.MapItems("redact", redact, event.ProcessCreate),
			mk,
		},
	})
	e.AddPoller(event.ProcessCreate, processPoller("a", "noisy", "alerting", "noisy"))
	require.NoError(t, e.Once(context.Background()))
	require.True(t, mk.ran.Load(), "the Runner was started")
	require.True(t, mk.stopped.Load(), "the Runner was stopped before Once returned")
	require.False(t, sawHeartbeat.Load(), "engine events bypass the stages by default")

	evs := decode(t, rec.Messages())
	var modules, users []string
	for _, ev := range evs {
		for _, p := range ev.Payload {
			switch ev.Name {
			case event.ProcessCreate:
				modules = append(modules, p["ExtraDetails"].(map[string]any)["ModuleName"].(string))
				require.Equal(t, "/bin/app --password=***", p["CommandLine"])
			case event.LocalUsers:
				users = append(users, p["UserName"].(string))
			}
		}
	}
	require.ElementsMatch(t, []string{"a", "alerting"}, modules, "noisy dropped by the filter")
	require.Contains(t, users, "added-by-stage")
}

func TestStageDropsAreCountedAndBrokenStagesLoseNothing(t *testing.T) {
	rec := transporttest.NewRecorder()
	mk := &marker{}
	e := edgesec.New(edgesec.Options{
		AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: -1,
		Config: fastConfig(t, `,"eventPriorityProcessCreate":{"value":"High"},"aggregationEnabledProcessCreate":{"value":false}`),
		Stages: []stage.Stage{
			stage.Func{StageName: "broken", F: func(context.Context, *event.Event, stage.Emit) error { return errors.New("boom") }},
			stage.Filter("drop-noisy", func(ev *event.Event) bool { return moduleOf(ev) != "noisy" }),
			mk,
		},
	})
	e.AddPoller(event.ProcessCreate, processPoller("a", "noisy", "noisy", "b", "noisy"))
	stop := run(t, e)

	var stats map[string]any
	waitFor(t, 10*time.Second, "a DroppedEventsStatistics event counting the stage's drops", func() bool {
		for _, ev := range decode(t, rec.Messages()) {
			if ev.Name != event.DroppedEventsStatistics {
				continue
			}
			for _, p := range ev.Payload {
				if p["Queue"] == "Low" {
					x := p["ExtraDetails"].(map[string]any)
					if x[edgesec.ExtraStageDropped] != "0" {
						stats = x
						return true
					}
				}
			}
		}
		return false
	})
	require.Equal(t, "3", stats[edgesec.ExtraStageDropped])
	require.Equal(t, "3", stats[edgesec.ExtraStageDroppedPrefix+"drop-noisy"])
	var modules []string
	for _, ev := range decode(t, rec.Messages()) {
		if ev.Name == event.ProcessCreate {
			for _, p := range ev.Payload {
				modules = append(modules, p["ExtraDetails"].(map[string]any)["ModuleName"].(string))
			}
		}
	}
	require.ElementsMatch(t, []string{"a", "b"}, modules, "a failing stage passes events on")
	users := 0
	for _, ev := range decode(t, rec.Messages()) {
		if ev.Name == event.LocalUsers {
			require.Equal(t, "from-runner", ev.Payload[0]["UserName"], "a Runner's events enter the chain after its stage")
			users++
		}
	}
	require.Equal(t, 1, users)
	stop()
	require.True(t, mk.stopped.Load(), "the engine stops the Runner")
}

// lossy is a collector that lost events before its Sink (a kernel buffer).
type lossy struct {
	triggered
	lost atomic.Int64
}

func (l *lossy) Dropped() int64 { return l.lost.Load() }

func TestCollectorLossesAreReported(t *testing.T) {
	rec := transporttest.NewRecorder()
	l := &lossy{triggered: triggered{name: event.ProcessCreate, n: 1, mk: func(i int) event.Event {
		return event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{Executable: "/bin/true", CommandLine: "true", ProcessID: 7, UserID: "0"})
	}}}
	l.lost.Store(17)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: -1, Config: fastConfig(t, "")})
	e.AddCollector(l)
	run(t, e)
	waitFor(t, 10*time.Second, "CollectorDroppedEvents 17", func() bool {
		for _, ev := range decode(t, rec.Messages()) {
			if ev.Name != event.DroppedEventsStatistics {
				continue
			}
			for _, p := range ev.Payload {
				if x, ok := p["ExtraDetails"].(map[string]any); ok && x[edgesec.ExtraCollectorDropped] == "17" &&
					x[edgesec.ExtraCollectorDroppedPrefix+event.ProcessCreate] == "17" {
					return true
				}
			}
		}
		return false
	})
}
