package manifest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/manifest"
)

// createOptionsForms rewrites every module's createOptions of a manifest
// (decoded JSON) into one of the forms IoT Edge accepts.
var createOptionsForms = map[string]func(settings map[string]any, t *testing.T){
	"object": func(st map[string]any, t *testing.T) {
		st["createOptions"] = json.RawMessage(createOptionsText(st, t))
	},
	"string": func(st map[string]any, t *testing.T) {
		st["createOptions"] = createOptionsText(st, t)
	},
	"chunked": chunkCreateOptions,
}

// createOptionsText returns the createOptions of settings as JSON text
// (from the object, or the string and its chunks) and removes the chunks.
func createOptionsText(st map[string]any, t *testing.T) string {
	t.Helper()
	var text string
	switch co := st["createOptions"].(type) {
	case string:
		text = co
		for i := 1; ; i++ {
			k := fmt.Sprintf("createOptions%02d", i)
			c, ok := st[k].(string)
			if !ok {
				break
			}
			text += c
			delete(st, k)
		}
	default:
		b, err := json.Marshal(co)
		require.NoError(t, err)
		text = string(b)
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(text), &v), "createOptions %q", text)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// chunkCreateOptions splits the createOptions text into createOptions and
// createOptions01, 02 …, as IoT Edge tooling does for long options (in
// 16-byte pieces here, so that every setting is cut somewhere).
func chunkCreateOptions(st map[string]any, t *testing.T) {
	text := createOptionsText(st, t)
	const n = 16
	st["createOptions"] = text[:min(n, len(text))]
	for i, rest := 1, text[min(n, len(text)):]; len(rest) > 0; i++ {
		k := fmt.Sprintf("createOptions%02d", i)
		st[k] = rest[:min(n, len(rest))]
		rest = rest[min(n, len(rest)):]
	}
}

// eachSettings calls f with the settings of every module of the manifest's
// $edgeAgent (full form).
func eachSettings(t *testing.T, doc map[string]any, f func(map[string]any)) {
	t.Helper()
	desired := doc["modulesContent"].(map[string]any)["$edgeAgent"].(map[string]any)["properties.desired"].(map[string]any)
	for _, coll := range []string{"systemModules", "modules"} {
		mods, _ := desired[coll].(map[string]any)
		for _, m := range mods {
			if st, ok := m.(map[string]any)["settings"].(map[string]any); ok && st["createOptions"] != nil {
				f(st)
			}
		}
	}
}

// layered turns a full deployment into the form of a layered deployment:
// {"content": {"modulesContent": …}} with the desired properties of
// $edgeAgent and $edgeHub given by path ("properties.desired.modules.X"),
// one key per module and route.
func layered(doc map[string]any) map[string]any {
	mc := doc["modulesContent"].(map[string]any)
	for twin, collections := range map[string][]string{"$edgeAgent": {"modules", "systemModules"}, "$edgeHub": {"routes"}} {
		tw, ok := mc[twin].(map[string]any)
		if !ok {
			continue
		}
		desired, ok := tw["properties.desired"].(map[string]any)
		if !ok {
			continue
		}
		out := map[string]any{}
		for k, v := range desired {
			if members, ok := v.(map[string]any); ok && slices.Contains(collections, k) {
				for name, m := range members {
					out["properties.desired."+k+"."+name] = m
				}
				continue
			}
			out["properties.desired."+k] = v
		}
		mc[twin] = out
	}
	return map[string]any{"id": "layer-1", "priority": 10, "targetCondition": "tags.site='a'",
		"content": map[string]any{"modulesContent": mc}}
}

// layeredBySetting is layered, with each module given setting by setting
// ("properties.desired.modules.X.settings.createOptions01": …), as
// layered deployments may write any property by its full dotted path.
// With chunksOnly, the module is one object and only its createOptions
// strings come by path.
func layeredBySetting(doc map[string]any, chunksOnly bool) map[string]any {
	out := layered(doc)
	agent := out["content"].(map[string]any)["modulesContent"].(map[string]any)["$edgeAgent"].(map[string]any)
	for key, v := range agent {
		m, ok := v.(map[string]any)
		if !ok || !(strings.HasPrefix(key, "properties.desired.modules.") || strings.HasPrefix(key, "properties.desired.systemModules.")) {
			continue
		}
		st, _ := m["settings"].(map[string]any)
		if chunksOnly {
			for sk, sv := range st {
				if strings.HasPrefix(sk, "createOptions") {
					agent[key+".settings."+sk] = sv
					delete(st, sk)
				}
			}
			continue
		}
		delete(agent, key)
		for mk, mv := range m {
			if mk != "settings" {
				agent[key+"."+mk] = mv
			}
		}
		for sk, sv := range st {
			agent[key+".settings."+sk] = sv
		}
	}
	return out
}

type findingKey struct{ Rule, Module, Evidence string }

// keysOf returns the findings of rule, the evidence without the path
// inside a createOptions string that prefixes it ("/HostConfig/Privileged:
// …"), which an object does not have.
func keysOf(fs []manifest.Finding, rule string) []findingKey {
	var out []findingKey
	for _, f := range fs {
		if f.RuleID == rule {
			ev := f.Evidence
			if p, rest, ok := strings.Cut(ev, ": "); ok && strings.HasPrefix(p, "/") && !strings.Contains(p, " ") {
				ev = rest
			}
			out = append(out, findingKey{f.RuleID, f.Module, ev})
		}
	}
	return out
}

// TestRulesThroughCreateOptionsForms checks every rule that a module's
// createOptions triggers through each form createOptions may take: an
// object, a JSON string, a string in createOptions01 … chunks, and the
// same inside a layered deployment, with each module by path
// ("properties.desired.modules.X"), each setting by path
// ("….modules.X.settings.createOptions01") or only the chunks by path:
// each gives the same findings as the rule's positive manifest.
func TestRulesThroughCreateOptionsForms(t *testing.T) {
	tested := 0
	for _, r := range manifest.Catalogue() {
		if r.Check == nil {
			continue
		}
		path := filepath.Join("testdata/rules", r.ID, "positive.json")
		want := keysOf(manifest.Analyze(load(t, path), manifest.Config{}), r.ID)
		require.NotEmpty(t, want, r.ID)
		triggered := false
		for _, f := range manifest.Analyze(load(t, path), manifest.Config{}) {
			triggered = triggered || (f.RuleID == r.ID && strings.Contains(f.Pointer, "/settings/createOptions"))
		}
		if !triggered {
			continue
		}
		tested++
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		full := func(doc map[string]any) any { return doc }
		byModule := func(doc map[string]any) any { return layered(doc) }
		bySetting := func(doc map[string]any) any { return layeredBySetting(doc, false) }
		chunksByPath := func(doc map[string]any) any { return layeredBySetting(doc, true) }
		type form struct {
			name   string
			chunks func(map[string]any, *testing.T)
			layer  func(map[string]any) any
		}
		forms := []form{
			{"object", createOptionsForms["object"], full},
			{"string", createOptionsForms["string"], full},
			{"chunked", createOptionsForms["chunked"], full},
			{"layered object", createOptionsForms["object"], byModule},
			{"layered string", createOptionsForms["string"], byModule},
			{"layered chunked", createOptionsForms["chunked"], byModule},
			{"layered by setting, object", createOptionsForms["object"], bySetting},
			{"layered by setting, chunked", createOptionsForms["chunked"], bySetting},
			{"layered, chunks by path", createOptionsForms["chunked"], chunksByPath},
		}
		for _, fm := range forms {
			t.Run(r.ID+"/"+fm.name, func(t *testing.T) {
				var doc map[string]any
				require.NoError(t, json.Unmarshal(raw, &doc))
				eachSettings(t, doc, func(st map[string]any) { fm.chunks(st, t) })
				v := fm.layer(doc)
				data, err := json.MarshalIndent(v, "", "  ")
				require.NoError(t, err)
				d, err := manifest.Load(data, fm.name+".json", manifest.LoadOptions{})
				require.NoError(t, err, "%s", data)
				fs := manifest.Analyze(d, manifest.Config{})
				assert.ElementsMatch(t, want, keysOf(fs, r.ID), "%s", data)
				for _, f := range fs {
					if f.RuleID == r.ID {
						assert.Contains(t, f.Pointer, "createOptions", f.Pointer)
						assert.Positive(t, f.Line, "finding has no line")
					}
				}
			})
		}
	}
	assert.GreaterOrEqual(t, tested, 10, "rules with a createOptions trigger")
	t.Logf("%d rules with a createOptions trigger, each in %d forms", tested, 9)
}
