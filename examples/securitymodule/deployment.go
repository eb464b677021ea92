package main

import (
	"strings"

	"github.com/edgesec/edgesec/manifest"
	"github.com/edgesec/edgesec/twinconfig"
)

// deploymentConfig turns the twin's deployment analysis keys
// (deploymentRulesDisabled, deploymentRuleSeverities) into the analyser's
// configuration. twinconfig has validated both, so entries that still do
// not parse (a rule id unknown to this version) are skipped.
func deploymentConfig(c twinconfig.Config) manifest.Config {
	var mc manifest.Config
	for _, id := range strings.Split(c.DeploymentRulesDisabled, ",") {
		if id = strings.TrimSpace(id); id != "" {
			mc.DisabledRules = append(mc.DisabledRules, id)
		}
	}
	for _, pair := range strings.Split(c.DeploymentRuleSeverities, ",") {
		id, sev, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		s, err := manifest.ParseSeverity(strings.TrimSpace(sev))
		if err != nil {
			continue
		}
		if mc.Severity == nil {
			mc.Severity = map[string]manifest.Severity{}
		}
		mc.Severity[strings.TrimSpace(id)] = s
	}
	return mc
}
