package collectortest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/subtest"
	"github.com/edgesec/edgesec/twinconfig"
)

// fast shortens the suite for the broken collectors, which hit every
// timeout.
var fast = []Option{WithWait(400 * time.Millisecond), func(c *config) {
	c.cancelTimeout = 300 * time.Millisecond
	c.lateGrace = 100 * time.Millisecond
}}

// runFake runs the suite against newCollector and returns the failures per
// sub-test.
func runFake(t *testing.T, newCollector func(t *testing.T) collector.Collector, opts ...Option) map[string][]string {
	t.Helper()
	s := subtest.NewRecorder(t)
	run(s, newCollector, append(append([]Option(nil), fast...), opts...)...)
	return s.Failures()
}

// wantFailure checks that some failure of sub-test sub (any, if "")
// contains substr.
var wantFailure = subtest.WantFailure

// funcCollector is a Collector made of a function.
type funcCollector struct {
	name string
	run  func(ctx context.Context, sink collector.Sink) error
}

func (c funcCollector) Name() string                                       { return c.name }
func (c funcCollector) Run(ctx context.Context, sink collector.Sink) error { return c.run(ctx, sink) }

func sysinfo() event.Event {
	return event.Must(event.SystemInformation, time.Now())
}

func goodEvery(t *testing.T) collector.Collector {
	return collector.Every("SystemInformation", func() time.Duration { return 20 * time.Millisecond },
		collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
			return []event.Event{sysinfo()}, nil
		}))
}

func TestEveryConforms(t *testing.T) {
	Run(t, goodEvery)
}

func TestEveryConformsFake(t *testing.T) {
	if f := runFake(t, goodEvery); len(f) != 0 {
		t.Errorf("a conforming collector was reported: %q", f)
	}
}

func TestVendorEventConforms(t *testing.T) {
	newC := func(t *testing.T) collector.Collector {
		return collector.Every("ModbusWrite", func() time.Duration { return time.Hour },
			collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
				return []event.Event{event.NewCustom("ModbusWrite", event.Triggered, event.Security, time.Now(),
					event.Object{"Register": "40001", "Value": "7"})}, nil
			}))
	}
	Run(t, newC)
	bad := func(t *testing.T) collector.Collector {
		return collector.Every("Vendor", func() time.Duration { return time.Hour },
			collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
				return []event.Event{event.NewCustom("Vendor", "Sometimes", "Security", time.Now())}, nil
			}))
	}
	wantFailure(t, runFake(t, bad), "Collect", "Category")
}

// Every with a trigger: a triggered collector that reports what the
// trigger does.
func TestTrigger(t *testing.T) {
	ch := make(chan string, 100)
	newC := func(t *testing.T) collector.Collector {
		return funcCollector{"ProcessCreate", func(ctx context.Context, sink collector.Sink) error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case exe := <-ch:
					ev := event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{
						Executable: exe, ProcessID: 42, ParentProcessID: 1, UserID: "0", CommandLine: exe})
					_ = sink.Emit(ctx, ev)
				}
			}
		}}
	}
	trigger := func(t *testing.T) {
		select {
		case ch <- "/bin/true":
		default:
		}
	}
	Run(t, newC, WithTrigger(trigger), WithMinEvents(2))
	// Without the trigger, it reports nothing, which the suite detects.
	for len(ch) > 0 {
		<-ch
	}
	wantFailure(t, runFake(t, newC), "Collect", "emitted 0 events")
}

func TestDetectsIgnoredCancel(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"stubborn", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx, sysinfo())
			<-release // ignores ctx
			return nil
		}}
	})
	for _, sub := range []string{"Collect", "SinkErrors", "BlockingSink", "CancelledBeforeRun"} {
		wantFailure(t, f, sub, "did not return within")
	}
}

func TestDetectsEmitAfterReturn(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"late", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx, sysinfo())
			<-ctx.Done()
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(20 * time.Millisecond)
				_ = sink.Emit(context.Background(), sysinfo())
			}()
			return nil
		}}
	})
	wantFailure(t, f, "Collect", "Emit(1 events) called after Run returned")
}

func TestDetectsReportErrorAfterReturn(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"late", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx, sysinfo())
			<-ctx.Done()
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(10 * time.Millisecond)
				collector.ReportError(context.Background(), sink, "late", errors.New("too late"))
			}()
			return nil
		}}
	})
	wantFailure(t, f, "Collect", "ReportError")
}

func TestDetectsInvalidEvent(t *testing.T) {
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"invalid", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx,
				event.Must(event.ProcessCreate, time.Now()), // Triggered with no payload
				event.Must(event.ListeningPorts, time.Now(), &event.ListeningPortsPayload{LocalAddress: "localhost", LocalPort: "22", Protocol: "TCP"}))
			<-ctx.Done()
			return nil
		}}
	})
	wantFailure(t, f, "Collect", `invalid event: schemas: event "ProcessCreate"`)
	wantFailure(t, f, "Collect", `invalid event: schemas: event "ListeningPorts"`)
}

func TestDetectsLeak(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"leaky", func(ctx context.Context, sink collector.Sink) error {
			go func() { <-release }()
			_ = sink.Emit(ctx, sysinfo())
			<-ctx.Done()
			return nil
		}}
	})
	wantFailure(t, f, "Collect", "goroutines started by Run are still running")
	wantFailure(t, f, "CancelledBeforeRun", "goroutines started by Run are still running")
}

func TestDetectsMutationAfterEmit(t *testing.T) {
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"mutating", func(ctx context.Context, sink collector.Sink) error {
			p := &event.ProcessTerminatePayload{Executable: "/bin/a", ProcessID: 1}
			_ = sink.Emit(ctx, event.Must(event.ProcessTerminate, time.Now(), p))
			p.Executable = "/bin/b" // reuses what it handed over
			<-ctx.Done()
			return nil
		}}
	})
	wantFailure(t, f, "Collect", "was modified after Emit")
}

func TestDetectsErrorOnCancel(t *testing.T) {
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"errs", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx, sysinfo())
			<-ctx.Done()
			return ctx.Err()
		}}
	})
	wantFailure(t, f, "Collect", "want nil")
}

func TestDetectsGivingUpOnSinkError(t *testing.T) {
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"fragile", func(ctx context.Context, sink collector.Sink) error {
			if err := sink.Emit(ctx, sysinfo()); err != nil {
				return fmt.Errorf("emit: %w", err)
			}
			<-ctx.Done()
			return nil
		}}
	})
	wantFailure(t, f, "SinkErrors", "before its context was cancelled")
	if len(f["Collect"]) != 0 {
		t.Errorf("Collect failed for a collector that only mishandles sink errors: %q", f["Collect"])
	}
}

func TestDetectsEmitIgnoringContext(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"deaf", func(ctx context.Context, sink collector.Sink) error {
			// Emits with a context Run's cancellation does not reach.
			_ = sink.Emit(context.Background(), sysinfo())
			<-ctx.Done()
			return nil
		}}
	})
	wantFailure(t, f, "BlockingSink", "did not return within")
	if len(f["Collect"]) != 0 {
		t.Errorf("Collect: %q", f["Collect"])
	}
}

func TestDetectsEarlyReturn(t *testing.T) {
	f := runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"quitter", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx, sysinfo())
			return nil
		}}
	}, WithMinEvents(2))
	wantFailure(t, f, "Collect", "Run returned before its context was cancelled")
}

func TestDetectsNilCollectorAndEmptyName(t *testing.T) {
	f := runFake(t, func(t *testing.T) collector.Collector { return nil })
	wantFailure(t, f, "Collect", "newCollector returned nil")
	f = runFake(t, func(t *testing.T) collector.Collector {
		return funcCollector{"", func(ctx context.Context, sink collector.Sink) error {
			_ = sink.Emit(ctx, sysinfo())
			<-ctx.Done()
			return nil
		}}
	})
	wantFailure(t, f, "Collect", "Name() is empty")
}

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_ = r.Emit(ctx, sysinfo(), sysinfo())
				collector.ReportError(ctx, r, "g", fmt.Errorf("err %d", i))
				_ = r.Len()
			}
		}()
	}
	evs, err := r.WaitFor(ctx, 800)
	if err != nil || len(evs) < 800 {
		t.Fatalf("WaitFor: %d events, %v", len(evs), err)
	}
	errs, err := r.WaitForErrors(ctx, 400)
	if err != nil || len(errs) != 400 || errs[0].Collector != "g" {
		t.Fatalf("WaitForErrors: %d, %v", len(errs), err)
	}
	wg.Wait()
	if n := len(r.Events()); n != 800 {
		t.Errorf("Events: %d", n)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if evs, err := r.WaitFor(short, 801); !errors.Is(err, context.DeadlineExceeded) || len(evs) != 800 {
		t.Errorf("WaitFor beyond what arrives: %d, %v", len(evs), err)
	}
	r.Reset()
	if r.Len() != 0 || len(r.Errors()) != 0 {
		t.Error("Reset kept records")
	}
	var zero Recorder
	if err := zero.Emit(ctx, sysinfo()); err != nil || zero.Len() != 1 {
		t.Error("zero Recorder unusable")
	}
}

// declaring is a well-behaved vendor collector that declares its event
// with a payload schema, and emits what emit returns.
type declaring struct {
	infos []event.Info
	emit  func() event.Event
}

func (d declaring) Name() string         { return "declaring" }
func (d declaring) Events() []event.Info { return d.infos }
func (d declaring) Run(ctx context.Context, sink collector.Sink) error {
	_ = sink.Emit(ctx, d.emit())
	<-ctx.Done()
	return nil
}

var hashChanged = event.Info{Name: "FileHashChanged", Category: event.Triggered, Type: event.Security, DefaultPriority: event.High,
	PayloadSchema: []byte(`{"type":"object","properties":{"Path":{"type":"string"}},"required":["Path"],"additionalProperties":false}`)}

func TestDeclaredVendorEventPasses(t *testing.T) {
	Run(t, func(*testing.T) collector.Collector {
		return declaring{infos: []event.Info{hashChanged}, emit: func() event.Event {
			return event.NewCustom("FileHashChanged", event.Triggered, event.Security, time.Now(), event.Object{"Path": "/etc/app.conf"})
		}}
	})
}

func TestUndeclaredEventIsReported(t *testing.T) {
	f := runFake(t, func(*testing.T) collector.Collector {
		return declaring{infos: []event.Info{hashChanged}, emit: func() event.Event {
			return event.NewCustom("SomethingElse", event.Triggered, event.Security, time.Now(), event.Object{"Path": "/x"})
		}}
	})
	wantFailure(t, f, "Collect", "which its Events() does not declare")
}

func TestVendorPayloadIsValidatedAgainstItsSchema(t *testing.T) {
	f := runFake(t, func(*testing.T) collector.Collector {
		return declaring{infos: []event.Info{hashChanged}, emit: func() event.Event {
			return event.NewCustom("FileHashChanged", event.Triggered, event.Security, time.Now(), event.Object{"File": "/x"})
		}}
	})
	wantFailure(t, f, "Collect", "invalid event")
}

func TestBadDeclarationIsReported(t *testing.T) {
	f := runFake(t, func(*testing.T) collector.Collector {
		return declaring{infos: []event.Info{{Name: "Bad Name", Category: event.Triggered, Type: event.Security}}, emit: func() event.Event {
			return event.NewCustom("Bad Name", event.Triggered, event.Security, time.Now(), event.Object{"X": "1"})
		}}
	})
	wantFailure(t, f, "Declarations", "letters and digits")
	f = runFake(t, func(*testing.T) collector.Collector {
		return declaring{infos: []event.Info{{Name: event.ProcessCreate, Category: event.Periodic, Type: event.Security}}, emit: func() event.Event {
			return event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{Executable: "/bin/true", CommandLine: "true", ProcessID: 1, UserID: "0"})
		}}
	})
	wantFailure(t, f, "Declarations", "catalogue says")
}

// configurable is a collector that follows the configuration, refusing
// the default one when refuse is set.
type configurable struct {
	funcCollector
	refuse bool
}

func (c configurable) ApplyConfig(twinconfig.Config) error {
	if c.refuse {
		return errors.New("no configuration suits me")
	}
	return nil
}

func TestConfigurerAcceptsTheDefaultConfiguration(t *testing.T) {
	newC := func(refuse bool) func(t *testing.T) collector.Collector {
		return func(t *testing.T) collector.Collector {
			return configurable{funcCollector{"SystemInformation", func(ctx context.Context, sink collector.Sink) error {
				_ = sink.Emit(ctx, sysinfo())
				<-ctx.Done()
				return nil
			}}, refuse}
		}
	}
	if f := runFake(t, newC(false)); len(f) != 0 {
		t.Errorf("a conforming collector was reported: %q", f)
	}
	f := runFake(t, newC(true))
	wantFailure(t, f, "Configuration", "before Run")
	wantFailure(t, f, "Configuration", "while Run runs")
}
