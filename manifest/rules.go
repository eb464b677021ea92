package manifest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Severity ranks findings. The zero value is invalid.
type Severity int

// Severities, from least to most severe.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

// String returns "Low", "Medium", "High" or "Critical".
func (s Severity) String() string {
	switch s {
	case Low:
		return "Low"
	case Medium:
		return "Medium"
	case High:
		return "High"
	case Critical:
		return "Critical"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// ParseSeverity parses a severity name case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low":
		return Low, nil
	case "medium":
		return Medium, nil
	case "high":
		return High, nil
	case "critical":
		return Critical, nil
	}
	return 0, fmt.Errorf("manifest: unknown severity %q (want critical, high, medium or low)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (case-insensitive).
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Rule is one check of the catalogue.
type Rule struct {
	// ID is stable across releases ("EDGE001"); pipelines and
	// suppressions depend on it.
	ID       string
	Title    string
	Severity Severity
	// Family groups related rules ("privilege", "namespaces", "mounts",
	// "image", "registry", "runtime", "edgehub", "secrets", "resources",
	// "logging", "drift").
	Family      string
	Rationale   string
	Remediation string
	// References are URLs of the benchmark or documentation the rule
	// follows (CIS Docker Benchmark, ASC for IoT, IoT Edge docs).
	References []string
	// Check returns the rule's findings for d. The engine fills in RuleID,
	// Severity, Title, Remediation and Source; Check sets Module, Pointer
	// (through Node) and Evidence. Check is nil for the drift rules,
	// which [Drift] reports.
	Check func(d *Deployment) []Finding
}

// Finding is one problem a rule found.
type Finding struct {
	RuleID      string
	Severity    Severity
	Title       string
	Module      string // "" for deployment-wide findings
	Pointer     string // JSON pointer into the manifest
	Evidence    string // what was found; secrets are never included
	Remediation string
	Source      string // the deployment's Source
	// Line and Column locate Pointer in the file (1-based), 0 when
	// unknown.
	Line, Column int
	// Suppression is set when a suppression matched: the finding is kept
	// for audit but does not count.
	Suppression *Suppression
}

// Suppression accepts a finding on purpose, recording who decided it and
// why. It comes from the analyser configuration (a twin, a suppressions
// file of the lint command) or from a module label in the manifest:
//
//	"Labels": {"edgesec.suppress.EDGE004": "by=security-team; reason=monitors host processes; expires=2026-12-31"}
//
// A suppression without By or Reason does not apply.
type Suppression struct {
	Rule    string `json:"rule"`              // a rule id, required
	Module  string `json:"module,omitempty"`  // a module name or a path.Match pattern; "" matches every module and deployment-wide findings
	Source  string `json:"source,omitempty"`  // a path.Match pattern on the finding's Source; "" matches any
	By      string `json:"by"`                // who accepted the risk
	Reason  string `json:"reason"`            // why
	Expires string `json:"expires,omitempty"` // YYYY-MM-DD; the suppression stops applying after that day (UTC)
	// InSource is true for a suppression from a module label of the
	// manifest itself.
	InSource bool `json:"-"`
}

// valid reports whether s records who and why.
func (s *Suppression) valid() bool {
	return s.Rule != "" && strings.TrimSpace(s.By) != "" && strings.TrimSpace(s.Reason) != ""
}

func (s *Suppression) active(now time.Time) bool {
	if s.Expires == "" {
		return true
	}
	t, err := time.Parse(time.DateOnly, s.Expires)
	if err != nil {
		return false // an unreadable expiry never silences a finding
	}
	return now.UTC().Before(t.AddDate(0, 0, 1))
}

func (s *Suppression) matches(f *Finding) bool {
	if !strings.EqualFold(s.Rule, f.RuleID) {
		return false
	}
	if s.Module != "" {
		if ok, _ := path.Match(s.Module, f.Module); !ok {
			return false
		}
	}
	if s.Source != "" {
		if ok, _ := path.Match(s.Source, f.Source); !ok {
			return false
		}
	}
	return true
}

// SuppressLabelPrefix starts the module label that suppresses a rule for
// that module: "edgesec.suppress.EDGE004". Its value is
// "by=<who>; reason=<why>[; expires=YYYY-MM-DD]".
const SuppressLabelPrefix = "edgesec.suppress."

// ParseSuppressLabel parses a suppression label of module; ok is false
// when key is not a suppression label. The result may be invalid (no by or
// reason): such a suppression does not apply.
func ParseSuppressLabel(module, key, value string) (s Suppression, ok bool) {
	rule, ok := strings.CutPrefix(key, SuppressLabelPrefix)
	if !ok {
		return Suppression{}, false
	}
	s = Suppression{Rule: strings.ToUpper(rule), Module: module, InSource: true}
	for _, part := range strings.Split(value, ";") {
		k, v, _ := strings.Cut(part, "=")
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "by":
			s.By = v
		case "reason":
			s.Reason = v
		case "expires":
			s.Expires = v
		}
	}
	return s, true
}

// Config tunes an analysis: rules switched off, severities changed, and
// suppressions. The zero value runs every rule at its own severity. It is
// the JSON object of the lint command's --config file and of the module
// twin's deployment analysis settings:
//
//	{"disabledRules": ["EDGE016"], "severity": {"EDGE014": "medium"},
//	 "suppressions": [{"rule": "EDGE004", "module": "securityModule", "by": "…", "reason": "…"}]}
type Config struct {
	DisabledRules []string            `json:"disabledRules,omitempty"`
	Severity      map[string]Severity `json:"severity,omitempty"`
	Suppressions  []Suppression       `json:"suppressions,omitempty"`
}

// DecodeConfig decodes a Config strictly (unknown keys are errors) and
// checks it against the built-in catalogue.
func DecodeConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("manifest: config: %w", err)
	}
	if err := c.Validate(Catalogue()); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks that every rule id of c names a rule of rules, and that
// every suppression records who and why.
func (c Config) Validate(rules []Rule) error {
	known := func(id string) bool {
		return slices.ContainsFunc(rules, func(r Rule) bool { return strings.EqualFold(r.ID, id) })
	}
	var probs []string
	for _, id := range c.DisabledRules {
		if !known(id) {
			probs = append(probs, fmt.Sprintf("disabledRules: unknown rule %q", id))
		}
	}
	for id, sev := range c.Severity {
		if !known(id) {
			probs = append(probs, fmt.Sprintf("severity: unknown rule %q", id))
		}
		if sev < Low || sev > Critical {
			probs = append(probs, fmt.Sprintf("severity: %s: invalid severity", id))
		}
	}
	for i, s := range c.Suppressions {
		if !known(s.Rule) {
			probs = append(probs, fmt.Sprintf("suppressions[%d]: unknown rule %q", i, s.Rule))
		}
		if !s.valid() {
			probs = append(probs, fmt.Sprintf("suppressions[%d]: a suppression needs \"by\" and \"reason\"", i))
		}
		if s.Expires != "" {
			if _, err := time.Parse(time.DateOnly, s.Expires); err != nil {
				probs = append(probs, fmt.Sprintf("suppressions[%d]: expires must be YYYY-MM-DD", i))
			}
		}
	}
	slices.Sort(probs)
	if len(probs) > 0 {
		return fmt.Errorf("manifest: config: %s", strings.Join(probs, "; "))
	}
	return nil
}

// Analyzer runs rules over deployments. An Analyzer is immutable once
// used and safe for concurrent use.
type Analyzer struct {
	// Rules to run; nil means the built-in [Catalogue].
	Rules []Rule
	// Config disables rules, overrides severities and suppresses findings.
	Config Config
	// Now is the clock for suppression expiry; nil means time.Now.
	Now func() time.Time
}

// Analyze runs the built-in catalogue over d with cfg.
func Analyze(d *Deployment, cfg Config) []Finding {
	a := Analyzer{Config: cfg}
	return a.Analyze(d)
}

// Analyze runs the rules over d and returns the findings, suppressed ones
// included (with Suppression set), sorted by module, rule, pointer and
// evidence.
func (a *Analyzer) Analyze(d *Deployment) []Finding {
	rules := a.Rules
	if rules == nil {
		rules = catalogue
	}
	var out []Finding
	for i := range rules {
		r := &rules[i]
		if r.Check == nil || a.disabled(r.ID) {
			continue
		}
		for _, f := range r.Check(d) {
			f.RuleID, f.Title, f.Remediation = r.ID, r.Title, r.Remediation
			f.Severity = r.Severity
			out = append(out, f)
		}
	}
	return a.finish(d, out)
}

func (a *Analyzer) disabled(id string) bool {
	return slices.ContainsFunc(a.Config.DisabledRules, func(s string) bool { return strings.EqualFold(s, id) })
}

// finish applies severity overrides, suppressions and locations, and
// sorts.
func (a *Analyzer) finish(d *Deployment, out []Finding) []Finding {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	t := now()
	sups := a.inSource(d)
	sups = append(sups, a.Config.Suppressions...)
	var locs map[string]int
	for i := range out {
		f := &out[i]
		f.Source = d.Source
		for id, sev := range a.Config.Severity {
			if strings.EqualFold(id, f.RuleID) {
				f.Severity = sev
			}
		}
		for j := range sups {
			s := &sups[j]
			if s.valid() && s.active(t) && s.matches(f) {
				f.Suppression = s
				break
			}
		}
		if f.Pointer != "" && d.Root != nil {
			if locs == nil {
				locs = offsets(d.Root)
			}
			if off, ok := locs[f.Pointer]; ok && off >= 0 {
				f.Line, f.Column = lineCol(d.Data, off)
			}
		}
	}
	SortFindings(out)
	return out
}

// inSource collects the suppression labels of d's modules.
func (a *Analyzer) inSource(d *Deployment) []Suppression {
	var out []Suppression
	for _, m := range d.Modules {
		keys := make([]string, 0, len(m.CreateOptions.Labels))
		for k := range m.CreateOptions.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if s, ok := ParseSuppressLabel(m.Name, k, m.CreateOptions.Labels[k].Value); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// SortFindings sorts findings by source, module, rule, pointer and
// evidence, the order every output uses.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			strings.Compare(a.Source, b.Source),
			strings.Compare(a.Module, b.Module),
			strings.Compare(a.RuleID, b.RuleID),
			strings.Compare(a.Pointer, b.Pointer),
			strings.Compare(a.Evidence, b.Evidence),
		)
	})
}

// offsets maps every pointer of the tree to the offset of its value.
func offsets(root *Node) map[string]int {
	m := map[string]int{}
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Inner == "" {
			if _, ok := m[n.Pointer]; !ok {
				m[n.Pointer] = n.Offset
			}
		}
		for _, k := range n.Keys {
			walk(n.Props[k])
		}
		for _, it := range n.Items {
			walk(it)
		}
	}
	walk(root)
	return m
}

// Catalogue returns a copy of the built-in rules, in id order.
func Catalogue() []Rule { return slices.Clone(catalogue) }

// Lookup returns the built-in rule with the given id.
func Lookup(id string) (Rule, bool) {
	for _, r := range catalogue {
		if strings.EqualFold(r.ID, id) {
			return r, true
		}
	}
	return Rule{}, false
}

// Active returns the findings that are not suppressed.
func Active(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Suppression == nil {
			out = append(out, f)
		}
	}
	return out
}
