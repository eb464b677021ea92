package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/manifest"
	"github.com/edgesec/edgesec/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

func load(t *testing.T, path string) *manifest.Deployment {
	t.Helper()
	d, err := manifest.LoadFile(path, manifest.LoadOptions{})
	require.NoError(t, err)
	return d
}

func ruleIDs(fs []manifest.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}

// Every rule has a minimal positive manifest that triggers it and a
// negative one (a near miss of the same setting) that triggers nothing at
// all; the clean base manifest they share has no finding.
func TestRulesPositiveNegative(t *testing.T) {
	clean := manifest.Analyze(load(t, "testdata/rules/clean.json"), manifest.Config{})
	require.Empty(t, clean, "the clean base manifest has findings")
	for _, r := range manifest.Catalogue() {
		if r.Check == nil {
			continue // drift rules: TestDrift
		}
		t.Run(r.ID, func(t *testing.T) {
			pos := manifest.Analyze(load(t, filepath.Join("testdata/rules", r.ID, "positive.json")), manifest.Config{})
			require.Contains(t, ruleIDs(pos), r.ID)
			for _, f := range pos {
				if f.RuleID != r.ID {
					continue
				}
				assert.Equal(t, r.Severity, f.Severity)
				assert.Equal(t, r.Title, f.Title)
				assert.NotEmpty(t, f.Evidence)
				assert.True(t, strings.HasPrefix(f.Pointer, "/modulesContent/"), f.Pointer)
				assert.Positive(t, f.Line, "finding has no line")
			}
			neg := manifest.Analyze(load(t, filepath.Join("testdata/rules", r.ID, "negative.json")), manifest.Config{})
			assert.Empty(t, neg)
		})
	}
}

func TestCatalogueMetadata(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range manifest.Catalogue() {
		assert.False(t, seen[r.ID], "duplicate id %s", r.ID)
		seen[r.ID] = true
		assert.Regexp(t, `^EDGE\d{3}$`, r.ID)
		assert.NotEmpty(t, r.Title)
		assert.NotEmpty(t, r.Rationale, r.ID)
		assert.NotEmpty(t, r.Remediation, r.ID)
		assert.NotEmpty(t, r.Family, r.ID)
		assert.GreaterOrEqual(t, r.Severity, manifest.Low)
		assert.LessOrEqual(t, r.Severity, manifest.Critical)
	}
}

// goldenLine is the stable one-line form of a finding in golden files.
func goldenLine(f manifest.Finding) string {
	sup := ""
	if f.Suppression != nil {
		sup = " [suppressed]"
	}
	return fmt.Sprintf("%s %s %s %s:%d:%d %s%s", f.RuleID, f.Severity, orDash(f.Module), f.Pointer, f.Line, f.Column, f.Evidence, sup)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Every file of the corpus loads, or fails with the error its golden file
// records; the findings are the reviewed ones of the golden files.
func TestCorpusGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.json")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 50)
	failed := 0
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			d, err := manifest.LoadFile(file, manifest.LoadOptions{})
			if err != nil {
				failed++
				msg := strings.ReplaceAll(err.Error(), file, name)
				fmt.Fprintf(&got, "error: %s\n", msg)
				var pe *manifest.Error
				var se *manifest.SyntaxError
				require.True(t, errors.As(err, &pe) || errors.As(err, &se), "error %v carries no location", err)
			} else {
				for _, f := range manifest.Analyze(d, manifest.Config{}) {
					fmt.Fprintln(&got, goldenLine(f))
				}
			}
			golden := filepath.Join("testdata/golden", strings.TrimSuffix(name, ".json")+".golden")
			if *update {
				require.NoError(t, os.MkdirAll("testdata/golden", 0o755))
				require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden files")
			assert.Equal(t, string(want), got.String())
		})
	}
	// The corpus README: exactly two files are broken on purpose.
	assert.Equal(t, 2, failed)
}

// Secrets never reach findings: the corpus's synthetic secrets are
// redacted from evidence.
func TestCorpusEvidenceHasNoSecrets(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.json")
	for _, file := range files {
		d, err := manifest.LoadFile(file, manifest.LoadOptions{})
		if err != nil {
			continue
		}
		for _, f := range manifest.Analyze(d, manifest.Config{}) {
			if f.RuleID == "EDGE017" || f.RuleID == "EDGE023" || f.RuleID == "EDGE024" {
				assert.Contains(t, f.Evidence, "<redacted")
				assert.NotRegexp(t, `(?i)(SharedAccessKey|AccountKey|sig)=[A-Za-z0-9%+/]{8}`, f.Evidence)
			}
		}
	}
}

func TestEventsValidate(t *testing.T) {
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	files, _ := filepath.Glob("testdata/corpus/*.json")
	n := 0
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, file := range files {
		d, err := manifest.LoadFile(file, manifest.LoadOptions{})
		if err != nil {
			continue
		}
		fs := manifest.Analyze(d, manifest.Config{})
		evs := manifest.Events(fs, "", now)
		require.NotEmpty(t, evs)
		for _, ev := range evs {
			require.LessOrEqual(t, len(ev.Payload), manifest.MaxItemsPerEvent)
			require.NoError(t, v.ValidateEvent(ev), file)
			n += len(ev.Payload)
		}
	}
	assert.Positive(t, n)
	empty := manifest.Events(nil, "x.json", now)
	require.Len(t, empty, 1)
	assert.True(t, empty[0].IsEmpty())
	require.NoError(t, v.ValidateEvent(empty[0]))
}

func TestConfigDisableAndSeverity(t *testing.T) {
	d := load(t, "testdata/rules/EDGE004/positive.json")
	fs := manifest.Analyze(d, manifest.Config{DisabledRules: []string{"edge004"}})
	assert.NotContains(t, ruleIDs(fs), "EDGE004")
	fs = manifest.Analyze(d, manifest.Config{Severity: map[string]manifest.Severity{"EDGE004": manifest.Low}})
	require.Equal(t, []string{"EDGE004"}, ruleIDs(fs))
	assert.Equal(t, manifest.Low, fs[0].Severity)

	cfg, err := manifest.DecodeConfig([]byte(`{"disabledRules":["EDGE016"],"severity":{"EDGE014":"medium"},
		"suppressions":[{"rule":"EDGE004","module":"sens*","by":"alice","reason":"monitor"}]}`))
	require.NoError(t, err)
	assert.Equal(t, manifest.Medium, cfg.Severity["EDGE014"])
	fs = manifest.Analyze(d, cfg)
	require.Len(t, fs, 1)
	require.NotNil(t, fs[0].Suppression)
	assert.Equal(t, "alice", fs[0].Suppression.By)
	assert.Empty(t, manifest.Active(fs))

	for _, bad := range []string{
		`{"disabledRules":["EDGE999"]}`,
		`{"severity":{"EDGE001":"urgent"}}`,
		`{"suppressions":[{"rule":"EDGE004"}]}`,
		`{"suppressions":[{"rule":"EDGE004","by":"a","reason":"b","expires":"soon"}]}`,
		`{"unknown":1}`,
	} {
		_, err := manifest.DecodeConfig([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// The suppression label records who and why; without both, or once
// expired, it does not apply.
func TestSuppressionLabel(t *testing.T) {
	doc := func(label string) []byte {
		co, _ := json.Marshal(map[string]any{
			"Labels":     map[string]string{"edgesec.suppress.EDGE004": label},
			"HostConfig": map[string]any{"PidMode": "host", "Memory": 1 << 26, "SecurityOpt": []string{"no-new-privileges"}},
		})
		m := map[string]any{"modulesContent": map[string]any{"$edgeAgent": map[string]any{
			"properties.desired.modules.securityModule": map[string]any{"type": "docker", "settings": map[string]any{
				"image": "contoso.azurecr.io/edgesec@sha256:" + strings.Repeat("b", 64), "createOptions": string(co)}}}}}
		b, _ := json.Marshal(m)
		return b
	}
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		label      string
		suppressed bool
	}{
		{"by=security-team@contoso.com; reason=host process monitoring needs the host PID namespace", true},
		{"by=security-team; reason=monitoring; expires=2026-01-01", true},
		{"by=security-team; reason=monitoring; expires=2025-12-31", false},
		{"reason=no owner", false},
		{"by=someone", false},
	} {
		d, err := manifest.Load(doc(tc.label), "layer.json", manifest.LoadOptions{})
		require.NoError(t, err)
		assert.True(t, d.Layered)
		an := manifest.Analyzer{Now: now}
		fs := an.Analyze(d)
		require.Equal(t, []string{"EDGE004"}, ruleIDs(fs), tc.label)
		if tc.suppressed {
			require.NotNil(t, fs[0].Suppression, tc.label)
			assert.True(t, fs[0].Suppression.InSource)
			assert.Empty(t, manifest.Events(fs, "", now())[0].Payload)
		} else {
			assert.Nil(t, fs[0].Suppression, tc.label)
		}
	}
}
