package containertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Daemon is a private containerd or dockerd a test starts under a
// temporary directory (as scripts/test-services does, on other sockets),
// so that it can restart it without disturbing the shared ones.
type Daemon struct {
	// Socket is the daemon's socket path.
	Socket string
	name   string
	args   []string
	log    string
	ready  func() bool
	cmd    *exec.Cmd
	done   chan struct{}
}

// StartContainerd starts a private containerd, stopped at the end of the
// test. It skips t when containerd is not installed or not root.
func StartContainerd(t testing.TB) *Daemon {
	t.Helper()
	NeedRoot(t)
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("needs containerd (Debian package containerd)")
	}
	dir := shortTemp(t)
	sock := filepath.Join(dir, "containerd.sock")
	cfg := filepath.Join(dir, "containerd.toml")
	toml := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\n[grpc]\n  address = %q\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_apparmor = true\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock)
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Socket: sock, name: "containerd", args: []string{"--config", cfg}, log: filepath.Join(dir, "containerd.log")}
	d.ready = func() bool { return exec.Command("ctr", "--address", sock, "version").Run() == nil }
	d.start(t, 30*time.Second)
	t.Cleanup(func() { d.Stop(t) })
	return d
}

// StartDockerd starts a private dockerd using the containerd at
// containerdSock in its own namespace, stopped at the end of the test.
func StartDockerd(t testing.TB, containerdSock string) *Daemon {
	t.Helper()
	NeedRoot(t)
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("needs dockerd (Debian package docker.io)")
	}
	dir := shortTemp(t)
	sock := filepath.Join(dir, "docker.sock")
	d := &Daemon{Socket: sock, name: "dockerd", log: filepath.Join(dir, "dockerd.log"), args: []string{
		"--host", "unix://" + sock, "--containerd", containerdSock, "--containerd-namespace", "edgesec-private-" + filepath.Base(dir),
		"--containerd-plugins-namespace", "edgesec-private-plugins-" + filepath.Base(dir),
		"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"),
		"--iptables=false", "--ip6tables=false", "--bridge=none",
	}}
	d.ready = func() bool { return exec.Command("docker", "-H", "unix://"+sock, "version").Run() == nil }
	d.start(t, 60*time.Second)
	t.Cleanup(func() { d.Stop(t) })
	return d
}

// shortTemp returns a temporary directory with a short path (unix socket
// paths are limited to 108 bytes).
func shortTemp(t testing.TB) string {
	dir, err := os.MkdirTemp("", "esd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (d *Daemon) start(t testing.TB, wait time.Duration) {
	t.Helper()
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(d.name, d.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", d.name, err)
	}
	d.cmd, d.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(d.done) }()
	deadline := time.Now().Add(wait)
	for !d.ready() {
		select {
		case <-d.done:
			b, _ := os.ReadFile(d.log)
			t.Fatalf("%s exited while starting:\n%s", d.name, tail(b))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(d.log)
			d.Stop(t)
			t.Fatalf("%s did not start within %v:\n%s", d.name, wait, tail(b))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 20s) and waits for it.
func (d *Daemon) Stop(t testing.TB) {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-d.done:
	case <-ctx.Done():
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
	d.cmd = nil
}

// Restart stops the daemon and starts it again on the same socket.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.Stop(t)
	d.start(t, 60*time.Second)
}
