package container_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/collector/container"
)

// listenUnix creates a unix socket at root+rel, closed at the end of the
// test.
func listenUnix(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	l, err := net.Listen("unix", p)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return p
}

// Discover finds the default sockets under the host root (including
// k3s's containerd), ignores what is not a socket, and keeps the
// preference order.
func TestDiscoverUnderHostRoot(t *testing.T) {
	root, err := os.MkdirTemp("", "edgesec-disc-") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })

	assert.Equal(t, container.Found{}, container.Discover(root, nil, nil), "nothing there")

	// A regular file where the docker socket would be is not an engine.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "var/run"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/run/docker.sock"), nil, 0o644))
	docker := listenUnix(t, root, "run/docker.sock")
	k3s := listenUnix(t, root, "run/k3s/containerd/containerd.sock")
	ctrd := listenUnix(t, root, "run/containerd/containerd.sock")

	f := container.Discover(root, nil, nil)
	assert.Equal(t, []container.SocketPath{{HostPath: "/run/docker.sock", Path: docker}}, f.Moby)
	assert.Equal(t, []container.SocketPath{
		{HostPath: "/run/containerd/containerd.sock", Path: ctrd},
		{HostPath: "/run/k3s/containerd/containerd.sock", Path: k3s},
	}, f.Containerd, "system containerd first, then k3s")

	// Configured paths replace the defaults; unix:// is taken as is,
	// without the host root.
	f = container.Discover(root, []string{"/run/k3s/containerd/containerd.sock"}, []string{"unix://" + ctrd, "/var/run/docker.sock"})
	assert.Equal(t, []container.SocketPath{{HostPath: "/run/k3s/containerd/containerd.sock", Path: k3s}}, f.Moby)
	assert.Equal(t, []container.SocketPath{{HostPath: ctrd, Path: ctrd}}, f.Containerd)
}
