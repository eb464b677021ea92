package twinconfig

import "strings"

// DeploymentDisabledRules returns deploymentRulesDisabled as a list of rule
// ids, in order, without spaces or empty entries; nil when none is
// disabled. Decode has checked that each one looks like a rule id; whether
// the deployment analysis knows it is the analysis's business.
//
// The typed views of the deployment keys are methods computed from the
// string fields, so that a Config built in code cannot disagree with
// itself.
func (c Config) DeploymentDisabledRules() []string {
	var ids []string
	for _, id := range strings.Split(c.DeploymentRulesDisabled, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// DeploymentRuleSeverityOverrides returns deploymentRuleSeverities as rule id →
// severity ("critical", "high", "medium" or "low", lower-case); nil when
// there is no override. Entries Decode would reject (not RULE=severity)
// are left out; a later entry for the same rule wins.
func (c Config) DeploymentRuleSeverityOverrides() map[string]string {
	var m map[string]string
	for _, pair := range strings.Split(c.DeploymentRuleSeverities, ",") {
		id, sev, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		id, sev = strings.TrimSpace(id), strings.ToLower(strings.TrimSpace(sev))
		if checkRuleIDs(id) != nil || id == "" {
			continue
		}
		switch sev {
		case "critical", "high", "medium", "low":
		default:
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[id] = sev
	}
	return m
}
