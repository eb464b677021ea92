package vendormodule

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
)

// ModbusWrite is the vendor's event: a write to a PLC register. Off until
// the twin turns it on.
var ModbusWrite = event.Info{
	Name: "ModbusWrite", Category: event.Triggered, Type: event.Security, DefaultPriority: event.Off,
	PayloadSchema: []byte(`{"type":"object","properties":{"Register":{"type":"integer","minimum":0,"maximum":65535},
		"Value":{"type":"integer"},"Client":{"type":"string"},"ExtraDetails":{"type":"object"}},
		"required":["Register","Value","Client"],"additionalProperties":false}`),
}

// ModbusCollector reports Modbus writes; here it reads them from a channel
// a gateway would feed.
type ModbusCollector struct {
	Writes <-chan ModbusWriteRecord
}

// ModbusWriteRecord is one observed write.
type ModbusWriteRecord struct {
	Register, Value int
	Client          string
}

// Name implements collector.Collector.
func (c *ModbusCollector) Name() string { return "modbus" }

// Events implements collector.Describer.
func (c *ModbusCollector) Events() []event.Info { return []event.Info{ModbusWrite} }

// Run implements collector.Collector.
func (c *ModbusCollector) Run(ctx context.Context, sink collector.Sink) error {
	log := collector.Logger(sink)
	for {
		select {
		case <-ctx.Done():
			return nil
		case w := <-c.Writes:
			ev := event.NewCustom(ModbusWrite.Name, ModbusWrite.Category, ModbusWrite.Type, time.Now(),
				event.Object{"Register": w.Register, "Value": w.Value, "Client": w.Client})
			if err := sink.Emit(ctx, ev); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				log.Debug("modbus write not queued", "err", err)
			}
		}
	}
}

// RedactClient is the vendor's stage: it hides the client address of
// Modbus writes (a privacy rule of the site).
func RedactClient() stage.Stage {
	return stage.MapItems("redact-modbus-client", func(_ *event.Event, it event.Item) event.Item {
		o, ok := it.(event.Object)
		if !ok {
			return it
		}
		c := make(event.Object, len(o))
		for k, v := range o {
			c[k] = v
		}
		c["Client"] = "redacted"
		return c
	}, ModbusWrite.Name)
}

// OneMessagePerEvent is the vendor's aggregator, for a SIEM that wants one
// event per message. High priority and Operational events are sent on the
// High trigger (and at once: each is a full message), Low ones wait for the
// Low trigger. The queued bodies are bounded by MaxCacheBytes: beyond it the
// oldest Low events are dropped first, then the oldest of the others, and
// every drop is counted.
type OneMessagePerEvent struct {
	s      aggregate.Settings
	high   []entry // High and Operational, oldest first
	low    []entry
	bytes  int
	stats  aggregate.Stats
	maxMsg int
	maxHld int
}

type entry struct {
	body  []byte
	queue int // aggregate.QueueOperational, QueueHigh or QueueLow
}

// NewOneMessagePerEvent returns the aggregator.
func NewOneMessagePerEvent() *OneMessagePerEvent {
	a := &OneMessagePerEvent{}
	a.Configure(aggregate.Settings{})
	return a
}

// Configure implements aggregate.Configurer.
func (a *OneMessagePerEvent) Configure(s aggregate.Settings) {
	a.s = s
	a.maxMsg = s.MaxMessageBytes
	if a.maxMsg <= 0 {
		a.maxMsg = aggregate.DefaultMaxMessageBytes
	}
	a.maxHld = s.MaxCacheBytes
	if a.maxHld <= 0 {
		a.maxHld = aggregate.DefaultMaxCacheBytes
	}
	a.high = a.dropOversize(a.high)
	a.low = a.dropOversize(a.low)
	a.trim()
}

func (a *OneMessagePerEvent) dropOversize(q []entry) []entry {
	kept := q[:0]
	for _, e := range q {
		if len(e.body) > a.maxMsg {
			a.bytes -= len(e.body)
			a.stats.Dropped[e.queue]++
			a.stats.Oversize++
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

func (a *OneMessagePerEvent) priority(name string) event.Priority {
	if a.s.Priority != nil {
		return a.s.Priority(name)
	}
	if in, ok := event.Lookup(name); ok {
		return in.DefaultPriority
	}
	return event.Low
}

// Add implements aggregate.Aggregator.
func (a *OneMessagePerEvent) Add(ev event.Event) {
	p := a.priority(ev.Name)
	if p == event.Off {
		return
	}
	q := aggregate.QueueLow
	switch {
	case ev.Type == event.Operational:
		q = aggregate.QueueOperational
	case p == event.High:
		q = aggregate.QueueHigh
	}
	a.stats.Collected[q]++
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	body := event.AppendMessageStart(nil, a.s.AgentVersion, a.s.AgentID)
	body = ev.AppendJSON(body)
	body = event.AppendMessageEnd(body)
	if len(body) > a.maxMsg {
		a.stats.Dropped[q]++
		a.stats.Oversize++
		return
	}
	if q == aggregate.QueueLow {
		a.low = append(a.low, entry{body, q})
	} else {
		a.high = append(a.high, entry{body, q})
	}
	a.bytes += len(body)
	a.trim()
}

// trim drops the oldest events beyond the bound, Low first.
func (a *OneMessagePerEvent) trim() {
	for a.bytes > a.maxHld {
		q := &a.low
		if len(a.low) == 0 {
			q = &a.high
		}
		if len(*q) == 0 {
			return
		}
		e := (*q)[0]
		(*q)[0] = entry{}
		*q = (*q)[1:]
		a.bytes -= len(e.body)
		a.stats.Dropped[e.queue]++
	}
}

// Flush implements aggregate.Aggregator: nothing is aggregated.
func (a *OneMessagePerEvent) Flush(bool) {}

// NextFlush implements aggregate.Aggregator.
func (a *OneMessagePerEvent) NextFlush() time.Time { return time.Time{} }

// Ready implements aggregate.Aggregator: a queued High or Operational event
// is a full message.
func (a *OneMessagePerEvent) Ready() bool { return len(a.high) > 0 }

// Pack implements aggregate.Aggregator: High sends the High and
// Operational events, Low sends every event; with full set only the High
// and Operational ones (the full messages Ready announced).
func (a *OneMessagePerEvent) Pack(trigger event.Priority, full bool) [][]byte {
	if full {
		trigger = event.High
	}
	out := make([][]byte, 0, len(a.high)+len(a.low))
	for _, e := range a.high {
		out = append(out, e.body)
		a.bytes -= len(e.body)
	}
	a.high = nil
	if trigger == event.Low {
		for _, e := range a.low {
			out = append(out, e.body)
			a.bytes -= len(e.body)
		}
		a.low = nil
	}
	return out
}

// Stats implements aggregate.StatsReporter.
func (a *OneMessagePerEvent) Stats() aggregate.Stats {
	s := a.stats
	s.QueuedBytes = a.bytes
	s.Queued = [3]int{}
	for _, e := range a.high {
		s.Queued[e.queue]++
	}
	s.Queued[aggregate.QueueLow] = len(a.low)
	return s
}

// SyslogFile is the vendor's transport: one message per line in a file
// its SIEM forwarder tails, fsync'd before Send returns.
type SyslogFile struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

// OpenSyslogFile opens (appends to) path.
func OpenSyslogFile(path string) (*SyslogFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("syslogfile: %w", err)
	}
	return &SyslogFile{f: f}, nil
}

// MaxLine is the largest body the forwarder accepts.
const MaxLine = 256 << 10

// Send implements transport.Transport.
func (s *SyslogFile) Send(ctx context.Context, m transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(m.Body) > MaxLine {
		return transport.Permanent(fmt.Errorf("syslogfile: %d-byte message over the %d-byte line limit", len(m.Body), MaxLine))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return transport.ErrClosed
	}
	line := append(append([]byte(nil), m.Body...), '\n')
	if _, err := s.f.Write(line); err != nil {
		return fmt.Errorf("syslogfile: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syslogfile: %w", err)
	}
	return nil
}

// Close implements transport.Transport.
func (s *SyslogFile) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// ReadLines returns the lines written to path.
func ReadLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine+1)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, []byte(l))
		}
	}
	return out, sc.Err()
}
