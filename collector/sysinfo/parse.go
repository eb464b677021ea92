package sysinfo

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/edgesec/edgesec/internal/lines"
)

// Limits that keep the parsers' memory bounded whatever the input.
const (
	// MaxLineBytes is the longest line (newline included) the parsers
	// accept; longer lines are skipped and reported.
	MaxLineBytes = 64 << 10
	// MaxKeys is the most keys ParseOSRelease and ParseMeminfo return.
	MaxKeys = 1024
)

// skipped counts what a parser could not use, for its error.
type skipped struct {
	file      string
	malformed int
	firstLine int
	firstWhy  string
	excess    int
}

func (s *skipped) bad(line int, why string) {
	if s.malformed == 0 {
		s.firstLine, s.firstWhy = line, why
	}
	s.malformed++
}

func (s *skipped) err(l *lines.Reader) error {
	var parts []string
	if s.malformed > 0 {
		parts = append(parts, fmt.Sprintf("%d malformed line(s) skipped (first: line %d: %s)", s.malformed, s.firstLine, s.firstWhy))
	}
	if l.TooLong() > 0 {
		parts = append(parts, fmt.Sprintf("%d line(s) longer than %d bytes skipped", l.TooLong(), MaxLineBytes))
	}
	if s.excess > 0 {
		parts = append(parts, fmt.Sprintf("%d key(s) beyond the limit of %d dropped", s.excess, MaxKeys))
	}
	var perr error
	if len(parts) > 0 {
		perr = fmt.Errorf("%s: %s", s.file, strings.Join(parts, "; "))
	}
	if l.Err() != nil {
		rerr := fmt.Errorf("%s: read: %w", s.file, l.Err())
		if perr == nil {
			return rerr
		}
		return fmt.Errorf("%w; %w", perr, rerr)
	}
	return perr
}

// ParseOSRelease parses an os-release(5) file: KEY=value lines, where
// value may be unquoted, "double-quoted" (with the shell's \" \\ \$ \`
// escapes) or 'single-quoted', or a concatenation of those, as in a shell
// assignment. Comments and blank lines are skipped. Lines that are not
// assignments, have an invalid key or an unterminated quote are skipped
// and reported in the error, along with lines longer than MaxLineBytes;
// the keys that did parse are returned in any case (the last assignment
// of a key wins). At most MaxKeys keys are kept.
func ParseOSRelease(r io.Reader) (map[string]string, error) {
	l := lines.NewReader(r, MaxLineBytes)
	s := &skipped{file: "os-release"}
	out := make(map[string]string)
	for l.Next() {
		line := bytes.TrimSpace(l.Line())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		i := bytes.IndexByte(line, '=')
		if i < 0 {
			s.bad(l.Num(), "not an assignment")
			continue
		}
		key := string(line[:i])
		if !validKey(key) {
			s.bad(l.Num(), "invalid key")
			continue
		}
		val, ok := shellValue(line[i+1:])
		if !ok {
			s.bad(l.Num(), "unterminated quote")
			continue
		}
		if _, exists := out[key]; !exists && len(out) >= MaxKeys {
			s.excess++
			continue
		}
		out[key] = val
	}
	return out, s.err(l)
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// shellValue decodes the right-hand side of a shell assignment, reporting
// false for an unterminated quote. An unquoted '#' after a blank starts a
// comment; trailing blanks are dropped.
func shellValue(v []byte) (string, bool) {
	var b strings.Builder
	b.Grow(len(v))
	trimTo := 0 // length of b without trailing unquoted blanks
	for i := 0; i < len(v); {
		switch c := v[i]; c {
		case '"':
			i++
			closed := false
			for i < len(v) {
				c = v[i]
				if c == '"' {
					closed = true
					i++
					break
				}
				if c == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
					b.WriteByte(v[i+1])
					i += 2
					continue
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return "", false
			}
			trimTo = b.Len()
		case '\'':
			j := bytes.IndexByte(v[i+1:], '\'')
			if j < 0 {
				return "", false
			}
			b.Write(v[i+1 : i+1+j])
			i += j + 2
			trimTo = b.Len()
		case '\\':
			if i+1 < len(v) {
				b.WriteByte(v[i+1])
				trimTo = b.Len()
			}
			i += 2
		case ' ', '\t':
			b.WriteByte(c)
			i++
		case '#':
			if i > 0 && (v[i-1] == ' ' || v[i-1] == '\t') {
				i = len(v) // comment
				continue
			}
			fallthrough
		default:
			b.WriteByte(c)
			trimTo = b.Len()
			i++
		}
	}
	return b.String()[:trimTo], true
}

// ParseMeminfo parses /proc/meminfo ("Name:   123 kB" lines) into a map
// from name to value: kB for memory figures, a plain count for the others
// (HugePages_Total, …). Malformed lines (no colon, empty name, a value
// that is not a non-negative integer, a unit other than kB) are skipped and
// reported in the error, as are lines longer than MaxLineBytes; the values
// that did parse are returned in any case. At most MaxKeys names are kept.
func ParseMeminfo(r io.Reader) (map[string]int64, error) {
	l := lines.NewReader(r, MaxLineBytes)
	s := &skipped{file: "meminfo"}
	out := make(map[string]int64)
	for l.Next() {
		line := bytes.TrimSpace(l.Line())
		if len(line) == 0 {
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			s.bad(l.Num(), "want name: value")
			continue
		}
		name := string(bytes.TrimSpace(line[:i]))
		f := bytes.Fields(line[i+1:])
		if name == "" || strings.ContainsAny(name, " \t") || len(f) < 1 || len(f) > 2 || len(f) == 2 && string(f[1]) != "kB" {
			s.bad(l.Num(), "want name: value [kB]")
			continue
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || v < 0 {
			s.bad(l.Num(), "value is not a non-negative integer")
			continue
		}
		if _, exists := out[name]; !exists && len(out) >= MaxKeys {
			s.excess++
			continue
		}
		out[name] = v
	}
	return out, s.err(l)
}

// parseBootTime returns the btime value (seconds since the epoch) of
// /proc/stat.
func parseBootTime(r io.Reader) (int64, bool) {
	l := lines.NewReader(r, MaxLineBytes)
	for l.Next() {
		f := bytes.Fields(l.Line())
		if len(f) == 2 && string(f[0]) == "btime" {
			v, err := strconv.ParseInt(string(f[1]), 10, 64)
			return v, err == nil && v > 0
		}
	}
	return 0, false
}

// parseUptime returns the whole seconds of the first field of /proc/uptime.
func parseUptime(b []byte) (int64, bool) {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil || !(v >= 0 && v <= 1e15) { // also rejects NaN
		return 0, false
	}
	return int64(v), true
}

// cpuInfo is what /proc/cpuinfo tells.
type cpuInfo struct {
	model string // processor model, when the architecture names it
	board string // board model ("Model" or "Hardware" on ARM)
	count int    // number of "processor" entries
}

// parseCPUInfo reads /proc/cpuinfo in its x86 ("model name"), ARM
// ("Processor", "Model", "Hardware"), MIPS ("cpu model"), POWER ("cpu")
// and RISC-V ("uarch", "isa") forms.
func parseCPUInfo(r io.Reader) cpuInfo {
	var ci cpuInfo
	var fallback string
	l := lines.NewReader(r, MaxLineBytes)
	for l.Next() {
		i := bytes.IndexByte(l.Line(), ':')
		if i < 0 {
			continue
		}
		key := string(bytes.TrimSpace(l.Line()[:i]))
		val := string(bytes.TrimSpace(l.Line()[i+1:]))
		switch key {
		case "processor":
			if _, err := strconv.Atoi(val); err == nil {
				ci.count++
			} else if fallback == "" {
				fallback = val // not an index: some kernels put the model here
			}
		case "model name", "Processor", "cpu model", "cpu", "uarch":
			if ci.model == "" {
				ci.model = val
			}
		case "isa":
			if fallback == "" {
				fallback = val
			}
		case "Model", "Hardware":
			if ci.board == "" {
				ci.board = val
			}
		}
	}
	if ci.model == "" {
		ci.model = fallback
	}
	return ci
}

// rootMount is the filesystem mounted at "/".
type rootMount struct {
	device string
	fstype string
}

// parseRootMount returns the last (topmost) mount of "/" in a
// /proc/mounts-format file.
func parseRootMount(r io.Reader) (rootMount, bool) {
	var m rootMount
	found := false
	l := lines.NewReader(r, MaxLineBytes)
	for l.Next() {
		f := bytes.Fields(l.Line())
		if len(f) < 3 || string(f[1]) != "/" {
			continue
		}
		m = rootMount{device: unescapeMount(string(f[0])), fstype: string(f[2])}
		found = true
	}
	return m, found
}

// unescapeMount undoes the octal escapes (\040 for a blank, …) of
// /proc/mounts fields.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// parseCmdlineRoot returns the root= parameter of a kernel command line
// (the last one wins, as in the kernel), ignoring what follows "--".
func parseCmdlineRoot(b []byte) string {
	root := ""
	for _, f := range bytes.Fields(b) {
		if string(f) == "--" {
			break
		}
		if v, ok := bytes.CutPrefix(f, []byte("root=")); ok {
			root = strings.Trim(string(v), `"`)
		}
	}
	return root
}

// parseDpkgStatus returns the versions of the installed packages among
// want, from a dpkg status database.
func parseDpkgStatus(r io.Reader, want map[string]bool) map[string]string {
	out := make(map[string]string)
	var pkg, version string
	installed := false
	flush := func() {
		if pkg != "" && installed && version != "" && want[pkg] {
			out[pkg] = version
		}
		pkg, version, installed = "", "", false
	}
	l := lines.NewReader(r, MaxLineBytes)
	for l.Next() {
		line := l.Line()
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "Package":
			pkg = string(v)
		case "Version":
			version = string(v)
		case "Status":
			f := bytes.Fields(v)
			installed = len(f) == 3 && string(f[2]) == "installed"
		}
	}
	flush()
	return out
}
