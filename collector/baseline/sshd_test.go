package baseline_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/event"
)

// sshdFS loads testdata/sshd/<name>/ as a host tree: every file under it is
// placed at the same path (etc/ssh/...).
func sshdFS(t *testing.T, name string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	dir := filepath.Join("testdata", "sshd", name)
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(r)] = &fstest.MapFile{Data: b, Mode: 0o600}
		return nil
	}))
	return m
}

func TestParseSSHDLines(t *testing.T) {
	lines, err := baseline.ParseSSHDLines([]byte("# comment\n\n  PermitRootLogin=no\nMaxAuthTries = 3 # trailing\n" +
		"ForceCommand \"/bin/echo hello world\" 'x y'\r\nAllowUsers a b\tc\nBanner \"unterminated\n=novalue\n"))
	require.ErrorContains(t, err, "line 7: unterminated quoted argument")
	require.ErrorContains(t, err, "line 8: missing keyword")
	require.Equal(t, []baseline.SSHDLine{
		{Line: 3, Keyword: "PermitRootLogin", Args: []string{"no"}},
		{Line: 4, Keyword: "MaxAuthTries", Args: []string{"3"}},
		{Line: 5, Keyword: "ForceCommand", Args: []string{"/bin/echo hello world", "x y"}},
		{Line: 6, Keyword: "AllowUsers", Args: []string{"a", "b", "c"}},
	}, lines)
}

func TestReadSSHDConfigIncludeAndMatch(t *testing.T) {
	cfg, err := baseline.ReadSSHDConfig(sshdFS(t, "layered"), baseline.SSHDConfigPath)
	require.NoError(t, err)
	require.Equal(t, []string{
		"/etc/ssh/sshd_config",
		"/etc/ssh/sshd_config.d/10-first.conf",
		"/etc/ssh/sshd_config.d/20-match.conf",
		"/etc/ssh/extra/global.conf",
		"/etc/ssh/match-include.conf",
	}, cfg.Files)

	get := func(k string) string { v, _ := cfg.Get(k); return v.Value }
	// 10-first.conf is read before the main file's own line: first value wins.
	require.Equal(t, "no", get("PermitRootLogin"))
	v, _ := cfg.Get("permitrootlogin")
	require.Equal(t, "/etc/ssh/sshd_config.d/10-first.conf:1", v.Where())
	// The Match in 20-match.conf ends with that file: this is global.
	require.Equal(t, "yes", get("X11Forwarding"))
	// Relative Include, resolved against /etc/ssh.
	require.Equal(t, "3", get("MaxAuthTries"))
	// Set only inside Match blocks, never globally.
	_, ok := cfg.Get("ForceCommand")
	require.False(t, ok)

	require.Len(t, cfg.Matches, 2)
	require.Equal(t, "User deploy", cfg.Matches[0].Criteria)
	require.Equal(t, "yes", cfg.Matches[0].Values["passwordauthentication"].Value)
	require.Equal(t, "Address 192.168.0.0/16", cfg.Matches[1].Criteria)
	require.Equal(t, "/etc/ssh/sshd_config", cfg.Matches[1].File)
	// An Include inside a Match block belongs to the block.
	require.Equal(t, "yes", cfg.Matches[1].Values["permitrootlogin"].Value)
	require.Equal(t, "/etc/ssh/match-include.conf", cfg.Matches[1].Values["permitrootlogin"].File)
	require.Equal(t, "internal-sftp -l INFO", cfg.Matches[1].Values["forcecommand"].Value)
}

func TestReadSSHDConfigErrors(t *testing.T) {
	_, err := baseline.ReadSSHDConfig(sshdFS(t, "loop"), baseline.SSHDConfigPath)
	require.ErrorContains(t, err, "nested more than 16 deep")

	cfg, err := baseline.ReadSSHDConfig(sshdFS(t, "bad"), baseline.SSHDConfigPath)
	require.ErrorContains(t, err, "Match without criteria")
	require.ErrorContains(t, err, "unterminated quoted argument")
	require.Equal(t, "no", cfg.Global["permitrootlogin"].Value, "what could be read is kept")

	_, err = baseline.ReadSSHDConfig(fstest.MapFS{}, baseline.SSHDConfigPath)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// A Match block that weakens a setting fails the check even when the
// global value is compliant.
func TestSSHDMatchOverrideFails(t *testing.T) {
	fsys := sshdFS(t, "layered")
	results, _ := baseline.New(baseline.Options{FS: fsys}).Run(context.Background())
	byID := map[string]baseline.CheckResult{}
	for _, r := range results {
		byID[r.Check.ID] = r
	}
	r := byID["CCE-80901-2"].Result
	require.Equal(t, event.BaselineFail, r.Status)
	require.Equal(t, "PermitRootLogin is no globally but a Match block overrides it: Match Address 192.168.0.0/16 (/etc/ssh/sshd_config:9): PermitRootLogin yes", r.Details[baseline.KeyEvidence])
	r = byID["EDGESEC-SSH-1"].Result
	require.Equal(t, event.BaselineFail, r.Status)
	require.Contains(t, r.Details[baseline.KeyEvidence], "Match User deploy (/etc/ssh/sshd_config.d/20-match.conf:1)")
	// Defaults apply where nothing is set.
	r = byID["CCE-80896-4"].Result
	require.Equal(t, event.BaselinePass, r.Status)
	require.Equal(t, "default", r.Details[baseline.KeyLocation])
}

func FuzzParseSSHDLines(f *testing.F) {
	for _, s := range []string{"PermitRootLogin no\n", "Match User a\n\tX11Forwarding yes\n", "A \"b c\" 'd' #e\n", "=\n", "K \"\\\"x\n", "Include a b\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, _ := baseline.ParseSSHDLines(data)
		for _, l := range lines {
			if l.Keyword == "" || l.Line < 1 {
				t.Fatalf("bad line %+v", l)
			}
		}
	})
}

// The reader over a tree whose files are the fuzz input (including
// includes of themselves) never crashes and stays bounded.
func FuzzReadSSHDConfig(f *testing.F) {
	f.Add([]byte("Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"), []byte("Match all\nInclude ../sshd_config\n"))
	f.Add([]byte("Include sshd_config\n"), []byte(""))
	f.Add([]byte("Match User x\nInclude sshd_config.d/[\n"), []byte("X11Forwarding yes"))
	f.Fuzz(func(t *testing.T, main, dropin []byte) {
		fsys := fstest.MapFS{
			"etc/ssh/sshd_config":          &fstest.MapFile{Data: main},
			"etc/ssh/sshd_config.d/a.conf": &fstest.MapFile{Data: dropin},
			"etc/ssh/sshd_config.d/b.conf": &fstest.MapFile{Data: main},
		}
		cfg, _ := baseline.ReadSSHDConfig(fsys, baseline.SSHDConfigPath)
		if cfg != nil && len(cfg.Files) > 256+1 {
			t.Fatalf("%d files read", len(cfg.Files))
		}
	})
}
