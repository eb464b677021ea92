package twinconfig_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/twinconfig"
)

func TestDeploymentTypedViews(t *testing.T) {
	c, problems, err := twinconfig.Decode([]byte(`{"deploymentRulesDisabled":{"value":" EDGE016,  EDGE026 "},` +
		`"deploymentRuleSeverities":{"value":"EDGE010=High, EDGE020 = low,EDGE010=medium"}}`))
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, []string{"EDGE016", "EDGE026"}, c.DeploymentDisabledRules())
	require.Equal(t, map[string]string{"EDGE010": "medium", "EDGE020": "low"}, c.DeploymentRuleSeverityOverrides())

	d := twinconfig.Default()
	require.Nil(t, d.DeploymentDisabledRules())
	require.Nil(t, d.DeploymentRuleSeverityOverrides())

	// Set in code without Decode: what does not parse is left out.
	d.DeploymentRuleSeverities = "EDGE001=urgent,nonsense,EDGE002=critical,=high"
	require.Equal(t, map[string]string{"EDGE002": "critical"}, d.DeploymentRuleSeverityOverrides())
}
