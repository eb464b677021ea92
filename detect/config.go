package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// Config is the rule configuration of a Stage: which rules run, their
// severities, suppressions and the custom alerts. The zero value runs every
// rule at its default severity, with no suppression and no custom alert.
type Config struct {
	// Disabled lists rule ids that do not run. A disabled recommendation
	// rule resolves its Active findings at its next evaluation.
	Disabled []string `json:"disabled,omitempty"`
	// Severity overrides rule severities: rule id → High, Medium or Low.
	Severity map[string]string `json:"severity,omitempty"`
	// Suppress silences matching alerts (counted in Stats.Suppressed).
	Suppress []Suppression `json:"suppress,omitempty"`
	// Custom are the custom alerts, as ASC's security groups defined them.
	Custom []CustomAlert `json:"custom,omitempty"`
}

// Configure replaces the rule configuration. A configuration with any
// problem (unknown rule id, bad severity, bad suppression or custom alert)
// is refused as a whole: the Stage keeps the last good one, emits a
// ConfigurationError event (through Run's sink, or after the next event)
// and Configure returns the problems.
func (s *Stage) Configure(c Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.apply(c)
	if err != nil {
		s.stats.ConfigErrors++
		s.log.Warn("detect: configuration refused; keeping the last good one", "err", err)
		s.pending = append(s.pending, ConfigurationErrors(err, s.clock())...)
	}
	// New custom alerts (their windows) or events to send.
	s.poke()
	return err
}

// ConfigurationName is the ConfigurationName of the ConfigurationError
// items of a refused detect configuration.
const ConfigurationName = "detection"

// ConfigurationErrors returns the ConfigurationError event reporting err
// (one item per joined error), or nil for a nil err.
func ConfigurationErrors(err error, now time.Time) []event.Event {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	items := make([]event.Item, 0, len(errs))
	for _, e := range errs {
		name := ConfigurationName
		var ce *ConfigError
		if errors.As(e, &ce) && ce.Key != "" {
			name = ce.Key
		}
		items = append(items, &event.ConfigurationErrorPayload{ConfigurationName: name, ErrorType: event.TypeMismatch,
			UsedConfiguration: "last good detection configuration", Message: e.Error()})
	}
	return []event.Event{event.Must(event.ConfigurationError, now, items...)}
}

// ConfigError is one problem of a Config; Key names the twin key concerned
// when known.
type ConfigError struct {
	Key string
	Err error
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return e.Err.Error()
	}
	return e.Key + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// apply validates c and makes it current. Callers hold s.mu (or own s).
func (s *Stage) apply(c Config) error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &ConfigError{Key: key, Err: fmt.Errorf(format, a...)})
	}
	disabled := make(map[string]bool, len(c.Disabled))
	for _, id := range c.Disabled {
		id = strings.TrimSpace(id)
		if _, ok := s.rules[id]; !ok {
			bad(KeyRulesDisabled, "unknown rule %q", id)
			continue
		}
		disabled[id] = true
	}
	sev := make(map[string]string, len(c.Severity))
	for id, v := range c.Severity {
		if _, ok := s.rules[id]; !ok {
			bad(KeyRuleSeverities, "unknown rule %q", id)
			continue
		}
		p, err := parseSeverity(v)
		if err != nil {
			bad(KeyRuleSeverities, "rule %s: %w", id, err)
			continue
		}
		sev[id] = p
	}
	sup := append([]Suppression(nil), c.Suppress...)
	for i := range sup {
		if sup[i].Rule != "" {
			if _, ok := s.rules[sup[i].Rule]; !ok {
				bad(KeySuppressions, "suppression %d: unknown rule %q", i, sup[i].Rule)
				continue
			}
		}
		if err := sup[i].compile(); err != nil {
			bad(KeySuppressions, "suppression %d: %w", i, err)
		}
	}
	custom, err := compileCustom(c.Custom)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for id, r := range s.rules {
		r.enabled = !disabled[id]
		r.severity = r.Rule.Severity
		if v, ok := sev[id]; ok {
			r.severity = v
		}
	}
	c.Suppress = sup
	s.cfg = c
	s.custom.set(custom, s.clock())
	return nil
}

// Twin keys of the detection configuration (edgesec extensions of the
// security module's twin configuration).
const (
	KeyRulesDisabled  = "detectionRulesDisabled"
	KeyRuleSeverities = "detectionRuleSeverities"
	KeySuppressions   = "detectionSuppressions"
	KeyCustomAlerts   = "customAlerts"
)

// ParseConfig builds a Config from the text of the twin keys:
// rulesDisabled is a comma-separated list of rule ids; severities
// comma-separated RULE=severity pairs; suppressions and customAlerts JSON
// arrays (or empty). It checks only the syntax; [Stage.Configure] checks
// the rule ids.
func ParseConfig(rulesDisabled, severities, suppressions, customAlerts string) (Config, error) {
	var c Config
	var errs []error
	for _, id := range strings.Split(rulesDisabled, ",") {
		if id = strings.TrimSpace(id); id != "" {
			c.Disabled = append(c.Disabled, id)
		}
	}
	for _, pair := range strings.Split(severities, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		id, v, ok := strings.Cut(pair, "=")
		if !ok {
			errs = append(errs, &ConfigError{Key: KeyRuleSeverities, Err: fmt.Errorf("%q is not RULE=severity", pair)})
			continue
		}
		if c.Severity == nil {
			c.Severity = map[string]string{}
		}
		c.Severity[strings.TrimSpace(id)] = strings.TrimSpace(v)
	}
	if strings.TrimSpace(suppressions) != "" {
		if err := strictJSON(suppressions, &c.Suppress); err != nil {
			errs = append(errs, &ConfigError{Key: KeySuppressions, Err: err})
		}
	}
	if strings.TrimSpace(customAlerts) != "" {
		if err := strictJSON(customAlerts, &c.Custom); err != nil {
			errs = append(errs, &ConfigError{Key: KeyCustomAlerts, Err: err})
		}
	}
	return c, errors.Join(errs...)
}

func strictJSON(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("not a valid JSON array of rules: %w", err)
	}
	if d.More() {
		return errors.New("trailing data after the JSON array")
	}
	return nil
}

// ConfigFromTwin builds a Config from the twin configuration's detection
// keys (see [ParseConfig]).
func ConfigFromTwin(d twinconfig.Detection) (Config, error) {
	return ParseConfig(d.RulesDisabled, d.RuleSeverities, d.Suppressions, d.CustomAlerts)
}

// ApplyConfig configures the Stage from the twin configuration's detection
// keys: call it with every configuration the engine applies. A
// configuration that does not parse or that Configure refuses leaves the
// last good rules in place and emits a ConfigurationError event.
//
// Before that it gives c to the analyzers that judge the configuration
// itself ([ConfigAnalyzer]): the twin configuration recommendations.
func (s *Stage) ApplyConfig(c twinconfig.Config) error {
	s.mu.Lock()
	env := Env{s: s, now: s.clock()}
	for _, a := range s.analyzers {
		if ca, ok := a.(ConfigAnalyzer); ok {
			ca.AnalyzeConfig(&env, c)
		}
	}
	s.mu.Unlock()
	cfg, err := ConfigFromTwin(c.Detection)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stats.ConfigErrors++
		s.log.Warn("detect: configuration refused; keeping the last good one", "err", err)
		s.pending = append(s.pending, ConfigurationErrors(err, s.clock())...)
		s.poke()
		return err
	}
	return s.Configure(cfg)
}
