package twinconfig

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/stretchr/testify/require"
)

type keyCase struct {
	key   string
	good  string // JSON value
	check func(t *testing.T, c Config)
	bad   string // JSON value giving a TypeMismatch
}

func durationCase(key, good string, want time.Duration, get func(Config) time.Duration, bad string) keyCase {
	return keyCase{key: key, good: good, bad: bad, check: func(t *testing.T, c Config) { require.Equal(t, want, get(c)) }}
}

// keyCases has a good and a bad value for every key.
func keyCases() []keyCase {
	cases := []keyCase{
		durationCase("highPriorityMessageFrequency", `"PT1S"`, time.Second,
			func(c Config) time.Duration { return c.HighPriorityMessageFrequency }, `"PT0S"`),
		durationCase("lowPriorityMessageFrequency", `"P1D"`, 24*time.Hour,
			func(c Config) time.Duration { return c.LowPriorityMessageFrequency }, `"5 hours"`),
		durationCase("snapshotFrequency", `"PT1H30M"`, 90*time.Minute,
			func(c Config) time.Duration { return c.SnapshotFrequency }, `3600`),
		{key: "maxLocalCacheSizeInBytes", good: `8388608`, bad: `8191`,
			check: func(t *testing.T, c Config) { require.Equal(t, 8388608, c.MaxLocalCacheSizeInBytes) }},
		{key: "maxMessageSizeInBytes", good: `262144`, bad: `262145`,
			check: func(t *testing.T, c Config) { require.Equal(t, 262144, c.MaxMessageSizeInBytes) }},
		{key: "baselineCustomChecksEnabled", good: `true`, bad: `"true"`,
			check: func(t *testing.T, c Config) { require.True(t, c.BaselineCustomChecksEnabled) }},
		{key: "baselineCustomChecksFilePath", good: `"/etc/edgesec/baseline.xml"`, bad: `"relative/baseline.xml"`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, "/etc/edgesec/baseline.xml", c.BaselineCustomChecksFilePath)
			}},
		{key: "baselineCustomChecksFileHash", good: `"` + strings.Repeat("ab", 32) + `"`, bad: `"#hashexample!"`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, strings.Repeat("ab", 32), c.BaselineCustomChecksFileHash)
			}},
		{key: "hubResourceId", good: `"/subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/IotHubs/h"`, bad: `42`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, "/subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/IotHubs/h", c.HubResourceID)
			}},
		{key: "deploymentManifestPath", good: `"/etc/iotedge/deployment.json"`, bad: `"deployment.json"`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, "/etc/iotedge/deployment.json", c.DeploymentManifestPath)
			}},
		{key: "deploymentRulesDisabled", good: `"EDGE004, EDGE010"`, bad: `"EDGE004;rm -rf"`,
			check: func(t *testing.T, c Config) { require.Equal(t, "EDGE004, EDGE010", c.DeploymentRulesDisabled) }},
		{key: "deploymentRuleSeverities", good: `"EDGE026=high, EDGE010=Medium"`, bad: `"EDGE026=urgent"`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, "EDGE026=high, EDGE010=Medium", c.DeploymentRuleSeverities)
			}},
		{key: "detectionRulesDisabled", good: `"IoT_OpenPorts, IoT_SuccessfulLocalLogin"`, bad: `"IoT_OpenPorts;rm"`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, "IoT_OpenPorts, IoT_SuccessfulLocalLogin", c.Detection.RulesDisabled)
			}},
		{key: "detectionRuleSeverities", good: `"IoT_FailedLocalLogin=low"`, bad: `"IoT_FailedLocalLogin=critical"`,
			check: func(t *testing.T, c Config) { require.Equal(t, "IoT_FailedLocalLogin=low", c.Detection.RuleSeverities) }},
		{key: "detectionSuppressions", good: `[{"rule": "IoT_SuccessfulLocalLogin", "user": "backup"}]`, bad: `{"rule": "x"}`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, `[{"rule":"IoT_SuccessfulLocalLogin","user":"backup"}]`, c.Detection.Suppressions)
			}},
		{key: "customAlerts", good: `[{"type": "FailedLocalLoginsNotInAllowedRange", "min": 0, "max": 2, "window": "PT5M"}]`, bad: `[1, 2]`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, `[{"max":2,"min":0,"type":"FailedLocalLoginsNotInAllowedRange","window":"PT5M"}]`, c.Detection.CustomAlerts)
			}},
		{key: "kernelWatchedPaths", good: `["defaults", {"prefix": "/opt/app/secrets/", "ops": "read|write"}]`, bad: `[{"prefix": "/opt/"}]`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, `["defaults",{"ops":"read|write","prefix":"/opt/app/secrets/"}]`, c.KernelWatchedPaths)
			}},
		durationCase("heartbeatFrequency", `"PT1S"`, time.Second,
			func(c Config) time.Duration { return c.HeartbeatFrequency }, `"PT0.5S"`),
	}
	for _, in := range event.Catalogue() {
		name := in.Name
		// A good value that differs from the default, written in lower case.
		want := event.High
		if in.DefaultPriority == event.High {
			want = event.Off
		}
		cases = append(cases, keyCase{
			key: PriorityKey(name), good: `"` + strings.ToLower(want.String()) + `"`, bad: `"Medium"`,
			check: func(t *testing.T, c Config) {
				require.Equal(t, want, c.Priorities[name])
				require.Equal(t, want, c.Priority(name))
			},
		})
	}
	for i, name := range AggregatedEvents() {
		name := name
		iv := time.Duration(i+2) * time.Minute
		cases = append(cases,
			keyCase{key: "aggregationEnabled" + name, good: `false`, bad: `0`,
				check: func(t *testing.T, c Config) {
					require.False(t, c.Aggregation[name].Enabled)
					require.Equal(t, time.Hour, c.Aggregation[name].Interval)
				}},
			keyCase{key: "aggregationInterval" + name, good: `"` + FormatDuration(iv) + `"`, bad: `"PT1H1H"`,
				check: func(t *testing.T, c Config) {
					require.True(t, c.Aggregation[name].Enabled)
					require.Equal(t, iv, c.Aggregation[name].Interval)
				}},
		)
	}
	return cases
}

func TestKeyCasesCoverEveryKey(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range keyCases() {
		require.False(t, covered[c.key], "duplicate case %s", c.key)
		covered[c.key] = true
	}
	for _, k := range Keys() {
		require.True(t, covered[k.Name], "no test case for key %s", k.Name)
		delete(covered, k.Name)
	}
	require.Empty(t, covered, "cases for keys that do not exist")
}

func TestEveryKey(t *testing.T) {
	def := Default()
	for _, tc := range keyCases() {
		t.Run(tc.key+"/good", func(t *testing.T) {
			doc := fmt.Sprintf(`{%q: {"value": %s}}`, tc.key, tc.good)
			c, probs, err := Decode([]byte(doc))
			require.NoError(t, err)
			for _, p := range probs {
				require.Equal(t, event.NotOptimal, p.Kind, "%v", p)
			}
			tc.check(t, c)
			// Only that key changed.
			for _, k := range Keys() {
				if k.Name == tc.key {
					continue
				}
				spec, _ := lookupKey(k.Name)
				require.Equal(t, spec.text(def), spec.text(c), "key %s changed", k.Name)
			}
		})
		t.Run(tc.key+"/bad", func(t *testing.T) {
			doc := fmt.Sprintf(`{%q: {"value": %s}}`, tc.key, tc.bad)
			c, probs, err := Decode([]byte(doc))
			require.NoError(t, err)
			require.Len(t, probs, 1, "%v", probs)
			require.Equal(t, tc.key, probs[0].Key)
			require.Equal(t, event.TypeMismatch, probs[0].Kind)
			require.NotEmpty(t, probs[0].Message)
			spec, _ := lookupKey(tc.key)
			require.Equal(t, spec.text(def), probs[0].Used, "Used is the default")
			require.True(t, c.SameSettings(def), "a bad value leaves the default")
		})
		t.Run(tc.key+"/unwrapped", func(t *testing.T) {
			doc := fmt.Sprintf(`{%q: %s}`, tc.key, tc.good)
			_, probs, err := Decode([]byte(doc))
			require.NoError(t, err)
			require.Len(t, probs, 1)
			require.Equal(t, event.TypeMismatch, probs[0].Kind)
			require.Contains(t, probs[0].Message, `{"value": ...}`)
		})
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	require.Equal(t, keys, Keys(), "stable order")
	names := map[string]bool{}
	for _, k := range keys {
		require.False(t, names[k.Name], "duplicate %s", k.Name)
		names[k.Name] = true
		require.NotEmpty(t, k.Type, k.Name)
		require.NotEmpty(t, k.Range, k.Name)
		require.NotEmpty(t, k.Description, k.Name)
		// The documented default is what Reported writes for Default().
		spec, ok := lookupKey(k.Name)
		require.True(t, ok)
		require.Equal(t, k.Default, spec.text(Default()), k.Name)
	}
	for _, in := range event.Catalogue() {
		require.True(t, names[PriorityKey(in.Name)], "no priority key for %s", in.Name)
	}
	// Every key of the official schema is known and not an extension.
	for _, name := range officialKeys(t) {
		require.True(t, names[name], "official key %s missing", name)
		spec, _ := lookupKey(name)
		require.False(t, spec.info.Extension, name)
	}
	for _, name := range []string{"heartbeatFrequency", "eventPriorityContainerInventory", "eventPriorityContainerActivity",
		"eventPriorityDeploymentRecommendation", "eventPriorityHeartbeat"} {
		spec, ok := lookupKey(name)
		require.True(t, ok, name)
		require.True(t, spec.info.Extension, name)
	}
}

// officialKeys returns the keys of the official twin schema.
func officialKeys(t *testing.T) []string {
	t.Helper()
	var dtdl struct {
		Contents []struct {
			Name string `json:"name"`
		} `json:"contents"`
	}
	require.NoError(t, json.Unmarshal(readTestdata(t, "asc-twin/azureiotsecurity_schema_dtdl.json"), &dtdl))
	var names []string
	for _, c := range dtdl.Contents {
		names = append(names, c.Name)
	}
	require.Len(t, names, 25)
	return names
}

func TestDefault(t *testing.T) {
	c := Default()
	require.Equal(t, 7*time.Minute, c.HighPriorityMessageFrequency)
	require.Equal(t, 5*time.Hour, c.LowPriorityMessageFrequency)
	require.Equal(t, 13*time.Hour, c.SnapshotFrequency)
	require.Equal(t, 2560000, c.MaxLocalCacheSizeInBytes)
	require.Equal(t, 204800, c.MaxMessageSizeInBytes)
	require.Equal(t, 30*time.Minute, c.HeartbeatFrequency)
	require.Equal(t, event.Off, c.Priority(event.DiagnosticEvent))
	require.Equal(t, event.High, c.Priority(event.ContainerInventory))
	require.Equal(t, event.Low, c.Priority("ModbusWrite"), "custom names are Low")
	require.Len(t, c.Priorities, len(event.Catalogue()))
	for _, in := range event.Catalogue() {
		require.Equal(t, in.DefaultPriority, c.Priorities[in.Name], in.Name)
	}
	require.Equal(t, map[string]Aggregation{
		event.ProcessCreate:    {Enabled: true, Interval: time.Hour},
		event.ConnectionCreate: {Enabled: true, Interval: time.Hour},
		event.ProcessTerminate: {Enabled: true, Interval: time.Hour},
	}, c.Aggregation)
	require.Empty(t, c.Validate())
	require.Zero(t, c.Version)

	// The official defaults decode to the same values, except the
	// Diagnostic priority (Off in edgesec).
	off, probs, err := Decode(readTestdata(t, "asc-twin/azureiotsecurity_default.json"))
	require.NoError(t, err)
	require.Empty(t, probs)
	require.Equal(t, event.Low, off.Priority(event.DiagnosticEvent))
	off.Priorities[event.DiagnosticEvent] = event.Off
	require.Equal(t, c, off)
}

func TestCloneIsDeep(t *testing.T) {
	a := Default()
	b := a.Clone()
	b.Priorities[event.Login] = event.Off
	b.Aggregation[event.ProcessCreate] = Aggregation{}
	require.Equal(t, event.High, a.Priorities[event.Login])
	require.True(t, a.Aggregation[event.ProcessCreate].Enabled)
	require.False(t, a.SameSettings(b))
	require.True(t, a.SameSettings(a.Clone()))
}

func TestSameSettings(t *testing.T) {
	a := Default()
	b := Default()
	b.Version = 9
	require.True(t, a.SameSettings(b), "Version is not a setting")
	delete(b.Priorities, event.Login)
	require.True(t, a.SameSettings(b), "a missing entry is its default")
	b.HubResourceID = "x"
	require.False(t, a.SameSettings(b))
	b = a.Clone()
	b.KernelWatchedPaths = `[{"ops":"read","prefix":"/x/"}]`
	require.False(t, a.SameSettings(b))
}

func TestPriorityAndAggregationFallbacks(t *testing.T) {
	var c Config
	require.Equal(t, event.High, c.Priority(event.Login))
	require.Equal(t, event.Off, c.Priority(event.DiagnosticEvent))
	require.Equal(t, event.Low, c.Priority("Custom"))
	require.Equal(t, Aggregation{Enabled: true, Interval: time.Hour}, c.AggregationFor(event.ProcessCreate))
	require.Equal(t, Aggregation{}, c.AggregationFor(event.Login))
}

func TestValidate(t *testing.T) {
	c := Default()
	c.SnapshotFrequency = 0
	c.MaxMessageSizeInBytes = 9000
	c.Priorities[event.Login] = event.Priority(7)
	probs := c.Validate()
	kinds := map[string]string{}
	for _, p := range probs {
		kinds[p.Key] = p.Kind
	}
	require.Equal(t, map[string]string{
		"snapshotFrequency":     event.TypeMismatch,
		"maxMessageSizeInBytes": event.NotOptimal,
		"eventPriorityLogin":    event.TypeMismatch,
	}, kinds)
}
