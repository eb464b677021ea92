package procfs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	id1 = "3f8c2d0e6b7a4c1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d"
	id2 = "9d2b1e6a0c4f4b8e8a7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f"
)

func TestContainerIDFixtures(t *testing.T) {
	cases := []struct {
		file, id, runtime string
	}{
		{"docker-v1", id1, RuntimeDocker},
		{"docker-v2-systemd", id1, RuntimeDocker},
		{"docker-v2-cgroupns", id1, RuntimeDocker},
		{"iotedge-moby-v1", id1, RuntimeDocker},
		{"containerd-kubepods-v1", id1, RuntimeKubernetes},
		{"containerd-kubepods-v2-systemd", id1, RuntimeContainerd},
		{"crio-v2", id1, RuntimeCRIO},
		{"crio-conmon", "", ""},
		{"podman-v2", id1, RuntimePodman},
		{"dind", id1, RuntimeDocker},
		{"host-v2", "", ""},
		{"host-v1", "", ""},
		{"not-hex", "", ""},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "cgroup", c.file+".cgroup"))
			require.NoError(t, err)
			seen[c.file] = true
			id, rt, ok := ContainerRuntimeID(b)
			assert.Equal(t, c.id != "", ok)
			assert.Equal(t, c.id, id)
			assert.Equal(t, c.runtime, rt)
			id, ok = ContainerID(b)
			assert.Equal(t, c.id, id)
			assert.Equal(t, c.id != "", ok)
		})
	}
	// Every fixture is covered by the table.
	files, err := filepath.Glob("testdata/cgroup/*.cgroup")
	require.NoError(t, err)
	for _, f := range files {
		assert.True(t, seen[strings.TrimSuffix(filepath.Base(f), ".cgroup")], "fixture %s not in the table", f)
	}
}

func TestContainerIDEdgeCases(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "",
		"\n\n::\n":                              "",
		"0::/docker/" + id1 + "\n":              id1,
		"0::/docker/" + id1:                     id1, // no trailing newline
		"0::/docker/" + id1 + "x\n":             "",
		"0::/docker-" + id1 + ".scope\n":        id1,
		"0::/docker-" + id1[:63] + ".scope":     "",
		"5:cpu:/a:b/docker/" + id1 + "\n":       id1, // ':' inside the path
		"garbage\n0::/crio-" + id2 + ".scope\n": id2,
	} {
		got, ok := ContainerID([]byte(in))
		assert.Equal(t, want, got, "%q", in)
		assert.Equal(t, want != "", ok, "%q", in)
	}
}

func TestParseStat(t *testing.T) {
	b, err := os.ReadFile("testdata/hostroot/proc/4242/stat")
	require.NoError(t, err)
	st, err := ParseStat(b)
	require.NoError(t, err)
	assert.Equal(t, Stat{PID: 4242, Comm: "evil) (x y", State: 'S', PPID: 777, StartTime: 123456}, st)

	for _, bad := range []string{
		"", "1", "1 (x", "x (a) S 1", "1 (a) S 1 2 3",
		"1 (a) SS 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 2",
		"1 (a) S -4 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 2",
		"1 (a) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 x",
		"-1 (a) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 2",
	} {
		_, err := ParseStat([]byte(bad))
		assert.ErrorIs(t, err, ErrFormat, "%q", bad)
	}
}

func TestParseStatus(t *testing.T) {
	b, err := os.ReadFile("testdata/hostroot/proc/4242/status")
	require.NoError(t, err)
	s, err := ParseStatus(b)
	require.NoError(t, err)
	assert.Equal(t, "evil) (x y", s.Name)
	assert.Equal(t, 4242, s.PID)
	assert.Equal(t, 4242, s.TGID)
	assert.Equal(t, 777, s.PPID)
	assert.Equal(t, uint32(1000), s.RealUID())
	assert.Equal(t, uint32(0), s.EffectiveUID())
	assert.Equal(t, [4]uint32{1000, 1000, 1000, 1000}, s.GID)

	s, err = ParseStatus([]byte("Name:\ta\\nb\\\\c\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"))
	require.NoError(t, err)
	assert.Equal(t, "a\nb\\c", s.Name)

	for _, bad := range []string{
		"", "Pid:\t1\n", "Pid:\tx\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
		"Pid:\t1\nPPid:\t0\nUid:\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
		"Pid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t99999999999\nGid:\t0\t0\t0\t0\n",
	} {
		_, err := ParseStatus([]byte(bad))
		assert.ErrorIs(t, err, ErrFormat, "%q", bad)
	}
}

func TestParseCmdline(t *testing.T) {
	cases := []struct {
		in    string
		max   int
		want  string
		trunc bool
	}{
		{"", 10, "", false},
		{"\x00\x00", 10, "", false},
		{"/bin/sh\x00-c\x00echo a\nb\x00", 0, "/bin/sh -c echo a\nb", false},
		{"a\x00b\x00", 3, "a b", false},
		{"a\x00bc\x00", 3, "a b", true},
		{"nginx: worker process", 100, "nginx: worker process", false},
		{"bad\xff\xfeutf8\x00", 100, "bad\uFFFD\uFFFDutf8", false},
		{"é\x00é", 4, "é ", true},         // the cut falls inside the second é
		{"abc\xff", 4, "abc\uFFFD", true}, // the replacement makes it longer: cut again
		{"ab\xe2\x82", 4, "ab\uFFFD\uFFFD", false},
	}
	for _, c := range cases {
		got, trunc := ParseCmdline([]byte(c.in), c.max)
		if c.in == "abc\xff" {
			// 'abc' + U+FFFD is 6 bytes: cut to 4 → "abc".
			assert.Equal(t, "abc", got)
		} else if c.in == "ab\xe2\x82" {
			assert.Equal(t, "ab", got) // cut to 4 bytes at a rune boundary
			assert.True(t, trunc)
			continue
		} else {
			assert.Equal(t, c.want, got, "%q", c.in)
		}
		assert.Equal(t, c.trunc, trunc, "%q", c.in)
		assert.True(t, utf8.ValidString(got))
		if c.max > 0 {
			assert.LessOrEqual(t, len(got), c.max)
		}
	}
}

func TestParsePasswd(t *testing.T) {
	f, err := os.Open("testdata/hostroot/etc/passwd")
	require.NoError(t, err)
	defer f.Close()
	names, err := ParsePasswd(f)
	require.NoError(t, err)
	assert.Equal(t, map[uint32]string{0: "root", 1: "daemon", 994: "iotedge", 1000: "alice"}, names)
}

func TestParsePasswdHostile(t *testing.T) {
	var b bytes.Buffer
	for i := range 150000 {
		b.WriteString("u")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(":x:")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(":0::/:/bin/sh\n")
	}
	b.WriteString(strings.Repeat("y", 200<<10)) // a 200 KiB line, no newline
	b.WriteString("\nlast:x:7:7::/:/bin/sh\n")
	names, err := ParsePasswd(&b)
	require.NoError(t, err)
	assert.Len(t, names, MaxPasswdEntries)
}

func TestReadProcessFixture(t *testing.T) {
	root := "testdata/hostroot"
	p, err := ReadProcess(root, 4242, 0)
	require.NoError(t, err)
	assert.Equal(t, Process{
		PID: 4242, PPID: 777, Comm: "evil) (x y", Exe: "/usr/bin/evil", ExeDeleted: true,
		Cmdline: "/bin/sh -c echo hi\nthere", UID: 1000, EUID: 0, GID: 1000, StartTime: 123456, State: 'S',
		ContainerID: id1, ContainerRuntime: RuntimeDocker,
	}, p)

	p, err = ReadProcess(root, 4242, 9)
	require.NoError(t, err)
	assert.Equal(t, "/bin/sh -", p.Cmdline)
	assert.True(t, p.CmdlineTruncated)

	q, err := ReadProcessWith(root, 4242, ReadOptions{SkipStat: true, SkipCgroup: true})
	require.NoError(t, err)
	assert.Equal(t, Process{
		PID: 4242, PPID: 777, Comm: "evil) (x y", Exe: "/usr/bin/evil", ExeDeleted: true,
		Cmdline: "/bin/sh -c echo hi\nthere", UID: 1000, EUID: 0, GID: 1000,
	}, q)
	_, err = ReadProcessWith(root, 1, ReadOptions{SkipStat: true}) // no status
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// init: no status, no exe → partial, but what was read is there.
	p, err = ReadProcess(root, 1, 0)
	require.NoError(t, err)
	assert.True(t, p.Partial)
	assert.Equal(t, "systemd", p.Comm)
	assert.Equal(t, "/sbin/init splash", p.Cmdline)
	assert.Empty(t, p.ContainerID)

	// An empty command line is what the kernel shows while a process
	// exits or is half-way through an exec: partial, though every file
	// could be read.
	mid := t.TempDir()
	out, err := exec.Command("cp", "-a", filepath.Join(root, "proc"), mid).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, os.WriteFile(filepath.Join(mid, "proc/777/cmdline"), nil, 0o644))
	for _, o := range []ReadOptions{{}, {SkipStat: true}} {
		p, err = ReadProcessWith(mid, 777, o)
		require.NoError(t, err)
		assert.True(t, p.Partial, "%+v", o)
		assert.Equal(t, "bash", p.Comm)
		assert.Equal(t, "/usr/bin/bash", p.Exe)
		assert.Empty(t, p.Cmdline)
	}
	p, err = ReadProcess(root, 777, 0)
	require.NoError(t, err)
	assert.False(t, p.Partial, "the same process with its command line")

	// A kernel thread has no exe; that is not partial.
	p, err = ReadProcess(root, 2, 0)
	require.NoError(t, err)
	assert.False(t, p.Partial)
	assert.Equal(t, "kthreadd", p.Comm)

	_, err = ReadProcess(root, 99999, 0)
	assert.ErrorIs(t, err, fs.ErrNotExist)

	pids, err := ListPIDs(root)
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{1, 2, 777, 4242}, pids)

	bt, err := BootTime(root)
	require.NoError(t, err)
	assert.Equal(t, time.Unix(1700000000, 0), bt)
	assert.Equal(t, time.Unix(1700001234, 560000000), StartedAt(bt, 123456))

	comm, err := ReadComm(root, 4242)
	require.NoError(t, err)
	assert.Equal(t, "evil) (x y", comm)
}

func TestUserCache(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	pw := filepath.Join(dir, "etc", "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("root:x:0:0::/:/bin/sh\n"), 0o644))
	c := NewUserCache(dir, time.Millisecond)
	assert.Equal(t, "root", c.Name(0))
	assert.Equal(t, "", c.Name(1000))
	assert.NoError(t, c.Err())
	// A new account appears after the file changes.
	require.NoError(t, os.WriteFile(pw, []byte("root:x:0:0::/:/bin/sh\nbob:x:1000:1000::/:/bin/sh\n"), 0o644))
	time.Sleep(5 * time.Millisecond)
	assert.Equal(t, "bob", c.Name(1000))
	require.NoError(t, os.Remove(pw))
	time.Sleep(5 * time.Millisecond)
	assert.Equal(t, "", c.Name(0))
	assert.ErrorIs(t, c.Err(), fs.ErrNotExist)
}

// The readers agree with the kernel about a real process: this test's own
// child.
func TestReadProcessLive(t *testing.T) {
	arg := "hello\nworld \xff end"
	// sh ignores the extra argument (sleep would reject it and exit). It
	// says when it runs: Start returns at the exec's point of no return,
	// before the new program's arguments are set up (the command line
	// reads empty until then).
	cmd := exec.Command("/bin/sh", "-c", "echo up; sleep 30; :", "sh", arg)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "up\n", line)
	p, err := ReadProcess("/", cmd.Process.Pid, 0)
	require.NoError(t, err)
	assert.Equal(t, cmd.Process.Pid, p.PID)
	assert.Equal(t, os.Getpid(), p.PPID)
	assert.Equal(t, uint32(os.Getuid()), p.UID)
	assert.Equal(t, uint32(os.Geteuid()), p.EUID)
	assert.Equal(t, "sh", p.Comm)
	assert.Equal(t, "/bin/sh -c echo up; sleep 30; : sh hello\nworld \uFFFD end", p.Cmdline)
	want, err := filepath.EvalSymlinks("/bin/sh")
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		assert.Equal(t, want, p.Exe)
		assert.False(t, p.Partial)
	}
	js, err := json.Marshal(p.Cmdline)
	require.NoError(t, err)
	assert.True(t, json.Valid(js))
	self, err := ReadStat("/", os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), self.PID)
	assert.LessOrEqual(t, self.StartTime, p.StartTime)

	_, err = ReadProcess("/", 1<<30, 0)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)
}

// A 1 MB argv costs at most the cap.
func TestReadCmdlineHuge(t *testing.T) {
	// 16 arguments of 64 KiB: one argument may not exceed 128 KiB.
	args := []string{"-c", "sleep 30", "sh"}
	for range 16 {
		args = append(args, strings.Repeat("A", 64<<10))
	}
	cmd := exec.Command("/bin/sh", args...)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var s string
	var trunc bool
	var err error
	for i := 0; i < 100; i++ {
		s, trunc, err = ReadCmdline("/", cmd.Process.Pid, 4096)
		require.NoError(t, err)
		if trunc {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.True(t, trunc)
	assert.Len(t, s, 4096)
	assert.True(t, strings.HasPrefix(s, "/bin/sh -c sleep 30 sh AAAA"))
}
