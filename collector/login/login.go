package login

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/collector/users"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/hostfs"
)

// Defaults of the options.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultMaxReadBytes = 256 << 10
)

// Values of the Login items.
const (
	OperationLogin  = "Login"
	OperationLogout = "Logout"
	// UnknownUser is the UserName of a record that names no user (a PAM
	// failure for a user unknown to the system, a logout whose login
	// was not seen), and of a redacted name (Options.RedactUnknownUsers).
	UnknownUser = "(unknown)"
)

// ExtraDetails keys of the Login items.
const (
	KeySource       = "Source"       // "wtmp", "btmp" or the auth log's path under the host root
	KeyLine         = "Line"         // utmp ut_line, e.g. "pts/0", "ssh:notty", "tty1"
	KeyRemoteHost   = "RemoteHost"   // a remote host name that is not an IP literal
	KeyMethod       = "Method"       // sshd's authentication method: "password", "publickey", ...
	KeyInvalidUser  = "InvalidUser"  // "true": sshd said the user does not exist
	KeyUserKnown    = "UserKnown"    // "false": a failed attempt's user is not in /etc/passwd (it may be a mistyped password)
	KeyUserRedacted = "UserRedacted" // "true": the user name was replaced by UnknownUser
	KeyPAMService   = "PamService"   // the PAM service of a PAM failure, e.g. "login", "sudo"
	KeyPAMModule    = "PamModule"    // the PAM module of a PAM failure, e.g. "pam_unix"
	KeyTTY          = "Tty"          // PAM's tty
	KeyRepeat       = "RepeatCount"  // how many identical lines syslog folded into this one ("message repeated N times")
	KeyReason       = "Reason"       // "InvalidUser" for sshd's "Invalid user" line
	KeyExitStatus   = "ExitStatus"   // the e_exit of a DEAD_PROCESS record, when set
)

// Options configure the Login collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default, when
	// empty) or "/host" in a container.
	HostRoot string
	// StateDir is where the read positions are kept across restarts (the
	// file StateFile, written atomically). Empty keeps them in memory
	// only: every start is then a first run.
	StateDir string
	// FromStart makes the first run (no saved position for a file) read
	// the files from their beginning. By default the first run starts at
	// their end, so that the history is not sent.
	FromStart bool
	// PollInterval is how often the files are checked for new records
	// when they are not watched (default DefaultPollInterval). Watched
	// (inotify, the default where the kernel has it), they are checked
	// when they change, and every DefaultRecheckInterval besides.
	PollInterval time.Duration
	// NoWatch makes the collector check the files every PollInterval
	// instead of watching them with inotify.
	NoWatch bool
	// MaxReadBytes bounds how much of one file is read per check (default
	// DefaultMaxReadBytes); a larger backlog is read over several checks.
	MaxReadBytes int
	// Layout forces the utmp layout of wtmp and btmp; the zero Layout
	// detects it from the file (see DetectLayout).
	Layout Layout
	// RedactUnknownUsers replaces the user name of a failed login whose
	// user is not a local account (often a password typed at the login
	// prompt) with UnknownUser, marked UserRedacted. By default the name
	// is sent and marked UserKnown "false".
	RedactUnknownUsers bool
	// Logger receives debug and warning messages (never a raw log line or
	// user name); nil means the Sink's logger (collector.Logger: the
	// engine's, tagged with the collector's name), or none.
	Logger *slog.Logger
}

// Collector is the Login collector. It implements [collector.Collector];
// Run must not be called concurrently with itself.
type Collector struct {
	root      string
	stateDir  string
	fromStart bool
	interval  time.Duration
	recheck   time.Duration // watched files: the safety-net check
	noWatch   bool
	maxRead   int
	layout    Layout
	redact    bool
	log       *slog.Logger
	ownLog    bool // Options.Logger was set; otherwise Run takes the Sink's
	now       func() time.Time

	mu       sync.Mutex // guards reported
	reported map[string]bool
}

// New returns the Login collector.
func New(o Options) *Collector {
	root := o.HostRoot
	if root == "" {
		root = "/"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Collector{
		root: filepath.Clean(root), stateDir: o.StateDir, fromStart: o.FromStart,
		interval: o.PollInterval, recheck: DefaultRecheckInterval, noWatch: o.NoWatch, maxRead: o.MaxReadBytes, layout: o.Layout, redact: o.RedactUnknownUsers,
		log: log, ownLog: o.Logger != nil, now: time.Now, reported: map[string]bool{},
	}
	if c.interval <= 0 {
		c.interval = DefaultPollInterval
	}
	if c.maxRead <= 0 {
		c.maxRead = DefaultMaxReadBytes
	}
	if c.maxRead < Layout64.Size {
		c.maxRead = Layout64.Size
	}
	return c
}

// Name implements [collector.Collector].
func (c *Collector) Name() string { return event.Login }

// sourceKind is how a file is decoded.
type sourceKind int

const (
	kindWtmp sourceKind = iota
	kindBtmp
	kindAuth
)

// source is one file the collector follows.
type source struct {
	key  string // state key and KeySource: "wtmp", "btmp", "var/log/auth.log"
	rel  string // path under the root
	kind sourceKind
}

var sources = []source{
	{"wtmp", "var/log/wtmp", kindWtmp},
	{"btmp", "var/log/btmp", kindBtmp},
	{"var/log/auth.log", "var/log/auth.log", kindAuth},
	{"var/log/secure", "var/log/secure", kindAuth},
}

// run is the state of one Run.
type run struct {
	c       *Collector
	sink    collector.Sink
	st      *state
	layouts map[string]Layout // per source key, for the current inode
	users   *userSet
	exes    map[string]string
	absent  map[string]bool // sources missing at an earlier check of this run
}

// Run implements [collector.Collector]: it checks the files when inotify
// reports a change (or every PollInterval where they are not watched) and
// emits one Login event per new record.
func (c *Collector) Run(ctx context.Context, sink collector.Sink) error {
	if !c.ownLog {
		c.log = collector.Logger(sink) // Run is never called concurrently with itself
	}
	r := c.newRun(ctx, sink)
	var w *watcher
	if !c.noWatch {
		var err error
		if w, err = newWatcher(); err != nil {
			c.log.Debug("login: polling the files", "err", err)
			w = nil
		} else {
			defer w.close()
			// Cancelling ctx ends a wait in progress.
			stop := context.AfterFunc(ctx, func() { _ = w.close() })
			defer stop()
		}
	}
	paths := make([]string, len(sources))
	for {
		last := time.Now()
		// Watches first: a change made during the check is reported.
		degraded := false
		if w != nil {
			for i, s := range sources {
				paths[i] = c.path(s.rel)
			}
			if err := w.watch(paths); err != nil {
				// Checked every PollInterval until it can be watched.
				c.log.Debug("login: a file cannot be watched; polling", "err", err)
				degraded = true
			}
		}
		if err := r.poll(ctx); err != nil {
			return nil // ctx cancelled
		}
		if !c.waitForChange(ctx, &w, last, degraded) {
			return nil
		}
	}
}

func (c *Collector) newRun(ctx context.Context, sink collector.Sink) *run {
	st, err := loadState(c.stateDir)
	if err != nil {
		c.report(ctx, sink, "state", err)
	}
	c.checkSources(ctx, sink)
	return &run{c: c, sink: sink, st: st, layouts: map[string]Layout{}, users: &userSet{root: c.root}, exes: map[string]string{}, absent: map[string]bool{}}
}

// report sends err to the sink once per key (until the condition clears,
// see clearReport) and logs it.
func (c *Collector) report(ctx context.Context, sink collector.Sink, key string, err error) {
	c.mu.Lock()
	seen := c.reported[key]
	c.reported[key] = true
	c.mu.Unlock()
	if seen {
		c.log.Debug("login: still failing", slog.String("what", key), slog.Any("error", err))
		return
	}
	// The report is the warning (and the one Diagnostic event).
	c.log.Debug("login: problem worked around", slog.String("what", key), slog.Any("error", err))
	collector.ReportError(ctx, sink, event.Login, err)
}

func (c *Collector) clearReport(key string) {
	c.mu.Lock()
	delete(c.reported, key)
	c.mu.Unlock()
}

// ErrJournalOnly is reported (once) when the host has no auth log but a
// systemd journal: sshd and PAM messages that only reach the journal are
// not read (the journal's binary format is not decoded), so only wtmp and
// btmp are followed. Installing rsyslog (or another syslog daemon writing
// /var/log/auth.log or /var/log/secure) on the host fixes it.
var ErrJournalOnly = errors.New("login: no /var/log/auth.log or /var/log/secure on the host, only a systemd journal, which this collector does not read: sshd/PAM failures not recorded in btmp are missed; install rsyslog (or forward the journal to syslog) to get them")

// checkSources reports once what the host does not offer.
func (c *Collector) checkSources(ctx context.Context, sink collector.Sink) {
	auth := false
	for _, s := range sources {
		if s.kind == kindAuth {
			if _, err := os.Stat(c.path(s.rel)); err == nil {
				auth = true
			}
		}
	}
	if auth {
		return
	}
	for _, dir := range []string{"var/log/journal", "run/log/journal"} {
		if hasJournal(c.path(dir)) {
			c.report(ctx, sink, "journal", ErrJournalOnly)
			return
		}
	}
}

func hasJournal(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipDir
		}
		if strings.HasSuffix(d.Name(), ".journal") || strings.HasSuffix(d.Name(), ".journal~") {
			found = true
			return filepath.SkipAll
		}
		if d.IsDir() && strings.Count(strings.TrimPrefix(p, dir), "/") > 1 {
			return filepath.SkipDir
		}
		return nil
	})
	return found
}

// path returns where the host file rel is read, its symbolic links
// resolved inside the host root (an absolute /var/log link on the host
// must not lead to the module's own /var/log).
func (c *Collector) path(rel string) string {
	if p, err := hostfs.Resolve(c.root, rel, true); err == nil {
		return p
	}
	return filepath.Join(c.root, rel)
}

// poll reads every source once. It returns an error only when ctx was
// cancelled (the state is then not saved, so the events not emitted are
// read again next time).
func (r *run) poll(ctx context.Context) error {
	dirty := false
	for _, s := range sources {
		for range 64 { // drain a backlog, but give other sources a turn
			evs, pos, more, changed, err := r.read(s)
			if err != nil {
				r.c.report(ctx, r.sink, "read "+s.key, err)
				break
			}
			r.c.clearReport("read " + s.key)
			if len(evs) > 0 {
				if err := r.sink.Emit(ctx, evs...); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					collector.ReportError(ctx, r.sink, event.Login, fmt.Errorf("login: emit: %w", err))
				}
			}
			if changed {
				r.st.Files[s.key] = pos
				dirty = true
			}
			if !more {
				break
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dirty {
		if err := r.st.save(r.c.stateDir); err != nil {
			r.c.report(ctx, r.sink, "save state", err)
		} else {
			r.c.clearReport("save state")
		}
	}
	return nil
}

// read reads what is new in source s, at most MaxReadBytes, and returns
// the events, the new position, whether more is waiting, and whether the
// position changed.
func (r *run) read(s source) (evs []event.Event, pos position, more, changed bool, err error) {
	name := r.c.path(s.rel)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		r.absent[s.key] = true
		return nil, position{}, false, false, nil
	}
	if err != nil {
		return nil, position{}, false, false, fmt.Errorf("login: %w", err)
	}
	defer f.Close()
	created := r.absent[s.key] // appeared while we were watching: read it all
	delete(r.absent, s.key)
	fi, err := f.Stat()
	if err != nil {
		return nil, position{}, false, false, fmt.Errorf("login: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, position{}, false, false, fmt.Errorf("login: %s is not a regular file", name)
	}
	dev, ino := fileID(fi)
	size := fi.Size()
	old, seen := r.st.Files[s.key]

	switch {
	case !seen && !r.c.fromStart && !created:
		// First sight: start at the end, without flooding with history.
		off := size
		if s.kind != kindAuth {
			l, err := r.layoutOf(s, f, size)
			if err != nil {
				return nil, position{}, false, false, err
			}
			off -= size % int64(l.Size)
			if s.kind == kindWtmp {
				r.seedSessions(f, l, off)
			}
		} else {
			off = lastNewline(f, size)
		}
		return nil, position{Dev: dev, Ino: ino, Offset: off, Tail: tailAt(f, off)}, false, true, nil
	case !seen:
		old = position{Dev: dev, Ino: ino}
	case old.Dev != dev || old.Ino != ino:
		// Rotated or replaced: finish the old file where logrotate moved
		// it, then read the new one from its start.
		if evs, pos, more, err := r.drainRotated(s, old); err == nil && (more || len(evs) > 0) {
			return evs, pos, true, true, nil
		}
		delete(r.layouts, s.key)
		r.c.log.Debug("login: file was rotated or replaced", slog.String("file", name))
		old = position{Dev: dev, Ino: ino}
	case size < old.Offset || !bytes.Equal(tailAt(f, old.Offset), old.Tail):
		// Truncated (copytruncate), possibly refilled past the old
		// offset since the last check: the bytes before the offset
		// are not those that were read.
		r.c.log.Debug("login: file was truncated; reading it from the start", slog.String("file", name))
		old.Offset = 0
	}
	evs, newOff, more, err := r.readFrom(s, f, size, old.Offset)
	if err != nil {
		return nil, position{}, false, false, err
	}
	pos = position{Dev: dev, Ino: ino, Offset: newOff, Tail: tailAt(f, newOff)}
	prev := r.st.Files[s.key]
	return evs, pos, more, !seen || pos.Offset != prev.Offset || pos.Dev != prev.Dev || pos.Ino != prev.Ino || !bytes.Equal(pos.Tail, prev.Tail), nil
}

// drainRotated reads the rest of the file old identifies, if logrotate
// moved it next to name (name.1 or name-YYYYMMDD). When that file is
// read to its end, the returned position is still old's identity at its
// end; the next read then notices the new inode and starts it.
func (r *run) drainRotated(s source, old position) ([]event.Event, position, bool, error) {
	name := r.c.path(s.rel)
	cands, _ := filepath.Glob(name + "-*")
	cands = append([]string{name + ".1"}, cands...)
	for _, cand := range cands {
		if strings.HasSuffix(cand, ".gz") || strings.HasSuffix(cand, ".xz") || strings.HasSuffix(cand, ".zst") {
			continue
		}
		f, err := os.Open(cand)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		if dev, ino := fileID(fi); dev != old.Dev || ino != old.Ino {
			f.Close()
			continue
		}
		if fi.Size() <= old.Offset {
			f.Close()
			return nil, old, false, nil
		}
		evs, off, more, err := r.readFrom(s, f, fi.Size(), old.Offset)
		f.Close()
		if err != nil {
			return nil, old, false, err
		}
		return evs, position{Dev: old.Dev, Ino: old.Ino, Offset: off}, more || off < fi.Size(), nil
	}
	return nil, old, false, errors.New("rotated file not found")
}

// readFrom reads f from off, at most MaxReadBytes, up to size, and decodes
// whole records or lines.
func (r *run) readFrom(s source, f *os.File, size, off int64) ([]event.Event, int64, bool, error) {
	if off >= size {
		return nil, off, false, nil
	}
	n := min(size-off, int64(r.c.maxRead))
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, off, false, fmt.Errorf("login: read %s: %w", f.Name(), err)
	}
	buf = buf[:got]
	if s.kind == kindAuth {
		evs, used := r.authEvents(s, buf)
		if used == 0 && len(buf) == r.c.maxRead {
			// One line longer than the whole read budget: skip it.
			return nil, off + int64(len(buf)), true, nil
		}
		return evs, off + int64(used), off+int64(used) < size && used > 0, nil
	}
	l, err := r.layoutOf(s, f, size)
	if err != nil {
		return nil, off, false, err
	}
	if rem := off % int64(l.Size); rem != 0 {
		// A position that is not on a record boundary (a layout change
		// or a corrupt state): realign.
		off -= rem
		return nil, off, true, nil
	}
	recs, rest, err := ParseUtmp(buf, l)
	if err != nil {
		return nil, off, false, err
	}
	used := int64(len(buf) - rest)
	evs := r.utmpEvents(s, recs)
	return evs, off + used, off+used < size && used > 0, nil
}

// layoutOf returns the utmp layout of s, detected once per file.
func (r *run) layoutOf(s source, f *os.File, size int64) (Layout, error) {
	if r.c.layout.Size != 0 {
		return r.c.layout, nil
	}
	if l, ok := r.layouts[s.key]; ok {
		return l, nil
	}
	head := make([]byte, min(size, 64*int64(Layout64.Size)))
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Layout{}, fmt.Errorf("login: read %s: %w", f.Name(), err)
	}
	if n < Layout32.Size {
		return Layout32, nil // too short to tell: do not cache
	}
	l, err := DetectLayout(head[:n])
	if err != nil {
		return Layout{}, fmt.Errorf("login: %s: %w", f.Name(), err)
	}
	r.c.log.Debug("login: utmp layout detected", slog.String("file", f.Name()), slog.String("layout", l.String()))
	r.layouts[s.key] = l
	return l, nil
}

// seedSessions reads the end of wtmp (at most 1 MiB before off) to learn
// the sessions open when the collector starts, so that their logouts name
// their user.
func (r *run) seedSessions(f *os.File, l Layout, off int64) {
	start := max(0, off-int64(1<<20))
	start -= start % int64(l.Size)
	buf := make([]byte, off-start)
	n, _ := f.ReadAt(buf, start)
	recs, _, err := ParseUtmp(buf[:n], l)
	if err != nil {
		return
	}
	for _, rec := range recs {
		r.track(rec)
	}
}

// track updates the open sessions with a wtmp record and returns the
// session a DEAD_PROCESS record ends.
func (r *run) track(rec Record) (session, bool) {
	key := rec.Line
	if key == "" {
		key = rec.ID
	}
	switch rec.Type {
	case UserProcess:
		if len(r.st.Sessions) >= maxSessions {
			for k := range r.st.Sessions { // evict an arbitrary one
				delete(r.st.Sessions, k)
				break
			}
		}
		s := session{User: rec.User, Host: rec.Host}
		if rec.Addr.IsValid() {
			s.Addr = rec.Addr.String()
		}
		r.st.Sessions[key] = s
	case DeadProcess:
		s, ok := r.st.Sessions[key]
		delete(r.st.Sessions, key)
		return s, ok
	case BootTime, RunLevel:
		if rec.Type == BootTime || rec.User == "shutdown" {
			clear(r.st.Sessions) // a reboot ends every session
		}
	}
	return session{}, false
}

// utmpEvents maps wtmp/btmp records to Login events.
func (r *run) utmpEvents(s source, recs []Record) []event.Event {
	var evs []event.Event
	now := r.c.now()
	for _, rec := range recs {
		var p *event.LoginPayload
		switch {
		case s.kind == kindBtmp:
			if rec.Type == Empty {
				continue
			}
			p = r.utmpPayload(s, rec, OperationLogin, event.LoginFail, now)
			r.markUnknownUser(p)
		case rec.Type == UserProcess:
			r.track(rec)
			p = r.utmpPayload(s, rec, OperationLogin, event.LoginSuccess, now)
		case rec.Type == DeadProcess:
			sess, ok := r.track(rec)
			if rec.User == "" && ok {
				rec.User = sess.User
				if rec.Host == "" {
					rec.Host = sess.Host
				}
				if !rec.Addr.IsValid() && sess.Addr != "" {
					rec.Addr, _ = netip.ParseAddr(sess.Addr)
				}
			}
			if rec.User == "" && !ok {
				// A dead getty or init process, not the end of a login.
				continue
			}
			p = r.utmpPayload(s, rec, OperationLogout, event.LoginSuccess, now)
			if rec.ExitCode != 0 {
				p.ExtraDetails[KeyExitStatus] = strconv.Itoa(rec.ExitCode)
			}
		default:
			r.track(rec)
			continue
		}
		t := rec.Time
		if t.IsZero() {
			t = now
		}
		evs = append(evs, event.Must(event.Login, t, p))
	}
	return evs
}

func (r *run) utmpPayload(s source, rec Record, op, result string, now time.Time) *event.LoginPayload {
	p := &event.LoginPayload{
		ProcessID:    rec.PID,
		UserName:     rec.User,
		Operation:    op,
		Result:       result,
		Executable:   r.utmpExecutable(rec, now),
		ExtraDetails: event.ExtraDetails{KeySource: s.key},
	}
	if p.UserName == "" {
		p.UserName = UnknownUser
	}
	if rec.Line != "" {
		p.ExtraDetails[KeyLine] = rec.Line
	}
	addr := rec.Addr
	if a, err := netip.ParseAddr(rec.Host); err == nil {
		if !addr.IsValid() || addr.IsUnspecified() {
			addr = a.WithZone("").Unmap()
		}
	} else if rec.Host != "" {
		p.ExtraDetails[KeyRemoteHost] = rec.Host
	}
	if addr.IsValid() && !addr.IsUnspecified() {
		p.RemoteAddress = addr.String()
	}
	return p
}

// utmpExecutable names the program that wrote a record: the live
// process's executable when the record is fresh (its pid cannot have
// been reused yet), otherwise what the terminal line tells (sshd for
// "ssh:*" lines and remote pseudo-terminals, login for consoles).
func (r *run) utmpExecutable(rec Record, now time.Time) string {
	if rec.PID > 0 && !rec.Time.IsZero() && now.Sub(rec.Time) < time.Minute && now.Sub(rec.Time) > -time.Minute {
		if exe, err := os.Readlink(filepath.Join(r.c.root, "proc", strconv.Itoa(rec.PID), "exe")); err == nil {
			return strings.TrimSuffix(exe, " (deleted)")
		}
	}
	switch {
	case strings.HasPrefix(rec.Line, "ssh"):
		return r.executable("sshd")
	case strings.HasPrefix(rec.Line, "pts/") && rec.Host != "":
		return r.executable("sshd")
	case strings.HasPrefix(rec.Line, "tty"), rec.Line == "console":
		return r.executable("login")
	}
	return ""
}

// executable resolves a program name the way the host's PATH would, under
// the host root; it returns the name unchanged when it finds nothing.
func (r *run) executable(prog string) string {
	if strings.HasPrefix(prog, "/") {
		return prog
	}
	if exe, ok := r.exes[prog]; ok {
		return exe
	}
	exe := prog
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/openssh", "/usr/libexec/openssh", "/usr/libexec"} {
		if fi, err := os.Stat(r.c.path(filepath.Join(dir, prog))); err == nil && fi.Mode().IsRegular() {
			exe = filepath.Join(dir, prog)
			break
		}
	}
	if len(r.exes) < 256 {
		r.exes[prog] = exe
	}
	return exe
}

// markUnknownUser flags (or redacts) the user name of a failed attempt
// that is not a local account.
func (r *run) markUnknownUser(p *event.LoginPayload) {
	if p.UserName == UnknownUser || r.users.has(p.UserName) {
		return
	}
	p.ExtraDetails[KeyUserKnown] = "false"
	if r.c.redact {
		p.UserName = UnknownUser
		p.ExtraDetails[KeyUserRedacted] = "true"
	}
}

// authEvents maps the complete lines of an auth log to Login events and
// returns how many bytes they took.
func (r *run) authEvents(s source, data []byte) ([]event.Event, int) {
	var evs []event.Event
	now := r.c.now()
	used := splitLines(data, func(line []byte) {
		a, ok := ParseAuthLine(line, now)
		if !ok {
			return
		}
		if a.Kind == AuthPAMFailure && strings.HasPrefix(a.Service, "sshd") {
			return // sshd logs its own "Failed ..." line for the same attempt
		}
		p := &event.LoginPayload{
			ProcessID:    a.PID,
			UserName:     a.User,
			Operation:    OperationLogin,
			Result:       event.LoginFail,
			Executable:   r.executable(a.Program),
			ExtraDetails: event.ExtraDetails{KeySource: s.key},
		}
		if p.UserName == "" {
			p.UserName = UnknownUser
		}
		if a.Addr.IsValid() {
			p.RemoteAddress = a.Addr.String()
		}
		if a.Port > 0 {
			p.RemotePort = strconv.Itoa(a.Port)
		}
		if a.Repeat > 1 {
			p.ExtraDetails[KeyRepeat] = strconv.Itoa(a.Repeat)
		}
		switch a.Kind {
		case AuthAccepted:
			p.Result = event.LoginSuccess
			p.ExtraDetails[KeyMethod] = a.Method
		case AuthFailed:
			p.ExtraDetails[KeyMethod] = a.Method
		case AuthInvalidUser:
			p.ExtraDetails[KeyReason] = "InvalidUser"
		case AuthPAMFailure:
			p.ExtraDetails[KeyPAMService] = a.Service
			p.ExtraDetails[KeyPAMModule] = a.Method
			if a.TTY != "" {
				p.ExtraDetails[KeyTTY] = a.TTY
			}
			if a.RemoteHost != "" {
				p.ExtraDetails[KeyRemoteHost] = a.RemoteHost
			}
		}
		if a.InvalidUser {
			p.ExtraDetails[KeyInvalidUser] = "true"
		}
		if p.Result == event.LoginFail {
			r.markUnknownUser(p)
		}
		evs = append(evs, event.Must(event.Login, a.Time, p))
	})
	return evs, used
}

// lastNewline returns the offset just after the last newline before size,
// so that a line being written is read whole later.
func lastNewline(f *os.File, size int64) int64 {
	const chunk = 4096
	buf := make([]byte, chunk)
	for end := size; end > 0; {
		start := max(0, end-chunk)
		n, _ := f.ReadAt(buf[:end-start], start)
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				return start + int64(i) + 1
			}
		}
		end = start
		if size-end > 64<<10 {
			return size // no newline near the end: give up on the partial line
		}
	}
	return 0
}

// tailLen is how many bytes before a read position are remembered to
// notice a file truncated and rewritten to the same or a larger size.
const tailLen = 32

// tailAt returns the tailLen bytes before off (fewer at the start of the
// file); nil when they cannot be read.
func tailAt(f *os.File, off int64) []byte {
	start := max(0, off-tailLen)
	if off <= start {
		return nil
	}
	b := make([]byte, off-start)
	if n, err := f.ReadAt(b, start); n != len(b) {
		_ = err
		return nil
	}
	return b
}

func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// userSet is the set of local account names, from the host's
// /etc/passwd, reloaded when the file changes.
type userSet struct {
	root  string
	mtime time.Time
	size  int64
	names map[string]bool
}

func (u *userSet) has(name string) bool {
	p, err := hostfs.Resolve(u.root, "etc/passwd", true)
	if err != nil {
		return true // cannot tell: do not mark
	}
	fi, err := os.Stat(p)
	if err != nil {
		return true
	}
	if u.names == nil || !fi.ModTime().Equal(u.mtime) || fi.Size() != u.size {
		u.names = readUserNames(p)
		u.mtime, u.size = fi.ModTime(), fi.Size()
	}
	if u.names == nil {
		return true
	}
	return u.names[name]
}

// readUserNames returns the account names of a passwd file, nil when it
// cannot be read. Malformed and overlong lines are skipped (the parser's
// error only reports them), so one bad line does not hide the accounts
// after it.
func readUserNames(p string) map[string]bool {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	accts, _ := users.ParsePasswd(io.LimitReader(f, 64<<20))
	names := make(map[string]bool, len(accts))
	for _, a := range accts {
		names[a.Name] = true
	}
	return names
}
