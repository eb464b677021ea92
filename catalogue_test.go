package edgesec_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport/transporttest"
	"github.com/edgesec/edgesec/twinconfig"
)

// modbus is a vendor collector that declares its event.
type modbus struct{}

var modbusWrite = event.Info{Name: "ModbusWrite", Category: event.Triggered, Type: event.Security, DefaultPriority: event.Off}

func (modbus) Name() string         { return "modbus" }
func (modbus) Events() []event.Info { return []event.Info{modbusWrite} }
func (modbus) Run(ctx context.Context, sink collector.Sink) error {
	ev := event.NewCustom("ModbusWrite", event.Triggered, event.Security, time.Now(),
		event.Object{"Register": "40001", "ExtraDetails": map[string]string{}})
	if err := sink.Emit(ctx, ev); err != nil {
		return nil
	}
	<-ctx.Done()
	return nil
}

type recordingReporter struct{ docs chan []byte }

func (r recordingReporter) ReportProperties(_ context.Context, doc []byte) error {
	select {
	case r.docs <- doc:
	default:
	}
	return nil
}

func TestVendorEventPriorityFromTheTwin(t *testing.T) {
	rec := transporttest.NewRecorder()
	src := &chanSource{docs: make(chan []byte, 1)}
	rep := recordingReporter{docs: make(chan []byte, 8)}
	// One document turns the vendor event on, has an unknown key and a bad
	// value: the unknown and bad keys are reported alone, the rest applies.
	src.docs <- []byte(`{"eventPriorityModbusWrite":{"value":"High"},"eventPriorityNoSuchEvent":{"value":"High"},"snapshotFrequency":{"value":"soon"},"highPriorityMessageFrequency":{"value":"PT1S"},"lowPriorityMessageFrequency":{"value":"PT2S"}}`)
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: 100 * time.Millisecond,
		ConfigSources: []edgesec.ConfigSource{src}, PropertyReporter: rep})
	e.AddCollector(modbus{})
	run(t, e)

	waitFor(t, 10*time.Second, "the vendor event and the ConfigurationError", func() bool {
		n := names(decodeWith(t, rec.Messages(), modbusWrite))
		return n["ModbusWrite"] > 0 && n[event.ConfigurationError] > 0
	})
	require.Equal(t, event.High, e.Config().Priority("ModbusWrite"))
	var keys []string
	for _, ev := range decodeWith(t, rec.Messages(), modbusWrite) {
		if ev.Name == event.ConfigurationError {
			for _, p := range ev.Payload {
				keys = append(keys, p["ConfigurationName"].(string))
			}
		}
	}
	require.ElementsMatch(t, []string{"eventPriorityNoSuchEvent", "snapshotFrequency"}, keys)

	var last []byte
	waitFor(t, 5*time.Second, "reported properties with the vendor key", func() bool {
		for {
			select {
			case d := <-rep.docs:
				last = d
			default:
				var doc map[string]map[string]map[string]any
				return last != nil && json.Unmarshal(last, &doc) == nil &&
					doc[twinconfig.ObjectName]["eventPriorityModbusWrite"]["value"] == "High"
			}
		}
	})
}

func TestVendorEventOffByDefaultStopsItsCollector(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, Config: fastConfig(t, "")})
	e.AddCollector(modbus{})
	require.NoError(t, e.Once(context.Background()))
	require.Equal(t, event.Off, e.Config().Priority("ModbusWrite"), "the declared default")
	require.Zero(t, names(decode(t, rec.Messages()))["ModbusWrite"])
}

func TestBadEventDeclarationStopsTheEngineFromStarting(t *testing.T) {
	e := edgesec.New(edgesec.Options{AgentID: testAgentID, Transport: transporttest.NewRecorder()})
	e.AddCollector(badDeclaration{})
	require.ErrorContains(t, e.Run(context.Background()), "letters and digits")
}

type badDeclaration struct{ modbus }

func (badDeclaration) Events() []event.Info {
	return []event.Info{{Name: "Modbus Write", Category: event.Triggered, Type: event.Security}}
}

// fileSource is a ConfigSource with one document that never changes.
type fileSource []byte

func (f fileSource) Watch(ctx context.Context, apply func([]byte, error)) error {
	apply(f, nil)
	<-ctx.Done()
	return nil
}

func TestOnceReadsConfigSourcesAndReportsTheirProblems(t *testing.T) {
	for _, tc := range []struct{ name, doc, key string }{
		{"string for an integer", `{"maxMessageSizeInBytes":{"value":"big"}}`, "maxMessageSizeInBytes"},
		{"number for a duration", `{"snapshotFrequency":{"value":5}}`, "snapshotFrequency"},
		{"bad priority", `{"eventPriorityLogin":{"value":"urgent"}}`, "eventPriorityLogin"},
		{"string for a boolean", `{"baselineCustomChecksEnabled":{"value":"yes"}}`, "baselineCustomChecksEnabled"},
		{"unknown key", `{"snapshotFrequncy":{"value":"PT1H"}}`, "snapshotFrequncy"},
		{"unwrapped value", `{"heartbeatFrequency":"PT1M"}`, "heartbeatFrequency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := transporttest.NewRecorder()
			e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
				ConfigSources: []edgesec.ConfigSource{fileSource(tc.doc)}})
			e.AddPoller(event.SystemInformation, sysinfoPoller())
			require.NoError(t, e.Once(context.Background()))
			var keys []string
			for _, ev := range decode(t, rec.Messages()) {
				if ev.Name == event.ConfigurationError {
					for _, p := range ev.Payload {
						keys = append(keys, p["ConfigurationName"].(string))
					}
				}
			}
			require.Equal(t, []string{tc.key}, keys)
		})
	}
}

func TestOnceAppliesTheSourcesConfiguration(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec,
		ConfigSources: []edgesec.ConfigSource{fileSource(`{"eventPrioritySystemInformation":{"value":"Off"}}`)}})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	require.NoError(t, e.Once(context.Background()))
	require.Zero(t, names(decode(t, rec.Messages()))[event.SystemInformation])
}

// degrading reports a problem right after it starts, like a collector that
// falls back to a weaker source.
type degrading struct{}

func (degrading) Name() string { return event.LocalUsers }
func (degrading) Run(ctx context.Context, sink collector.Sink) error {
	collector.ReportError(ctx, sink, event.LocalUsers, errors.New("shadow not readable; falling back"))
	<-ctx.Done()
	return nil
}

func heartbeatStates(t *testing.T, evs []eventLine) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, ev := range evs {
		if ev.Name != event.Heartbeat {
			continue
		}
		states := map[string]string{}
		for _, c := range ev.Payload[0]["Collectors"].([]any) {
			m := c.(map[string]any)
			states[m["Name"].(string)] = m["State"].(string)
		}
		out = append(out, states)
	}
	return out
}

func TestFirstHeartbeatShowsTheCollectorsStartedState(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: 300 * time.Millisecond})
	e.AddCollector(degrading{})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := rec.WaitFor(ctx, 1)
	require.NoError(t, err)
	hbs := heartbeatStates(t, decode(t, msgs))
	require.Len(t, hbs, 1, "one Heartbeat in the first message")
	require.Equal(t, "degraded", hbs[0][event.LocalUsers])
	require.Equal(t, "running", hbs[0][event.SystemInformation])
}

func TestOnceHeartbeatShowsWhatRan(t *testing.T) {
	rec := transporttest.NewRecorder()
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec})
	e.AddPoller(event.SystemInformation, sysinfoPoller())
	e.AddCollector(&failing{}) // triggered: not run by Once
	require.NoError(t, e.Once(context.Background()))
	hbs := heartbeatStates(t, decode(t, rec.Messages()))
	require.Len(t, hbs, 1)
	require.Equal(t, "running", hbs[0][event.SystemInformation])
	require.Equal(t, "stopped", hbs[0]["Modbus"])
}

// degradeLater reports a problem when told to.
type degradeLater struct{ now chan struct{} }

func (degradeLater) Name() string { return "Modbus" }
func (d degradeLater) Run(ctx context.Context, sink collector.Sink) error {
	select {
	case <-d.now:
		collector.ReportError(ctx, sink, "Modbus", errors.New("device unplugged"))
	case <-ctx.Done():
	}
	<-ctx.Done()
	return nil
}

func TestWorsenedHealthSendsAHeartbeat(t *testing.T) {
	rec := transporttest.NewRecorder()
	d := degradeLater{now: make(chan struct{})}
	e := edgesec.New(edgesec.Options{AgentVersion: "test", AgentID: testAgentID, Transport: rec, FirstMessageDelay: 100 * time.Millisecond,
		Config: fastConfig(t, "")})
	e.AddCollector(d)
	run(t, e)
	waitFor(t, 5*time.Second, "the first Heartbeat", func() bool {
		hbs := heartbeatStates(t, decode(t, rec.Messages()))
		return len(hbs) == 1 && hbs[0]["Modbus"] == "running"
	})
	close(d.now)
	waitFor(t, 15*time.Second, "a Heartbeat showing the degraded collector (default heartbeatFrequency is 30 minutes)", func() bool {
		for _, hb := range heartbeatStates(t, decode(t, rec.Messages())) {
			if hb["Modbus"] == "degraded" {
				return true
			}
		}
		return false
	})
}
