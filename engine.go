package edgesec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/edgesec/edgesec/aggregate"
	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/atomicfile"
	"github.com/edgesec/edgesec/outbox"
	"github.com/edgesec/edgesec/stage"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/twinconfig"
)

// ConfigSource delivers configuration documents (the twin's desired
// properties object, or a local file in the same shape). Watch calls apply
// with the current document and again with every change, or with an error
// when a document could not be read, until ctx is cancelled; then it
// returns nil. twinconfig.FileSource implements it.
//
// The engine layers its sources key by key over Options.Config, in the
// order of Options.ConfigSources: a key set by a later source wins (list
// a local file before the module twin so that the twin wins), and a key
// no source sets keeps its Options.Config value. See twinconfig.Manager.
type ConfigSource interface {
	Watch(ctx context.Context, apply func(doc []byte, err error)) error
}

// PropertyReporter is implemented by transports that carry a module twin:
// the engine reports its effective configuration through it after every
// configuration change.
type PropertyReporter interface {
	ReportProperties(ctx context.Context, patch []byte) error
}

// Options configure an Engine. Transport is required.
type Options struct {
	// AgentVersion is written in every message envelope.
	AgentVersion string
	// StateDir holds the persistent agent id (and, for the reference
	// module, read positions and the reported configuration). Empty means
	// no persistence: a new AgentID each run unless AgentID is set.
	StateDir string
	// AgentID overrides the persisted agent id (a GUID).
	AgentID string
	// Transport sends the packed messages.
	Transport transport.Transport
	// Config is the base configuration, under what the ConfigSources
	// deliver; nil means twinconfig.Default().
	Config *twinconfig.Config
	// PropertyReporter receives the effective configuration (the twin's
	// reported properties) after every change. Nil means the Transport,
	// when it implements PropertyReporter.
	PropertyReporter PropertyReporter
	// ConfigSources deliver configuration updates.
	ConfigSources []ConfigSource
	// Logger receives the engine's logs; nil discards them. Warnings and
	// errors also become Diagnostic events when that event is not Off.
	Logger *slog.Logger
	// Store keeps the packed messages until the transport acknowledges
	// them. Use outbox/boltstore for a durable spool that survives
	// restarts (boltstore.OpenOrMoveAside). Nil keeps them in memory,
	// bounded by maxLocalCacheSizeInBytes (following the configuration).
	// The engine owns the store once Run or Once is called and closes it.
	Store outbox.Store
	// ConfigWait is how long Run waits, before starting the collectors,
	// for every ConfigSource to deliver its first configuration (a module
	// twin is read after connecting), so that collectors the configuration
	// turns Off never run. Default 10s; negative starts at once on
	// Config.
	ConfigWait time.Duration
	// ShutdownTimeout bounds how long Run keeps sending queued messages
	// after its context is cancelled. Default 5s.
	ShutdownTimeout time.Duration
	// FirstMessageDelay is how long after start the engine packs and
	// sends everything the start-up snapshots queued, whatever the message
	// timers say, so a new module reports within seconds. Default 2s;
	// negative disables it.
	FirstMessageDelay time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Aggregator queues, aggregates and packs the events into messages.
	// Nil means aggregate.New: ASC aggregation and packing. The engine
	// configures it (aggregate.Configurer) on every configuration change
	// and reads its counters (aggregate.StatsReporter) for the
	// DroppedEventsStatistics event. It is owned by the engine once Run or
	// Once is called.
	Aggregator aggregate.Aggregator
	// Stages process every event between the collectors and the
	// Aggregator, in order (see package stage). They are called from the
	// collectors' Emit, serialised; stages that implement stage.Runner are
	// started and stopped with the engine.
	Stages []stage.Stage
	// UrgentEvents are event names that are packed and sent as soon as
	// they are queued, whatever the message timers say (the High priority
	// timer is 7 minutes by default). Nil means SecurityAlert: an alert is
	// worth a message of its own. Events of priority Low wait for the Low
	// timer all the same.
	UrgentEvents []string
	// StageEngineEvents makes the engine's own Operational and Diagnostic
	// events (Heartbeat, statistics, ConfigurationError, Diagnostic) go
	// through the stages too. By default they bypass them, so that a
	// filter cannot hide the engine's health.
	StageEngineEvents bool
}

// Engine assembles collectors, the aggregation pipeline and a transport.
// Create it with New, add collectors, then call Run (or Once) one time.
// AddCollector and AddPoller must be called before Run.
type Engine struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	cfg     *twinconfig.Manager
	agentID string
	started time.Time

	mu        sync.Mutex // guards agg, lastStats, lastOut
	agg       aggregate.Aggregator
	lastStats aggregate.Stats // counters at the previous statistics report
	chain     *chain

	collectors []*managed
	heartbeat  *collector.Ticker

	packNow   chan struct{} // signalled when a full message is queued
	urgentNow chan struct{} // signalled when an urgent event is queued
	diagOut   *diagOut
	diagLast  int64 // diagOut.dropped at the previous statistics report; guarded by mu
	diag      chan event.Event
	cfgCh     chan struct{} // signalled when the Manager holds a new configuration
	healthCh  chan struct{} // signalled when a collector's state worsens
	// lastHeartbeat is when the engine last emitted a Heartbeat itself
	// (at the first message and on health changes); loop and Once only.
	lastHeartbeat time.Time
	out           *outbox.Outbox
	memStore      bool         // the outbox store is the engine's memory store, bounded by the configuration
	lastOut       outbox.Stats // the outbox counters at the previous statistics report
	stopped       chan struct{}
}

// New returns an Engine. It does no I/O; Run does.
func New(o Options) *Engine {
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ConfigWait == 0 {
		o.ConfigWait = 10 * time.Second
	}
	if o.FirstMessageDelay == 0 {
		o.FirstMessageDelay = 2 * time.Second
	}
	cfg := twinconfig.Default()
	if o.Config != nil {
		cfg = o.Config.Clone()
	}
	e := &Engine{
		opts:      o,
		now:       o.Now,
		cfg:       twinconfig.NewManager(cfg),
		packNow:   make(chan struct{}, 1),
		urgentNow: make(chan struct{}, 1),
		diag:      make(chan event.Event, 64),
		cfgCh:     make(chan struct{}, 1),
		healthCh:  make(chan struct{}, 1),
		stopped:   make(chan struct{}),
	}
	e.diagOut = &diagOut{
		level: slog.LevelWarn,
		on:    func() bool { return e.cfg.Current().Priority(event.DiagnosticEvent) != event.Off },
		send: func(ev event.Event) bool {
			select {
			case e.diag <- ev:
				return true
			default:
				return false
			}
		},
		now: e.now,
	}
	user := slog.DiscardHandler
	if o.Logger != nil {
		user = o.Logger.Handler()
	}
	e.log = slog.New(slog.NewMultiHandler(newDiagHandler(e.diagOut), user))
	e.chain = newChain(e, o.Stages)
	// The Heartbeat's first poll is skipped: the engine sends the first
	// Heartbeat itself once the collectors have started (see loop).
	skipFirst := true
	e.heartbeat = collector.Every(event.Heartbeat, e.heartbeatFrequency, collector.PollerFunc(func(ctx context.Context) ([]event.Event, error) {
		if skipFirst {
			skipFirst = false
			return nil, nil
		}
		return e.pollHeartbeat(ctx)
	}))
	e.collectors = append(e.collectors, e.newManaged(e.heartbeat))
	return e
}

// Logger returns the engine's logger: what collectors log through it at
// warning level and above also becomes a Diagnostic event.
func (e *Engine) Logger() *slog.Logger { return e.log }

// Config returns the configuration in effect.
func (e *Engine) Config() twinconfig.Config { return e.cfg.Current() }

// SnapshotFrequency returns the configured snapshotFrequency; pass it as
// the interval of collector.Every for periodic collectors.
func (e *Engine) SnapshotFrequency() time.Duration { return e.cfg.Current().SnapshotFrequency }

func (e *Engine) heartbeatFrequency() time.Duration { return e.cfg.Current().HeartbeatFrequency }

// AddCollector adds a collector. It must be called before Run.
func (e *Engine) AddCollector(c collector.Collector) {
	e.collectors = append(e.collectors, e.newManaged(c))
}

// AddPoller adds a periodic collector named name (the event name it
// produces) that polls p at start and every snapshotFrequency.
func (e *Engine) AddPoller(name string, p collector.Poller) {
	e.AddCollector(collector.Every(name, e.SnapshotFrequency, p))
}

// AgentID returns the agent id once Run or Once has started.
func (e *Engine) AgentID() string { return e.agentID }

func (e *Engine) settings(c twinconfig.Config) aggregate.Settings {
	agg := make(map[string]aggregate.AggSetting, len(c.Aggregation))
	for k, v := range c.Aggregation {
		agg[k] = aggregate.AggSetting{Enabled: v.Enabled, Interval: v.Interval}
	}
	return aggregate.Settings{
		AgentVersion:    e.opts.AgentVersion,
		AgentID:         e.agentID,
		MaxCacheBytes:   c.MaxLocalCacheSizeInBytes,
		MaxMessageBytes: c.MaxMessageSizeInBytes,
		Aggregation:     agg,
		Priority:        c.Priority,
		Now:             e.now,
	}
}

func (e *Engine) setup() error {
	if e.opts.Transport == nil {
		return errors.New("edgesec: Options.Transport is nil")
	}
	e.started = e.now()
	var declared []event.Info
	for _, m := range e.collectors {
		if d, ok := m.c.(collector.Describer); ok {
			declared = append(declared, d.Events()...)
		}
	}
	schema, err := twinconfig.NewSchema(declared...)
	if err != nil {
		return fmt.Errorf("edgesec: collector event declarations: %w", err)
	}
	e.cfg.SetSchema(schema)
	switch {
	case e.opts.AgentID != "":
		if !event.ValidID(e.opts.AgentID) {
			return fmt.Errorf("edgesec: AgentID %q is not a GUID", e.opts.AgentID)
		}
		e.agentID = e.opts.AgentID
	case e.opts.StateDir != "":
		id, err := event.LoadOrCreateAgentID(e.opts.StateDir)
		if id == "" {
			return fmt.Errorf("edgesec: agent id: %w", err)
		}
		if err != nil {
			e.log.Warn("agent id replaced", "err", err)
		}
		e.agentID = id
	default:
		e.agentID = event.NewID()
	}
	if e.opts.Aggregator != nil {
		e.agg = e.opts.Aggregator
		e.configureAggregator(e.cfg.Current())
	} else {
		e.agg = aggregate.New(e.settings(e.cfg.Current()))
	}
	st := e.opts.Store
	if st == nil {
		e.memStore = true
		st = outbox.NewMemoryStore(int64(e.cfg.Current().MaxLocalCacheSizeInBytes))
	}
	out, err := outbox.New(e.opts.Transport, outbox.Options{Store: st, Logger: e.log})
	if err != nil {
		return fmt.Errorf("edgesec: %w", err)
	}
	e.out = out
	return nil
}

// Run runs the engine until ctx is cancelled: it starts the enabled
// collectors, watches the configuration sources, packs and sends messages
// on the configured timers. On cancel it stops the collectors, flushes
// aggregations and queues, sends what it can within ShutdownTimeout, closes
// the transport and returns nil. It returns an error only when it cannot
// start.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.setup(); err != nil {
		return err
	}
	defer close(e.stopped)

	var wg sync.WaitGroup
	first := make(chan struct{}, len(e.opts.ConfigSources))
	for i, src := range e.opts.ConfigSources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			apply := func(doc []byte, err error) {
				e.applyConfig(ctx, i, doc, err)
				once.Do(func() { first <- struct{}{} })
			}
			if err := src.Watch(ctx, apply); err != nil {
				e.log.Error("configuration source stopped", "err", err)
			}
		}()
	}
	e.awaitFirstConfig(ctx, first)
	e.report(ctx, e.cfg.Current())

	// Start the collectors on the configuration in effect now, so that a
	// collector the twin turns Off never sends its start-up snapshot.
	cur := e.cfg.Current()
	e.configureAggregator(cur)
	e.configureCollectors(cur)
	stopRunners := e.chain.startRunners(ctx)
	if e.memStore {
		e.setOutboxLimit(cur.MaxLocalCacheSizeInBytes)
	}
	colCtx, stopCollectors := context.WithCancel(ctx)
	e.reconcile(colCtx, cur)

	e.loop(ctx, colCtx)

	stopCollectors()
	for _, m := range e.collectors {
		m.wait()
	}
	stopRunners()
	wg.Wait()
	e.drainDiag()
	e.mu.Lock()
	e.agg.Flush(true)
	msgs := e.packAll()
	e.mu.Unlock()
	e.push(msgs)

	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.ShutdownTimeout)
	defer cancel()
	if left := e.out.Drain(deadline); left > 0 {
		e.log.Warn("shutdown: messages not delivered", "messages", left)
	}
	if err := e.out.Close(deadline); err != nil {
		e.log.Warn("close outbox", "err", err)
	}
	return nil
}

// awaitFirstConfig waits until every configuration source has delivered
// its first document (or failed to), at most ConfigWait.
func (e *Engine) awaitFirstConfig(ctx context.Context, first <-chan struct{}) {
	n := len(e.opts.ConfigSources)
	if n == 0 || e.opts.ConfigWait <= 0 {
		return
	}
	t := time.NewTimer(e.opts.ConfigWait)
	defer t.Stop()
	for got := 0; got < n; got++ {
		select {
		case <-first:
		case <-t.C:
			e.log.Warn("no configuration from every source yet; starting on the configuration in effect", "waited", e.opts.ConfigWait, "sources", n, "answered", got)
			return
		case <-ctx.Done():
			return
		}
	}
}

// Once takes one snapshot of every enabled collector that implements
// collector.Snapshotter (the periodic ones, collector.Every), then a
// Heartbeat, packs everything and sends it, then closes the transport: a
// one-shot security snapshot. Triggered collectors are not run. Each
// ConfigSource is read once first (at most ConfigWait), and its problems
// are sent as ConfigurationError events like Run's.
func (e *Engine) Once(ctx context.Context) error {
	if err := e.setup(); err != nil {
		return err
	}
	defer close(e.stopped)
	e.readConfigOnce(ctx)
	cfg := e.cfg.Current()
	e.configureAggregator(cfg)
	e.configureCollectors(cfg)
	if e.memStore {
		e.setOutboxLimit(cfg.MaxLocalCacheSizeInBytes)
	}
	e.report(ctx, cfg)
	stopRunners := e.chain.startRunners(ctx)
	for _, m := range e.collectors {
		s, ok := m.c.(collector.Snapshotter)
		if !ok || m.c == e.heartbeat || !m.enabled(cfg) {
			continue
		}
		m.setState(stateRunning, "")
		if err := s.Snapshot(ctx, m); err != nil {
			stopRunners()
			return fmt.Errorf("edgesec: once: %w", err)
		}
	}
	e.heartbeatIfEnabled()
	stopRunners()
	e.drainDiag()
	e.mu.Lock()
	e.agg.Flush(true)
	msgs := e.packAll()
	e.mu.Unlock()
	e.push(msgs)

	// Send through the outbox, so that messages a previous run left in
	// the spool go too, in order; give up after ShutdownTimeout of
	// failures (what is left stays in the spool).
	deadline, cancel := context.WithTimeout(ctx, e.opts.ShutdownTimeout)
	defer cancel()
	left := e.out.Drain(deadline)
	errs := []error{e.out.Close(deadline)}
	if left > 0 {
		errs = append(errs, fmt.Errorf("%d messages not delivered", left))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("edgesec: once: %w", err)
	}
	return nil
}

// readConfigOnce reads the first document of every configuration source
// (at most ConfigWait in all) and applies it, for Once.
func (e *Engine) readConfigOnce(ctx context.Context) {
	if len(e.opts.ConfigSources) == 0 {
		return
	}
	wait := e.opts.ConfigWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var wg sync.WaitGroup
	for i, src := range e.opts.ConfigSources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, stop := context.WithCancel(rctx)
			defer stop()
			var once sync.Once
			err := src.Watch(sctx, func(doc []byte, err error) {
				once.Do(func() {
					e.applyConfig(sctx, i, doc, err)
					stop()
				})
			})
			if err != nil && sctx.Err() == nil {
				e.log.Error("configuration source stopped", "err", err)
			}
		}()
	}
	wg.Wait()
	if rctx.Err() != nil && ctx.Err() == nil {
		e.log.Warn("no configuration from every source; taking the snapshot on the configuration in effect", "waited", wait)
	}
}

// minHealthInterval is the shortest time between two Heartbeats sent
// because a collector's state worsened.
const minHealthInterval = 5 * time.Second

// heartbeatIfEnabled emits a Heartbeat unless the event is Off.
func (e *Engine) heartbeatIfEnabled() {
	if e.cfg.Current().Priority(event.Heartbeat) != event.Off {
		e.emitHeartbeat()
	}
}

// emitHeartbeat adds a Heartbeat event now.
func (e *Engine) emitHeartbeat() {
	evs, err := e.pollHeartbeat(context.Background())
	if err != nil {
		e.log.Error("heartbeat", "err", err)
		return
	}
	e.lastHeartbeat = e.now()
	e.add(evs...)
}

// packAll packs every queued event into messages. Callers hold e.mu.
func (e *Engine) packAll() []transport.Message {
	now := e.now()
	var msgs []transport.Message
	for _, p := range []event.Priority{event.High, event.Low} {
		for _, body := range e.agg.Pack(p, false) {
			msgs = append(msgs, transport.NewSecurityMessage(body, p, now))
		}
	}
	return msgs
}

func (e *Engine) loop(ctx, colCtx context.Context) {
	cfg := e.cfg.Current()
	high := time.NewTicker(cfg.HighPriorityMessageFrequency)
	low := time.NewTicker(cfg.LowPriorityMessageFrequency)
	defer high.Stop()
	defer low.Stop()
	flush := time.NewTimer(time.Hour)
	defer flush.Stop()
	var first <-chan time.Time
	if e.opts.FirstMessageDelay > 0 {
		t := time.NewTimer(e.opts.FirstMessageDelay)
		defer t.Stop()
		first = t.C
	} else {
		e.heartbeatIfEnabled()
	}
	// healthDelay fires when a Heartbeat for a worsened collector state
	// had to wait: at most one such Heartbeat per minHealthInterval.
	healthDelay := time.NewTimer(time.Hour)
	healthDelay.Stop()
	defer healthDelay.Stop()
	for {
		e.mu.Lock()
		next := e.agg.NextFlush()
		e.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(e.now()), 0)
		}
		flush.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case ev := <-e.diag:
			e.add(ev)
		case <-flush.C:
			e.mu.Lock()
			e.agg.Flush(false)
			e.mu.Unlock()
			e.signalIfReady()
		case <-first:
			// The first Heartbeat goes with the first message, once the
			// collectors have started and said what they cannot do.
			e.heartbeatIfEnabled()
			e.drainDiag()
			e.pack(event.High, false)
			e.pack(event.Low, false)
		case <-e.packNow:
			e.pack(event.High, true)
		case <-e.urgentNow:
			e.pack(event.High, false)
		case <-e.healthCh:
			if first != nil && e.lastHeartbeat.IsZero() {
				break // the first Heartbeat is still to come
			}
			if wait := e.lastHeartbeat.Add(minHealthInterval).Sub(e.now()); wait > 0 {
				healthDelay.Reset(wait)
				break
			}
			e.heartbeatIfEnabled()
		case <-healthDelay.C:
			e.heartbeatIfEnabled()
		case <-high.C:
			e.pack(event.High, false)
		case <-low.C:
			e.mu.Lock()
			for _, ev := range e.statisticsEvents() {
				e.agg.Add(ev)
			}
			e.mu.Unlock()
			e.pack(event.Low, false)
		case <-e.cfgCh:
			c := e.cfg.Current()
			if c.HighPriorityMessageFrequency != cfg.HighPriorityMessageFrequency {
				high.Reset(c.HighPriorityMessageFrequency)
			}
			if c.LowPriorityMessageFrequency != cfg.LowPriorityMessageFrequency {
				low.Reset(c.LowPriorityMessageFrequency)
			}
			cfg = c
			e.configureAggregator(c)
			e.configureCollectors(c)
			if e.memStore {
				e.setOutboxLimit(c.MaxLocalCacheSizeInBytes)
			}
			e.reconcile(colCtx, c)
			e.signalIfReady()
		}
	}
}

func (e *Engine) pack(p event.Priority, full bool) {
	now := e.now()
	e.mu.Lock()
	bodies := e.agg.Pack(p, full)
	e.mu.Unlock()
	msgs := make([]transport.Message, 0, len(bodies))
	for _, b := range bodies {
		msgs = append(msgs, transport.NewSecurityMessage(b, p, now))
	}
	e.push(msgs)
}

// add runs events through the processing stages, hands what comes out to
// the aggregator and signals the packer when a full message is queued. It
// never blocks on I/O.
func (e *Engine) add(evs ...event.Event) { e.addAfter(context.Background(), 0, evs...) }

// addAfter is add for events that enter the stage chain at index from.
func (e *Engine) addAfter(ctx context.Context, from int, evs ...event.Event) {
	evs = e.chain.process(ctx, from, evs)
	urgent := false
	e.mu.Lock()
	for _, ev := range evs {
		e.agg.Add(ev)
		urgent = urgent || e.isUrgent(ev.Name)
	}
	ready := e.agg.Ready()
	e.mu.Unlock()
	if ready {
		e.signal()
	}
	if urgent {
		select {
		case e.urgentNow <- struct{}{}:
		default:
		}
	}
}

// isUrgent reports whether events named name are sent at once.
func (e *Engine) isUrgent(name string) bool {
	if e.opts.UrgentEvents == nil {
		return name == event.SecurityAlert
	}
	for _, n := range e.opts.UrgentEvents {
		if n == name {
			return true
		}
	}
	return false
}

func (e *Engine) signalIfReady() {
	e.mu.Lock()
	ready := e.agg.Ready()
	e.mu.Unlock()
	if ready {
		e.signal()
	}
}

func (e *Engine) signal() {
	select {
	case e.packNow <- struct{}{}:
	default:
	}
}

func (e *Engine) drainDiag() {
	for {
		select {
		case ev := <-e.diag:
			e.add(ev)
		default:
			return
		}
	}
}

// configureAggregator applies c to the aggregator and to the stages that
// follow the configuration.
func (e *Engine) configureAggregator(c twinconfig.Config) {
	e.mu.Lock()
	if cf, ok := e.agg.(aggregate.Configurer); ok {
		cf.Configure(e.settings(c))
	}
	e.mu.Unlock()
	for _, s := range e.opts.Stages {
		if cf, ok := s.(stage.Configurer); ok {
			if err := cf.ApplyConfig(c); err != nil {
				e.log.Warn("stage refused the configuration; keeping its previous settings", "stage", s.Name(), "err", err)
			}
		}
	}
}

// configureCollectors applies c to the collectors that follow the
// configuration (collector.Configurer); what one refuses becomes a warning
// and a ConfigurationError event. It runs on the engine loop (or before
// it), never concurrently with itself.
func (e *Engine) configureCollectors(c twinconfig.Config) {
	for _, m := range e.collectors {
		cf, ok := m.c.(collector.Configurer)
		if !ok {
			continue
		}
		if err := cf.ApplyConfig(c); err != nil {
			e.log.Warn("collector refused the configuration; keeping its previous settings", "collector", m.c.Name(), "err", err)
			e.add(collectorConfigErrors(m.c.Name(), err, e.now()))
		}
	}
}

// collectorConfigErrors is the ConfigurationError event of a configuration
// collector name refused: one item per twinconfig.Problem in err (each
// error of an errors.Join is looked into), else one item for the whole
// configuration object.
func collectorConfigErrors(name string, err error, now time.Time) event.Event {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	used := "last good configuration of " + name
	items := make([]event.Item, 0, len(errs))
	for _, err := range errs {
		if err == nil {
			continue
		}
		item := &event.ConfigurationErrorPayload{ConfigurationName: twinconfig.ObjectName, ErrorType: event.TypeMismatch,
			UsedConfiguration: used, Message: name + ": " + err.Error()}
		var p twinconfig.Problem
		if errors.As(err, &p) {
			item.ConfigurationName, item.Message = p.Key, name+": "+p.Message
			switch p.Kind {
			case event.NotOptimal, event.Conflict:
				item.ErrorType = p.Kind
			}
			if p.Used != "" {
				item.UsedConfiguration = p.Used
			}
		}
		items = append(items, item)
	}
	return event.Must(event.ConfigurationError, now, items...)
}

// statisticsEvents returns the DroppedEventsStatistics and
// MessageStatistics events of the counters since the previous call: the
// aggregator's, the deliveries' and the stages' drops. Callers hold e.mu.
func (e *Engine) statisticsEvents() []event.Event {
	var cur aggregate.Stats
	if r, ok := e.agg.(aggregate.StatsReporter); ok {
		cur = r.Stats()
	}
	out := e.out.Stats()
	cur.Sent, cur.Under4KB, cur.Failed = out.Sent, out.SentUnder4KB, out.Failed
	d := cur
	for i := range d.Collected {
		d.Collected[i] -= e.lastStats.Collected[i]
		d.Dropped[i] -= e.lastStats.Dropped[i]
	}
	d.Oversize -= e.lastStats.Oversize
	d.Sent -= e.lastStats.Sent
	d.Under4KB -= e.lastStats.Under4KB
	d.Failed -= e.lastStats.Failed
	e.lastStats = cur
	extra := e.chain.droppedDelta()
	if extra == nil {
		extra = event.ExtraDetails{}
	}
	extra[ExtraOutboxDropped] = strconv.FormatInt(out.Dropped+out.Rejected-e.lastOut.Dropped-e.lastOut.Rejected, 10)
	e.lastOut = out
	extra[ExtraDiagnosticDropped] = strconv.FormatInt(e.diagDroppedDelta(), 10)
	var lost int64
	for _, m := range e.collectors {
		dc, ok := m.c.(collector.DropCounter)
		if !ok {
			continue
		}
		n := dc.Dropped()
		delta := n - m.lastDropped
		m.lastDropped = n
		lost += delta
		if delta > 0 {
			extra[ExtraCollectorDroppedPrefix+m.c.Name()] = strconv.FormatInt(delta, 10)
		}
	}
	extra[ExtraCollectorDropped] = strconv.FormatInt(lost, 10)
	return aggregate.StatisticsEvents(e.now(), d, extra)
}

// ExtraCollectorDropped is the ExtraDetails key of the
// DroppedEventsStatistics Low item that counts the events the collectors
// lost before they reached the engine (collector.DropCounter: a kernel
// buffer that overflowed, for instance) since the previous report;
// ExtraCollectorDroppedPrefix+name counts one collector's.
const (
	ExtraCollectorDropped       = "CollectorDroppedEvents"
	ExtraCollectorDroppedPrefix = "CollectorDroppedEvents."
)

// push queues msgs in the outbox; it logs what it cannot queue (the
// outbox counts it).
func (e *Engine) push(msgs []transport.Message) {
	if err := e.out.SendBatch(context.Background(), msgs); err != nil {
		e.log.Debug("outbox did not take the messages", "messages", len(msgs), "err", err)
	}
}

func (e *Engine) setOutboxLimit(n int) {
	if err := e.out.SetLimit(int64(n)); err != nil {
		e.log.Error("outbox: set limit", "err", err)
	}
}

// ExtraOutboxDropped is the ExtraDetails key of the DroppedEventsStatistics
// Low item that counts the messages the outbox dropped (oldest first, to
// stay within its bound or its disk) or that the transport rejected
// permanently.
const ExtraOutboxDropped = "OutboxDroppedMessages"

// applyConfig is called by configuration sources.
func (e *Engine) applyConfig(ctx context.Context, source int, doc []byte, readErr error) {
	if readErr != nil {
		e.log.Error("configuration not readable; keeping the running configuration", "err", readErr)
		ev := event.Must(event.ConfigurationError, e.now(), &event.ConfigurationErrorPayload{
			ConfigurationName: twinconfig.ObjectName,
			ErrorType:         event.TypeMismatch,
			UsedConfiguration: "last good configuration",
			Message:           readErr.Error(),
		})
		e.add(ev)
		return
	}
	prevVersion := e.cfg.Current().Version
	cfg, changed, evs := e.cfg.ApplyFrom(source, doc, e.now())
	if len(evs) > 0 {
		e.log.Warn("configuration problems", "problems", countItems(evs), "applied", changed)
		e.add(evs...)
	}
	// A new twin version with the same settings is applied too: stages
	// learn that the document was accepted (a refused one's
	// recommendation resolves), and the reported properties acknowledge
	// the version.
	if !changed && cfg.Version == prevVersion {
		return
	}
	e.log.Info("configuration applied", "version", cfg.Version)
	select {
	case e.cfgCh <- struct{}{}:
	default: // a signal is pending; the loop reads the newest configuration
	}
	e.report(ctx, cfg)
}

func countItems(evs []event.Event) int {
	n := 0
	for _, ev := range evs {
		n += len(ev.Payload)
	}
	return n
}

// report writes the effective configuration to the twin's reported
// properties (when the transport carries a twin) and to the state
// directory.
func (e *Engine) report(ctx context.Context, c twinconfig.Config) {
	doc, err := e.cfg.Schema().Reported(c)
	if err != nil {
		e.log.Error("encode reported properties", "err", err)
		return
	}
	r := e.opts.PropertyReporter
	if r == nil {
		r, _ = e.opts.Transport.(PropertyReporter)
	}
	if r != nil {
		if err := r.ReportProperties(ctx, doc); err != nil {
			e.log.Warn("report properties", "err", err)
		}
	}
	if e.opts.StateDir != "" {
		if err := atomicfile.WriteFile(filepath.Join(e.opts.StateDir, "reported.json"), doc, 0o600); err != nil {
			e.log.Warn("write reported configuration", "err", err)
		}
	}
}
