package baseline_test

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/event"
)

// materialize copies the fixture tree testdata/<name> into a temporary
// directory and applies testdata/<name>.modes (git keeps neither modes
// nor owners), returning the copy's path. It needs root to give files
// the owners of the manifest.
func materialize(t testing.TB, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the fixture trees need root-owned files (owner and group checks)")
	}
	src := filepath.Join("testdata", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, r)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		case d.IsDir():
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			return os.Chmod(out, 0o755)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			return os.Chmod(out, 0o644)
		}
	})
	require.NoError(t, err)
	f, err := os.Open(src + ".modes")
	if os.IsNotExist(err) {
		return dst
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		fld := strings.Fields(l)
		require.Len(t, fld, 4, "modes line %q", l)
		mode, err := strconv.ParseUint(fld[1], 8, 32)
		require.NoError(t, err)
		uid, _ := strconv.Atoi(fld[2])
		gid, _ := strconv.Atoi(fld[3])
		p := filepath.Join(dst, fld[0])
		require.NoError(t, os.Chown(p, uid, gid))
		require.NoError(t, os.Chmod(p, fs.FileMode(mode)))
	}
	require.NoError(t, sc.Err())
	return dst
}

// expected results of every built-in check on the three fixture hosts:
// compliant, non-compliant, broken ("" = not asserted there).
var expected = map[string][3]string{
	"CCE-80901-2":    {"Pass", "Fail", "Err"},
	"EDGESEC-SSH-1":  {"Pass", "Fail", "Err"},
	"CCE-80896-4":    {"Pass", "Fail", "Err"},
	"CCE-80894-9":    {"Pass", "Fail", "Err"},
	"CCE-82354-2":    {"Pass", "Fail", "Err"},
	"CCE-83360-8":    {"Pass", "Fail", "Err"},
	"EDGESEC-SSH-2":  {"Pass", "Fail", "Err"},
	"EDGESEC-SSH-3":  {"Pass", "Fail", "Err"},
	"EDGESEC-SSH-4":  {"Pass", "Fail", "Err"},
	"EDGESEC-SSH-5":  {"Pass", "Fail", ""},
	"EDGESEC-SSH-6":  {"Pass", "Fail", "Err"},
	"CCE-80813-9":    {"Pass", "Fail", "Err"},
	"EDGESEC-FILE-1": {"Pass", "Fail", "Pass"}, // no gshadow: not applicable
	"EDGESEC-FILE-2": {"Pass", "Fail", "Err"},
	"EDGESEC-FILE-3": {"Pass", "Fail", "Err"},
	"EDGESEC-FILE-4": {"Pass", "Fail", ""},
	"EDGESEC-FILE-5": {"Pass", "Fail", "Err"},
	"CCE-85972-8":    {"Pass", "Fail", "Err"},
	"CCE-80649-7":    {"Pass", "Fail", "Err"},
	"EDGESEC-ACCT-1": {"Pass", "Fail", "Err"},
	"EDGESEC-ACCT-2": {"Pass", "Fail", "Err"},
	"EDGESEC-ACCT-3": {"Pass", "Fail", "Err"},
	"EDGESEC-ACCT-4": {"Pass", "Fail", "Err"},
	"CCE-80916-0":    {"Pass", "Fail", "Err"},
	"CCE-80912-9":    {"Pass", "Fail", "Err"},
	"EDGESEC-KERN-1": {"Pass", "Fail", "Err"},
	"CCE-80913-7":    {"Pass", "Fail", "Err"},
	"EDGESEC-KERN-2": {"Pass", "Fail", "Err"},
	"EDGESEC-KERN-3": {"Pass", "Fail", "Err"},
	"CCE-81024-2":    {"Pass", "Fail", "Err"},
	"CCE-80918-6":    {"Pass", "Fail", "Err"},
	"CCE-80917-8":    {"Pass", "Fail", "Err"},
	"EDGESEC-NET-1":  {"Pass", "Fail", "Err"},
	"CCE-80923-6":    {"Pass", "Fail", "Err"},
	"EDGESEC-NET-2":  {"Pass", "Fail", "Err"},
	"CCE-81031-7":    {"Pass", "Fail", "Err"},
	"EDGESEC-MOD-1":  {"Pass", "Fail", "Err"},
	"EDGESEC-MOD-2":  {"Pass", "Fail", "Err"},
	"EDGESEC-MOD-3":  {"Pass", "Fail", "Err"},
	"EDGESEC-MOD-4":  {"Pass", "Fail", "Err"},
	"EDGESEC-MOD-5":  {"Pass", "Fail", "Err"},
	"CCE-82139-7":    {"Pass", "Fail", "Err"},
	"EDGESEC-MNT-1":  {"Pass", "Fail", "Err"},
	"EDGESEC-MNT-2":  {"Pass", "Fail", "Err"},
	"EDGESEC-MNT-3":  {"Pass", "Fail", "Err"},
	"EDGESEC-LOG-1":  {"Pass", "Fail", "Err"},
	"EDGESEC-LOG-2":  {"Pass", "Fail", "Fail"},
	"EDGESEC-TIME-1": {"Pass", "Fail", "Fail"},
}

func TestBuiltinCatalogue(t *testing.T) {
	checks := baseline.Builtin()
	require.GreaterOrEqual(t, len(checks), 25)
	seen := map[string]bool{}
	for _, c := range checks {
		require.False(t, seen[c.ID], "duplicate id %s", c.ID)
		seen[c.ID] = true
		require.NotEmpty(t, c.Description, c.ID)
		require.Contains(t, []string{event.SeverityCritical, event.SeverityImportant, event.SeverityWarning, event.SeverityInformational}, c.Severity, c.ID)
		require.Regexp(t, `^(CCE-\d{4,5}-\d|EDGESEC-[A-Z]+-\d+)$`, c.ID)
		_, ok := expected[c.ID]
		require.True(t, ok, "no fixture expectation for %s", c.ID)
	}
	require.Len(t, expected, len(checks))
}

func runFixture(t *testing.T, root string, o baseline.Options) map[string]baseline.CheckResult {
	t.Helper()
	o.HostRoot = root
	results, cfgErr := baseline.New(o).Run(context.Background())
	require.Nil(t, cfgErr)
	out := map[string]baseline.CheckResult{}
	for _, r := range results {
		out[r.Check.ID] = r
	}
	return out
}

func TestFixtureHosts(t *testing.T) {
	for i, name := range []string{"hostroot-compliant", "hostroot-noncompliant", "hostroot-broken"} {
		t.Run(name, func(t *testing.T) {
			got := runFixture(t, materialize(t, name), baseline.Options{})
			for id, want := range expected {
				r, ok := got[id]
				require.True(t, ok, id)
				if want[i] == "" {
					continue
				}
				if r.Result.Status != want[i] {
					t.Errorf("%s: got %s, want %s (err %v, details %v)", id, r.Result.Status, want[i], r.Result.Err, r.Result.Details)
				}
				if r.Result.Status == event.BaselineErr {
					require.Error(t, r.Result.Err, id)
				}
				if r.Result.Status != event.BaselineErr {
					require.NotEmpty(t, r.Result.Details[baseline.KeyEvidence], "%s has no evidence", id)
				}
			}
		})
	}
}

// The evidence names what is wrong, precisely.
func TestNonCompliantEvidence(t *testing.T) {
	got := runFixture(t, materialize(t, "hostroot-noncompliant"), baseline.Options{})
	ev := func(id string) string { return got[id].Result.Details[baseline.KeyEvidence] }
	require.Equal(t, "PermitRootLogin is yes (/etc/ssh/sshd_config:3)", ev("CCE-80901-2"))
	require.Equal(t, "MaxAuthTries is 10 (/etc/ssh/sshd_config.d/50-vendor.conf:1)", ev("CCE-82354-2"))
	require.Equal(t, "yes", got["CCE-80896-4"].Result.Details[baseline.KeyActual])
	require.Contains(t, ev("EDGESEC-SSH-5"), "/etc/ssh/sshd_config.d/50-vendor.conf: mode 0666")
	require.Contains(t, ev("EDGESEC-SSH-6"), "/etc/ssh/ssh_host_rsa_key: mode 0644")
	require.Equal(t, "/etc/shadow: mode 0644 (allowed 0640)", ev("CCE-80813-9"))
	require.Equal(t, "/etc/gshadow: owner uid 1001", ev("EDGESEC-FILE-1"))
	require.Equal(t, "/etc/group: group guest", ev("EDGESEC-FILE-3"))
	require.Equal(t, "world-writable entries (3): /etc/shared (0777), /etc/ssh/sshd_config.d/50-vendor.conf (0666), /usr/bin/update-helper (0777)", ev("EDGESEC-FILE-4"))
	require.Equal(t, "accounts with an empty password (1): guest", ev("CCE-85972-8"))
	require.Equal(t, "accounts other than root with uid 0 (1): toor", ev("CCE-80649-7"))
	require.Equal(t, "accounts with a weak password hash (2): toor (md5), legacy (des)", ev("EDGESEC-ACCT-1"))
	require.Equal(t, "weak pam_unix hashing options (1): /etc/pam.d/common-password: pam_unix.so md5", ev("EDGESEC-ACCT-3"))
	require.Equal(t, "umask settings weaker than 027 (2): /etc/login.defs UMASK=022, /etc/profile.d/vendor.sh=002", ev("EDGESEC-ACCT-4"))
	require.Equal(t, "hard core limit is unlimited (/etc/security/limits.d/90-debug.conf)", ev("EDGESEC-KERN-1"))
	require.Equal(t, "fs.protected_hardlinks=0", ev("EDGESEC-KERN-3"))
	require.Equal(t, "net.ipv4.conf.default.send_redirects=1", ev("CCE-80918-6"))
	require.Equal(t, "net.ipv6.conf.all.accept_redirects=1", ev("CCE-80917-8"))
	require.Equal(t, "net.ipv6.conf.default.accept_source_route=1", ev("EDGESEC-NET-1"))
	require.Equal(t, "udf is loaded", ev("EDGESEC-MOD-5"))
	require.Contains(t, ev("CCE-81031-7"), "neither blacklisted nor disabled") // the first install line wins
	require.Equal(t, "/tmp is mounted without noexec", ev("CCE-82139-7"))      // the last mount on /tmp counts
	require.Equal(t, "/dev/shm is mounted without noexec", ev("EDGESEC-MNT-3"))
	require.Equal(t, "journald Storage=volatile: logs are lost at reboot", ev("EDGESEC-LOG-1"))
	require.Equal(t, "auditd is installed but not enabled", ev("EDGESEC-LOG-2")) // masked
	require.Equal(t, "chrony is enabled but names no time source", ev("EDGESEC-TIME-1"))
}

func TestCompliantEvidence(t *testing.T) {
	root := materialize(t, "hostroot-compliant")
	got := runFixture(t, root, baseline.Options{})
	ev := func(id string) string { return got[id].Result.Details[baseline.KeyEvidence] }
	// The drop-in is included before the main file's MaxAuthTries would be: first value wins.
	require.Equal(t, "MaxAuthTries is 3 (/etc/ssh/sshd_config.d/10-edge.conf:2)", ev("CCE-82354-2"))
	require.Equal(t, "X11Forwarding is no (/etc/ssh/sshd_config.d/10-edge.conf:3)", ev("CCE-83360-8"))
	require.Contains(t, ev("EDGESEC-MOD-1"), "install /bin/false")
	require.Contains(t, ev("EDGESEC-MOD-3"), "blacklist")
	require.Contains(t, ev("EDGESEC-LOG-2"), "/etc/systemd/system/multi-user.target.wants/auditd.service")
	require.Contains(t, ev("EDGESEC-TIME-1"), "/etc/chrony/chrony.conf names a time source")
	// merged /usr: /bin and /usr/bin are walked once.
	n := countEntries(t, root, "etc", "usr/bin", "usr/sbin")
	require.Equal(t, fmt.Sprintf("no world-writable entries among %d", n), ev("EDGESEC-FILE-4"))
}

func TestWorldWritableLimits(t *testing.T) {
	root := materialize(t, "hostroot-compliant")
	got := runFixture(t, root, baseline.Options{Walk: baseline.WalkLimits{MaxFiles: 3}})
	r := got["EDGESEC-FILE-4"].Result
	require.Equal(t, event.BaselineErr, r.Status)
	require.ErrorContains(t, r.Err, "search stopped after 3 entries")

	// A finding is still reported when the walk is cut short.
	root = materialize(t, "hostroot-noncompliant")
	// /etc is walked first and holds two findings; stop before /usr/bin.
	got = runFixture(t, root, baseline.Options{Walk: baseline.WalkLimits{MaxFiles: countEntries(t, root, "etc")}})
	r = got["EDGESEC-FILE-4"].Result
	require.Equal(t, event.BaselineFail, r.Status, "%v", r.Details)
	require.Contains(t, r.Details["Incomplete"], "search stopped")
	require.Contains(t, r.Details[baseline.KeyEvidence], "world-writable entries (2)")
}

// countEntries counts the directory entries under root/dirs, the
// directories themselves included, as the walk does.
func countEntries(t *testing.T, root string, dirs ...string) int {
	n := 0
	for _, d := range dirs {
		require.NoError(t, filepath.WalkDir(filepath.Join(root, d), func(string, fs.DirEntry, error) error { n++; return nil }))
	}
	return n
}

// Only failures and errors are sent; a host with none sends one empty
// OSBaseline event.
func TestPollSendsOnlyFailures(t *testing.T) {
	root := materialize(t, "hostroot-compliant")
	evs, err := baseline.New(baseline.Options{HostRoot: root}).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, event.OSBaseline, evs[0].Name)
	require.True(t, evs[0].IsEmpty())
	require.Empty(t, evs[0].Payload)

	root = materialize(t, "hostroot-noncompliant")
	evs, err = baseline.New(baseline.Options{HostRoot: root}).Poll(context.Background())
	require.NoError(t, err)
	n := 0
	for _, ev := range evs {
		require.Equal(t, event.OSBaseline, ev.Name)
		require.LessOrEqual(t, ev.Size(), baseline.DefaultMaxEventBytes)
		for _, it := range ev.Payload {
			p := it.(*event.OSBaselinePayload)
			require.Equal(t, event.BaselineFail, p.Result, p.CceID)
			require.Equal(t, baseline.SourceBuiltIn, p.ExtraDetails[baseline.KeySource])
			n++
		}
	}
	require.Equal(t, len(expected), n)
	require.Greater(t, len(evs), 1, "a large snapshot is split into events that fit a message")
}
