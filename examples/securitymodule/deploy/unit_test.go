package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// unit is a parsed systemd unit: section -> key -> values (in order).
type unit map[string]map[string][]string

// parseUnit parses the subset of the systemd unit syntax the file uses:
// [Section] headers, Key=Value lines, # and ; comments, blank lines.
func parseUnit(text string) (unit, error) {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, &parseError{n, line}
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

type parseError struct {
	line int
	text string
}

func (e *parseError) Error() string {
	return "line " + strconv.Itoa(e.line) + ": not a key=value: " + e.text
}

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// docCapabilities returns the capabilities docs/privileges.md grants the
// module (the CAP_ names in the first column of its table).
func docCapabilities(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../../docs/privileges.md")
	if err != nil {
		t.Fatal(err)
	}
	var caps []string
	re := regexp.MustCompile("`(CAP_[A-Z_]+)`")
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "| `CAP_") {
			continue
		}
		first := strings.Split(l, "|")[1]
		for _, m := range re.FindAllStringSubmatch(first, -1) {
			caps = append(caps, m[1])
		}
	}
	slices.Sort(caps)
	return caps
}

func readUnit(t *testing.T) unit {
	t.Helper()
	b, err := os.ReadFile("edgesec.service")
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUnitHardening: the unit runs the module with the capabilities
// docs/privileges.md lists and nothing more, and with the host read-only
// but for the module's state directory.
func TestUnitHardening(t *testing.T) {
	u := readUnit(t)
	caps := strings.Fields(u.get("Service", "CapabilityBoundingSet"))
	slices.Sort(caps)
	want := docCapabilities(t)
	if len(want) == 0 {
		t.Fatal("no capability found in docs/privileges.md")
	}
	if !slices.Equal(caps, want) {
		t.Errorf("CapabilityBoundingSet = %v, docs/privileges.md lists %v", caps, want)
	}
	for k, v := range map[string]string{
		"ProtectSystem":           "strict",
		"NoNewPrivileges":         "yes",
		"StateDirectory":          "edgesec",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelTunables":   "yes",
		"RestrictSUIDSGID":        "yes",
		"SystemCallArchitectures": "native",
		"AmbientCapabilities":     "",
	} {
		if got := u.get("Service", k); got != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if u.get("Service", "ProtectHome") == "" || u.get("Service", "ProtectHome") == "no" {
		t.Error("[Service] ProtectHome not set")
	}
	if !strings.Contains(u.get("Service", "Environment"), "EDGESEC_STATE_DIR=/var/lib/edgesec") {
		t.Error("the state directory the module uses is not the unit's StateDirectory")
	}
	if u.get("Service", "ExecStart") != "/usr/local/bin/securitymodule" {
		t.Errorf("ExecStart = %q: docs/install-host.md installs /usr/local/bin/securitymodule", u.get("Service", "ExecStart"))
	}
	for _, fam := range []string{"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"} {
		if !slices.Contains(strings.Fields(u.get("Service", "RestrictAddressFamilies")), fam) {
			t.Errorf("RestrictAddressFamilies lacks %s, which the collectors or the transports use", fam)
		}
	}
	if u.get("Install", "WantedBy") != "multi-user.target" {
		t.Error("[Install] WantedBy is not multi-user.target")
	}
}

// TestUnitVerify runs systemd-analyze verify and the offline security
// analysis on the unit (with ExecStart pointed at an existing executable:
// verify checks that it exists).
func TestUnitVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; TestUnitHardening parsed the unit")
	}
	b, err := os.ReadFile("edgesec.service")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "edgesec.service")
	text := strings.Replace(string(b), "ExecStart=/usr/local/bin/securitymodule", "ExecStart="+exe, 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "edgesec.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Skipf("systemd-analyze security --offline unavailable: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for edgesec.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd exposure level %.1f", level)
	// 0 is fully sandboxed, 10 unprotected; a root service that must read
	// every process and socket of the host cannot go much below 3.
	if level > 3.5 {
		t.Errorf("exposure level %.1f > 3.5:\n%s", level, out)
	}
}

func TestParseUnit(t *testing.T) {
	u, err := parseUnit("# c\n[A]\nK=1\nK = 2\n; c\n[B]\nX=a=b\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := u["A"]["K"]; !slices.Equal(got, []string{"1", "2"}) || u.get("B", "X") != "a=b" {
		t.Fatalf("parsed %v", u)
	}
	if _, err := parseUnit("K=1\n"); err == nil {
		t.Fatal("a key outside a section was accepted")
	}
	if _, err := parseUnit("[A]\nnot a key\n"); err == nil {
		t.Fatal("a line without = was accepted")
	}
}
