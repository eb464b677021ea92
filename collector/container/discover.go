package container

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Default socket locations, relative to the host root. The first one that
// is a socket is used.
var (
	// DefaultMobySockets are where Moby (dockerd, IoT Edge's moby-engine)
	// listens.
	DefaultMobySockets = []string{"/var/run/docker.sock", "/run/docker.sock"}
	// DefaultContainerdSockets are where containerd listens: the
	// system one and k3s's.
	DefaultContainerdSockets = []string{"/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock"}
)

// HostPath returns p (an absolute path on the host) under hostRoot ("" or
// "/" means the root itself).
func HostPath(hostRoot, p string) string {
	if hostRoot == "" {
		hostRoot = "/"
	}
	return filepath.Join(hostRoot, filepath.Clean("/"+p))
}

// SocketPath is one candidate socket of an engine.
type SocketPath struct {
	// HostPath is the socket's path on the host, as configured.
	HostPath string
	// Path is where this process opens it: HostPath under the host root.
	Path string
}

// Candidates returns the candidate sockets: paths (absolute host paths)
// under hostRoot, or defaults when paths is empty. A path that starts with
// "unix://" is taken as is, without the host root.
func Candidates(hostRoot string, paths, defaults []string) []SocketPath {
	if len(paths) == 0 {
		paths = defaults
	}
	out := make([]SocketPath, 0, len(paths))
	for _, p := range paths {
		if rest, ok := strings.CutPrefix(p, "unix://"); ok {
			out = append(out, SocketPath{HostPath: rest, Path: rest})
			continue
		}
		out = append(out, SocketPath{HostPath: p, Path: HostPath(hostRoot, p)})
	}
	return out
}

// IsSocket reports whether path exists and is a unix socket.
func IsSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Type() == fs.ModeSocket
}

// Found is what [Discover] reports.
type Found struct {
	Moby       []SocketPath // existing Moby sockets, in preference order
	Containerd []SocketPath // existing containerd sockets, in preference order
}

// Discover looks for engine sockets under hostRoot (mobyPaths and
// containerdPaths as for [Candidates]). It only checks that the sockets
// exist; the engines connect lazily. The reference module enables the
// container collectors for the runtimes found.
func Discover(hostRoot string, mobyPaths, containerdPaths []string) Found {
	var f Found
	for _, s := range Candidates(hostRoot, mobyPaths, DefaultMobySockets) {
		if IsSocket(s.Path) {
			f.Moby = append(f.Moby, s)
		}
	}
	for _, s := range Candidates(hostRoot, containerdPaths, DefaultContainerdSockets) {
		if IsSocket(s.Path) {
			f.Containerd = append(f.Containerd, s)
		}
	}
	return f
}
