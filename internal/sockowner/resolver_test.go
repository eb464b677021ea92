package sockowner_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/internal/sockowner"
)

// TestMain lets the test binary play a child process that holds a socket.
func TestMain(m *testing.M) {
	if os.Getenv("SOCKOWNER_HELPER") == "listen" {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(inode(ln.(*net.TCPListener)))
		// Hold the socket until the parent closes stdin.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func inode(c syscall.Conn) uint64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var st unix.Stat_t
	_ = rc.Control(func(fd uintptr) { _ = unix.Fstat(int(fd), &st) })
	return st.Ino
}

func lookup(t *testing.T, r *sockowner.Resolver, qs ...sockowner.Query) []*sockowner.Owner {
	t.Helper()
	out, err := r.Lookup(context.Background(), qs)
	require.NoError(t, err)
	require.Len(t, out, len(qs))
	return out
}

// The test process's own sockets are attributed to it, and a second
// Lookup of the same sockets reads nothing from /proc.
func TestOwnSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	uid := uint32(os.Getuid())
	qs := []sockowner.Query{{Inode: inode(ln.(*net.TCPListener)), UID: uid}, {Inode: inode(c.(*net.TCPConn)), UID: uid}}

	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	r := sockowner.New(sockowner.Options{})
	for i, o := range lookup(t, r, qs...) {
		require.NotNil(t, o, "query %d", i)
		require.Equal(t, os.Getpid(), o.PID)
		require.Equal(t, exe, o.Exe)
		require.Equal(t, strings.Join(os.Args, " "), o.Cmdline)
		require.Equal(t, uid, o.UID)
	}
	st := r.Stats()
	require.NotZero(t, st.FDsRead)

	// Cached: no /proc access at all.
	out := lookup(t, r, qs...)
	require.Equal(t, os.Getpid(), out[0].PID)
	st2 := r.Stats()
	require.Equal(t, st.FDsRead, st2.FDsRead)
	require.Equal(t, st.ProcessScans, st2.ProcessScans)
	require.Equal(t, st.Hits+2, st2.Hits)

	// A new socket of a known process is found by re-reading the known
	// processes, this one first (same uid, recently attributed): one
	// known process read again (processes the host started meanwhile are
	// read too, first, as new ones).
	c2, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c2.Close()
	out = lookup(t, r, append(qs, sockowner.Query{Inode: inode(c2.(*net.TCPConn)), UID: uid})...)
	require.Equal(t, os.Getpid(), out[2].PID)
	st3 := r.Stats()
	require.Equal(t, st2.FullScans+1, st3.FullScans)
	require.Equal(t, st2.Rescans+1, st3.Rescans, "only the likely owner is re-read")
}

// A socket held by a process started after the last scan is found by
// reading only the new processes, with the child's own details.
func TestNewProcess(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	r := sockowner.New(sockowner.Options{})
	lookup(t, r, sockowner.Query{Inode: 1}) // a first scan: every process is known now
	before := r.Stats()

	cmd := exec.Command(self, "-test.run=^$", "child-arg")
	cmd.Env = append(os.Environ(), "SOCKOWNER_HELPER=listen")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	ino, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	require.NoError(t, err, line)

	out := lookup(t, r, sockowner.Query{Inode: 1}, sockowner.Query{Inode: ino, UID: uint32(os.Getuid())})
	require.Nil(t, out[0], "inode 1 is nobody's socket")
	require.NotNil(t, out[1])
	require.Equal(t, cmd.Process.Pid, out[1].PID)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
	require.NoError(t, err)
	require.Equal(t, exe, out[1].Exe)
	require.Equal(t, self+" -test.run=^$ child-arg", out[1].Cmdline)
	// How many processes the host started meanwhile is not this test's
	// to know: that only the new ones are read is counted exactly on a
	// fixture host (TestFixtureHost).
	after := r.Stats()
	require.Zero(t, after.FullScans-before.FullScans, "found among the new processes")
	require.Zero(t, after.Rescans-before.Rescans, "no known process read again")
}

// An inode nobody holds costs one complete scan, then nothing.
func TestUnresolvedRemembered(t *testing.T) {
	r := sockowner.New(sockowner.Options{})
	q := sockowner.Query{Inode: 1<<40 + 7}
	require.Nil(t, lookup(t, r, q)[0])
	st := r.Stats()
	require.Equal(t, uint64(1), st.Unresolved)
	require.Nil(t, lookup(t, r, q)[0])
	require.Equal(t, st.FDsRead, r.Stats().FDsRead)
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput()
	require.NoError(t, err, string(out))
	return dst
}

// On a fixture host tree: shared sockets go to the lowest pid, container
// ids come from the cgroup, new pids and new descriptors are found, and
// dead processes are forgotten.
func TestFixtureHost(t *testing.T) {
	root := copyTree(t, "testdata/hostroot")
	r := sockowner.New(sockowner.Options{HostRoot: root})
	out := lookup(t, r, sockowner.Query{Inode: 1001}, sockowner.Query{Inode: 1002}, sockowner.Query{Inode: 2001, UID: 1000}, sockowner.Query{Inode: 0})
	require.Equal(t, sockowner.Owner{PID: 100, Exe: "/usr/sbin/sshd", Cmdline: "/usr/sbin/sshd -D", Comm: "sshd"}, *out[0])
	require.Equal(t, sockowner.Owner{PID: 101, Exe: "/usr/sbin/sshd", Cmdline: "sshd: alice [priv]", Comm: "sshd"}, *out[1])
	require.Equal(t, sockowner.Owner{PID: 200, Exe: "/usr/bin/dotnet", Cmdline: "/usr/bin/dotnet Microsoft.Azure.Devices.Edge.Agent.Service.dll",
		Comm: "edgeAgent", UID: 1000, ContainerID: "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100"}, *out[2])
	require.Nil(t, out[3])
	st := r.Stats()
	require.Equal(t, uint64(4), st.ProcessScans)
	require.Equal(t, uint64(8), st.FDsRead)
	require.Zero(t, st.FullScans)

	// Process 300 (known, no sockets until now) opens socket 3001 on a new
	// descriptor, and process 400 appears with socket 4001; process 101
	// exits.
	proc := filepath.Join(root, "proc")
	require.NoError(t, os.Symlink("socket:[3001]", filepath.Join(proc, "300/fd/9")))
	require.NoError(t, exec.Command("cp", "-a", filepath.Join(proc, "300"), filepath.Join(proc, "400")).Run())
	require.NoError(t, os.Remove(filepath.Join(proc, "400/fd/9")))
	require.NoError(t, os.Symlink("socket:[4001]", filepath.Join(proc, "400/fd/5")))
	require.NoError(t, os.RemoveAll(filepath.Join(proc, "101")))

	out = lookup(t, r, sockowner.Query{Inode: 1001}, sockowner.Query{Inode: 3001}, sockowner.Query{Inode: 4001})
	require.Equal(t, 100, out[0].PID)
	require.Equal(t, 300, out[1].PID)
	require.Equal(t, "/usr/sbin/cron -f", out[1].Cmdline)
	require.Equal(t, 400, out[2].PID)
	st2 := r.Stats()
	require.Equal(t, uint64(1), st2.FullScans-st.FullScans)

	// Process 500 appears with socket 5001: it alone is read, the known
	// processes are not.
	require.NoError(t, exec.Command("cp", "-a", filepath.Join(proc, "400"), filepath.Join(proc, "500")).Run())
	require.NoError(t, os.Remove(filepath.Join(proc, "500/fd/5")))
	require.NoError(t, os.Symlink("socket:[5001]", filepath.Join(proc, "500/fd/6")))
	out = lookup(t, r, sockowner.Query{Inode: 1001}, sockowner.Query{Inode: 3001}, sockowner.Query{Inode: 4001}, sockowner.Query{Inode: 5001})
	require.Equal(t, []int{100, 300, 400, 500}, []int{out[0].PID, out[1].PID, out[2].PID, out[3].PID})
	st3 := r.Stats()
	require.Zero(t, st3.FullScans-st2.FullScans, "found among the new processes")
	require.Zero(t, st3.Rescans-st2.Rescans)
	require.Equal(t, uint64(1), st3.ProcessScans-st2.ProcessScans, "only the new process is read")
}

// MaxScanFDs bounds the work of one Lookup.
func TestScanBudget(t *testing.T) {
	r := sockowner.New(sockowner.Options{HostRoot: "testdata/hostroot", MaxScanFDs: 2})
	out := lookup(t, r, sockowner.Query{Inode: 2001})
	require.Nil(t, out[0])
	st := r.Stats()
	require.LessOrEqual(t, st.FDsRead, uint64(2))
	require.Equal(t, uint64(1), st.BudgetHits)
	require.Zero(t, st.Unresolved, "an incomplete scan does not mark sockets unresolvable")
}

func TestParseSocketLink(t *testing.T) {
	for in, want := range map[string]uint64{"socket:[0]": 0, "socket:[12345]": 12345, "socket:[18446744073709551615]": 1<<64 - 1} {
		got, ok := sockowner.ParseSocketLink([]byte(in))
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "socket:[]", "socket:[12", "pipe:[12]", "socket:[1a]", "socket:[18446744073709551616]", "/dev/null"} {
		_, ok := sockowner.ParseSocketLink([]byte(in))
		require.False(t, ok, in)
	}
}

func FuzzParseSocketLink(f *testing.F) {
	f.Add([]byte("socket:[12345]"))
	f.Add([]byte("socket:[99999999999999999999]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := sockowner.ParseSocketLink(b)
		if ok && string(b) != "socket:["+strconv.FormatUint(n, 10)+"]" && !strings.HasPrefix(string(b), "socket:[0") {
			t.Fatalf("%q parsed as %d", b, n)
		}
	})
}

// dirent builds one getdents64 record.
func dirent(name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	b[16] = byte(reclen)
	b[17] = byte(reclen >> 8)
	copy(b[19:], name)
	return b
}

func TestParseDirents(t *testing.T) {
	var buf []byte
	for _, n := range []string{".", "..", "0", "17", "1023"} {
		buf = append(buf, dirent(n)...)
	}
	var got []string
	require.NoError(t, sockowner.ParseDirents(buf, func(z []byte) {
		require.Equal(t, byte(0), z[len(z)-1])
		got = append(got, string(z[:len(z)-1]))
	}))
	require.Equal(t, []string{"0", "17", "1023"}, got)
	require.ErrorIs(t, sockowner.ParseDirents(buf[:len(buf)-3], func([]byte) {}), sockowner.ErrBadDirent)
	require.ErrorIs(t, sockowner.ParseDirents(make([]byte, 24), func([]byte) {}), sockowner.ErrBadDirent)
}

func FuzzParseDirents(f *testing.F) {
	f.Add(append(dirent("3"), dirent("42")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = sockowner.ParseDirents(b, func(z []byte) {
			if len(z) < 2 || z[len(z)-1] != 0 {
				t.Fatalf("bad name %q", z)
			}
		})
	})
}
