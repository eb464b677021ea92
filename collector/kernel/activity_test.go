package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/event"
)

// activityCollector runs a collector of system call activity watching
// the prefixes under dir (and the defaults).
func activityCollector(t *testing.T, dir string) (*Collector, func() []*event.KernelActivityPayload) {
	t.Helper()
	w := []WatchedPath{
		{dir + "/secret", OpRead | OpWrite | OpDelete | OpTruncate | OpLink},
		{dir + "/bin/", OpWrite | OpDelete | OpLink},
		{dir + "/log/", OpDelete | OpTruncate | OpLink},
	}
	c := newCollector(t, Options{Activity: true, WatchedPaths: w})
	if !c.Stats().Activity {
		t.Skip("system call activity is only built for amd64 and arm64")
	}
	rec := run(t, c)
	return c, func() []*event.KernelActivityPayload {
		return payloads[*event.KernelActivityPayload](rec, event.KernelActivity)
	}
}

// sh runs a shell command (in a child: the collector ignores itself).
func sh(t *testing.T, script string) int {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", script, out)
	return cmd.Process.Pid
}

// waitAction waits for an activity of pid (or any pid when 0) with action
// and path.
func waitAction(t *testing.T, get func() []*event.KernelActivityPayload, action, path string) *event.KernelActivityPayload {
	t.Helper()
	return waitActionFunc(t, get, action, path, nil)
}

// waitActionFunc is waitAction for an activity that match accepts too (nil:
// any): other processes on the host (other tests) make the same calls.
func waitActionFunc(t *testing.T, get func() []*event.KernelActivityPayload, action, path string,
	match func(*event.KernelActivityPayload) bool) *event.KernelActivityPayload {
	t.Helper()
	var got *event.KernelActivityPayload
	waitUntil(5*time.Second, func() bool {
		for _, a := range get() {
			if a.Action == action && (path == "" || a.Path == path || a.TargetPath == path) && (match == nil || match(a)) {
				got = a
				return true
			}
		}
		return false
	})
	if got == nil {
		var seen []string
		for _, a := range get() {
			seen = append(seen, a.Action+" "+a.Path+" "+a.TargetPath)
		}
		t.Fatalf("no %s of %s; seen %v", action, path, seen)
	}
	return got
}

func TestActivityWatchedFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "log"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cr3t\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "log", "auth.log"), []byte("x\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other"), []byte("x\n"), 0o600))
	_, get := activityCollector(t, dir)

	secret, other := filepath.Join(dir, "secret"), filepath.Join(dir, "other")
	pid := sh(t, "cat "+secret+" >/dev/null; cat "+other+" >/dev/null")
	a := waitAction(t, get, event.ActivityOpenRead, secret)
	assert.Equal(t, "read", a.Operations)
	assert.Equal(t, realPath(t, "/bin/cat"), a.Executable)
	assert.Contains(t, a.CommandLine, "cat "+secret)
	assert.Equal(t, pid, a.ParentProcessID)

	sh(t, "echo x > "+dir+"/bin/dropped")
	a = waitAction(t, get, event.ActivityOpenWrite, dir+"/bin/dropped")
	assert.Equal(t, "write", a.Operations)

	sh(t, ": > "+dir+"/log/auth.log") // truncation of a log: not a watched write
	a = waitAction(t, get, event.ActivityTruncate, dir+"/log/auth.log")
	assert.Equal(t, "truncate", a.Operations)
	sh(t, "rm "+dir+"/log/auth.log")
	waitAction(t, get, event.ActivityUnlink, dir+"/log/auth.log")
	sh(t, "ln -s "+secret+" "+dir+"/innocent")
	waitAction(t, get, event.ActivitySymlink, secret)
	sh(t, "ln "+secret+" "+dir+"/hard")
	waitAction(t, get, event.ActivityLink, secret)
	sh(t, "mv "+other+" "+dir+"/bin/ls")
	waitAction(t, get, event.ActivityRename, dir+"/bin/ls")

	// The unwatched file was read but only its rename over a watched
	// path is reported: only watched prefixes leave the kernel.
	for _, a := range get() {
		if a.Path == other {
			assert.Equal(t, event.ActivityRename, a.Action, "%+v", a)
		}
	}
}

func TestActivitySystemCalls(t *testing.T) {
	dir := t.TempDir()
	_, get := activityCollector(t, dir)
	f := filepath.Join(dir, "suid")
	require.NoError(t, os.WriteFile(f, nil, 0o755))
	sh(t, "chmod 4755 "+f+"; chmod 0755 "+f)
	a := waitAction(t, get, event.ActivityChmodSetuid, f)
	assert.Equal(t, "04755", a.ExtraDetails[KeyMode])
	n := 0
	for _, a := range get() {
		if a.Action == event.ActivityChmodSetuid && a.Path == f {
			n++
		}
	}
	assert.Equal(t, 1, n, "chmod without setuid is not reported")

	// ptrace attach: a child attaches to a sleeping sibling.
	sleep := exec.Command("/bin/sleep", "30")
	require.NoError(t, sleep.Start())
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	runHelperArgs(t, fmt.Sprintf("ptrace %d", sleep.Process.Pid))
	a = waitActionFunc(t, get, event.ActivityPtrace, "", func(a *event.KernelActivityPayload) bool {
		return a.TargetProcessID == sleep.Process.Pid
	})
	assert.Equal(t, sleep.Process.Pid, a.TargetProcessID)

	runHelperArgs(t, "packet")
	waitAction(t, get, event.ActivityPacketSocket, "")
	// The family is an int: garbage in the high bits of its register
	// does not hide the call (the kernel reads the low 32 bits).
	runHelperArgs(t, "packet-high")
	packets := func() (n int) {
		for _, a := range get() {
			if a.Action == event.ActivityPacketSocket {
				n++
			}
		}
		return n
	}
	assert.True(t, waitUntil(5*time.Second, func() bool { return packets() >= 2 }),
		"a packet socket with high bits in the family register was not reported")

	runHelperArgs(t, "memfd")
	a = waitAction(t, get, event.ActivityMemfdCreate, "edgesec-test")
	assert.Equal(t, "edgesec-test", a.Path)
	a = waitActionFunc(t, get, event.ActivityExecMemfd, "", func(a *event.KernelActivityPayload) bool {
		return strings.Contains(a.CommandLine, "from-memfd")
	})
	assert.Contains(t, a.CommandLine, "from-memfd")
}

// runHelperArgs runs the test binary as a helper with args.
func runHelperArgs(t *testing.T, args string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"="+args)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper %s: %s", args, out)
}

// activityHelper performs the system calls the activity test watches.
func activityHelper(args string) (bool, error) {
	var pid int
	switch {
	case strings.HasPrefix(args, "ptrace "):
		if _, err := fmt.Sscanf(args, "ptrace %d", &pid); err != nil {
			return true, err
		}
		if err := unix.PtraceAttach(pid); err != nil {
			return true, fmt.Errorf("ptrace attach: %w", err)
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
		return true, unix.PtraceDetach(pid)
	case args == "packet":
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return true, fmt.Errorf("packet socket: %w", err)
		}
		return true, unix.Close(fd)
	case args == "packet-high":
		fd, _, errno := unix.Syscall(unix.SYS_SOCKET, unix.AF_PACKET|0xdead<<32, unix.SOCK_RAW, 0)
		if errno != 0 {
			return true, fmt.Errorf("packet socket: %w", errno)
		}
		return true, unix.Close(int(fd))
	case args == "memfd":
		fd, err := unix.MemfdCreate("edgesec-test", 0)
		if err != nil {
			return true, fmt.Errorf("memfd_create: %w", err)
		}
		b, err := os.ReadFile("/bin/true")
		if err != nil {
			return true, err
		}
		if _, err := unix.Write(fd, b); err != nil {
			return true, err
		}
		cmd := exec.Command(fmt.Sprintf("/proc/self/fd/%d", fd), "from-memfd")
		cmd.ExtraFiles = nil
		// The child inherits fd (not close-on-exec) and execs it.
		return true, cmd.Run()
	}
	return false, nil
}
