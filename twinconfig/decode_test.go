package twinconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

const sampleObject = `{
	"highPriorityMessageFrequency": {"value": "PT1M"},
	"maxMessageSizeInBytes": {"value": 65536},
	"eventPriorityProcessCreate": {"value": "high"},
	"aggregationEnabledConnectionCreate": {"value": false},
	"heartbeatFrequency": {"value": "PT5M"}
}`

func checkSample(t *testing.T, c Config) {
	t.Helper()
	require.Equal(t, time.Minute, c.HighPriorityMessageFrequency)
	require.Equal(t, 65536, c.MaxMessageSizeInBytes)
	require.Equal(t, event.High, c.Priority(event.ProcessCreate))
	require.False(t, c.Aggregation[event.ConnectionCreate].Enabled)
	require.Equal(t, 5*time.Minute, c.HeartbeatFrequency)
	// Absent keys have their defaults.
	require.Equal(t, 13*time.Hour, c.SnapshotFrequency)
	require.Equal(t, event.High, c.Priority(event.Login))
}

func TestDecodeShapes(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		version int64
	}{
		{"full twin", `{"deviceId":"d","moduleId":"azureiotsecurity","version":12,"properties":{"desired":{"` + ObjectName + `":` + sampleObject + `,"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z"},"$version":7},"reported":{"$version":3}}}`, 7},
		{"schema shape", `{"desired":{"` + ObjectName + `":` + sampleObject + `,"$version":2}}`, 2},
		{"desired section", `{"` + ObjectName + `":` + sampleObject + `,"$version":5}`, 5},
		{"object only", `{"` + ObjectName + `":` + sampleObject + `}`, 0},
		{"bare", sampleObject, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, probs, err := Decode([]byte(tt.doc))
			require.NoError(t, err)
			require.Empty(t, probs)
			checkSample(t, c)
			require.Equal(t, tt.version, c.Version)
		})
	}
}

func TestDecodeOfficialDefault(t *testing.T) {
	c, probs, err := Decode(readTestdata(t, "asc-twin/azureiotsecurity_default.json"))
	require.NoError(t, err)
	require.Empty(t, probs)
	require.Equal(t, 204800, c.MaxMessageSizeInBytes)
}

func TestDecodeDocumentsWithoutConfiguration(t *testing.T) {
	for _, doc := range []string{
		`{}`,
		`{"properties":{}}`,
		`{"properties":{"desired":null}}`,
		`{"properties":{"desired":{"$version":3}}}`,
		`{"properties":{"desired":{"otherModuleSetting":1,"$version":3}}}`,
		`{"$version":3,"someOtherDesiredProperty":{"a":1}}`,
		`{"` + ObjectName + `":null,"$version":3}`,
		`{"` + ObjectName + `":{}}`,
	} {
		t.Run(doc, func(t *testing.T) {
			c, probs, err := Decode([]byte(doc))
			require.NoError(t, err)
			require.Empty(t, probs)
			require.True(t, c.SameSettings(Default()))
		})
	}
}

func TestDecodeAllProblemsAtOnce(t *testing.T) {
	doc := `{
		"highPriorityMessageFrequency": {"value": "PT6H"},
		"lowPriorityMessageFrequency": {"value": "PT5H"},
		"snapshotFrequency": {"value": "13 hours"},
		"maxLocalCacheSizeInBytes": {"value": 16384},
		"maxMessageSizeInBytes": {"value": 20000},
		"eventPriorityLogin": {"value": "Urgent"},
		"eventPriorityListeningPorts": "High",
		"eventPriorityNoSuchEvent": {"value": "Low"},
		"aggregationEnabledProcessCreate": {"value": "yes"},
		"aggregationIntervalProcessCreate": {"value": "PT0S"},
		"aggregationEnabledConnectionCreate": {"Value": true},
		"aggregationIntervalConnectionCreate": {"value": "PT1H", "unit": "h"},
		"heartbeatfrequency": {"value": "PT1M"},
		"hubResourceId": {"value": ["x"]},
		"eventPriorityLocalUsers": {"value": "Low"},
		"eventPriorityLocalUsers": {"value": "High"},
		"$metadata": {"ignored": true}
	}`
	c, probs, err := Decode([]byte(doc))
	require.NoError(t, err)
	type kk struct{ key, kind string }
	var got []kk
	for _, p := range probs {
		got = append(got, kk{p.Key, p.Kind})
		require.NotEmpty(t, p.Message)
		require.Contains(t, p.Error(), p.Key)
	}
	require.Equal(t, []kk{
		{"snapshotFrequency", event.TypeMismatch},
		{"eventPriorityLogin", event.TypeMismatch},
		{"eventPriorityListeningPorts", event.TypeMismatch},
		{"eventPriorityNoSuchEvent", event.TypeMismatch},
		{"aggregationEnabledProcessCreate", event.TypeMismatch},
		{"aggregationIntervalProcessCreate", event.TypeMismatch},
		{"aggregationEnabledConnectionCreate", event.TypeMismatch},
		{"aggregationIntervalConnectionCreate", event.TypeMismatch},
		{"heartbeatfrequency", event.TypeMismatch},
		{"hubResourceId", event.TypeMismatch},
		{"eventPriorityLocalUsers", event.TypeMismatch},
		{"maxLocalCacheSizeInBytes", event.Conflict},
		{"highPriorityMessageFrequency", event.Conflict},
		{"maxMessageSizeInBytes", event.NotOptimal},
	}, got)
	require.Contains(t, probs[8].Message, `did you mean "heartbeatFrequency"`)
	require.Equal(t, usedIgnored, probs[3].Used)
	require.Equal(t, "PT13H", probs[0].Used)
	require.Equal(t, "Low", probs[10].Used, "the first occurrence of a duplicate key is used")
	// Values in conflict are returned as decoded; bad ones as defaults.
	require.Equal(t, 6*time.Hour, c.HighPriorityMessageFrequency)
	require.Equal(t, 16384, c.MaxLocalCacheSizeInBytes)
	require.Equal(t, 13*time.Hour, c.SnapshotFrequency)
	require.Equal(t, event.High, c.Priority(event.Login))
	require.Equal(t, event.Low, c.Priority(event.LocalUsers))
}

func TestDecodeValueForms(t *testing.T) {
	tests := []struct {
		doc  string
		ok   bool
		want func(Config) bool
	}{
		{`{"maxMessageSizeInBytes":{"value":65536.0}}`, true, func(c Config) bool { return c.MaxMessageSizeInBytes == 65536 }},
		{`{"maxMessageSizeInBytes":{"value":6.5536e4}}`, true, func(c Config) bool { return c.MaxMessageSizeInBytes == 65536 }},
		{`{"maxMessageSizeInBytes":{"value":65536.5}}`, false, nil},
		{`{"maxMessageSizeInBytes":{"value":1e400}}`, false, nil},
		{`{"maxMessageSizeInBytes":{"value":-65536}}`, false, nil},
		{`{"maxLocalCacheSizeInBytes":{"value":99999999999999999999}}`, false, nil},
		{`{"maxMessageSizeInBytes":{"value":"65536"}}`, false, nil},
		{`{"maxMessageSizeInBytes":{"value":null}}`, false, nil},
		{`{"maxMessageSizeInBytes":null}`, true, func(c Config) bool { return c.MaxMessageSizeInBytes == 204800 }},
		{`{"maxMessageSizeInBytes":{}}`, false, nil},
		{`{"maxMessageSizeInBytes":{"value":65536,"$lastUpdated":"x"}}`, true, func(c Config) bool { return c.MaxMessageSizeInBytes == 65536 }},
		{`{"maxMessageSizeInBytes":{"value":65536,"value":8192}}`, false, nil},
		{`{"maxMessageSizeInBytes":[{"value":65536}]}`, false, nil},
		{`{"hubResourceId":{"value":null}}`, true, func(c Config) bool { return c.HubResourceID == "" }},
		{`{"hubResourceId":{"value":"` + strings.Repeat("x", 5000) + `"}}`, false, nil},
		{`{"eventPriorityLogin":{"value":"OFF"}}`, true, func(c Config) bool { return c.Priority(event.Login) == event.Off }},
		{`{"eventPriorityLogin":{"value":" Low"}}`, false, nil},
		{`{"eventPriorityLogin":{"value":2}}`, false, nil},
		{`{"highPriorityMessageFrequency":{"value":"P1Y"}}`, false, nil}, // conflicts with low (PT5H)
		{`{"lowPriorityMessageFrequency":{"value":"P1Y"}}`, true, func(c Config) bool { return c.LowPriorityMessageFrequency == 365*24*time.Hour }},
		{`{"snapshotFrequency":{"value":"P1000Y"}}`, false, nil},
		{`{"baselineCustomChecksFileHash":{"value":"` + strings.Repeat("AB", 32) + `"}}`, true, func(c Config) bool { return c.BaselineCustomChecksFileHash == strings.Repeat("AB", 32) }},
	}
	for _, tt := range tests {
		t.Run(truncate(tt.doc, 80), func(t *testing.T) {
			c, probs, err := Decode([]byte(tt.doc))
			require.NoError(t, err)
			if tt.ok {
				require.Empty(t, probs)
				require.True(t, tt.want(c))
			} else {
				require.NotEmpty(t, probs)
				require.NotEqual(t, event.NotOptimal, probs[0].Kind)
			}
		})
	}
}

func TestDecodeNotOptimal(t *testing.T) {
	c, probs, err := Decode([]byte(`{"maxMessageSizeInBytes":{"value":10000},"baselineCustomChecksEnabled":{"value":true}}`))
	require.NoError(t, err)
	require.Len(t, probs, 2)
	for _, p := range probs {
		require.Equal(t, event.NotOptimal, p.Kind)
	}
	require.Equal(t, "10000", probs[0].Used)
	require.Equal(t, 10000, c.MaxMessageSizeInBytes)
	require.True(t, c.BaselineCustomChecksEnabled)
}

func TestDecodeVersion(t *testing.T) {
	c, probs, err := Decode([]byte(`{"$version":"seven","` + ObjectName + `":{}}`))
	require.NoError(t, err)
	require.Len(t, probs, 1)
	require.Equal(t, "$version", probs[0].Key)
	require.Zero(t, c.Version)

	c, probs, err = Decode([]byte(`{"properties":{"desired":{"$version":9007199254740993}}}`))
	require.NoError(t, err)
	require.Empty(t, probs)
	require.Equal(t, int64(9007199254740993), c.Version, "no float rounding")
}

func TestDecodeUnusable(t *testing.T) {
	big := bytes.Repeat([]byte(" "), 10<<20)
	copy(big, `{"snapshotFrequency":{"value":"PT1H"}}`)
	tests := []struct {
		name string
		doc  []byte
		want error
	}{
		{"empty", nil, ErrSyntax},
		{"truncated", []byte(`{"snapshotFrequency":{"value":"PT1H"`), ErrSyntax},
		{"truncated twin", readTestdata(t, "asc-twin/azureiotsecurity_default.json")[:500], ErrSyntax},
		{"garbage", []byte(`snapshotFrequency=PT1H`), ErrSyntax},
		{"trailing data", []byte(`{} {}`), ErrSyntax},
		{"array", []byte(`[{"snapshotFrequency":{"value":"PT1H"}}]`), ErrShape},
		{"string", []byte(`"PT1H"`), ErrShape},
		{"null", []byte(`null`), ErrShape},
		{"number", []byte(`42`), ErrShape},
		{"properties not an object", []byte(`{"properties":[]}`), ErrShape},
		{"desired not an object", []byte(`{"properties":{"desired":"x"}}`), ErrShape},
		{"object not an object", []byte(`{"` + ObjectName + `":[1,2]}`), ErrShape},
		{"10 MB", big, ErrTooLarge},
		{"just over 1 MiB", append([]byte(`{}`), bytes.Repeat([]byte(" "), MaxDocumentSize-1)...), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, probs, err := Decode(tt.doc)
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, probs)
			require.Equal(t, Default(), c)
			require.Less(t, time.Since(start), time.Second)
		})
	}
	// Exactly 1 MiB is accepted.
	doc := append([]byte(`{}`), bytes.Repeat([]byte(" "), MaxDocumentSize-2)...)
	_, _, err := Decode(doc)
	require.NoError(t, err)
}

func TestReportedRoundTrip(t *testing.T) {
	configs := map[string]Config{"default": Default()}
	c := Default()
	c.HighPriorityMessageFrequency = 90 * time.Second
	c.LowPriorityMessageFrequency = 36*time.Hour + 1500*time.Millisecond
	c.SnapshotFrequency = 365 * 24 * time.Hour
	c.MaxLocalCacheSizeInBytes = 8192
	c.MaxMessageSizeInBytes = 8192
	c.Priorities[event.DiagnosticEvent] = event.High
	c.Priorities[event.Login] = event.Off
	c.Aggregation[event.ProcessTerminate] = Aggregation{Enabled: false, Interval: time.Second}
	c.HeartbeatFrequency = time.Second
	c.BaselineCustomChecksEnabled = true
	c.BaselineCustomChecksFilePath = "/etc/edgesec/custom <baseline> & \"checks\".xml"
	c.BaselineCustomChecksFileHash = strings.Repeat("0f", 32)
	c.HubResourceID = "/subscriptions/ünïcode"
	c.KernelWatchedPaths = `["defaults",{"ops":["read","write"],"prefix":"/opt/app/secrets/"}]`
	configs["changed"] = c
	for name, c := range configs {
		t.Run(name, func(t *testing.T) {
			require.Empty(t, c.Validate())
			doc, err := Reported(c)
			require.NoError(t, err)
			require.True(t, json.Valid(doc))
			back, probs, err := Decode(doc)
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Equal(t, c, back)

			// Every key is reported, wrapped in {"value": ...}.
			var m map[string]map[string]map[string]any
			require.NoError(t, json.Unmarshal(doc, &m))
			require.Len(t, m, 1)
			require.Len(t, m[ObjectName], len(Keys()))
			for _, k := range Keys() {
				require.Contains(t, m[ObjectName][k.Name], "value", k.Name)
			}
		})
	}
}

func TestReportedIsStable(t *testing.T) {
	a, err := Reported(Default())
	require.NoError(t, err)
	b, err := Reported(Default())
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.True(t, bytes.HasPrefix(a, []byte(`{"`+ObjectName+`":{"highPriorityMessageFrequency":{"value":"PT7M"},`)))
}

// TestReportedValidatesAgainstOfficialSchema validates Reported(Default())
// as the desired properties of the official twin schema (whose duration
// pattern uses ECMAScript lookarounds, see compileOfficialPattern).
func TestReportedValidatesAgainstOfficialSchema(t *testing.T) {
	sch := compileTwinSchema(t)
	for name, c := range map[string]Config{"default": Default(), "all off": allOff()} {
		t.Run(name, func(t *testing.T) {
			rep, err := Reported(c)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"desired":` + string(rep) + `}`)))
			require.NoError(t, err)
			require.NoError(t, sch.Validate(inst))
		})
	}
	// The official default document validates too, and a broken one does not.
	var def map[string]any
	require.NoError(t, json.Unmarshal(readTestdata(t, "asc-twin/azureiotsecurity_default.json"), &def))
	require.NoError(t, sch.Validate(def["properties"]))
	bad, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"desired":{"` + ObjectName + `":{"snapshotFrequency":{"value":"PT"}}}}`))
	require.NoError(t, err)
	require.Error(t, sch.Validate(bad))
}

func allOff() Config {
	c := Default()
	for name := range c.Priorities {
		c.Priorities[name] = event.Off
	}
	return c
}

func compileTwinSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "asc-twin"))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(func(s string) (jsonschema.Regexp, error) {
		if re, ok := compileOfficialPattern(s); ok {
			return re, nil
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s, err)
		}
		return re, nil
	})
	for _, name := range []string{"azureiotsecurity_schema.json", "azureiotsecurity_schema_definitions.json"} {
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		require.NoError(t, err)
		require.NoError(t, c.AddResource(name, doc))
	}
	sch, err := c.Compile("azureiotsecurity_schema.json")
	require.NoError(t, err)
	return sch
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"asc-twin/azureiotsecurity_default.json", "bare.json", "desired.json", "problems.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name))); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(sampleObject))
	f.Add([]byte(`{"properties":{"desired":{"$version":1}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, probs, err := Decode(doc)
		if err != nil {
			if probs != nil {
				t.Fatal("problems with an error")
			}
			return
		}
		for _, p := range probs {
			if p.Kind != event.TypeMismatch && p.Kind != event.Conflict && p.Kind != event.NotOptimal {
				t.Fatalf("bad kind %q", p.Kind)
			}
		}
		// Every key has a valid value, and the result round-trips.
		for _, p := range c.Validate() {
			if p.Kind == event.TypeMismatch {
				t.Fatalf("decoded an invalid value: %v", p)
			}
		}
		rep, err := Reported(c)
		if err != nil {
			t.Fatal(err)
		}
		back, probs2, err := Decode(rep)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs2 {
			if p.Kind == event.TypeMismatch {
				t.Fatalf("reported document has %v", p)
			}
		}
		c.Version = 0
		if !back.SameSettings(c) {
			t.Fatalf("round trip changed the configuration:\n%+v\n%+v", c, back)
		}
	})
}
