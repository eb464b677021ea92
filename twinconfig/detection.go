package twinconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TypeJSONArray is the KeyInfo.Type of keys whose value is a JSON array of
// objects (customAlerts, detectionSuppressions).
const TypeJSONArray = "array"

// maxJSONKeyLen bounds the encoded value of a TypeJSONArray key.
const maxJSONKeyLen = 64 << 10

// Detection is the configuration of the on-device analysis (package
// detect), edgesec extension keys. The values are kept as text; package
// detect parses them (detect.ParseConfig) and refuses, with a
// ConfigurationError, what it cannot use, keeping its last good rules.
type Detection struct {
	// RulesDisabled lists the alert and recommendation rule ids not to run,
	// comma-separated (detectionRulesDisabled), e.g.
	// "IoT_SuccessfulLocalLogin,IoT_OpenPorts".
	RulesDisabled string
	// RuleSeverities overrides rule severities as comma-separated
	// RULE=severity pairs (detectionRuleSeverities), e.g.
	// "IoT_FailedLocalLogin=low".
	RuleSeverities string
	// Suppressions is a JSON array of suppressions (detectionSuppressions),
	// e.g. [{"rule":"IoT_SuccessfulLocalLogin","user":"backup"}].
	Suppressions string
	// CustomAlerts is a JSON array of custom alert rules (customAlerts),
	// e.g. [{"type":"ProcessNotAllowed","allow":["sshd","bash"]}].
	CustomAlerts string
}

func detectionKeys() []keySpec {
	ks := []keySpec{
		stringKey("detectionRulesDisabled", "Comma-separated ids of on-device analysis rules (alerts and recommendations) not to run; see docs/alerts.md.",
			"empty, or rule ids such as IoT_SuccessfulLocalLogin,IoT_OpenPorts", checkDetectRuleIDs,
			func(c Config) string { return c.Detection.RulesDisabled },
			func(c *Config, s string) { c.Detection.RulesDisabled = s }),
		stringKey("detectionRuleSeverities", "Severity overrides for on-device analysis rules, as comma-separated RULE=severity pairs.",
			"empty, or pairs such as IoT_FailedLocalLogin=low (high, medium or low)", checkDetectSeverities,
			func(c Config) string { return c.Detection.RuleSeverities },
			func(c *Config, s string) { c.Detection.RuleSeverities = s }),
		jsonArrayKey("detectionSuppressions", "Alerts not to raise: a JSON array of objects with any of rule, executable, user, containerId, module, remoteAddress, entity (all given fields must match).",
			func(c Config) string { return c.Detection.Suppressions },
			func(c *Config, s string) { c.Detection.Suppressions = s }),
		jsonArrayKey("customAlerts", "Custom alerts, as ASC's security groups defined them: a JSON array of rules {\"type\": ProcessNotAllowed, ConnectionToIpNotAllowed, ConnectionFromIpNotAllowed or LocalUserNotAllowed, \"allow\" or \"deny\": [values]} or {\"type\": ActiveConnectionsNotInAllowedRange, FailedLocalLoginsNotInAllowedRange, ProcessesNotInAllowedRange or OutboundConnectionsNotInAllowedRange, \"min\", \"max\", \"window\": ISO 8601}; see docs/alerts.md.",
			func(c Config) string { return c.Detection.CustomAlerts },
			func(c *Config, s string) { c.Detection.CustomAlerts = s }),
	}
	for i := range ks {
		ks[i].info.Extension = true
	}
	return ks
}

// jsonArrayText is the text of a JSON array value: a decoded array
// encoded again, a string holding one as it is, "" for null. Any other
// value is a type error naming want.
func jsonArrayText(v any, want string) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []any:
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("cannot encode the array: %w", err)
		}
		return string(b), nil
	}
	return "", typeError(want, v)
}

// jsonArrayKey is a key whose value is a JSON array of objects, stored in
// Config as its compact encoding ("" for none). A string holding such an
// array is accepted too.
func jsonArrayKey(name, desc string, get func(Config) string, set func(*Config, string)) keySpec {
	return keySpec{
		info: KeyInfo{Name: name, Type: TypeJSONArray, Default: "[]", Range: "a JSON array of objects (null means empty)", Description: desc},
		decode: func(c *Config, v any) error {
			s, err := jsonArrayText(v, "a JSON array of objects")
			if err != nil {
				return err
			}
			if err := checkJSONArray(s); err != nil {
				return err
			}
			set(c, compactJSON(s))
			return nil
		},
		check: func(c Config) error { return checkJSONArray(get(c)) },
		value: func(c Config) any {
			if get(c) == "" {
				return []any{}
			}
			return json.RawMessage(get(c))
		},
		reset: func(c *Config, d Config) { set(c, get(d)) },
	}
}

func compactJSON(s string) string {
	if strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "[]" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func checkJSONArray(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if len(s) > maxJSONKeyLen {
		return fmt.Errorf("longer than %d bytes", maxJSONKeyLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	var arr []map[string]any
	if err := json.Unmarshal([]byte(s), &arr); err != nil {
		return fmt.Errorf("not a JSON array of objects: %w", err)
	}
	return nil
}

// checkDetectRuleIDs accepts a comma-separated list of rule ids: letters,
// digits and underscores, starting with a letter.
func checkDetectRuleIDs(s string) error {
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		for i, r := range id {
			if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
				return fmt.Errorf("%q is not a rule id (such as IoT_OpenPorts)", id)
			}
		}
	}
	return nil
}

// checkDetectSeverities accepts comma-separated RULE=severity pairs.
func checkDetectSeverities(s string) error {
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		id, sev, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(id) == "" {
			return fmt.Errorf("%q is not RULE=severity", pair)
		}
		if err := checkDetectRuleIDs(id); err != nil {
			return err
		}
		switch strings.ToLower(strings.TrimSpace(sev)) {
		case "high", "medium", "low":
		default:
			return fmt.Errorf("%q is not a severity (high, medium or low)", sev)
		}
	}
	return nil
}
