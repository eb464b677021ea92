package baseline_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
	"github.com/edgesec/edgesec/twinconfig"
)

func sha(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func builtinIDs() map[string]bool {
	m := map[string]bool{}
	for _, c := range baseline.Builtin() {
		m[c.ID] = true
	}
	return m
}

func TestParseCustomChecksValid(t *testing.T) {
	b, err := os.ReadFile("testdata/custom/valid.json")
	require.NoError(t, err)
	checks, err := baseline.ParseCustomChecks(b, builtinIDs())
	require.NoError(t, err)
	require.Len(t, checks, 9)

	for i, tc := range []struct {
		root string
		want []string
	}{
		{"hostroot-compliant", []string{"Pass", "Pass", "Pass", "Pass", "Pass", "Pass", "Pass", "Pass", "Pass"}},
		{"hostroot-noncompliant", []string{"Pass", "Pass", "Err", "Fail", "Fail", "Fail", "Fail", "Fail", "Pass"}},
	} {
		root := materialize(t, tc.root)
		h := baseline.NewHost(context.Background(), baseline.NewHostFS(root), baseline.WalkLimits{})
		for j, c := range checks {
			r := c.Run(h)
			require.Equal(t, tc.want[j], r.Status, "%s on %s (case %d): %v %v", c.ID, tc.root, i, r.Err, r.Details)
		}
	}
}

func TestParseCustomChecksInvalid(t *testing.T) {
	b, err := os.ReadFile("testdata/custom/invalid.json")
	require.NoError(t, err)
	checks, err := baseline.ParseCustomChecks(b, builtinIDs())
	require.Nil(t, checks)
	// Every problem is reported, not just the first.
	for _, want := range []string{
		`checks[0]: id must be`, `description must be`, `severity "High"`, `test file-exists needs path`,
		`checks[1] (X-1): path must be absolute; mode "0999" is not an octal mode`,
		`checks[2] (X-1): duplicate id; regex: error parsing regexp`,
		`checks[3] (CCE-80901-2): id is used by a built-in check; key "../../etc/shadow" is not a sysctl name`,
		`checks[4] (X-3): test type "run-shell" is not one of`,
		`checks[5] (X-4): test file-exists does not take regex`,
		`separator "->"`, `occurrence "middle"`,
	} {
		require.ErrorContains(t, err, want)
	}

	for _, doc := range []string{`{"checks": [], "extra": 1}`, `{"checks": []} {}`, `{}`, `[]`, `{"checks": [{"id": 1}]}`} {
		_, err := baseline.ParseCustomChecks([]byte(doc), nil)
		require.Error(t, err, doc)
	}
	_, err = baseline.ParseCustomChecks([]byte(`{"checks": []}`), nil)
	require.NoError(t, err)
}

// The twin settings decide, at every poll, whether custom checks run; a
// file whose hash does not match is not used and a ConfigurationError is
// sent alongside the baseline.
func TestCustomChecksInPoll(t *testing.T) {
	root := materialize(t, "hostroot-noncompliant")
	dir := t.TempDir()
	good, _ := filepath.Abs("testdata/custom/valid.json")
	bad := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"checks": [`), 0o600))

	var cfg atomic.Pointer[twinconfig.Config]
	set := func(enabled bool, path, hash string) {
		c := twinconfig.Default()
		c.BaselineCustomChecksEnabled, c.BaselineCustomChecksFilePath, c.BaselineCustomChecksFileHash = enabled, path, hash
		cfg.Store(&c)
	}
	p := baseline.New(baseline.Options{HostRoot: root, CustomChecks: baseline.CustomChecksFrom(func() twinconfig.Config { return *cfg.Load() })})
	v, err := schemas.NewValidator()
	require.NoError(t, err)

	poll := func() (cfgErrs []*event.ConfigurationErrorPayload, custom []*event.OSBaselinePayload) {
		evs, err := p.Poll(context.Background())
		require.NoError(t, err)
		for _, ev := range evs {
			require.NoError(t, v.ValidateEvent(ev))
			for _, it := range ev.Payload {
				switch x := it.(type) {
				case *event.ConfigurationErrorPayload:
					cfgErrs = append(cfgErrs, x)
				case *event.OSBaselinePayload:
					if x.ExtraDetails[baseline.KeySource] == baseline.SourceCustom {
						custom = append(custom, x)
					}
				}
			}
		}
		return
	}

	set(true, good, sha(t, good))
	ce, custom := poll()
	require.Empty(t, ce)
	ids := []string{}
	for _, c := range custom {
		ids = append(ids, c.CceID+"="+c.Result)
	}
	require.Equal(t, "ACME-3=Err ACME-4=Fail ACME-5=Fail ACME-6=Fail ACME-7=Fail ACME-8=Fail", strings.Join(ids, " "))

	set(true, good, strings.Repeat("0", 64)) // wrong hash
	ce, custom = poll()
	require.Empty(t, custom)
	require.Len(t, ce, 1)
	require.Equal(t, "baselineCustomChecksFileHash", ce[0].ConfigurationName)
	require.Equal(t, event.Conflict, ce[0].ErrorType)
	require.Equal(t, baseline.UsedConfiguration, ce[0].UsedConfiguration)
	require.Contains(t, ce[0].Message, sha(t, good))

	set(true, good, "") // no hash: never used unverified
	ce, _ = poll()
	require.Len(t, ce, 1)
	require.Equal(t, "baselineCustomChecksFileHash", ce[0].ConfigurationName)

	set(true, bad, strings.ToUpper(sha(t, bad))) // right hash (any case), unparsable file
	ce, _ = poll()
	require.Len(t, ce, 1)
	require.Equal(t, "baselineCustomChecksFilePath", ce[0].ConfigurationName)
	require.Equal(t, event.TypeMismatch, ce[0].ErrorType)

	set(true, filepath.Join(dir, "missing.json"), sha(t, good))
	ce, _ = poll()
	require.Len(t, ce, 1)
	require.Equal(t, "baselineCustomChecksFilePath", ce[0].ConfigurationName)
	require.Equal(t, event.Conflict, ce[0].ErrorType)

	set(false, good, strings.Repeat("0", 64)) // disabled: nothing read, nothing reported
	ce, custom = poll()
	require.Empty(t, ce)
	require.Empty(t, custom)
}

func FuzzParseCustomChecks(f *testing.F) {
	for _, p := range []string{"testdata/custom/valid.json", "testdata/custom/invalid.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"checks":[{"id":"a","description":"b","severity":"Warning","test":{"type":"config-key-equals","path":"/x","key":"k","default":""}}]}`))
	root := "testdata/hostroot-noncompliant"
	f.Fuzz(func(t *testing.T, data []byte) {
		checks, err := baseline.ParseCustomChecks(data, nil)
		if err != nil {
			return
		}
		h := baseline.NewHost(context.Background(), baseline.NewHostFS(root), baseline.WalkLimits{})
		for _, c := range checks {
			r := c.Run(h)
			switch r.Status {
			case event.BaselinePass, event.BaselineFail, event.BaselineErr:
			default:
				t.Fatalf("%s: status %q", c.ID, r.Status)
			}
		}
	})
}

func TestCustomMissingFiles(t *testing.T) {
	doc := []byte(`{"checks": [
	  {"id": "M-1", "description": "d", "severity": "Warning", "test": {"type": "file-contains-regex", "path": "/nope", "regex": "x"}},
	  {"id": "M-2", "description": "d", "severity": "Warning", "test": {"type": "file-not-contains-regex", "path": "/nope", "regex": "x"}},
	  {"id": "M-3", "description": "d", "severity": "Warning", "test": {"type": "config-key-equals", "path": "/nope", "key": "k", "value": "v"}},
	  {"id": "M-4", "description": "d", "severity": "Warning", "test": {"type": "file-mode-max", "path": "/nope", "mode": "0644"}},
	  {"id": "M-5", "description": "d", "severity": "Warning", "test": {"type": "sysctl-equals", "key": "no.such.param", "value": "1"}}]}`)
	checks, err := baseline.ParseCustomChecks(doc, nil)
	require.NoError(t, err)
	h := baseline.NewHost(context.Background(), baseline.NewHostFS("testdata/hostroot-compliant"), baseline.WalkLimits{})
	var got []string
	for _, c := range checks {
		got = append(got, c.Run(h).Status)
	}
	require.Equal(t, []string{"Fail", "Pass", "Err", "Err", "Err"}, got)
}
