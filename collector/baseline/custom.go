package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

// Bounds of a custom checks file.
const (
	MaxCustomFileBytes = 1 << 20
	MaxCustomChecks    = 512
	maxCustomRegex     = 4096
	maxCustomText      = 1024
)

// Test types of a custom check.
const (
	TestFileExists           = "file-exists"
	TestFileAbsent           = "file-absent"
	TestFileModeMax          = "file-mode-max"
	TestFileContainsRegex    = "file-contains-regex"
	TestFileNotContainsRegex = "file-not-contains-regex"
	TestSysctlEquals         = "sysctl-equals"
	TestConfigKeyEquals      = "config-key-equals"
)

// CustomChecks are the custom-check settings of the module twin
// (baselineCustomChecksEnabled, baselineCustomChecksFilePath,
// baselineCustomChecksFileHash).
type CustomChecks struct {
	Enabled  bool
	FilePath string // as seen by the module (not under the host root)
	FileHash string // SHA-256, hexadecimal, as printed by sha256sum
}

// CustomChecksFrom returns a function reading the custom-check settings
// from a live configuration, for [Options].CustomChecks; config is
// typically (*edgesec.Engine).Config or (*twinconfig.Manager).Current.
func CustomChecksFrom(config func() twinconfig.Config) func() CustomChecks {
	return func() CustomChecks {
		c := config()
		return CustomChecks{Enabled: c.BaselineCustomChecksEnabled, FilePath: c.BaselineCustomChecksFilePath, FileHash: c.BaselineCustomChecksFileHash}
	}
}

// CustomFile is the JSON document of a custom checks file:
//
//	{
//	  "checks": [
//	    {"id": "ACME-1", "description": "The agent key is private", "severity": "Critical",
//	     "test": {"type": "file-mode-max", "path": "/etc/acme/agent.key", "mode": "0600", "owner": "root"}}
//	  ]
//	}
//
// See the package documentation for the test types.
type CustomFile struct {
	Checks []CustomCheck `json:"checks"`
}

// CustomCheck is one check of a custom checks file.
type CustomCheck struct {
	ID          string     `json:"id"`
	Description string     `json:"description"`
	Severity    string     `json:"severity"`
	Test        CustomTest `json:"test"`
}

// CustomTest is the declarative test of a custom check. Which fields are
// used depends on Type; fields a type does not use must be empty.
type CustomTest struct {
	Type string `json:"type"`
	// Path is an absolute host path (read under the host root).
	Path string `json:"path,omitempty"`
	// Mode is the most permissive mode allowed, octal ("0640").
	Mode string `json:"mode,omitempty"`
	// Owner and Group, when set, are the required owner and group (a name
	// from the host's /etc/passwd or /etc/group, or a number).
	Owner string `json:"owner,omitempty"`
	Group string `json:"group,omitempty"`
	// Regex is an RE2 regular expression matched against each line.
	Regex string `json:"regex,omitempty"`
	// Key is a sysctl name (net.ipv4.ip_forward) or a configuration key.
	Key string `json:"key,omitempty"`
	// Value is the required value.
	Value string `json:"value,omitempty"`
	// Separator splits key and value in config-key-equals: "=", ":" or
	// "" (white space or "=", the default).
	Separator string `json:"separator,omitempty"`
	// CaseInsensitive makes config-key-equals compare keys and values
	// without regard to case.
	CaseInsensitive bool `json:"caseInsensitive,omitempty"`
	// Occurrence chooses which assignment of the key counts in
	// config-key-equals: "last" (the default; most programs) or "first"
	// (sshd).
	Occurrence string `json:"occurrence,omitempty"`
	// Default is the value a config-key-equals test assumes when the file
	// or key is absent; without it, an absent key fails the check.
	Default *string `json:"default,omitempty"`
}

// isCustomID reports whether s can be a custom check's id: a letter or a
// digit, then up to 63 letters, digits, '.', '_', ':' or '-'.
//
// The name checks are loops rather than regular expressions: a bounded
// repetition such as {0,255} compiles into one instruction per repeat,
// which every process importing the package would keep on its heap
// (about 120 KB and 1,300 objects for these two).
func isCustomID(s string) bool {
	return isName(s, 64, func(c byte) bool { return isAlnum(c) }, func(c byte) bool {
		return isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '-'
	})
}

// isSysctlKey reports whether s has the shape of a sysctl name: a letter,
// a digit or '_', then up to 255 letters, digits, '_', '.', '-' or '/'.
func isSysctlKey(s string) bool {
	return isName(s, 256, func(c byte) bool { return isAlnum(c) || c == '_' }, func(c byte) bool {
		return isAlnum(c) || c == '_' || c == '.' || c == '-' || c == '/'
	})
}

// isName reports whether s is 1 to max bytes long, its first byte
// satisfies first and every other byte rest.
func isName(s string, max int, first, rest func(byte) bool) bool {
	if s == "" || len(s) > max || !first(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !rest(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ParseCustomChecks decodes and validates a custom checks file and returns
// its checks, ready to run. Decoding is strict (unknown fields, trailing
// data and wrong types are errors) and total: the error lists every
// problem found, and no check is returned when there is any. reserved are
// ids the custom checks may not use (the built-in ones).
func ParseCustomChecks(data []byte, reserved map[string]bool) ([]Check, error) {
	if len(data) > MaxCustomFileBytes {
		return nil, fmt.Errorf("custom checks file is larger than %d bytes", MaxCustomFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f CustomFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("custom checks file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("custom checks file: data after the JSON document")
	}
	if f.Checks == nil {
		return nil, errors.New("custom checks file: no \"checks\" array")
	}
	if len(f.Checks) > MaxCustomChecks {
		return nil, fmt.Errorf("custom checks file: %d checks, at most %d allowed", len(f.Checks), MaxCustomChecks)
	}
	var errs []error
	seen := map[string]bool{}
	out := make([]Check, 0, len(f.Checks))
	for i, c := range f.Checks {
		where := fmt.Sprintf("checks[%d]", i)
		if c.ID != "" {
			where += " (" + c.ID + ")"
		}
		var probs []string
		switch {
		case !isCustomID(c.ID):
			probs = append(probs, "id must be 1-64 letters, digits, '.', '_', ':' or '-'")
		case seen[c.ID]:
			probs = append(probs, "duplicate id")
		case reserved[c.ID]:
			probs = append(probs, "id is used by a built-in check")
		}
		seen[c.ID] = true
		if strings.TrimSpace(c.Description) == "" || len(c.Description) > maxCustomText {
			probs = append(probs, fmt.Sprintf("description must be 1-%d characters", maxCustomText))
		}
		switch c.Severity {
		case event.SeverityCritical, event.SeverityImportant, event.SeverityWarning, event.SeverityInformational:
		default:
			probs = append(probs, fmt.Sprintf("severity %q is not Critical, Important, Warning or Informational", c.Severity))
		}
		run, tprobs := compileTest(c.Test)
		probs = append(probs, tprobs...)
		if len(probs) > 0 {
			errs = append(errs, fmt.Errorf("%s: %s", where, strings.Join(probs, "; ")))
			continue
		}
		out = append(out, Check{ID: c.ID, Description: c.Description, Severity: c.Severity, Run: run})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("custom checks file: %w", err)
	}
	return out, nil
}

// compileTest validates t and returns its evaluation function.
func compileTest(t CustomTest) (func(h *Host) Result, []string) {
	var probs []string
	need := func(name, v string) {
		if v == "" {
			probs = append(probs, fmt.Sprintf("test %s needs %s", t.Type, name))
		}
	}
	// unused lists the fields the type does not take that are set.
	unused := func(allowed ...string) {
		set := map[string]bool{"path": t.Path != "", "mode": t.Mode != "", "owner": t.Owner != "", "group": t.Group != "",
			"regex": t.Regex != "", "key": t.Key != "", "value": t.Value != "", "separator": t.Separator != "",
			"caseInsensitive": t.CaseInsensitive, "occurrence": t.Occurrence != "", "default": t.Default != nil}
		for _, a := range allowed {
			delete(set, a)
		}
		for _, k := range sortedKeys(set) {
			if set[k] {
				probs = append(probs, fmt.Sprintf("test %s does not take %s", t.Type, k))
			}
		}
	}
	if t.Path != "" && (!strings.HasPrefix(t.Path, "/") || len(t.Path) > maxCustomText || strings.ContainsRune(t.Path, 0)) {
		probs = append(probs, "path must be absolute")
	}
	switch t.Type {
	case TestFileExists, TestFileAbsent:
		need("path", t.Path)
		unused("path")
		if len(probs) > 0 {
			return nil, probs
		}
		want := t.Type == TestFileExists
		return func(h *Host) Result {
			_, err := h.Lstat(t.Path)
			exists := err == nil
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return Error(err)
			}
			state := map[bool]string{true: "exists", false: "does not exist"}[exists]
			if exists == want {
				return Pass(t.Path+" "+state, KeyLocation, t.Path)
			}
			return Fail(t.Path+" "+state, KeyLocation, t.Path)
		}, nil

	case TestFileModeMax:
		need("path", t.Path)
		need("mode", t.Mode)
		unused("path", "mode", "owner", "group")
		mode, err := strconv.ParseUint(t.Mode, 8, 32)
		if t.Mode != "" && (err != nil || mode > 0o7777) {
			probs = append(probs, fmt.Sprintf("mode %q is not an octal mode", t.Mode))
		}
		if len(probs) > 0 {
			return nil, probs
		}
		return func(h *Host) Result { return runModeMax(h, t, fs.FileMode(mode)) }, nil

	case TestFileContainsRegex, TestFileNotContainsRegex:
		need("path", t.Path)
		need("regex", t.Regex)
		unused("path", "regex")
		if len(t.Regex) > maxCustomRegex {
			probs = append(probs, fmt.Sprintf("regex longer than %d characters", maxCustomRegex))
		}
		re, err := regexp.Compile(t.Regex)
		if t.Regex != "" && err != nil {
			probs = append(probs, "regex: "+err.Error())
		}
		if len(probs) > 0 {
			return nil, probs
		}
		want := t.Type == TestFileContainsRegex
		return func(h *Host) Result {
			b, err := h.ReadFile(t.Path)
			if errors.Is(err, fs.ErrNotExist) {
				if want {
					return Fail(t.Path+" does not exist", KeyLocation, t.Path)
				}
				return Pass(t.Path+" does not exist", KeyLocation, t.Path)
			}
			if err != nil {
				return Error(err, KeyLocation, t.Path)
			}
			for i, l := range lines(b) {
				if re.MatchString(l) {
					where := fmt.Sprintf("%s:%d", t.Path, i+1)
					if want {
						return Pass("matched at "+where, KeyLocation, where)
					}
					return Fail("matched at "+where, KeyLocation, where)
				}
			}
			if want {
				return Fail("no line of "+t.Path+" matches", KeyLocation, t.Path)
			}
			return Pass("no line of "+t.Path+" matches", KeyLocation, t.Path)
		}, nil

	case TestSysctlEquals:
		need("key", t.Key)
		unused("key", "value")
		if t.Key != "" && (!isSysctlKey(t.Key) || strings.Contains(t.Key, "..")) {
			probs = append(probs, fmt.Sprintf("key %q is not a sysctl name", t.Key))
		}
		if len(probs) > 0 {
			return nil, probs
		}
		want := strings.Join(strings.Fields(t.Value), " ")
		return sysctlAll(nil, want, eq(want), t.Key), nil

	case TestConfigKeyEquals:
		need("path", t.Path)
		need("key", t.Key)
		unused("path", "key", "value", "separator", "caseInsensitive", "occurrence", "default")
		switch t.Separator {
		case "", "=", ":":
		default:
			probs = append(probs, fmt.Sprintf("separator %q is not \"=\", \":\" or empty", t.Separator))
		}
		switch t.Occurrence {
		case "", "first", "last":
		default:
			probs = append(probs, fmt.Sprintf("occurrence %q is not \"first\" or \"last\"", t.Occurrence))
		}
		if len(t.Key) > maxCustomText || len(t.Value) > maxCustomText {
			probs = append(probs, "key and value are limited to 1024 characters")
		}
		if len(probs) > 0 {
			return nil, probs
		}
		return func(h *Host) Result { return runConfigKey(h, t) }, nil

	case "":
		return nil, []string{"test needs a type"}
	}
	return nil, []string{fmt.Sprintf("test type %q is not one of %s", t.Type, strings.Join([]string{TestFileExists, TestFileAbsent,
		TestFileModeMax, TestFileContainsRegex, TestFileNotContainsRegex, TestSysctlEquals, TestConfigKeyEquals}, ", "))}
}

func runModeMax(h *Host, t CustomTest, max fs.FileMode) Result {
	fi, err := h.Stat(t.Path)
	if err != nil {
		return Error(err, KeyLocation, t.Path)
	}
	var probs []string
	perm := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	if perm&^uint32(max) != 0 {
		probs = append(probs, fmt.Sprintf("mode %04o (allowed %04o)", perm, uint32(max)))
	}
	uid, gid, ok := owner(fi)
	if (t.Owner != "" || t.Group != "") && !ok {
		return Error(errors.New("file owner is not available"), KeyLocation, t.Path)
	}
	if t.Owner != "" {
		want, err := h.lookupID(t.Owner, true)
		if err != nil {
			return Error(err, KeyLocation, t.Path)
		}
		if uid != want {
			probs = append(probs, fmt.Sprintf("owner uid %d (want %s)", uid, t.Owner))
		}
	}
	if t.Group != "" {
		want, err := h.lookupID(t.Group, false)
		if err != nil {
			return Error(err, KeyLocation, t.Path)
		}
		if gid != want {
			probs = append(probs, fmt.Sprintf("group %s (want %s)", h.groupName(gid), t.Group))
		}
	}
	actual := fmt.Sprintf("%04o", perm)
	if ok {
		actual += fmt.Sprintf(" uid=%d gid=%d", uid, gid)
	}
	kv := []string{KeyLocation, t.Path, KeyActual, actual, KeyExpected, fmt.Sprintf("%04o or stricter", uint32(max))}
	if len(probs) > 0 {
		return Fail(t.Path+": "+strings.Join(probs, ", "), kv...)
	}
	return Pass(t.Path+" has mode "+actual, kv...)
}

// lookupID resolves a user (user true) or group name or number on the host.
func (h *Host) lookupID(name string, user bool) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	if user {
		accts, err := h.Passwd()
		if err != nil {
			return 0, err
		}
		for _, a := range accts {
			if a.Name == name {
				return a.UID, nil
			}
		}
		return 0, fmt.Errorf("no user %q in /etc/passwd", name)
	}
	gs, err := h.Groups()
	if err != nil {
		return 0, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g.GID, nil
		}
	}
	return 0, fmt.Errorf("no group %q in /etc/group", name)
}

// ConfigValue finds key in a configuration file (comments start with
// "#" or ";" at the beginning of a line) and returns its value: the
// first or last assignment (first true or false). sep is "=", ":" or ""
// (white space or "=").
func ConfigValue(data []byte, key, sep string, fold, first bool) (value string, line int, found bool) {
	for i, l := range lines(data) {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		var k, v string
		if sep == "" {
			k, v = splitKeyword(l)
		} else {
			var ok bool
			if k, v, ok = strings.Cut(l, sep); !ok {
				continue
			}
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
		if k == key || (fold && strings.EqualFold(k, key)) {
			value, line, found = v, i+1, true
			if first {
				return
			}
		}
	}
	return
}

func runConfigKey(h *Host, t CustomTest) Result {
	b, err := h.ReadFile(t.Path)
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && t.Default != nil) {
		return Error(err, KeyLocation, t.Path)
	}
	v, line, found := ConfigValue(b, t.Key, t.Separator, t.CaseInsensitive, t.Occurrence == "first")
	where := fmt.Sprintf("%s:%d", t.Path, line)
	if !found {
		if t.Default == nil {
			return Fail(t.Key+" is not set in "+t.Path, KeyLocation, t.Path, KeyExpected, t.Value)
		}
		v, where = *t.Default, "default"
	}
	kv := []string{KeyActual, v, KeyLocation, where, KeyExpected, t.Value}
	if v == t.Value || (t.CaseInsensitive && strings.EqualFold(v, t.Value)) {
		return Pass(t.Key+" is "+v+" ("+where+")", kv...)
	}
	return Fail(t.Key+" is "+v+" ("+where+")", kv...)
}

// customProblem is a custom checks configuration problem, reported as a
// ConfigurationError event.
type customProblem struct {
	key, kind, msg string
}

// loadCustom reads, verifies and parses the custom checks file of s.
func loadCustom(s CustomChecks, reserved map[string]bool) ([]Check, *customProblem) {
	f, err := os.Open(s.FilePath)
	if err != nil {
		return nil, &customProblem{"baselineCustomChecksFilePath", event.Conflict, fmt.Sprintf("cannot read the custom checks file: %v", err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCustomFileBytes+1))
	if err != nil {
		return nil, &customProblem{"baselineCustomChecksFilePath", event.Conflict, fmt.Sprintf("cannot read the custom checks file: %v", err)}
	}
	if len(data) > MaxCustomFileBytes {
		return nil, &customProblem{"baselineCustomChecksFilePath", event.TypeMismatch, fmt.Sprintf("the custom checks file is larger than %d bytes", MaxCustomFileBytes)}
	}
	want := strings.ToLower(strings.TrimSpace(s.FileHash))
	if want == "" {
		return nil, &customProblem{"baselineCustomChecksFileHash", event.Conflict, "baselineCustomChecksFileHash is empty: the custom checks file is not used without its SHA-256"}
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, &customProblem{"baselineCustomChecksFileHash", event.Conflict,
			fmt.Sprintf("the SHA-256 of %s is %s, not the configured %s", s.FilePath, got, want)}
	}
	checks, err := ParseCustomChecks(data, reserved)
	if err != nil {
		return nil, &customProblem{"baselineCustomChecksFilePath", event.TypeMismatch, err.Error()}
	}
	return checks, nil
}
