package manifest_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/edgesec/edgesec/collector/container"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/manifest"
	"github.com/edgesec/edgesec/schemas"
)

func TestLoadForms(t *testing.T) {
	// Chunked createOptions, reassembled in order.
	d, err := manifest.Load([]byte(`{"modulesContent":{"$edgeAgent":{"properties.desired":{"schemaVersion":"1.0","modules":{
		"m":{"type":"docker","settings":{"image":"a:1","createOptions":"{\"HostConfig\":{\"Priv","createOptions01":"ileged\":true,","createOptions02":"\"PidMode\":\"host\"}}"}}}}}}}`), "chunks", manifest.LoadOptions{})
	require.NoError(t, err)
	m := d.Module("m")
	require.NotNil(t, m)
	assert.True(t, m.CreateOptions.HostConfig.Privileged.Value)
	assert.Equal(t, "host", m.CreateOptions.HostConfig.PidMode.Value)
	assert.Equal(t, "/HostConfig/Privileged", m.CreateOptions.HostConfig.Privileged.Node.Inner)
	assert.Equal(t, "/modulesContent/$edgeAgent/properties.desired/modules/m/settings/createOptions", m.CreateOptions.HostConfig.Privileged.Node.Pointer)

	// Object createOptions, case-insensitive keys, object routes, "content" wrapper.
	d, err = manifest.Load([]byte(`{"content":{"modulesContent":{
		"$edgeAgent":{"properties.desired":{"schemaVersion":"1.1","systemModules":{"edgeHub":{"type":"docker","settings":{"image":"h:1.5"}}},
			"modules":{"m":{"type":"docker","settings":{"image":"a:1","createOptions":{"hostconfig":{"privileged":true,"Binds":["C:\\data:C:\\app:ro"]}}}}}}},
		"$edgeHub":{"properties.desired":{"routes":{"r1":{"route":"FROM /messages/* INTO $upstream","priority":2,"timeToLiveSecs":60},"r2":"FROM /messages/modules/m/* WHERE a = 1 INTO BrokeredEndpoint(\"/modules/x/inputs/i\")"}}},
		"m":{"properties.desired":{"k":"v"}}}}}`), "object", manifest.LoadOptions{})
	require.NoError(t, err)
	m = d.Module("m")
	assert.Equal(t, "/content/modulesContent/$edgeAgent/properties.desired/modules/m/settings/createOptions/hostconfig/privileged", m.CreateOptions.HostConfig.Privileged.Node.Pointer)
	require.Len(t, m.CreateOptions.HostConfig.Mounts, 1)
	assert.Equal(t, manifest.Mount{Type: "bind", Source: `C:\data`, Target: `C:\app`, ReadOnly: true, Node: m.CreateOptions.HostConfig.Mounts[0].Node}, m.CreateOptions.HostConfig.Mounts[0])
	require.Len(t, d.Hub.Routes, 2)
	assert.Equal(t, "/messages/*", d.Hub.Routes[0].From)
	assert.Equal(t, "2", d.Hub.Routes[0].Priority.Str)
	assert.Equal(t, "a = 1", d.Hub.Routes[1].Where)
	require.Len(t, d.Twins, 1)
	assert.Equal(t, "edgeHub", d.Modules[0].Name)
	assert.True(t, d.Modules[0].System)

	// Layered: modules and routes by path.
	d, err = manifest.Load([]byte(`{"content":{"modulesContent":{"$edgeAgent":{"properties.desired.modules.a.b":{"settings":{"image":"x:1"}}},
		"$edgeHub":{"properties.desired.routes.r":"FROM /* INTO $upstream"}}}}`), "layered", manifest.LoadOptions{})
	require.NoError(t, err)
	assert.True(t, d.Layered)
	require.NotNil(t, d.Module("a.b"))
	assert.Equal(t, "/content/modulesContent/$edgeAgent/properties.desired.modules.a.b/settings/image", d.Module("a.b").Image.Node.Pointer)

	// Placeholders are not secrets; the template still loads.
	d, err = manifest.Load([]byte(`{"modulesContent":{"$edgeAgent":{"properties.desired":{"schemaVersion":"1.1","runtime":{"settings":{"registryCredentials":{"r":{"address":"$CONTAINER_REGISTRY_ADDRESS","username":"${U}","password":"${P}"}}}},
		"modules":{"m":{"settings":{"image":"${MODULES.m}","createOptions":{}},"env":{"KEY":{"value":"$SECRET_KEY"},"PASSWORD":{"value":"<your password>"}}}}}}}}`), "template", manifest.LoadOptions{})
	require.NoError(t, err)
	for _, f := range manifest.Analyze(d, manifest.Config{}) {
		assert.NotContains(t, []string{"EDGE015", "EDGE016", "EDGE017", "EDGE023"}, f.RuleID, f.Evidence)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{``, "unexpected end of JSON input"},
		{`[1]`, "a deployment manifest is a JSON object"},
		{`{"a":1}`, "no modulesContent"},
		{`{"modulesContent":{"$edgeAgent":{"properties.desired":{"modules":[]}}}}`, "/modulesContent/$edgeAgent/properties.desired/modules: modules must be an object"},
		{`{"modulesContent":{"$edgeAgent":{"properties.desired":{"modules":{"m":{"settings":{"createOptions":"{\"HostConfig\":"}}}}}}}`, "/modulesContent/$edgeAgent/properties.desired/modules/m/settings/createOptions: createOptions is not valid JSON"},
		{`{"modulesContent":{"$edgeAgent":{"properties.desired":{"modules":{"m":{"settings":{"createOptions":"{}","createOptions02":"x"}}}}}}}`, "createOptions01 is missing"},
		{`{"modulesContent":{"$edgeAgent":{"properties.desired":{"modules":{"m":{"settings":{"createOptions":{"HostConfig":{"CapAdd":"ALL"}}}}}}}}}`, "/HostConfig/CapAdd: CapAdd must be an array of strings"},
		{`{"modulesContent":{"$edgeAgent":{"properties.desired":{"schemaVersion":"2.0"}}}}`, `unsupported $edgeAgent schemaVersion "2.0"`},
		{`{"modulesContent":{"$edgeHub":{"properties.desired":{"routes":{"r":5}}}}}`, "/modulesContent/$edgeHub/properties.desired/routes/r: route r must be a string or an object"},
		{"{\n  \"modulesContent\": {\n    /* no */ }}", "line 3, column 5"},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), "nesting deeper than 64 levels"},
	} {
		_, err := manifest.Load([]byte(tc.doc), "t.json", manifest.LoadOptions{})
		require.Error(t, err, tc.doc)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := manifest.Load(make([]byte, 100), "big", manifest.LoadOptions{Limits: manifest.Limits{MaxBytes: 10}})
	assert.ErrorContains(t, err, "limit")
	_, err = manifest.LoadReader(strings.NewReader(strings.Repeat(" ", 100)), "big", manifest.LoadOptions{Limits: manifest.Limits{MaxBytes: 10}})
	assert.ErrorContains(t, err, "larger than the limit")
	_, err = manifest.LoadFile("testdata/does-not-exist.json", manifest.LoadOptions{})
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Errors carry pointer, line and column.
	_, err = manifest.Load([]byte("{\"modulesContent\":{\"$edgeAgent\":{\"properties.desired\":{\n\"modules\":{\"m\":{\"settings\":{\"image\":[]}}}}}}}"), "x", manifest.LoadOptions{})
	var pe *manifest.Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "/modulesContent/$edgeAgent/properties.desired/modules/m/settings/image", pe.Pointer)
	assert.Equal(t, 2, pe.Line)
	assert.Equal(t, 37, pe.Column)
}

func TestParseImage(t *testing.T) {
	for in, want := range map[string]manifest.ImageRef{
		"nginx":                                  {Repository: "nginx"},
		"mcr.microsoft.com/azureiotedge-hub:1.5": {Registry: "mcr.microsoft.com", Repository: "azureiotedge-hub", Tag: "1.5"},
		"$upstream:443/azureiotedge-agent:1.2.0-rc2": {Registry: "$upstream:443", Repository: "azureiotedge-agent", Tag: "1.2.0-rc2"},
		"localhost:5000/a/b:2@sha256:abc":            {Registry: "localhost:5000", Repository: "a/b", Tag: "2", Digest: "sha256:abc"},
	} {
		assert.Equal(t, want, manifest.ParseImage(in), in)
	}
}

// A running deployment reconstructed from a container inventory goes
// through the same rules, and its drift from the manifest is reported.
func inventory() []event.ContainerInventoryPayload {
	co, _ := json.Marshal(map[string]any{"HostConfig": map[string]any{"PortBindings": map[string]any{"8883/tcp": []any{map[string]any{"HostPort": "8883"}}}}})
	return []event.ContainerInventoryPayload{
		{ContainerID: "1", Name: "edgeHub", ModuleName: "edgeHub", Runtime: "moby", Image: "mcr.microsoft.com/azureiotedge-hub:1.5.4@sha256:" + strings.Repeat("a", 64), State: "running",
			Labels: map[string]string{manifest.LabelCreateOptions: string(co[:20]), manifest.LabelCreateOptions + "01": string(co[20:]), manifest.LabelOwner: "Microsoft.Azure.Devices.Edge.Agent",
				manifest.LabelEnv: `{"amqpSettings__enabled":{"value":"false"},"httpSettings__enabled":{"value":"false"}}`},
			MemoryLimit: 1 << 28, NoNewPrivileges: true, RestartPolicy: "no"},
		{ContainerID: "2", Name: "sensor", ModuleName: "sensor", Runtime: "moby", Image: "contoso.azurecr.io/sensor:2.1.0@sha256:" + strings.Repeat("a", 64), State: "running",
			Privileged: true, PidMode: "host", CapAdd: []string{"SYS_ADMIN"}, SeccompProfile: "unconfined",
			Mounts:  []event.Mount{{Type: "bind", Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock"}},
			Devices: []string{"/dev/ttyUSB0:/dev/ttyUSB0:rwm"}, MemoryLimit: 1 << 26,
			Labels: map[string]string{"edgesec.suppress.EDGE007": "by=ops; reason=test fixture"}},
		{ContainerID: "3", Name: "debug-shell", Runtime: "moby", Image: "alpine", State: "running", NetworkMode: "host"},
	}
}

func TestReconstruct(t *testing.T) {
	d, data, err := manifest.Reconstruct(inventory())
	require.NoError(t, err)
	assert.Equal(t, manifest.RuntimeSource, d.Source)
	assert.True(t, json.Valid(data))
	require.NotNil(t, d.Module("edgeHub"))
	assert.True(t, d.Module("edgeHub").System)
	assert.Len(t, d.Module("edgeHub").CreateOptions.HostConfig.PortBindings, 1, "port bindings come from the chunked create-options label")

	fs := manifest.Analyze(d, manifest.Config{})
	byModule := map[string][]string{}
	for _, f := range fs {
		if f.Suppression == nil {
			byModule[f.Module] = append(byModule[f.Module], f.RuleID)
		}
		assert.Positive(t, f.Line, "runtime findings point into the reconstructed manifest")
	}
	assert.Equal(t, []string{"EDGE001", "EDGE002", "EDGE004", "EDGE011", "EDGE012"}, byModule["sensor"])
	assert.Equal(t, []string{"EDGE020"}, byModule["edgeHub"])
	assert.Equal(t, []string{"EDGE003", "EDGE014", "EDGE015", "EDGE016", "EDGE026"}, byModule["debug-shell"])

	_, _, err = manifest.Reconstruct([]event.ContainerInventoryPayload{{Name: "x", Labels: map[string]string{manifest.LabelCreateOptions: "{"}}})
	assert.ErrorContains(t, err, "container x")
}

func TestDrift(t *testing.T) {
	declared := load(t, "testdata/rules/clean.json")
	running, _, err := manifest.Reconstruct(inventory())
	require.NoError(t, err)
	an := manifest.Analyzer{}
	var got []string
	for _, f := range an.Drift(declared, running) {
		got = append(got, f.RuleID+" "+f.Module+" "+f.Source+" "+f.Evidence)
	}
	assert.Equal(t, []string{
		"EDGE092 edgeAgent testdata/rules/clean.json module edgeAgent is declared running but is not present",
		"EDGE090 sensor testdata/rules/clean.json added capabilities: declared none, running SYS_ADMIN",
		"EDGE090 sensor testdata/rules/clean.json devices: declared none, running /dev/ttyUSB0",
		"EDGE090 sensor testdata/rules/clean.json host mounts: declared none, running /var/run/docker.sock:/var/run/docker.sock:rw",
		"EDGE090 sensor testdata/rules/clean.json memory limit: declared 67108864, running 67108864"[:0] + "EDGE090 sensor testdata/rules/clean.json pid mode: declared default, running host",
		"EDGE090 sensor testdata/rules/clean.json privileged: declared false, running true",
		"EDGE090 sensor testdata/rules/clean.json seccomp: declared confined, running unconfined",
		"EDGE091 debug-shell runtime container debug-shell (image alpine) runs but no module declares it",
	}, got)
	// The drift rules can be switched off like the others.
	an.Config.DisabledRules = []string{"EDGE090", "EDGE091", "EDGE092"}
	assert.Empty(t, an.Drift(declared, running))
}

func TestPollerManifestAndRuntime(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	p := manifest.NewPoller(manifest.Options{
		ManifestPath: func() string { return "testdata/rules/clean.json" },
		Inventory:    container.InventoryFunc(func(context.Context) ([]event.ContainerInventoryPayload, error) { return inventory(), nil }),
		Config:       func() manifest.Config { return manifest.Config{DisabledRules: []string{"EDGE016"}} },
	})
	evs, err := p.Poll(context.Background())
	require.NoError(t, err)
	rules := map[string]bool{}
	for _, ev := range evs {
		require.NoError(t, v.ValidateEvent(ev))
		for _, it := range ev.Payload {
			rules[it.(*event.DeploymentRecommendationPayload).RuleID] = true
		}
	}
	for _, id := range []string{"EDGE001", "EDGE090", "EDGE091", "EDGE092"} {
		assert.True(t, rules[id], id)
	}
	assert.False(t, rules["EDGE016"], "disabled by the configuration")
	assert.False(t, rules["EDGE007"], "suppressed by the container label")

	// A broken manifest is an error, not an empty (clean) snapshot.
	p = manifest.NewPoller(manifest.Options{ManifestPath: func() string { return "testdata/corpus/iradbouzidi__edge-azure__deployment.arm32v7.json" }})
	evs, err = p.Poll(context.Background())
	assert.ErrorContains(t, err, "comments are not allowed")
	assert.Empty(t, evs)
	_, err = manifest.NewPoller(manifest.Options{}).Poll(context.Background())
	assert.ErrorContains(t, err, "nothing to analyse")
}

func TestConformance(t *testing.T) {
	collectortest.Run(t, func(t *testing.T) collector.Collector {
		c := manifest.NewCollector(manifest.Options{ManifestPath: func() string { return "testdata/rules/EDGE001/positive.json" }}, func() time.Duration { return time.Hour })
		require.Equal(t, event.DeploymentRecommendation, c.Name())
		return c
	})
}

// The loader never panics and bounds its work, whatever the input.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.json")
	rules, _ := filepath.Glob("testdata/rules/*/*.json")
	for _, file := range append(files, rules...) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"modulesContent":{"$edgeAgent":{"properties.desired.modules.x":{"settings":{"createOptions":"{}","createOptions01":"x"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := manifest.Load(data, "fuzz", manifest.LoadOptions{Limits: manifest.Limits{MaxBytes: 1 << 20}})
		if err != nil {
			if d != nil {
				t.Fatal("deployment returned with an error")
			}
			return
		}
		fs := manifest.Analyze(d, manifest.Config{})
		_ = manifest.Events(fs, "", time.Unix(0, 0))
		var r manifest.Report
		r.Findings = fs
		_ = r.WriteSARIF(discard{}, manifest.SARIFOptions{})
	})
}

// createOptions strings (and their chunks) parse or fail cleanly.
func FuzzParseCreateOptions(f *testing.F) {
	for _, s := range []string{`{}`, `{"HostConfig":{"Privileged":true,"Binds":["/:/host:ro"],"Devices":[{"PathOnHost":"/dev/x"}]}}`,
		`{"Env":["A=B"],"Labels":{"edgesec.suppress.EDGE001":"by=a;reason=b"},"HostConfig":{"PortBindings":{"1/tcp":[{"HostIp":""}]},"Memory":"12"}}`, `[`, `{"a":` + strings.Repeat("[", 80)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := manifest.ParseCreateOptions(s, "/p", 0, manifest.Limits{MaxBytes: 1 << 16})
		if err == nil && n != nil && n.Kind != manifest.Object {
			t.Fatalf("non-object create options accepted: %v", n.Kind)
		}
		doc, _ := json.Marshal(map[string]any{"modulesContent": map[string]any{"$edgeAgent": map[string]any{"properties.desired": map[string]any{
			"modules": map[string]any{"m": map[string]any{"settings": map[string]any{"image": "a", "createOptions": s}}}}}}})
		if d, err := manifest.Load(doc, "fuzz", manifest.LoadOptions{}); err == nil {
			_ = manifest.Analyze(d, manifest.Config{})
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
