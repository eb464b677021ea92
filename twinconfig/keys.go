package twinconfig

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgesec/edgesec/event"
)

// Value types of [KeyInfo].Type.
const (
	TypeDuration = "duration" // ISO 8601 duration string, e.g. "PT7M"
	TypeInteger  = "integer"  // JSON integer
	TypeBoolean  = "boolean"  // JSON true or false
	TypePriority = "priority" // "Off", "Low" or "High" (any case)
	TypeString   = "string"   // JSON string (null means "")
)

// KeyInfo documents one configuration key.
type KeyInfo struct {
	// Name is the key in the configuration object, e.g. "snapshotFrequency".
	Name string
	// Type is one of TypeDuration, TypeInteger, TypeBoolean, TypePriority
	// and TypeString.
	Type string
	// Default is the default value as it is written in a document
	// (without JSON quotes).
	Default string
	// Range describes the accepted values.
	Range string
	// Description says what the key does.
	Description string
	// Extension is true for edgesec's own keys. The ASC agents' keys are
	// not extensions, including baselineCustomChecks* and hubResourceId,
	// which the original agents read but the official schema files omit.
	Extension bool
	// Vendor is true for the priority keys of vendor events (see
	// [NewSchema]).
	Vendor bool
}

// keySpec is the implementation of one key.
type keySpec struct {
	info KeyInfo
	// decode stores the value v (decoded with json.Number numbers) into c,
	// or returns why it cannot. It checks the JSON type and syntax.
	decode func(c *Config, v any) error
	// check validates the value in c (range).
	check func(c Config) error
	// value returns the value in c as a JSON-encodable value.
	value func(c Config) any
	// reset sets the key in c to its value in d.
	reset func(c *Config, d Config)
}

// text returns the key's value in c as text (Problem.Used).
func (k *keySpec) text(c Config) string {
	switch v := k.value(c).(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case json.RawMessage:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

// Keys returns the documentation of every configuration key, in a stable
// order: the official keys in the order of the official schema (with the
// event names in catalogue order), then edgesec's extensions.
func Keys() []KeyInfo {
	out := make([]KeyInfo, len(keyTable))
	for i := range keyTable {
		out[i] = keyTable[i].info
	}
	return out
}

var (
	keyTable = buildKeyTable()
	keyIndex = indexKeys(keyTable)
)

func indexKeys(t []keySpec) map[string]int {
	m := make(map[string]int, len(t))
	for i := range t {
		m[t[i].info.Name] = i
	}
	return m
}

func lookupKey(name string) (*keySpec, bool) {
	i, ok := keyIndex[name]
	if !ok {
		return nil, false
	}
	return &keyTable[i], true
}

// PriorityKey returns the configuration key of an event name's priority:
// "eventPriority" + name.
func PriorityKey(name string) string { return "eventPriority" + name }

func buildKeyTable() []keySpec {
	t := []keySpec{
		durationKey("highPriorityMessageFrequency", "Interval for sending high priority messages.",
			func(c Config) time.Duration { return c.HighPriorityMessageFrequency },
			func(c *Config, d time.Duration) { c.HighPriorityMessageFrequency = d }),
		durationKey("lowPriorityMessageFrequency", "Interval for sending low priority messages.",
			func(c Config) time.Duration { return c.LowPriorityMessageFrequency },
			func(c *Config, d time.Duration) { c.LowPriorityMessageFrequency = d }),
		durationKey("snapshotFrequency", "Interval of the periodic snapshots (ListeningPorts, LocalUsers, SystemInformation, ...); they are also taken once at start-up.",
			func(c Config) time.Duration { return c.SnapshotFrequency },
			func(c *Config, d time.Duration) { c.SnapshotFrequency = d }),
		intKey("maxLocalCacheSizeInBytes", "The memory allowed for events waiting to be sent; the oldest events are dropped beyond it. Must not be below maxMessageSizeInBytes.",
			MinLocalCacheSize, MaxLocalCacheSize,
			func(c Config) int { return c.MaxLocalCacheSizeInBytes },
			func(c *Config, n int) { c.MaxLocalCacheSizeInBytes = n }),
		intKey("maxMessageSizeInBytes", "The largest message sent, serialized. IoT Hub meters messages in 4 KB units: a multiple of 4096 is optimal.",
			MinMessageSize, MaxMessageSize,
			func(c Config) int { return c.MaxMessageSizeInBytes },
			func(c *Config, n int) { c.MaxMessageSizeInBytes = n }),
	}
	var ext []keySpec
	for _, in := range event.Catalogue() {
		k := priorityKey(in)
		if in.Extension {
			ext = append(ext, k)
		} else {
			t = append(t, k)
		}
	}
	for _, name := range aggregatedEvents {
		t = append(t, aggregationKeys(name)...)
	}
	t = append(t,
		boolKey("baselineCustomChecksEnabled", "Runs the custom OS baseline checks of baselineCustomChecksFilePath in addition to the built-in ones.",
			func(c Config) bool { return c.BaselineCustomChecksEnabled },
			func(c *Config, b bool) { c.BaselineCustomChecksEnabled = b }),
		stringKey("baselineCustomChecksFilePath", "Absolute path of the custom baseline checks file (as seen by the module).",
			"empty, or an absolute path", checkAbsPath,
			func(c Config) string { return c.BaselineCustomChecksFilePath },
			func(c *Config, s string) { c.BaselineCustomChecksFilePath = s }),
		stringKey("baselineCustomChecksFileHash", "SHA-256 of the custom baseline checks file, as printed by sha256sum; the file is not used when it does not match.",
			"empty, or 64 hexadecimal digits", checkSHA256,
			func(c Config) string { return c.BaselineCustomChecksFileHash },
			func(c *Config, s string) { c.BaselineCustomChecksFileHash = s }),
		stringKey("hubResourceId", "Azure resource id of the IoT hub the module reports to.",
			"any string", nil,
			func(c Config) string { return c.HubResourceID },
			func(c *Config, s string) { c.HubResourceID = s }),
	)
	// Extensions: the priorities of edgesec's events, then its own keys.
	t = append(t, ext...)
	hb := durationKey("heartbeatFrequency", "Interval of the Heartbeat event (liveness, version, configuration version, collector health).",
		func(c Config) time.Duration { return c.HeartbeatFrequency },
		func(c *Config, d time.Duration) { c.HeartbeatFrequency = d })
	mp := stringKey("deploymentManifestPath", "Deployment manifest file (as seen by the module) analysed for DeploymentRecommendation findings together with the running containers.",
		"empty, or an absolute path", checkAbsPath,
		func(c Config) string { return c.DeploymentManifestPath },
		func(c *Config, s string) { c.DeploymentManifestPath = s })
	rd := stringKey("deploymentRulesDisabled", "Comma-separated ids of deployment analysis rules not to run (see `edgesec rules`).",
		"empty, or rule ids such as EDGE004,EDGE010", checkRuleIDs,
		func(c Config) string { return c.DeploymentRulesDisabled },
		func(c *Config, s string) { c.DeploymentRulesDisabled = s })
	rs := stringKey("deploymentRuleSeverities", "Severity overrides for deployment analysis rules, as comma-separated RULE=severity pairs.",
		"empty, or pairs such as EDGE026=high,EDGE010=medium (critical, high, medium or low)", checkRuleSeverities,
		func(c Config) string { return c.DeploymentRuleSeverities },
		func(c *Config, s string) { c.DeploymentRuleSeverities = s })
	for _, k := range []keySpec{hb, mp, rd, rs} {
		k.info.Extension = true
		t = append(t, k)
	}
	t = append(t, detectionKeys()...)
	t = append(t, kernelKeys()...)
	return t
}

// checkRuleSeverities accepts comma-separated RULE=severity pairs.
func checkRuleSeverities(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, pair := range strings.Split(s, ",") {
		id, sev, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return fmt.Errorf("%q is not RULE=severity", strings.TrimSpace(pair))
		}
		if err := checkRuleIDs(id); err != nil {
			return err
		}
		switch strings.ToLower(strings.TrimSpace(sev)) {
		case "critical", "high", "medium", "low":
		default:
			return fmt.Errorf("%q is not a severity (critical, high, medium or low)", sev)
		}
	}
	return nil
}

// checkRuleIDs accepts a comma-separated list of rule ids (letters then
// digits, e.g. EDGE004), spaces allowed around the commas.
func checkRuleIDs(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		i := 0
		for i < len(id) && id[i] >= 'A' && id[i] <= 'Z' {
			i++
		}
		j := i
		for j < len(id) && id[j] >= '0' && id[j] <= '9' {
			j++
		}
		if i == 0 || j == i || j != len(id) {
			return fmt.Errorf("%q is not a rule id (such as EDGE004)", id)
		}
	}
	return nil
}

func priorityKey(in event.Info) keySpec {
	name := in.Name
	desc := fmt.Sprintf("Priority of %s events: High and Low select the message queue, Off disables them.", name)
	if in.Type != event.Security {
		desc = fmt.Sprintf("Priority of the agent's %s events: High and Low select the message queue, Off disables them.", name)
	}
	return keySpec{
		info: KeyInfo{
			Name: PriorityKey(name), Type: TypePriority, Default: in.DefaultPriority.String(),
			Range: "Off, Low or High (case-insensitive)", Description: desc, Extension: in.Extension,
		},
		decode: func(c *Config, v any) error {
			s, ok := v.(string)
			if !ok {
				return typeError("a priority string (Off, Low or High)", v)
			}
			p, err := event.ParsePriority(s)
			if err != nil || strings.TrimSpace(s) != s {
				return fmt.Errorf("%q is not a priority (want Off, Low or High)", s)
			}
			if c.Priorities == nil {
				c.Priorities = make(map[string]event.Priority)
			}
			c.Priorities[name] = p
			return nil
		},
		check: func(c Config) error {
			switch p := c.Priority(name); p {
			case event.Off, event.Low, event.High:
				return nil
			default:
				return fmt.Errorf("%v is not a priority", p)
			}
		},
		value: func(c Config) any { return c.Priority(name).String() },
		reset: func(c *Config, d Config) {
			if c.Priorities == nil {
				c.Priorities = make(map[string]event.Priority)
			}
			c.Priorities[name] = d.Priority(name)
		},
	}
}

func aggregationKeys(name string) []keySpec {
	set := func(c *Config, f func(*Aggregation)) {
		a := c.AggregationFor(name)
		f(&a)
		if c.Aggregation == nil {
			c.Aggregation = make(map[string]Aggregation)
		}
		c.Aggregation[name] = a
	}
	return []keySpec{
		boolKey("aggregationEnabled"+name, fmt.Sprintf("Aggregates identical %s events within aggregationInterval%s into one event with a hit count.", name, name),
			func(c Config) bool { return c.AggregationFor(name).Enabled },
			func(c *Config, b bool) { set(c, func(a *Aggregation) { a.Enabled = b }) }),
		durationKey("aggregationInterval"+name, fmt.Sprintf("Aggregation window of %s events.", name),
			func(c Config) time.Duration { return c.AggregationFor(name).Interval },
			func(c *Config, d time.Duration) { set(c, func(a *Aggregation) { a.Interval = d }) }),
	}
}

func durationKey(name, desc string, get func(Config) time.Duration, set func(*Config, time.Duration)) keySpec {
	return keySpec{
		info: KeyInfo{
			Name: name, Type: TypeDuration, Default: FormatDuration(get(Default())),
			Range: "ISO 8601 duration, at least PT1S (Y = 365 days, M = 30 days)", Description: desc,
		},
		decode: func(c *Config, v any) error {
			s, ok := v.(string)
			if !ok {
				return typeError("an ISO 8601 duration string", v)
			}
			d, err := ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%q is not a valid duration: %w", s, errors.Unwrap(err))
			}
			set(c, d)
			return nil
		},
		check: func(c Config) error {
			if d := get(c); d < MinDuration {
				return fmt.Errorf("%s is shorter than PT1S", FormatDuration(d))
			}
			return nil
		},
		value: func(c Config) any { return FormatDuration(get(c)) },
		reset: func(c *Config, d Config) { set(c, get(d)) },
	}
}

func intKey(name, desc string, lo, hi int, get func(Config) int, set func(*Config, int)) keySpec {
	rng := fmt.Sprintf("integer, %d to %d", lo, hi)
	if hi == MaxLocalCacheSize {
		rng = fmt.Sprintf("integer, at least %d", lo)
	}
	return keySpec{
		info: KeyInfo{Name: name, Type: TypeInteger, Default: strconv.Itoa(get(Default())), Range: rng, Description: desc},
		decode: func(c *Config, v any) error {
			num, ok := v.(json.Number)
			if !ok {
				return typeError("an integer", v)
			}
			n, err := jsonInt(num)
			if err != nil {
				return err
			}
			if n < int64(lo) || n > int64(hi) {
				return fmt.Errorf("%s is out of range (%d to %d)", num, lo, hi)
			}
			set(c, int(n))
			return nil
		},
		check: func(c Config) error {
			if n := get(c); n < lo || n > hi {
				return fmt.Errorf("%d is out of range (%d to %d)", n, lo, hi)
			}
			return nil
		},
		value: func(c Config) any { return get(c) },
		reset: func(c *Config, d Config) { set(c, get(d)) },
	}
}

// jsonInt converts a JSON number with an integral value ("8192", "8192.0",
// "8.192e3") to an int64.
func jsonInt(num json.Number) (int64, error) {
	if n, err := num.Int64(); err == nil {
		return n, nil
	}
	f, err := num.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s is out of range", num)
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("%s is not an integer", num)
	}
	if f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%s is out of range", num)
	}
	return int64(f), nil
}

func boolKey(name, desc string, get func(Config) bool, set func(*Config, bool)) keySpec {
	return keySpec{
		info: KeyInfo{Name: name, Type: TypeBoolean, Default: strconv.FormatBool(get(Default())), Range: "true or false", Description: desc},
		decode: func(c *Config, v any) error {
			b, ok := v.(bool)
			if !ok {
				return typeError("a boolean", v)
			}
			set(c, b)
			return nil
		},
		check: func(Config) error { return nil },
		value: func(c Config) any { return get(c) },
		reset: func(c *Config, d Config) { set(c, get(d)) },
	}
}

func stringKey(name, desc, rng string, validate func(string) error, get func(Config) string, set func(*Config, string)) keySpec {
	check := func(s string) error {
		if len(s) > maxStringLen {
			return fmt.Errorf("longer than %d bytes", maxStringLen)
		}
		if !utf8.ValidString(s) {
			return errors.New("not valid UTF-8")
		}
		if validate != nil {
			return validate(s)
		}
		return nil
	}
	return keySpec{
		info: KeyInfo{Name: name, Type: TypeString, Default: get(Default()), Range: rng + " (null means empty)", Description: desc},
		decode: func(c *Config, v any) error {
			var s string
			switch v := v.(type) {
			case nil:
			case string:
				s = v
			default:
				return typeError("a string", v)
			}
			if err := check(s); err != nil {
				return err
			}
			set(c, s)
			return nil
		},
		check: func(c Config) error { return check(get(c)) },
		value: func(c Config) any { return get(c) },
		reset: func(c *Config, d Config) { set(c, get(d)) },
	}
}

func checkAbsPath(s string) error {
	if s != "" && !path.IsAbs(s) {
		return fmt.Errorf("%q is not an absolute path", s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("the path contains a NUL byte")
	}
	return nil
}

func checkSHA256(s string) error {
	if s == "" {
		return nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return fmt.Errorf("%q is not a SHA-256 (64 hexadecimal digits)", s)
	}
	return nil
}

// typeError describes a JSON value of the wrong type.
func typeError(want string, v any) error {
	return fmt.Errorf("want %s, got %s", want, jsonKind(v))
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", truncate(v, 64))
	case json.Number:
		return "the number " + truncate(string(v), 64)
	case bool:
		return "the boolean " + strconv.FormatBool(v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// crossCheck returns the Conflict and NotOptimal problems of c.
func crossCheck(c Config) []Problem {
	var probs []Problem
	if c.MaxLocalCacheSizeInBytes < c.MaxMessageSizeInBytes {
		probs = append(probs, Problem{
			Key: "maxLocalCacheSizeInBytes", Kind: event.Conflict,
			Message: fmt.Sprintf("maxLocalCacheSizeInBytes (%d) is smaller than maxMessageSizeInBytes (%d)",
				c.MaxLocalCacheSizeInBytes, c.MaxMessageSizeInBytes),
			Used: strconv.Itoa(c.MaxLocalCacheSizeInBytes),
		})
	}
	if c.HighPriorityMessageFrequency > c.LowPriorityMessageFrequency {
		probs = append(probs, Problem{
			Key: "highPriorityMessageFrequency", Kind: event.Conflict,
			Message: fmt.Sprintf("highPriorityMessageFrequency (%s) is longer than lowPriorityMessageFrequency (%s)",
				FormatDuration(c.HighPriorityMessageFrequency), FormatDuration(c.LowPriorityMessageFrequency)),
			Used: FormatDuration(c.HighPriorityMessageFrequency),
		})
	}
	if c.MaxMessageSizeInBytes%MessageSizeUnit != 0 {
		probs = append(probs, Problem{
			Key: "maxMessageSizeInBytes", Kind: event.NotOptimal,
			Message: fmt.Sprintf("maxMessageSizeInBytes (%d) is not a multiple of %d; IoT Hub meters messages in 4 KB units",
				c.MaxMessageSizeInBytes, MessageSizeUnit),
			Used: strconv.Itoa(c.MaxMessageSizeInBytes),
		})
	}
	if c.BaselineCustomChecksEnabled && c.BaselineCustomChecksFilePath == "" {
		probs = append(probs, Problem{
			Key: "baselineCustomChecksEnabled", Kind: event.NotOptimal,
			Message: "baselineCustomChecksEnabled is true but baselineCustomChecksFilePath is empty; no custom checks run",
			Used:    "true",
		})
	}
	return probs
}
