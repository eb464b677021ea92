package detect

import (
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// Kinds of rule.
const (
	// KindAlert rules raise SecurityAlert events: something happened.
	KindAlert = "Alert"
	// KindRecommendation rules raise SecurityRecommendation events: a
	// condition holds (Active) until it no longer does (Resolved).
	KindRecommendation = "Recommendation"
)

// Rule describes one alert or recommendation type an Analyzer raises.
type Rule struct {
	// ID is the stable id: the AlertType or RecommendationType, e.g.
	// "IoT_ReverseShell". The twin's per-rule keys use it.
	ID string
	// Name is the display name, in ASC's wording where ASC had the rule.
	Name string
	// Kind is KindAlert or KindRecommendation.
	Kind string
	// Severity is the default severity: event.AlertHigh, AlertMedium or
	// AlertLow.
	Severity string
	// Description says what the rule means; an alert or recommendation
	// with no description of its own gets it.
	Description string
	// Remediation says what to do.
	Remediation string
	// Trigger says what raises it, for the documentation.
	Trigger string
	// Inputs are the event names it reads.
	Inputs []string
	// Origin says where the rule comes from: "ASC" (an ASC for IoT alert
	// or recommendation), "Falco" (a Falco rule), "Custom" (a custom alert
	// of the twin) or "edgesec".
	Origin string
}

// Analyzer inspects events and raises alerts and recommendations through
// the Env it is given.
//
// Concurrency: the Stage calls every method of an Analyzer from one
// goroutine at a time, never concurrently (Analyze from the engine's chain,
// Tick from the Stage's runner, both under the Stage's lock), so an
// Analyzer needs no locking of its own for state it only touches from these
// methods.
//
// Rules: Analyze runs on the path of every collector's event. It must not
// block, do I/O or sleep; it must not modify ev or the items of its
// payload (they belong to the collector and to the stages after this one);
// it must keep a bounded amount of memory whatever the event stream (use
// [Window] and [Recent], which evict and count). The analyzertest package
// checks these rules.
type Analyzer interface {
	// Rules lists the rules the Analyzer may raise. It is called once, when
	// the Stage is built; the result must not change.
	Rules() []Rule
	// Analyze inspects one event.
	Analyze(env *Env, ev *event.Event)
}

// Ticker is implemented by Analyzers with time-driven work: windows that
// close, findings that expire. The Stage's Run calls Tick every
// Options.TickInterval, or when it is due if the Ticker is also a
// [TickScheduler]; tests call [Stage.Tick].
type Ticker interface {
	Tick(env *Env)
}

// TickScheduler is implemented by Tickers that know when they next have
// work. NextTick returns the earliest time at which Tick has something to
// do (a window that closes, a snapshot that has settled), or the zero Time
// when it has nothing to do until more events arrive; after a Tick at time
// t it returns a time after t, or zero. The Stage calls it under its lock,
// like Tick and Analyze, after every event and every tick.
//
// When every Ticker of a Stage is a TickScheduler, Run sleeps until the
// earliest of those times instead of waking every Options.TickInterval: on
// an idle device no detection code runs (and none of its pages need to be
// resident). Tick may still be called before a Ticker is due (another
// Ticker is), so it checks, as it would on a fixed interval.
type TickScheduler interface {
	Ticker
	NextTick() time.Time
}

// ConfigAnalyzer is implemented by Analyzers that judge the security
// module's configuration itself. [Stage.ApplyConfig] calls AnalyzeConfig,
// under the Stage's lock and before the detection keys are parsed, with
// every configuration the engine applies (a new twin version with the same
// settings included), so that what they raise about a configuration
// resolves once it is fixed. env.Event returns nil.
type ConfigAnalyzer interface {
	AnalyzeConfig(env *Env, c twinconfig.Config)
}

// Finding is one instance of a recommendation, identified by its Entity
// within the rule.
type Finding struct {
	// Entity identifies the finding within its rule ("TCP 0.0.0.0:8888").
	Entity string
	// Evidence says what was found.
	Evidence string
	// ExtraDetails are copied to the SecurityRecommendation item.
	ExtraDetails event.ExtraDetails
}

// Env is what an Analyzer sees of the Stage during one call: the clock, the
// process table and the outputs. It is valid only during the call.
type Env struct {
	s   *Stage
	now time.Time
	ev  *event.Event // the event being analysed; nil during Tick
}

// Now returns the Stage clock's time of this call.
func (e *Env) Now() time.Time { return e.now }

// Process returns what the process table knows of pid.
func (e *Env) Process(pid int) (Process, bool) {
	return e.s.procs.get(pid)
}

// Ancestors returns up to n ancestors of pid known to the process table,
// its parent first. The walk stops at the first unknown pid or at a loop.
func (e *Env) Ancestors(pid, n int) []Process {
	var out []Process
	p, ok := e.s.procs.get(pid)
	for ok && len(out) < n {
		if p.PPID <= 0 || p.PPID == p.PID {
			break
		}
		p, ok = e.s.procs.get(p.PPID)
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// Alert raises an alert of rule id about entity (the deduplication key
// within the rule: an executable and command line, a remote address, a
// user, a container...). The Stage fills AlertType, DisplayName, Severity,
// Remediation (when empty), Description (when empty) and the triggering
// event's id and name (appended to any given), applies the rule's
// configuration, suppressions, deduplication and rate limit, and emits a
// SecurityAlert event. a must not be used by the caller afterwards.
func (e *Env) Alert(id, entity string, a *event.SecurityAlertPayload) {
	e.s.alert(e, id, entity, a)
}

// Recommend replaces the set of Active findings of recommendation rule id
// with findings: the Stage emits a SecurityRecommendation with State Active
// for every new finding (or one whose Evidence changed) and State Resolved
// for every finding of the previous set that is gone.
func (e *Env) Recommend(id string, findings []Finding) {
	e.s.recommend(e, id, findings)
}

// Event returns the event being analysed, or nil during Tick.
func (e *Env) Event() *event.Event { return e.ev }
