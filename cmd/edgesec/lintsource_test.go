package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLintBlamesTheSource: an unknown rule id is blamed on the flag or the
// file it comes from.
func TestLintBlamesTheSource(t *testing.T) {
	clean := filepath.Join(rulesDir, "clean.json")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "lint.json")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`{"disabledRules":["EDGE998"]}`), 0o600))
	supFile := filepath.Join(dir, "sup.json")
	require.NoError(t, os.WriteFile(supFile, []byte(`[{"rule":"EDGE997","by":"me","reason":"test"}]`), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--disable", "EDGE001,EDGE999"}, `--disable: unknown rule "EDGE999"`},
		{[]string{"--severity", "EDGE999=low"}, `--severity "EDGE999=low": unknown rule "EDGE999"`},
		{[]string{"--config", cfgFile}, cfgFile + `: manifest: config: disabledRules: unknown rule "EDGE998"`},
		{[]string{"--suppressions", supFile}, supFile + `: manifest: config: suppressions[0]: unknown rule "EDGE997"`},
	} {
		var stdout, stderr bytes.Buffer
		code := lint(append(tc.args, clean), strings.NewReader(""), &stdout, &stderr)
		require.Equal(t, exitUsage, code, "%v: %s", tc.args, stderr.String())
		require.Contains(t, stderr.String(), tc.want, tc.args)
		if tc.args[0] == "--disable" || tc.args[0] == "--severity" {
			require.NotContains(t, stderr.String(), "disabledRules", "a flag is not a config-file key")
		}
	}
}
