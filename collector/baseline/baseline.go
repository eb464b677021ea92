package baseline

import (
	"context"
	"io/fs"
	"log/slog"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// DefaultMaxEventBytes is the default of [Options.MaxEventBytes]: every
// OSBaseline event fits in the smallest message the configuration allows
// (maxMessageSizeInBytes 8192) with its envelope.
const DefaultMaxEventBytes = 7 << 10

// UsedConfiguration is the UsedConfiguration of the ConfigurationError
// events about custom checks.
const UsedConfiguration = "built-in checks only"

// Options configure the OSBaseline collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default, when
	// empty) or "/host" in a container. Kernel parameters are read from
	// <HostRoot>/proc/sys and mounts from <HostRoot>/proc/mounts, so with
	// HostRoot "/host" the host's /proc must be visible at /host/proc (a
	// bind mount of / does not include it: mount /proc at /host/proc, or
	// run in the host PID namespace). Network parameters are those of the
	// network namespace the reader is in: run in the host network.
	HostRoot string
	// FS, when set, replaces HostRoot: the checks read this filesystem
	// (names relative to the host root, e.g. "etc/passwd"). Symbolic
	// links are read through [fs.ReadLinkFS] when it implements it, and
	// ownership from a *syscall.Stat_t FileInfo.Sys. It is meant for tests
	// and for hosts reached another way; [HostFS] is the implementation
	// behind HostRoot.
	FS fs.FS
	// Logger receives warnings (custom checks not used) and debug
	// messages; nil discards them.
	Logger *slog.Logger
	// CustomChecks returns the current custom-check settings; it is called
	// at every poll, so configuration changes apply at the next poll. Nil
	// means no custom checks. See [CustomChecksFrom].
	CustomChecks func() CustomChecks
	// Walk bounds the world-writable file search.
	Walk WalkLimits
	// MaxEventBytes bounds the JSON size of each OSBaseline event; a
	// snapshot with more failures gets several events. Zero means
	// DefaultMaxEventBytes.
	MaxEventBytes int
	// Checks replaces the built-in checks when not nil (for tests, or to
	// run a subset: filter [Builtin]).
	Checks []Check
}

// Poller takes OSBaseline snapshots. It implements [collector.Poller]; a
// Poller may be used by one goroutine at a time.
type Poller struct {
	fsys     fs.FS
	log      *slog.Logger
	custom   func() CustomChecks
	walk     WalkLimits
	maxBytes int
	checks   []Check
	reserved map[string]bool
	now      func() time.Time
}

// New returns a Poller running the built-in checks (and the custom checks
// the settings enable) against the host under o.HostRoot.
func New(o Options) *Poller {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var fsys fs.FS = NewHostFS(o.HostRoot)
	if o.FS != nil {
		fsys = o.FS
	}
	maxBytes := o.MaxEventBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	checks := o.Checks
	if checks == nil {
		checks = Builtin()
	}
	reserved := map[string]bool{}
	for _, c := range Builtin() {
		reserved[c.ID] = true
	}
	for _, c := range checks {
		reserved[c.ID] = true
	}
	custom := o.CustomChecks
	if custom == nil {
		custom = func() CustomChecks { return CustomChecks{} }
	}
	return &Poller{fsys: fsys, log: log, custom: custom, walk: o.Walk, maxBytes: maxBytes,
		checks: checks, reserved: reserved, now: time.Now}
}

// NewCollector returns the OSBaseline collector: New(o) polled once at
// start and then every interval() (snapshotFrequency).
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.OSBaseline, interval, New(o))
}

// Run evaluates every check (built-in, then custom) and returns all the
// results, passing ones included, with the ConfigurationError problems of
// the custom checks settings. Poll sends only what fails; Run is for
// reports and tests.
func (p *Poller) Run(ctx context.Context) (results []CheckResult, cfgErr *event.ConfigurationErrorPayload) {
	h := NewHost(ctx, p.fsys, p.walk)
	for _, c := range p.checks {
		if ctx.Err() != nil {
			return results, nil
		}
		results = append(results, CheckResult{Check: c, Result: runCheck(c, h), Source: SourceBuiltIn})
	}
	s := p.custom()
	if !s.Enabled || s.FilePath == "" {
		return results, nil
	}
	checks, prob := loadCustom(s, p.reserved)
	if prob != nil {
		p.log.Warn("baseline: custom checks not used", slog.String("setting", prob.key), slog.String("problem", prob.msg))
		return results, &event.ConfigurationErrorPayload{
			ConfigurationName: prob.key, ErrorType: prob.kind, UsedConfiguration: UsedConfiguration, Message: prob.msg,
			ExtraDetails: event.ExtraDetails{"FilePath": s.FilePath},
		}
	}
	for _, c := range checks {
		if ctx.Err() != nil {
			break
		}
		results = append(results, CheckResult{Check: c, Result: runCheck(c, h), Source: SourceCustom})
	}
	return results, nil
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Check  Check
	Result Result
	Source string // SourceBuiltIn or SourceCustom
}

// runCheck runs one check, turning a panic (a bug) into an Err result so
// that one broken check never stops the others.
func runCheck(c Check, h *Host) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			r = Error(errPanic{v})
		}
	}()
	r = c.Run(h)
	switch r.Status {
	case event.BaselinePass, event.BaselineFail, event.BaselineErr:
	default:
		r = Error(errBadStatus(r.Status))
	}
	return r
}

// Poll implements [collector.Poller]. It returns the OSBaseline snapshot:
// one item per failed or erroneous check (passing checks are not sent, as
// the original agents did); a host that passes everything gets one empty
// event (IsEmpty true). When the custom checks are enabled but cannot be
// used, a ConfigurationError event comes first. Poll returns an error
// only when ctx is cancelled.
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.now()
	results, cfgErr := p.Run(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var evs []event.Event
	if cfgErr != nil {
		evs = append(evs, event.Must(event.ConfigurationError, now, cfgErr))
	}
	var items []event.Item
	for _, r := range results {
		if r.Result.Status == event.BaselinePass {
			continue
		}
		items = append(items, Item(r.Check, r.Result, r.Source))
	}
	return append(evs, p.split(now, items)...), nil
}

// split packs items into OSBaseline events of at most p.maxBytes each.
func (p *Poller) split(now time.Time, items []event.Item) []event.Event {
	return collector.Split(event.OSBaseline, now, items, p.maxBytes)
}
