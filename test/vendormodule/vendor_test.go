package vendormodule

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/aggregate/aggregatetest"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/defaults"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/transporttest"
)

func feed(t *testing.T, n int) <-chan ModbusWriteRecord {
	ch := make(chan ModbusWriteRecord, n)
	for i := range n {
		ch <- ModbusWriteRecord{Register: 40001 % 65536, Value: i, Client: "10.0.0.7"}
	}
	return ch
}

func TestModbusCollectorConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector { return &ModbusCollector{Writes: feed(t, 5)} })
}

func TestOneMessagePerEventConformance(t *testing.T) {
	aggregatetest.Run(t, func() aggregate.Aggregator { return NewOneMessagePerEvent() })
}

func TestSyslogFileConformance(t *testing.T) {
	var path string
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			path = filepath.Join(t.TempDir(), "siem.log")
			s, err := OpenSyslogFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Delivered: func(t *testing.T) [][]byte {
			l, err := ReadLines(path)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
		TooLarge: MaxLine + 1,
	})
}

// The vendor's transport wrapped in edgesec's durable outbox, for a second
// destination: still a conformant transport.
func TestSyslogFileInTheOutboxConformance(t *testing.T) {
	var path string
	transporttest.Run(t, transporttest.Config{
		New: func(t *testing.T) transport.Transport {
			path = filepath.Join(t.TempDir(), "siem.log")
			s, err := OpenSyslogFile(path)
			if err != nil {
				t.Fatal(err)
			}
			o, err := outbox.New(s, outbox.Options{Store: outbox.NewMemoryStore(8 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
		Delivered: func(t *testing.T) [][]byte {
			l, err := ReadLines(path)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	})
}

// twin is a configuration source with one document: the module twin that
// turns the vendor event on.
type twin []byte

func (d twin) Watch(ctx context.Context, apply func([]byte, error)) error {
	apply(d, nil)
	<-ctx.Done()
	return nil
}

// The whole module: defaults + the vendor's collector, stage, aggregator
// and transport, the vendor event's priority set from the twin.
func TestVendorModule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "siem.log")
	siem, err := OpenSyslogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	eng := edgesec.New(edgesec.Options{
		AgentVersion: "vendor/1.0",
		StateDir:     t.TempDir(),
		Transport:    siem,
		Aggregator:   NewOneMessagePerEvent(),
		Stages:       []stage.Stage{RedactClient()},
		ConfigSources: []edgesec.ConfigSource{twin(`{"properties":{"desired":{"ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration":{` +
			`"eventPriorityModbusWrite":{"value":"High"}},"$version":3}}}`)},
		FirstMessageDelay: 200 * time.Millisecond,
	})
	release := defaults.Add(eng, defaults.Options{HostRoot: "/", StateDir: t.TempDir(), NoContainers: true})
	defer release()
	eng.AddCollector(&ModbusCollector{Writes: feed(t, 3)})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	v, err := schemas.NewValidatorFor(ModbusWrite)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	writes, names := 0, map[string]int{}
	for writes < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		lines, err := ReadLines(path)
		if err != nil {
			t.Fatal(err)
		}
		writes, names = 0, map[string]int{}
		for _, l := range lines {
			if err := v.ValidateMessage(l); err != nil {
				t.Fatalf("invalid message: %v\n%s", err, l)
			}
			var env struct {
				Events []struct {
					Name    string
					Payload []map[string]any
				}
			}
			if err := json.Unmarshal(l, &env); err != nil {
				t.Fatal(err)
			}
			if len(env.Events) != 1 {
				t.Fatalf("the vendor's aggregator sends one event per message, got %d", len(env.Events))
			}
			ev := env.Events[0]
			names[ev.Name]++
			if ev.Name == ModbusWrite.Name {
				writes++
				if c := ev.Payload[0]["Client"]; c != "redacted" {
					t.Fatalf("the vendor's stage did not run: Client %v", c)
				}
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if writes != 3 {
		t.Fatalf("%d ModbusWrite events sent, want 3 (the twin turns the event on); events: %v", writes, names)
	}
	if eng.Config().Priority(ModbusWrite.Name) != event.High || eng.Config().Version != 3 {
		t.Fatalf("configuration in effect: %v, version %d", eng.Config().Priority(ModbusWrite.Name), eng.Config().Version)
	}
	for _, n := range []string{event.SystemInformation, event.Heartbeat} {
		if names[n] == 0 {
			t.Errorf("no %s from the defaults and the engine: %v", n, names)
		}
	}
}
