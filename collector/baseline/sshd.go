package baseline

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Bounds of the sshd_config reader: OpenSSH's own include depth limit, and
// how many files and directives one configuration may have.
const (
	maxSSHDIncludeDepth = 16
	maxSSHDFiles        = 256
	maxSSHDDirectives   = 1 << 16
)

// SSHDConfigPath is where sshd reads its configuration on the host.
const SSHDConfigPath = "/etc/ssh/sshd_config"

// SSHDValue is one directive of an sshd configuration: its first argument
// line (arguments joined by one space) and where it was read.
type SSHDValue struct {
	Value string
	File  string // host path, e.g. /etc/ssh/sshd_config.d/50-cloud-init.conf
	Line  int
}

// Where returns "file:line".
func (v SSHDValue) Where() string { return fmt.Sprintf("%s:%d", v.File, v.Line) }

// SSHDMatch is one Match block: its criteria and the directives it sets.
type SSHDMatch struct {
	Criteria string // the Match arguments, e.g. "Address 10.0.0.0/8"
	File     string
	Line     int
	// Values maps lower-case keywords to the first value the block sets.
	Values map[string]SSHDValue
}

// SSHDConfig is an sshd configuration as sshd reads it: Include
// directives expanded in place (glob patterns sorted, relative to
// /etc/ssh), the first value of each keyword winning outside Match
// blocks, and each Match block's own settings kept apart. A Match block
// ends at the next Match or at the end of the file it started in, as in
// OpenSSH (an Include inside a Match block is part of that block).
type SSHDConfig struct {
	// Global maps lower-case keywords to the value that applies to every
	// connection unless a Match block overrides it.
	Global map[string]SSHDValue
	// Matches are the Match blocks, in the order sshd reads them.
	Matches []SSHDMatch
	// Files are the host paths that were read, in order.
	Files []string
}

// Get returns the global value of keyword (any case).
func (c *SSHDConfig) Get(keyword string) (SSHDValue, bool) {
	v, ok := c.Global[strings.ToLower(keyword)]
	return v, ok
}

// SSHDLine is one directive line of an sshd_config file.
type SSHDLine struct {
	Line    int
	Keyword string // as written
	Args    []string
}

// ParseSSHDLines splits one sshd_config file into directives, the way
// sshd tokenizes it: blank lines and lines starting with "#" are skipped;
// the keyword is separated from its arguments by white space or one "=";
// arguments may be quoted with double or single quotes; an unquoted
// argument starting with "#" starts a trailing comment. It returns the
// directives it could read and an error listing the lines it could not
// (an unterminated quote, a line with no keyword). ParseSSHDLines never
// keeps more than maxSSHDDirectives directives.
func ParseSSHDLines(data []byte) ([]SSHDLine, error) {
	var out []SSHDLine
	var errs []error
	num := 0
	for len(data) > 0 {
		var line []byte
		if i := indexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		num++
		s := strings.TrimRight(string(line), "\r")
		s = strings.TrimLeft(s, " \t\f\v")
		if s == "" || s[0] == '#' {
			continue
		}
		kw, rest := splitKeyword(s)
		if kw == "" {
			errs = append(errs, fmt.Errorf("line %d: missing keyword", num))
			continue
		}
		args, err := splitArgs(rest)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", num, err))
			continue
		}
		if len(out) >= maxSSHDDirectives {
			errs = append(errs, fmt.Errorf("more than %d directives", maxSSHDDirectives))
			break
		}
		out = append(out, SSHDLine{Line: num, Keyword: kw, Args: args})
	}
	return out, errors.Join(errs...)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r' }

// splitKeyword returns the keyword of a directive and what follows the
// separator (white space, "=", or white space around "=").
func splitKeyword(s string) (kw, rest string) {
	i := 0
	for i < len(s) && !isSpace(s[i]) && s[i] != '=' {
		i++
	}
	kw, rest = s[:i], s[i:]
	rest = strings.TrimLeft(rest, " \t\f\v\r")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t\f\v\r")
	}
	return kw, rest
}

// splitArgs splits directive arguments on white space, honouring quotes
// and backslash escapes of quotes, and stopping at an unquoted "#" that
// starts an argument.
func splitArgs(s string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] == '#' {
			return args, nil
		}
		var b strings.Builder
		var quote byte
		for i < len(s) {
			c := s[i]
			switch {
			case quote != 0 && c == quote:
				quote = 0
				i++
				continue
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				i++
				continue
			case quote == 0 && isSpace(c):
			case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'' || s[i+1] == '\\'):
				b.WriteByte(s[i+1])
				i += 2
				continue
			default:
				b.WriteByte(c)
				i++
				continue
			}
			break
		}
		if quote != 0 {
			return nil, errors.New("unterminated quoted argument")
		}
		args = append(args, b.String())
	}
}

// ReadSSHDConfig reads the sshd configuration at name (a host path such as
// SSHDConfigPath) from fsys, expanding Include directives. It returns the
// configuration it could read and an error for everything sshd itself
// would reject or that could not be read (an included file that exists
// but cannot be read, an include loop or depth beyond 16, a malformed
// line, a Match with no criteria). An Include pattern that matches no file
// is not an error, as in OpenSSH.
func ReadSSHDConfig(fsys fs.FS, name string) (*SSHDConfig, error) {
	r := &sshdReader{fsys: fsys, cfg: &SSHDConfig{Global: map[string]SSHDValue{}}}
	data, err := fs.ReadFile(fsys, rel(name))
	if err != nil {
		return nil, err
	}
	r.file(path.Clean("/"+name), data, nil, 0)
	return r.cfg, errors.Join(r.errs...)
}

type sshdReader struct {
	fsys  fs.FS
	cfg   *SSHDConfig
	errs  []error
	files int
}

// file reads one file's directives into the configuration. match is the
// Match block in force where the file is included (nil: global).
func (r *sshdReader) file(name string, data []byte, match *int, depth int) {
	r.cfg.Files = append(r.cfg.Files, name)
	r.files++
	lines, err := ParseSSHDLines(data)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
	}
	cur := match // the block in force; a Match here lasts to the end of this file
	for _, l := range lines {
		kw := strings.ToLower(l.Keyword)
		switch kw {
		case "match":
			if len(l.Args) == 0 {
				r.errs = append(r.errs, fmt.Errorf("%s:%d: Match without criteria", name, l.Line))
				continue
			}
			r.cfg.Matches = append(r.cfg.Matches, SSHDMatch{
				Criteria: strings.Join(l.Args, " "), File: name, Line: l.Line, Values: map[string]SSHDValue{},
			})
			i := len(r.cfg.Matches) - 1
			cur = &i
		case "include":
			if len(l.Args) == 0 {
				r.errs = append(r.errs, fmt.Errorf("%s:%d: Include without a file", name, l.Line))
				continue
			}
			r.include(name, l, cur, depth)
		default:
			v := SSHDValue{Value: strings.Join(l.Args, " "), File: name, Line: l.Line}
			set := r.cfg.Global
			if cur != nil {
				set = r.cfg.Matches[*cur].Values
			}
			if _, seen := set[kw]; !seen {
				set[kw] = v
			}
		}
	}
}

func (r *sshdReader) include(from string, l SSHDLine, match *int, depth int) {
	if depth+1 > maxSSHDIncludeDepth {
		r.errs = append(r.errs, fmt.Errorf("%s:%d: Include nested more than %d deep (a loop?)", from, l.Line, maxSSHDIncludeDepth))
		return
	}
	for _, pat := range l.Args {
		if !strings.HasPrefix(pat, "/") {
			pat = "/etc/ssh/" + pat
		}
		pat = path.Clean(pat)
		matches, err := fs.Glob(r.fsys, rel(pat))
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s:%d: Include %q: %w", from, l.Line, pat, err))
			continue
		}
		for _, m := range matches {
			if r.files >= maxSSHDFiles {
				r.errs = append(r.errs, fmt.Errorf("%s:%d: more than %d configuration files", from, l.Line, maxSSHDFiles))
				return
			}
			host := "/" + m
			fi, err := fs.Stat(r.fsys, m)
			if err == nil && fi.IsDir() {
				continue // sshd skips what is not a regular file
			}
			data, err := fs.ReadFile(r.fsys, m)
			if err != nil {
				r.errs = append(r.errs, fmt.Errorf("%s:%d: Include %s: %w", from, l.Line, host, err))
				continue
			}
			r.file(host, data, match, depth+1)
		}
	}
}
