package users

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/hostfs"
)

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestPoller(t *testing.T, root string) *Poller {
	t.Helper()
	p := New(Options{HostRoot: root, MaxEventBytes: 1 << 30})
	p.now = func() time.Time { return fixedNow }
	return p
}

// user builds the expected item; extra holds the keys beyond Shell, Home,
// LoginShell and PasswordState.
func user(name, uid, gids, gnames, home, shell, login, pw string, extra ...string) *event.LocalUsersPayload {
	x := event.ExtraDetails{KeyShell: shell, KeyHome: home, KeyLoginShell: login, KeyPasswordState: pw}
	for i := 0; i+1 < len(extra); i += 2 {
		x[extra[i]] = extra[i+1]
	}
	return &event.LocalUsersPayload{UserName: name, UserID: uid, GroupIDs: gids, GroupNames: gnames, ExtraDetails: x}
}

func pollOne(t *testing.T, root string) (event.Event, error) {
	t.Helper()
	evs, err := newTestPoller(t, root).Poll(context.Background())
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, event.LocalUsers, ev.Name)
	require.Equal(t, event.Periodic, ev.Category)
	require.Equal(t, event.Security, ev.Type)
	require.Equal(t, fixedNow, ev.Time)
	require.True(t, event.ValidID(ev.ID))
	return ev, err
}

func TestPollDebian(t *testing.T) {
	ev, err := pollOne(t, "testdata/hostroot-debian")
	require.NoError(t, err)
	const nl = "/usr/sbin/nologin"
	want := []event.Item{
		user("root", "0", "0", "root", "/root", "/bin/bash", "true", "set",
			KeyDuplicateUID, "true", KeyPasswordLastChange, "2023-12-09"),
		user("daemon", "1", "1", "daemon", "/usr/sbin", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("bin", "2", "2", "bin", "/bin", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("sys", "3", "3", "sys", "/dev", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("sync", "4", "65534", "nogroup", "/bin", "/bin/sync", "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("www-data", "33", "33", "www-data", "/var/www", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("nobody", "65534", "65534", "nogroup", "/nonexistent", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("systemd-network", "998", "998", "systemd-network", "/", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("sshd", "100", "65534", "nogroup", "/run/sshd", nl, "false", "locked", KeyPasswordLastChange, "2023-12-09"),
		user("aziotid", "996", "993;992", "aziotid;aziotks", "/home/aziotid", "/bin/sh", "true", "locked", KeyPasswordLastChange, "2023-12-10"),
		user("iotedge", "994", "991;993;992;990", "iotedge;aziotid;aziotks;docker", "/home/iotedge", "/bin/sh", "true", "locked", KeyPasswordLastChange, "2023-12-10"),
		user("alice", "1000", "1000;4;27;100;990", "alice;adm;sudo;users;docker", "/home/alice", "/bin/bash", "true", "set",
			KeyPasswordLastChange, "2024-01-28", KeyAccountExpires, "2025-01-01"),
		user("toor", "0", "0;27", "root;sudo", "/root", "/bin/bash", "true", "set",
			KeyUID0NotRoot, "true", KeyDuplicateUID, "true", KeyPasswordLastChange, "2024-02-07"),
		user("guest", "1001", "1001;100", "guest;users", "/home/guest", "/bin/bash", "true", "empty",
			KeyEmptyPasswordLogin, "true", KeyPasswordLastChange, "2024-02-08"),
		user("legacy", "1002", "2000", "2000", "/home/legacy", "", "true", "set",
			KeyPrimaryGroupMissing, "true", KeyPasswordHashInPasswd, "true"),
		user("nopw", "1003", "1003", "nopw", "/home/nopw", "/bin/false", "false", "empty"),
	}
	require.Equal(t, want, ev.Payload)

	// No hash from the fixtures reaches the wire.
	js := string(ev.AppendJSON(nil))
	for _, h := range []string{"$6$", "$y$", "HASH"} {
		require.NotContains(t, js, h)
	}
}

func TestPollAlpineWithoutShadow(t *testing.T) {
	ev, err := pollOne(t, "testdata/hostroot-alpine")
	require.NoError(t, err, "a missing /etc/shadow is not an error")
	const nl = "/sbin/nologin"
	want := []event.Item{
		user("root", "0", "0;1;2;3;4;10", "root;bin;daemon;sys;adm;wheel", "/root", "/bin/ash", "true", "unknown"),
		user("bin", "1", "1;2;3", "bin;daemon;sys", "/bin", nl, "false", "unknown"),
		user("daemon", "2", "2;1;4", "daemon;bin;adm", "/sbin", nl, "false", "unknown"),
		user("lp", "4", "7", "lp", "/var/spool/lpd", nl, "false", "unknown"),
		user("sync", "5", "0", "root", "/sbin", "/bin/sync", "false", "unknown"),
		user("shutdown", "6", "0", "root", "/sbin", "/sbin/shutdown", "false", "unknown"),
		user("halt", "7", "0", "root", "/sbin", "/sbin/halt", "false", "unknown"),
		user("nobody", "65534", "65534", "nobody", "/", nl, "false", "unknown"),
		user("pi", "1000", "1000;10;20", "pi;wheel;dialout", "/home/pi", "/bin/ash", "true", "unknown"),
	}
	require.Equal(t, want, ev.Payload)
}

func TestPollBroken(t *testing.T) {
	ev, err := pollOne(t, "testdata/hostroot-broken")
	require.Error(t, err)
	want := []event.Item{
		user("root", "0", "0;10", "root;ok", "/root", "/bin/bash", "true", "unknown"),
		user("ok", "10", "10", "ok", "/home/ok", "/bin/sh", "true", "locked"),
		user("after", "12", "12", "12", "/", "/usr/bin/nologin", "false", "unknown", KeyPrimaryGroupMissing, "true"),
	}
	// The gecos of "ok" is invalid UTF-8 but is not sent; check the rest.
	require.Equal(t, want, ev.Payload)

	var perrs []*ParseError
	for _, e := range unwrapAll(err) {
		var pe *ParseError
		if errors.As(e, &pe) {
			perrs = append(perrs, pe)
		}
	}
	require.Equal(t, []*ParseError{
		{File: "passwd", Malformed: 9, TooLong: 1, FirstLine: 8, FirstReason: "want 7 fields"},
		{File: "group", Malformed: 2, FirstLine: 2, FirstReason: "want 4 fields"},
		{File: "shadow", Malformed: 2, FirstLine: 1, FirstReason: "want 2 to 9 fields"},
	}, perrs)
	msg := err.Error()
	require.Contains(t, msg, filepath.Join("testdata/hostroot-broken", "etc/passwd")+": passwd: 9 malformed line(s) skipped (first: line 8: want 7 fields); 1 line(s) longer than 65536 bytes skipped")
	require.Contains(t, msg, "group: 2 malformed line(s) skipped")
	require.Contains(t, msg, "shadow: 2 malformed line(s) skipped")
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestPollMissingPasswd(t *testing.T) {
	evs, err := New(Options{HostRoot: t.TempDir()}).Poll(context.Background())
	require.Nil(t, evs)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestPollMissingGroup(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	ev, err := pollOne(t, root)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, []event.Item{
		user("root", "0", "0", "0", "/root", "/bin/sh", "true", "unknown", KeyPrimaryGroupMissing, "true"),
	}, ev.Payload)
}

func TestPollEmptyPasswdIsEmptySnapshot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	for _, f := range []string{"passwd", "group", "shadow"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, "etc", f), []byte("# nothing\n"), 0o644))
	}
	ev, err := pollOne(t, root)
	require.NoError(t, err)
	require.True(t, ev.IsEmpty())
	require.Contains(t, string(ev.AppendJSON(nil)), `"IsEmpty":true`)
}

func TestPollCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs, err := New(Options{HostRoot: "testdata/hostroot-debian"}).Poll(ctx)
	require.Nil(t, evs)
	require.ErrorIs(t, err, context.Canceled)
}

func TestPollSplitsLargeSnapshots(t *testing.T) {
	p := New(Options{HostRoot: "testdata/hostroot-debian", MaxEventBytes: 1500})
	evs, err := p.Poll(context.Background())
	require.NoError(t, err)
	require.Greater(t, len(evs), 1)
	var names []string
	for i := range evs {
		require.LessOrEqual(t, evs[i].Size(), 1500)
		for _, it := range evs[i].Payload {
			names = append(names, it.(*event.LocalUsersPayload).UserName)
		}
	}
	require.Equal(t, []string{"root", "daemon", "bin", "sys", "sync", "www-data", "nobody", "systemd-network", "sshd",
		"aziotid", "iotedge", "alice", "toor", "guest", "legacy", "nopw"}, names)

	// The default budget fits the fixture in a single event below 7 KiB.
	evs, err = New(Options{HostRoot: "testdata/hostroot-debian"}).Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.LessOrEqual(t, evs[0].Size(), DefaultMaxEventBytes)

	// An item larger than the budget still goes out, alone.
	p = New(Options{HostRoot: "testdata/hostroot-debian", MaxEventBytes: 10})
	evs, err = p.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, evs, 16)
}

func TestHostRootSymlinks(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/share/base"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/share/base/passwd"), []byte("inside:x:5:5::/:/bin/sh\n"), 0o644))
	// An absolute link must resolve inside the host root, not in ours.
	require.NoError(t, os.Symlink("/usr/share/base/passwd", filepath.Join(root, "etc/passwd")))
	// ".." cannot climb out of the root either.
	require.NoError(t, os.Symlink("../../../../../../usr/share/base/passwd", filepath.Join(root, "etc/group")))
	got, err := hostfs.Resolve(root, "etc/passwd", true)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "usr/share/base/passwd"), got)
	got, err = hostfs.Resolve(root, "etc/group", true)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "usr/share/base/passwd"), got)

	require.NoError(t, os.Symlink("loop", filepath.Join(root, "etc/loop")))
	_, err = hostfs.Resolve(root, "etc/loop", true)
	require.ErrorContains(t, err, "too many symbolic links")

	evs, err := New(Options{HostRoot: root}).Poll(context.Background())
	require.Error(t, err) // group is a passwd file: malformed lines
	require.Len(t, evs, 1)
	require.Equal(t, "inside", evs[0].Payload[0].(*event.LocalUsersPayload).UserName)
}

func TestRealHost(t *testing.T) {
	evs, err := New(Options{}).Poll(context.Background())
	if err != nil {
		t.Logf("poll reported: %v", err)
	}
	require.NotEmpty(t, evs)
	var root *event.LocalUsersPayload
	n := 0
	for _, ev := range evs {
		require.Equal(t, event.LocalUsers, ev.Name)
		for _, it := range ev.Payload {
			u := it.(*event.LocalUsersPayload)
			n++
			require.NotEmpty(t, u.UserName)
			require.NotEmpty(t, u.GroupIDs)
			require.Equal(t, strings.Count(u.GroupIDs, ";"), strings.Count(u.GroupNames, ";"))
			require.Contains(t, []string{"empty", "locked", "set", "unknown"}, u.ExtraDetails[KeyPasswordState])
			if u.UserName == "root" {
				root = u
			}
		}
	}
	require.NotNil(t, root, "root account")
	require.Equal(t, "0", root.UserID)
	require.True(t, strings.HasPrefix(root.GroupIDs, "0"))
	if os.Geteuid() == 0 {
		if _, err := os.Stat("/etc/shadow"); err == nil {
			require.NotEqual(t, "unknown", root.ExtraDetails[KeyPasswordState], "root can read /etc/shadow")
		}
	}
	t.Logf("%d accounts", n)
}

func TestLoginShell(t *testing.T) {
	for shell, want := range map[string]bool{
		"": true, "/bin/bash": true, "/bin/sh": true, "/usr/bin/zsh": true, "/bin/ash": true,
		"/usr/sbin/nologin": false, "/sbin/nologin": false, "/bin/false": false, "/usr/bin/false": false,
		"/bin/sync": false, "/sbin/shutdown": false, "/sbin/halt": false, "nologin": false,
	} {
		require.Equal(t, want, LoginShell(shell), shell)
	}
}

// heapDuring runs f and returns the bytes it allocated in total and the
// live heap right after it (while its result is still referenced).
func heapDuring(f func() any) (total, live uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := f()
	runtime.ReadMemStats(&after)
	total = after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(res)
	return total, after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
}

// A hostile host root (issue #15): a 50 MB /etc/passwd of 615,000 accounts
// and an /etc/group whose member lists hold millions of names. Before
// the parsers stopped at the cap, one Poll allocated 105 MB and kept
// 76 MB live (100,000 accounts and their items) against the module's
// 32 MiB soft limit.
func TestPollHostileFilesMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 50 MB file")
	}
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	write := func(name string, n int, line func(b []byte, i int) []byte) {
		f, err := os.Create(filepath.Join(root, "etc", name))
		require.NoError(t, err)
		w := bufio.NewWriterSize(f, 1<<20)
		var b []byte
		for i := range n {
			b = line(b[:0], i)
			_, err = w.Write(b)
			require.NoError(t, err)
		}
		require.NoError(t, w.Flush())
		require.NoError(t, f.Close())
	}
	const accounts = 615_000
	write("passwd", accounts, func(b []byte, i int) []byte {
		n := strconv.AppendInt(nil, int64(1000000+i), 10)
		id := strconv.AppendInt(nil, int64(10000+i), 10)
		b = append(append(append(b, "user"...), n...), ":x:"...)
		b = append(append(append(append(b, id...), ':'), id...), ":User number "...)
		b = append(append(append(b, n...), ",,,:/home/user"...), n...)
		return append(b, ":/bin/bash\n"...)
	})
	// 300 groups of 20,000 two-letter members each: 6 million names.
	members := strings.TrimSuffix(strings.Repeat("ab,", 20000), ",")
	write("group", 300, func(b []byte, i int) []byte {
		return fmt.Appendf(b, "group%d:x:%d:%s\n", i, 10000+i, members)
	})
	fi, err := os.Stat(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	require.Greater(t, fi.Size(), int64(45<<20))

	p := New(Options{HostRoot: root})
	var evs []event.Event
	total, live := heapDuring(func() any {
		evs, err = p.Poll(t.Context())
		return evs
	})
	t.Logf("%d MB passwd, %d accounts: %d events, %.1f MB allocated in total, %.1f MB live after Poll",
		fi.Size()>>20, accounts, len(evs), float64(total)/(1<<20), float64(live)/(1<<20))
	// The bounds are generous (about three times what the capped parse
	// needs) so that they hold with the race detector, and far below what
	// the uncapped parse took.
	require.Less(t, total, uint64(32<<20), "total allocation of one Poll")
	require.Less(t, live, uint64(16<<20), "live heap after one Poll")
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.ErrorContains(t, err, fmt.Sprintf("passwd: %d entries beyond the limits of %d entries and 4 MiB dropped", accounts-MaxEntries, MaxEntries))
	// Group lines of 60 KB: MaxKeptBytes keeps 70 groups, MaxMembers 50,000
	// of their 1.4 million members.
	require.ErrorContains(t, err, "group: 230 entries beyond the limits")
	require.ErrorContains(t, err, fmt.Sprintf("%d group members beyond the limit of %d dropped", 70*20000-MaxMembers, MaxMembers))
	items := 0
	for i := range evs {
		items += len(evs[i].Payload)
	}
	require.Equal(t, MaxEntries, items)
}

// Few accounts, each as long as a line may be (64 KiB): MaxKeptBytes, not
// MaxEntries, bounds what a Poll keeps. Before it, 500 such accounts kept
// their 30 MB of home directories and comments.
func TestPollLongAccountsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 30 MB file")
	}
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	f, err := os.Create(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	long := strings.Repeat("x", 30<<10)
	const accounts = 500
	for i := range accounts {
		fmt.Fprintf(w, "u%d:x:%d:%d:%s:/home/%s:/bin/sh\n", i, 10000+i, 10000+i, long, long)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())

	var evs []event.Event
	_, live := heapDuring(func() any {
		evs, err = New(Options{HostRoot: root}).Poll(t.Context())
		return evs
	})
	items := 0
	for i := range evs {
		items += len(evs[i].Payload)
	}
	t.Logf("%d accounts of 60 KiB: %d kept, %.1f MB live after Poll", accounts, items, float64(live)/(1<<20))
	require.Less(t, live, uint64(8<<20), "live heap after one Poll")
	kept := (MaxKeptBytes + 2*len(long)) / (2 * len(long))
	require.InDelta(t, kept, items, 1)
	require.ErrorContains(t, err, fmt.Sprintf("%d entries beyond the limits", accounts-items))
}
