package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
)

// StageName is the name of the Stage in the engine's logs and statistics.
const StageName = "detect"

// Defaults of Options.
const (
	DefaultDedupWindow  = 10 * time.Minute
	DefaultRatePerRule  = 30
	DefaultMaxProcesses = 8192
	DefaultMaxEntities  = 4096
	DefaultMaxFindings  = 512
	DefaultTickInterval = time.Second
)

// Options configure a Stage. The zero value is usable: the built-in rules
// with the defaults above.
type Options struct {
	// Analyzers are run after the built-in ones, in order.
	Analyzers []Analyzer
	// NoBuiltin leaves the built-in rules out (only Analyzers and the
	// custom alerts run).
	NoBuiltin bool
	// Builtin tunes the built-in rules.
	Builtin BuiltinOptions
	// Config is the initial rule configuration (see [Stage.Configure]).
	Config Config
	// Clock returns the current time; time.Now when nil. Tests inject one.
	Clock func() time.Time
	// Logger receives the Stage's own log lines; nil discards them.
	Logger *slog.Logger
	// DedupWindow: an alert of the same rule about the same entity within
	// it is not emitted again but counted in the next one (Count).
	DedupWindow time.Duration
	// RatePerRule bounds the alerts one rule emits per minute (a token
	// bucket of that size, refilled over a minute); beyond it alerts are
	// dropped and counted (Stats.RateLimited).
	RatePerRule int
	// MaxProcesses bounds the process table.
	MaxProcesses int
	// MaxEntities bounds every other table (deduplication keys, windows,
	// recent downloads): least recently used entries are evicted and
	// counted.
	MaxEntities int
	// MaxFindings bounds the Active findings of one recommendation rule;
	// beyond it findings are dropped and counted.
	MaxFindings int
	// TickInterval is how often Run calls the Tickers, unless every
	// Ticker is a TickScheduler (the built-in ones are): Run then calls
	// them when they are due.
	TickInterval time.Duration
}

// Stats are the Stage's counters since it was built.
type Stats struct {
	Events          int64 // events analysed
	Alerts          int64 // SecurityAlert events emitted
	Recommendations int64 // SecurityRecommendation items emitted (Active and Resolved)
	Deduplicated    int64 // alerts folded into a later one (same rule and entity within DedupWindow)
	RateLimited     int64 // alerts dropped by the per-rule rate limit
	Suppressed      int64 // alerts matched by a suppression
	Disabled        int64 // alerts and findings of disabled rules
	FindingsDropped int64 // findings beyond MaxFindings
	Evictions       int64 // entries evicted from the bounded tables (process table, deduplication)
	Processes       int   // processes in the table now
	ConfigErrors    int64 // configurations refused
	Undeclared      int64 // alerts and findings of rules no analyzer declared (an analyzer bug)
}

// Stage runs Analyzers on every event as a processing stage of the engine
// (it implements stage.Stage and stage.Runner). Events pass through
// unchanged; alerts and recommendations are added after the Stage.
//
// It is safe for concurrent use: Process, Run, Tick, Configure and Stats
// share one lock.
type Stage struct {
	opts      Options
	log       *slog.Logger
	clock     func() time.Time
	mu        sync.Mutex
	analyzers []Analyzer
	tickers   []Ticker
	custom    *customAnalyzer
	rules     map[string]*ruleState
	order     []string // rule ids in registration order
	cfg       Config
	procs     *procTable
	dedup     *lru[string, *dedupState]
	recs      map[string]map[string]*recState
	pending   []event.Event
	stats     Stats
	env       Env
	// scheduled: every Ticker is a TickScheduler, and Run sleeps until
	// one is due (sleepUntil, zero: until woken) rather than ticking
	// every TickInterval. wake wakes it to recompute (an event made a
	// Ticker due sooner, a configuration, pending events, an alert
	// dropped).
	scheduled  bool
	sleepUntil time.Time
	wake       chan struct{}
	warnSum    int64 // the dropped and evicted counters when Run last looked
}

type ruleState struct {
	Rule
	enabled  bool
	severity string
	tokens   float64
	last     time.Time
}

type dedupState struct {
	last       time.Time
	suppressed int64
}

type recState struct {
	p     event.SecurityRecommendationPayload
	first time.Time
}

// New returns a Stage running the built-in rules (unless NoBuiltin), the
// custom alerts and opts.Analyzers. It returns an error when two analyzers
// declare the same rule id or opts.Config is not valid.
func New(opts Options) (*Stage, error) {
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = DefaultDedupWindow
	}
	if opts.RatePerRule <= 0 {
		opts.RatePerRule = DefaultRatePerRule
	}
	if opts.MaxProcesses <= 0 {
		opts.MaxProcesses = DefaultMaxProcesses
	}
	if opts.MaxEntities <= 0 {
		opts.MaxEntities = DefaultMaxEntities
	}
	if opts.MaxFindings <= 0 {
		opts.MaxFindings = DefaultMaxFindings
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = DefaultTickInterval
	}
	s := &Stage{
		opts:  opts,
		log:   opts.Logger,
		clock: opts.Clock,
		rules: make(map[string]*ruleState),
		procs: newProcTable(opts.MaxProcesses),
		dedup: newLRU[string, *dedupState](opts.MaxEntities),
		recs:  make(map[string]map[string]*recState),
		wake:  make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	var as []Analyzer
	if !opts.NoBuiltin {
		as = append(as, Builtin(opts.Builtin, opts.MaxEntities)...)
	}
	s.custom = newCustomAnalyzer(opts.MaxEntities)
	as = append(as, s.custom)
	as = append(as, opts.Analyzers...)
	for _, a := range as {
		for _, r := range a.Rules() {
			if r.ID == "" || !validID(r.ID) {
				return nil, fmt.Errorf("detect: rule id %q: want letters, digits and underscores", r.ID)
			}
			if _, dup := s.rules[r.ID]; dup {
				return nil, fmt.Errorf("detect: rule %s declared twice", r.ID)
			}
			if r.Kind != KindAlert && r.Kind != KindRecommendation {
				return nil, fmt.Errorf("detect: rule %s: kind %q", r.ID, r.Kind)
			}
			if _, err := parseSeverity(r.Severity); err != nil {
				return nil, fmt.Errorf("detect: rule %s: %w", r.ID, err)
			}
			s.rules[r.ID] = &ruleState{Rule: r, enabled: true, severity: r.Severity, tokens: float64(opts.RatePerRule)}
			s.order = append(s.order, r.ID)
		}
		s.analyzers = append(s.analyzers, a)
		if t, ok := a.(Ticker); ok {
			s.tickers = append(s.tickers, t)
		}
	}
	s.scheduled = true
	for _, t := range s.tickers {
		if _, ok := t.(TickScheduler); !ok {
			s.scheduled = false
		}
	}
	if err := s.apply(opts.Config); err != nil {
		return nil, err
	}
	return s, nil
}

func validID(id string) bool {
	for i, c := range id {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Name implements stage.Stage.
func (s *Stage) Name() string { return StageName }

// Rules returns every rule the Stage runs, with its configured state, in
// registration order (built-in, custom, then Options.Analyzers').
func (s *Stage) Rules() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Rule, 0, len(s.order))
	for _, id := range s.order {
		r := s.rules[id].Rule
		r.Severity = s.rules[id].severity
		out = append(out, r)
	}
	return out
}

// Enabled reports whether rule id runs.
func (s *Stage) Enabled(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rules[id]
	return ok && r.enabled
}

// Stats returns the Stage's counters.
func (s *Stage) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Processes = s.procs.t.len()
	st.Evictions = s.procs.t.evictions + s.dedup.evictions
	return st
}

// Process implements stage.Stage: it analyses ev, passes it on unchanged
// and emits the alerts and recommendations it raised after it.
func (s *Stage) Process(_ context.Context, ev *event.Event, emit stage.Emit) error {
	if ev.Name == event.SecurityAlert || ev.Name == event.SecurityRecommendation {
		return nil
	}
	s.mu.Lock()
	out := s.analyze(ev)
	s.wakeIfSooner()
	s.mu.Unlock()
	for _, x := range out {
		emit(x)
	}
	return nil
}

// analyze runs the analyzers on ev and returns the events to emit. Callers
// hold s.mu.
func (s *Stage) analyze(ev *event.Event) []event.Event {
	s.stats.Events++
	now := s.clock()
	if ev.Name == event.ProcessCreate {
		s.trackCreate(ev, now)
	}
	// One Env, reused under s.mu: no allocation per event.
	env := &s.env
	*env = Env{s: s, now: now, ev: ev}
	for _, a := range s.analyzers {
		a.Analyze(env, ev)
	}
	env.ev = nil
	if ev.Name == event.ProcessTerminate {
		for _, it := range ev.Payload {
			if p, ok := it.(*event.ProcessTerminatePayload); ok && p.ProcessID > 0 {
				s.procs.remove(p.ProcessID)
			}
		}
	}
	return s.takePending()
}

func (s *Stage) takePending() []event.Event {
	if len(s.pending) == 0 {
		return nil
	}
	out := s.pending
	s.pending = nil
	return out
}

func (s *Stage) trackCreate(ev *event.Event, now time.Time) {
	for _, it := range ev.Payload {
		p, ok := it.(*event.ProcessCreatePayload)
		if !ok || p.ProcessID <= 0 {
			continue
		}
		x := p.ExtraDetails
		s.procs.add(Process{PID: p.ProcessID, PPID: p.ParentProcessID, Executable: p.Executable, CommandLine: p.CommandLine,
			UserID: p.UserID, UserName: p.UserName, ContainerID: x[keyContainerID], ModuleName: x[keyModuleName], Start: now})
	}
}

// Tick runs the Tickers once and returns the events they raised (Run sends
// them to its sink). Tests call it with an injected clock.
func (s *Stage) Tick() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := Env{s: s, now: s.clock()}
	for _, t := range s.tickers {
		t.Tick(&env)
	}
	return s.takePending()
}

// Run implements stage.Runner: it calls the Tickers and sends what they
// raise (and the ConfigurationError events of refused configurations) to
// sink, until ctx is cancelled. It calls them when they are due when every
// Ticker is a TickScheduler, otherwise every TickInterval.
func (s *Stage) Run(ctx context.Context, sink collector.Sink) error {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var last Stats
	lastLog, lastTick := time.Now(), time.Now()
	for {
		s.mu.Lock()
		next := s.nextWake(lastTick, lastLog)
		s.mu.Unlock()
		var fire <-chan time.Time
		if !next.IsZero() {
			t.Reset(time.Until(next))
			fire = t.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-fire:
		case <-s.wake:
			t.Stop()
		}
		lastTick = time.Now()
		if time.Since(lastLog) >= time.Minute {
			// Alerts lost to the rate limit and table evictions are
			// reported, at most once a minute.
			st := s.Stats()
			if st.RateLimited > last.RateLimited || st.Evictions > last.Evictions || st.FindingsDropped > last.FindingsDropped {
				s.log.Warn("detect: alerts rate-limited or state evicted", "rateLimited", st.RateLimited-last.RateLimited,
					"evictions", st.Evictions-last.Evictions, "findingsDropped", st.FindingsDropped-last.FindingsDropped)
			}
			last, lastLog = st, time.Now()
			s.mu.Lock()
			s.warnSum = s.warnCounters()
			s.mu.Unlock()
		}
		if evs := s.Tick(); len(evs) > 0 {
			if err := sink.Emit(ctx, evs...); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("detect: emit", "err", err, "events", len(evs))
			}
		}
	}
}

// nextWake returns when Run should next call the Tickers (zero: when
// woken), and records it in s.sleepUntil. Callers hold s.mu.
func (s *Stage) nextWake(lastTick, lastLog time.Time) time.Time {
	now := s.clock()
	var next time.Time
	switch {
	case len(s.pending) > 0:
		next = now
	case !s.scheduled:
		next = lastTick.Add(s.opts.TickInterval)
	default:
		next = s.nextTick()
		if !next.IsZero() && !next.After(lastTick) {
			// A scheduler that says it is due again right after a
			// tick: pace it as a fixed interval would.
			next = lastTick.Add(s.opts.TickInterval)
		}
		if s.warnCounters() != s.warnSum {
			// Alerts were dropped or state evicted: say so (Run logs
			// at most once a minute).
			if at := lastLog.Add(time.Minute); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	s.sleepUntil = next
	return next
}

// nextTick returns the earliest NextTick of the Tickers (all
// TickSchedulers), zero if none is due. Callers hold s.mu.
func (s *Stage) nextTick() time.Time {
	var next time.Time
	for _, t := range s.tickers {
		if at := t.(TickScheduler).NextTick(); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// warnCounters sums the counters that Run warns about. Callers hold s.mu.
func (s *Stage) warnCounters() int64 {
	return s.stats.RateLimited + s.stats.FindingsDropped + s.procs.t.evictions + s.dedup.evictions
}

// wakeIfSooner wakes Run when it sleeps past the time a Ticker is now due,
// or sleeps indefinitely while a warning is due. Callers hold s.mu.
func (s *Stage) wakeIfSooner() {
	if !s.scheduled {
		return
	}
	next := s.nextTick()
	if !next.IsZero() && (s.sleepUntil.IsZero() || next.Before(s.sleepUntil)) ||
		s.sleepUntil.IsZero() && s.warnCounters() != s.warnSum {
		s.poke()
	}
}

// poke wakes Run (if it runs) to recompute when to tick.
func (s *Stage) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// alert implements Env.Alert. Callers hold s.mu.
func (s *Stage) alert(env *Env, id, entity string, a *event.SecurityAlertPayload) {
	r, ok := s.rules[id]
	if !ok || r.Kind != KindAlert {
		s.stats.Undeclared++
		if s.stats.Undeclared == 1 || s.stats.Undeclared%1000 == 0 {
			s.log.Warn("detect: alert of an undeclared rule dropped", "rule", id, "dropped", s.stats.Undeclared)
		}
		return
	}
	if !r.enabled {
		s.stats.Disabled++
		return
	}
	a.AlertType, a.DisplayName, a.Severity = r.ID, r.Name, r.severity
	if a.Description == "" {
		a.Description = r.Description
	}
	if a.Remediation == "" {
		a.Remediation = r.Remediation
	}
	if env.ev != nil && event.ValidID(env.ev.ID) {
		a.TriggerEventIDs = append(a.TriggerEventIDs, env.ev.ID)
		a.TriggerEventNames = append(a.TriggerEventNames, env.ev.Name)
	}
	if s.suppressed(a, entity) {
		s.stats.Suppressed++
		return
	}
	key := id + "\x00" + entity
	d, seen := s.dedup.get(key)
	if seen && env.now.Sub(d.last) < s.opts.DedupWindow {
		d.suppressed++
		s.stats.Deduplicated++
		return
	}
	// Rate limit per rule: a bucket of RatePerRule tokens refilled over a
	// minute.
	if !r.last.IsZero() {
		r.tokens += env.now.Sub(r.last).Minutes() * float64(s.opts.RatePerRule)
		if r.tokens > float64(s.opts.RatePerRule) {
			r.tokens = float64(s.opts.RatePerRule)
		}
	}
	r.last = env.now
	if r.tokens < 1 {
		s.stats.RateLimited++
		return
	}
	r.tokens--
	a.Count = 1
	if seen {
		a.Count += d.suppressed
		d.last, d.suppressed = env.now, 0
	} else {
		s.dedup.put(key, &dedupState{last: env.now})
	}
	if a.TriggerEventIDs == nil {
		a.TriggerEventIDs = []string{}
	}
	s.stats.Alerts++
	s.pending = append(s.pending, event.Must(event.SecurityAlert, env.now, a))
}

// recommend implements Env.Recommend. Callers hold s.mu.
func (s *Stage) recommend(env *Env, id string, findings []Finding) {
	r, ok := s.rules[id]
	if !ok || r.Kind != KindRecommendation {
		s.stats.Undeclared++
		if s.stats.Undeclared == 1 || s.stats.Undeclared%1000 == 0 {
			s.log.Warn("detect: recommendation of an undeclared rule dropped", "rule", id, "dropped", s.stats.Undeclared)
		}
		return
	}
	if !r.enabled {
		s.stats.Disabled += int64(len(findings))
		findings = nil // resolves what was active
	}
	prev := s.recs[id]
	next := make(map[string]*recState, len(findings))
	var items []event.Item
	for _, f := range findings {
		if f.Entity == "" {
			f.Entity = r.ID
		}
		if _, dup := next[f.Entity]; dup {
			continue
		}
		if len(next) >= s.opts.MaxFindings {
			s.stats.FindingsDropped++
			continue
		}
		old, had := prev[f.Entity]
		st := &recState{first: env.now}
		if had {
			st.first = old.first
		}
		st.p = event.SecurityRecommendationPayload{RecommendationType: r.ID, Name: r.Name, Severity: r.severity,
			State: event.RecommendationActive, Entity: f.Entity, Evidence: f.Evidence, Remediation: r.Remediation,
			FirstSeenUTC: event.FormatUTC(st.first), ExtraDetails: f.ExtraDetails}
		next[f.Entity] = st
		if !had || old.p.Evidence != f.Evidence || old.p.Severity != r.severity {
			p := st.p
			items = append(items, &p)
		}
	}
	gone := make([]string, 0)
	for k := range prev {
		if _, ok := next[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		p := prev[k].p
		p.State = event.RecommendationResolved
		items = append(items, &p)
	}
	if len(next) == 0 {
		delete(s.recs, id)
	} else {
		s.recs[id] = next
	}
	if len(items) == 0 {
		return
	}
	s.stats.Recommendations += int64(len(items))
	s.pending = append(s.pending, event.Must(event.SecurityRecommendation, env.now, items...))
}

// Active returns the Active findings of every recommendation rule, sorted
// by rule and entity.
func (s *Stage) Active() []event.SecurityRecommendationPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event.SecurityRecommendationPayload
	for _, m := range s.recs {
		for _, st := range m {
			out = append(out, st.p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].RecommendationType != out[j].RecommendationType {
			return out[i].RecommendationType < out[j].RecommendationType
		}
		return out[i].Entity < out[j].Entity
	})
	return out
}

// Suppression silences the alerts it matches. Every non-empty field must
// match: Rule the alert type ("" any); Executable the executable's full
// path or base name, shell glob allowed ("/opt/app/*", "nc*"); User the
// user name or id; ContainerID a container id or its 12-character prefix;
// Module the IoT Edge module; RemoteAddress an IP or CIDR; Entity the
// deduplication entity, glob allowed.
type Suppression struct {
	Rule          string `json:"rule,omitempty"`
	Executable    string `json:"executable,omitempty"`
	User          string `json:"user,omitempty"`
	ContainerID   string `json:"containerId,omitempty"`
	Module        string `json:"module,omitempty"`
	RemoteAddress string `json:"remoteAddress,omitempty"`
	Entity        string `json:"entity,omitempty"`
	prefix        netip.Prefix
}

func (sp *Suppression) compile() error {
	if sp.Rule == "" && sp.Executable == "" && sp.User == "" && sp.ContainerID == "" && sp.Module == "" && sp.RemoteAddress == "" && sp.Entity == "" {
		return errors.New("suppression matches every alert; set at least one field")
	}
	for _, g := range []string{sp.Executable, sp.Entity} {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("suppression pattern %q: %w", g, err)
		}
	}
	if sp.RemoteAddress != "" {
		p, err := parsePrefix(sp.RemoteAddress)
		if err != nil {
			return fmt.Errorf("suppression remoteAddress: %w", err)
		}
		sp.prefix = p
	}
	return nil
}

func (sp *Suppression) match(a *event.SecurityAlertPayload, entity string) bool {
	if sp.Rule != "" && sp.Rule != a.AlertType {
		return false
	}
	if sp.Executable != "" {
		ok1, _ := path.Match(sp.Executable, a.Executable)
		ok2, _ := path.Match(sp.Executable, path.Base(a.Executable))
		if a.Executable == "" || !ok1 && !ok2 {
			return false
		}
	}
	if sp.User != "" && sp.User != a.UserName && sp.User != a.UserID {
		return false
	}
	if sp.ContainerID != "" && (a.ContainerID == "" || !strings.HasPrefix(a.ContainerID, sp.ContainerID)) {
		return false
	}
	if sp.Module != "" && sp.Module != a.ModuleName {
		return false
	}
	if sp.RemoteAddress != "" {
		ip, err := netip.ParseAddr(a.RemoteAddress)
		if err != nil || !sp.prefix.Contains(ip.Unmap()) {
			return false
		}
	}
	if sp.Entity != "" {
		if ok, _ := path.Match(sp.Entity, entity); !ok {
			return false
		}
	}
	return true
}

func (s *Stage) suppressed(a *event.SecurityAlertPayload, entity string) bool {
	for i := range s.cfg.Suppress {
		if s.cfg.Suppress[i].match(a, entity) {
			return true
		}
	}
	return false
}

// parsePrefix parses an IP or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), bitsUnmapped(p)).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func bitsUnmapped(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

func parseSeverity(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "high":
		return event.AlertHigh, nil
	case "medium":
		return event.AlertMedium, nil
	case "low":
		return event.AlertLow, nil
	}
	return "", fmt.Errorf("severity %q: want High, Medium or Low", s)
}

var (
	_ stage.Stage  = (*Stage)(nil)
	_ stage.Runner = (*Stage)(nil)
)
