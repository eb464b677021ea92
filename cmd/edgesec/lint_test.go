package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rulesDir = "../../manifest/testdata/rules"
const corpusDir = "../../manifest/testdata/corpus"

// buildLint builds the edgesec binary once per test run.
func buildLint(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgesec")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, bin string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, o.String(), e.String()}
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-2.1.0-subset.schema.json")
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json"
	require.NoError(t, c.AddResource(id, doc))
	s, err := c.Compile(id)
	require.NoError(t, err)
	return s
}

func validateSARIF(t *testing.T, s *jsonschema.Schema, out string) map[string]any {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	require.NoError(t, err)
	require.NoError(t, s.Validate(inst))
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	return m
}

// The lint command as a user runs it: the built binary on real files and
// on standard input, its exit codes, and its three formats.
func TestLintBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("edgesec targets Linux")
	}
	bin := buildLint(t)
	schema := sarifSchema(t)
	clean := filepath.Join(rulesDir, "clean.json")
	critical := filepath.Join(rulesDir, "EDGE001/positive.json")
	medium := filepath.Join(rulesDir, "EDGE003/positive.json")
	broken := filepath.Join(corpusDir, "iradbouzidi__edge-azure__deployment.arm32v7.json")

	t.Run("exit codes", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"lint", clean}, 0},
			{[]string{"lint", critical}, 1},
			{[]string{"lint", medium}, 0},                        // default --fail-on high
			{[]string{"lint", "--fail-on", "medium", medium}, 1}, // threshold lowered
			{[]string{"lint", "--fail-on", "critical", critical}, 1},
			{[]string{"lint", "--fail-on", "never", critical}, 0},
			{[]string{"lint", "--disable", "EDGE001,EDGE014", critical}, 0},
			{[]string{"lint", "--severity", "EDGE001=low", critical}, 0},
			{[]string{"lint", critical, "--format", "json"}, 1}, // flags after files
			{[]string{"lint", clean, broken}, 2},                // a load error wins
			{[]string{"lint", "no-such-file.json"}, 2},
			{[]string{"lint"}, 2},
			{[]string{"lint", "--format", "xml", clean}, 2},
			{[]string{"lint", "--fail-on", "urgent", clean}, 2},
			{[]string{"lint", "--disable", "EDGE999", clean}, 2},
			{[]string{"frobnicate"}, 2},
			{[]string{}, 2},
			{[]string{"rules"}, 0},
			{[]string{"version"}, 0},
		} {
			r := runBin(t, bin, nil, tc.args...)
			assert.Equal(t, tc.code, r.code, "edgesec %s\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), r.stdout, r.stderr)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		data, err := os.ReadFile(critical)
		require.NoError(t, err)
		r := runBin(t, bin, data, "lint", "--format", "json", "-")
		assert.Equal(t, 1, r.code)
		var out struct {
			Findings []map[string]string `json:"findings"`
			Errors   []map[string]string `json:"errors"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
		require.Len(t, out.Findings, 1)
		assert.Equal(t, map[string]string{
			"file": "-", "ruleId": "EDGE001", "severity": "critical", "module": "sensor",
			"pointer":     "/modulesContent/$edgeAgent/properties.desired/modules/sensor/settings/createOptions",
			"title":       "Privileged container",
			"evidence":    "/HostConfig/Privileged: HostConfig.Privileged is true",
			"remediation": out.Findings[0]["remediation"],
		}, out.Findings[0])
		assert.NotEmpty(t, out.Findings[0]["remediation"])
		assert.Empty(t, out.Errors)
		// Bad JSON on stdin is a load error.
		r = runBin(t, bin, []byte("{"), "lint", "--format", "json", "-")
		assert.Equal(t, 2, r.code)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
		require.Len(t, out.Errors, 1)
		assert.Equal(t, "-", out.Errors[0]["file"])
	})

	t.Run("json shape", func(t *testing.T) {
		r := runBin(t, bin, nil, "lint", "--format", "json", clean, broken)
		assert.Equal(t, 2, r.code)
		var raw map[string][]map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
		assert.Len(t, raw, 2)
		assert.Empty(t, raw["findings"])
		require.Len(t, raw["errors"], 1)
		assert.Equal(t, broken, raw["errors"][0]["file"])
		assert.Contains(t, raw["errors"][0]["message"], "line 39, column 11")
		assert.Contains(t, r.stderr, "comments are not allowed")
	})

	t.Run("sarif over the corpus", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
		require.NoError(t, err)
		r := runBin(t, bin, nil, append([]string{"lint", "--format", "sarif"}, files...)...)
		assert.Equal(t, 2, r.code, r.stderr) // the corpus has two broken files
		log := validateSARIF(t, schema, r.stdout)
		run := log["runs"].([]any)[0].(map[string]any)
		results := run["results"].([]any)
		assert.Greater(t, len(results), 500)
		rules := run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)
		for _, res := range results {
			res := res.(map[string]any)
			idx := int(res["ruleIndex"].(float64))
			assert.Equal(t, res["ruleId"], rules[idx].(map[string]any)["id"])
			loc := res["locations"].([]any)[0].(map[string]any)
			uri := loc["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)["uri"].(string)
			assert.True(t, strings.HasPrefix(uri, "../../manifest/testdata/corpus/"), uri)
			assert.NotNil(t, loc["physicalLocation"].(map[string]any)["region"], "every corpus finding has a line")
			assert.True(t, strings.HasPrefix(loc["logicalLocations"].([]any)[0].(map[string]any)["fullyQualifiedName"].(string), "/"))
		}
		inv := run["invocations"].([]any)[0].(map[string]any)
		assert.Equal(t, false, inv["executionSuccessful"])
		assert.Len(t, inv["toolExecutionNotifications"], 2)
	})

	t.Run("suppressions", func(t *testing.T) {
		dir := t.TempDir()
		sup := filepath.Join(dir, "suppressions.json")
		require.NoError(t, os.WriteFile(sup, []byte(`[{"rule":"EDGE001","module":"sensor","by":"alice@contoso.com","reason":"needs GPIO until the driver lands","expires":"2999-01-01"}]`), 0o600))
		r := runBin(t, bin, nil, "lint", "--suppressions", sup, critical)
		assert.Equal(t, 0, r.code, r.stdout)
		assert.Contains(t, r.stdout, "suppressed by alice@contoso.com: needs GPIO until the driver lands")
		r = runBin(t, bin, nil, "lint", "--format", "sarif", "--suppressions", sup, critical)
		assert.Equal(t, 0, r.code)
		log := validateSARIF(t, schema, r.stdout)
		res := log["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
		s := res["suppressions"].([]any)[0].(map[string]any)
		assert.Equal(t, "external", s["kind"])
		assert.Contains(t, s["justification"], "alice@contoso.com")
		// JSON lists only findings that count.
		r = runBin(t, bin, nil, "lint", "--format", "json", "--suppressions", sup, critical)
		assert.Contains(t, r.stdout, `"findings": []`)
		// A suppression without a reason is refused.
		require.NoError(t, os.WriteFile(sup, []byte(`[{"rule":"EDGE001","by":"alice"}]`), 0o600))
		r = runBin(t, bin, nil, "lint", "--suppressions", sup, critical)
		assert.Equal(t, 2, r.code)
		assert.Contains(t, r.stderr, `needs "by" and "reason"`)
	})

	t.Run("text", func(t *testing.T) {
		r := runBin(t, bin, nil, "lint", critical, medium)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stdout, "  sensor\n    CRITICAL   EDGE001  Privileged container\n")
		assert.Contains(t, r.stdout, critical+":")
		assert.Contains(t, r.stdout, "2 findings (1 critical, 0 high, 1 medium, 0 low) in 2 files\n")
	})
}
