package login

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/collectortest"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

// newRoot returns a writable copy of testdata/hostroot with var/log.
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.CopyFS(root, os.DirFS("testdata/hostroot")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "var/log"), 0o755))
	return root
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

func appendFile(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func rec(t *testing.T, r Record) []byte {
	t.Helper()
	b, err := EncodeRecord(r, Layout32)
	require.NoError(t, err)
	return b
}

// pollOnce runs one check of the files and returns what it emitted.
func pollOnce(t *testing.T, r *run) []string {
	t.Helper()
	rec := r.sink.(*collectortest.Recorder)
	rec.Reset()
	require.NoError(t, r.poll(context.Background()))
	v, err := schemas.NewValidator()
	require.NoError(t, err)
	var out []string
	for _, ev := range rec.Events() {
		require.NoError(t, v.ValidateEvent(ev))
		require.Len(t, ev.Payload, 1)
		out = append(out, describe(ev))
	}
	return out
}

// describe is a compact, complete rendering of a Login event.
func describe(ev event.Event) string {
	p := ev.Payload[0].(*event.LoginPayload)
	var x []string
	for k, v := range p.ExtraDetails {
		x = append(x, k+"="+v)
	}
	slices.Sort(x)
	return fmt.Sprintf("%s %s %s %s %s pid=%d user=%s from=%s:%s [%s]", ev.Time.UTC().Format(time.RFC3339),
		p.Operation, p.Result, p.Executable, p.LocalPort, p.ProcessID, p.UserName, p.RemoteAddress, p.RemotePort, strings.Join(x, " "))
}

func newTestRun(t *testing.T, o Options) *run {
	t.Helper()
	c := New(o)
	c.now = func() time.Time { return time.Date(2024, time.March, 4, 0, 0, 0, 0, time.UTC) }
	return c.newRun(context.Background(), collectortest.NewRecorder())
}

var wantWtmpEvents = []string{
	"2024-03-03T09:59:00Z Login Success /usr/bin/login  pid=612 user=root from=: [Line=tty1 Source=wtmp]",
	"2024-03-03T10:00:01Z Login Success /usr/sbin/sshd  pid=1234 user=alice from=192.0.2.10: [Line=pts/0 Source=wtmp]",
	"2024-03-03T10:05:00Z Login Success /usr/sbin/sshd  pid=1300 user=bob from=2001:db8::7: [Line=pts/1 Source=wtmp]",
	"2024-03-03T10:30:00Z Logout Success /usr/sbin/sshd  pid=1234 user=alice from=192.0.2.10: [Line=pts/0 Source=wtmp]",
	"2024-03-03T11:00:00Z Login Success /usr/sbin/sshd  pid=1400 user=carol from=198.51.100.4: [Line=pts/2 RemoteHost=gateway.example.net Source=wtmp]",
}

func TestWtmpFromStart(t *testing.T) {
	for _, f := range []string{"testdata/wtmp-x86_64", "testdata/wtmp-time64"} {
		t.Run(f, func(t *testing.T) {
			root := newRoot(t)
			copyFile(t, f, filepath.Join(root, "var/log/wtmp"))
			r := newTestRun(t, Options{HostRoot: root, FromStart: true})
			assert.Equal(t, wantWtmpEvents, pollOnce(t, r))
			assert.Empty(t, pollOnce(t, r), "records sent twice")
		})
	}
}

func TestWtmpFirstRunStartsAtEnd(t *testing.T) {
	root := newRoot(t)
	wtmp := filepath.Join(root, "var/log/wtmp")
	copyFile(t, "testdata/wtmp-x86_64", wtmp)
	r := newTestRun(t, Options{HostRoot: root})
	assert.Empty(t, pollOnce(t, r), "history was sent")
	// bob's session (pts/1) was opened before the collector started; its
	// logout carries no user name but is still attributed to bob.
	appendFile(t, wtmp, rec(t, Record{Type: DeadProcess, PID: 1300, Line: "pts/1", ID: "ts/1", Time: ts("2024-03-03T12:00:00Z")}))
	appendFile(t, wtmp, rec(t, Record{Type: UserProcess, PID: 1500, Line: "ttyS0", ID: "S0", User: "root", Time: ts("2024-03-03T12:01:00Z")}))
	// a dead getty is not a logout
	appendFile(t, wtmp, rec(t, Record{Type: DeadProcess, PID: 1600, Line: "tty3", ID: "tty3", Time: ts("2024-03-03T12:02:00Z")}))
	assert.Equal(t, []string{
		"2024-03-03T12:00:00Z Logout Success /usr/sbin/sshd  pid=1300 user=bob from=2001:db8::7: [Line=pts/1 Source=wtmp]",
		"2024-03-03T12:01:00Z Login Success /usr/bin/login  pid=1500 user=root from=: [Line=ttyS0 Source=wtmp]",
	}, pollOnce(t, r))
	// A record being written (partial) waits for its end.
	b := rec(t, Record{Type: UserProcess, PID: 1700, Line: "pts/3", User: "alice", Host: "192.0.2.1", Time: ts("2024-03-03T12:03:00Z")})
	appendFile(t, wtmp, b[:100])
	assert.Empty(t, pollOnce(t, r))
	appendFile(t, wtmp, b[100:])
	assert.Equal(t, []string{
		"2024-03-03T12:03:00Z Login Success /usr/sbin/sshd  pid=1700 user=alice from=192.0.2.1: [Line=pts/3 Source=wtmp]",
	}, pollOnce(t, r))
}

func TestBtmp(t *testing.T) {
	for _, redact := range []bool{false, true} {
		t.Run(fmt.Sprint("redact=", redact), func(t *testing.T) {
			root := newRoot(t)
			copyFile(t, "testdata/btmp-x86_64", filepath.Join(root, "var/log/btmp"))
			r := newTestRun(t, Options{HostRoot: root, FromStart: true, RedactUnknownUsers: redact})
			want := []string{
				"2024-03-03T12:00:00Z Login Fail /usr/sbin/sshd  pid=2001 user=root from=203.0.113.5: [Line=ssh:notty Source=btmp]",
				"2024-03-03T12:00:02Z Login Fail /usr/sbin/sshd  pid=2002 user=admin from=203.0.113.5: [Line=ssh:notty Source=btmp UserKnown=false]",
				"2024-03-03T12:01:00Z Login Fail /usr/bin/login  pid=700 user=hunter2pass from=: [Line=tty1 Source=btmp UserKnown=false]",
				"2024-03-03T12:02:00Z Login Fail /usr/sbin/sshd  pid=2003 user=alice from=2001:db8::66: [Line=ssh:notty Source=btmp]",
			}
			if redact {
				want[1] = "2024-03-03T12:00:02Z Login Fail /usr/sbin/sshd  pid=2002 user=(unknown) from=203.0.113.5: [Line=ssh:notty Source=btmp UserKnown=false UserRedacted=true]"
				want[2] = "2024-03-03T12:01:00Z Login Fail /usr/bin/login  pid=700 user=(unknown) from=: [Line=tty1 Source=btmp UserKnown=false UserRedacted=true]"
			}
			got := pollOnce(t, r)
			assert.Equal(t, want, got)
			if redact {
				assert.NotContains(t, strings.Join(got, "\n"), "hunter2")
			}
		})
	}
}

func TestAuthLog(t *testing.T) {
	root := newRoot(t)
	copyFile(t, "testdata/auth.log", filepath.Join(root, "var/log/auth.log"))
	r := newTestRun(t, Options{HostRoot: root, FromStart: true})
	assert.Equal(t, []string{
		"2024-03-03T12:00:00Z Login Fail /usr/sbin/sshd  pid=2001 user=root from=203.0.113.5:51122 [Method=password Source=var/log/auth.log]",
		"2024-03-03T12:00:02Z Login Fail /usr/sbin/sshd  pid=2002 user=admin from=203.0.113.5:51130 [InvalidUser=true Reason=InvalidUser Source=var/log/auth.log UserKnown=false]",
		"2024-03-03T12:00:03Z Login Fail /usr/sbin/sshd  pid=2002 user=admin from=203.0.113.5:51130 [InvalidUser=true Method=password Source=var/log/auth.log UserKnown=false]",
		"2024-03-03T12:00:10Z Login Success /usr/sbin/sshd  pid=2010 user=alice from=2001:db8::66:40022 [Method=publickey Source=var/log/auth.log]",
		"2024-03-03T12:01:00Z Login Fail /usr/bin/login  pid=700 user=bob from=: [PamModule=pam_unix PamService=login Source=var/log/auth.log Tty=/dev/tty1]",
		"2024-03-03T12:02:00Z Login Fail /usr/bin/sudo  pid=0 user=alice from=: [PamModule=pam_unix PamService=sudo Source=var/log/auth.log Tty=/dev/pts/0]",
		"2024-03-03T12:03:00Z Login Fail /usr/sbin/sshd  pid=2020 user=root from=203.0.113.5:51200 [Method=password RepeatCount=3 Source=var/log/auth.log]",
		"2024-03-03T12:04:00Z Login Fail /usr/sbin/sshd  pid=2030 user=x from 10.0.0.1 port 22 ssh2 from=198.51.100.9:4242 [InvalidUser=true Method=password Source=var/log/auth.log UserKnown=false]",
		"2024-03-03T11:06:00Z Login Success sshd-session  pid=2040 user=carol from=192.0.2.44:50000 [Method=password Source=var/log/auth.log]",
		"2024-03-03T12:07:00Z Login Fail /usr/sbin/sshd  pid=2050 user=oracle from=198.51.100.7:60000 [InvalidUser=true Method=keyboard-interactive/pam Source=var/log/auth.log UserKnown=false]",
		"2024-03-03T12:08:00Z Login Fail /usr/sbin/sshd  pid=2060 user=(unknown) from=198.51.100.8:61000 [InvalidUser=true Method=none Source=var/log/auth.log]",
		"2024-03-03T12:09:00Z Login Fail /usr/bin/su  pid=2070 user=root from=: [PamModule=pam_unix PamService=su RemoteHost=gateway.example.net Source=var/log/auth.log Tty=pts/0]",
		"2024-03-03T12:10:00Z Login Fail /usr/sbin/sshd  pid=2080 user=root from=fe80::1:2222 [Method=password Source=var/log/auth.log]",
	}, pollOnce(t, r))
}

const line1 = "Mar  3 13:00:00 edge1 sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n"
const line2 = "Mar  3 13:00:01 edge1 sshd[2]: Failed password for root from 192.0.2.2 port 2 ssh2\n"
const line3 = "Mar  3 13:00:02 edge1 sshd[3]: Failed password for root from 192.0.2.3 port 3 ssh2\n"

func pids(evs []string) []string {
	var out []string
	for _, e := range evs {
		f := strings.Fields(e)
		out = append(out, f[4])
	}
	return out
}

func TestAuthLogRotationTruncationAndPartialLines(t *testing.T) {
	root := newRoot(t)
	auth := filepath.Join(root, "var/log/auth.log")
	copyFile(t, "testdata/auth.log", auth)
	r := newTestRun(t, Options{HostRoot: root})
	assert.Empty(t, pollOnce(t, r))

	// Partial line: waits for its newline.
	appendFile(t, auth, []byte(line1[:20]))
	assert.Empty(t, pollOnce(t, r))
	appendFile(t, auth, []byte(line1[20:]))
	assert.Equal(t, []string{"pid=1"}, pids(pollOnce(t, r)))

	// Rotation: a line written just before logrotate renamed the file is
	// read from auth.log.1, then the new file from its start.
	appendFile(t, auth, []byte(line2))
	require.NoError(t, os.Rename(auth, auth+".1"))
	appendFile(t, auth, []byte(line3))
	assert.Equal(t, []string{"pid=2", "pid=3"}, pids(pollOnce(t, r)))
	assert.Empty(t, pollOnce(t, r))

	// copytruncate: the file shrinks; it is read from its start.
	require.NoError(t, os.Truncate(auth, 0))
	appendFile(t, auth, []byte(line1))
	assert.Equal(t, []string{"pid=1"}, pids(pollOnce(t, r)))

	// A file that appears while the collector runs is read whole.
	secure := filepath.Join(root, "var/log/secure")
	appendFile(t, secure, []byte(line2+line3))
	assert.Equal(t, []string{"pid=2", "pid=3"}, pids(pollOnce(t, r)))
}

func TestStatePersistsAcrossRestarts(t *testing.T) {
	root := newRoot(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	auth := filepath.Join(root, "var/log/auth.log")
	appendFile(t, auth, []byte(line1))
	r := newTestRun(t, Options{HostRoot: root, StateDir: stateDir})
	assert.Empty(t, pollOnce(t, r))
	appendFile(t, auth, []byte(line2))
	assert.Equal(t, []string{"pid=2"}, pids(pollOnce(t, r)))

	// Lines written while the module was down are sent after a restart,
	// and nothing twice.
	appendFile(t, auth, []byte(line3))
	r = newTestRun(t, Options{HostRoot: root, StateDir: stateDir})
	assert.Equal(t, []string{"pid=3"}, pids(pollOnce(t, r)))
	entries, err := os.ReadDir(stateDir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary files left behind")
	assert.Equal(t, StateFile, entries[0].Name())

	// A corrupt state file is reported and the collector starts over
	// from the end.
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, StateFile), []byte("{not json"), 0o600))
	appendFile(t, auth, []byte(line1))
	r = newTestRun(t, Options{HostRoot: root, StateDir: stateDir})
	errs := r.sink.(*collectortest.Recorder).Errors()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Err.Error(), "corrupt")
	assert.Empty(t, pollOnce(t, r))
}

func TestJournalOnlyHostIsReportedOnce(t *testing.T) {
	root := newRoot(t)
	dir := filepath.Join(root, "var/log/journal/0123456789abcdef")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "system.journal"), []byte("LPKSHHRH"), 0o640))
	c := New(Options{HostRoot: root, PollInterval: 10 * time.Millisecond})
	rec := collectortest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx, rec) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	c.checkSources(context.Background(), rec) // a second check does not repeat it
	errs := rec.Errors()
	require.Len(t, errs, 1)
	assert.True(t, errors.Is(errs[0].Err, ErrJournalOnly))
	assert.Equal(t, event.Login, errs[0].Collector)
}

// A source that exists but cannot be read is reported (once), not
// silently skipped. Root reads files without permission, so as root (CI)
// the source is made unreadable by being a directory.
func TestUnreadableFileIsReported(t *testing.T) {
	root := newRoot(t)
	auth := filepath.Join(root, "var/log/auth.log")
	if os.Geteuid() == 0 {
		require.NoError(t, os.MkdirAll(auth, 0o755))
	} else {
		appendFile(t, auth, []byte(line1))
		require.NoError(t, os.Chmod(auth, 0))
	}
	r := newTestRun(t, Options{HostRoot: root})
	assert.Empty(t, pollOnce(t, r))
	require.NoError(t, r.poll(context.Background())) // pollOnce would reset the recorder
	errs := r.sink.(*collectortest.Recorder).Errors()
	require.Len(t, errs, 1, "reported once, not on every poll")
	assert.Equal(t, event.Login, errs[0].Collector)
	assert.ErrorContains(t, errs[0].Err, "auth.log")
}
