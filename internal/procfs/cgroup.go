package procfs

import (
	"bytes"
	"strings"
)

// Container runtimes whose cgroup naming [ContainerID] recognises.
const (
	RuntimeDocker     = "docker"     // Docker / Moby, and so IoT Edge modules
	RuntimeContainerd = "containerd" // containerd CRI (Kubernetes)
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
	RuntimeKubernetes = "kubernetes" // a kubepods cgroup of an unnamed runtime
)

// scopePrefixes are the systemd scope (cgroup v2, or v1 with the systemd
// driver) names of container runtimes: <prefix><64 hex>.scope.
var scopePrefixes = []struct{ prefix, runtime string }{
	{"docker-", RuntimeDocker},
	{"cri-containerd-", RuntimeContainerd},
	{"crio-", RuntimeCRIO},
	{"libpod-", RuntimePodman},
}

// ContainerID finds the container a process runs in from the contents of
// its /proc/<pid>/cgroup (cgroup v1, v2 or hybrid). It recognises:
//
//   - Docker/Moby (and IoT Edge, which runs on Moby) with the cgroupfs
//     driver: /docker/<id>; with the systemd driver:
//     /system.slice/docker-<id>.scope
//   - containerd and other Kubernetes runtimes with cgroupfs:
//     /kubepods/<qos>/pod<uid>/<id>; with systemd:
//     …/cri-containerd-<id>.scope
//   - CRI-O: …/crio-<id>.scope (conmon's crio-conmon-<id>.scope is not the
//     container and is ignored)
//   - Podman: …/libpod-<id>.scope, /libpod_parent/libpod-<id>
//
// as well as any path component that is a bare 64-digit hexadecimal id.
// With nested containers (Docker in Docker) the innermost id is returned.
// Paths made relative by a cgroup namespace ("/../docker-<id>.scope")
// work too. ok is false for a process on the host.
func ContainerID(cgroup []byte) (id string, ok bool) {
	id, _, ok = ContainerRuntimeID(cgroup)
	return id, ok
}

// ContainerRuntimeID is [ContainerID] that also names the runtime the
// cgroup path points at (one of the Runtime constants, or "" when only a
// bare id was found outside a recognised parent).
func ContainerRuntimeID(cgroup []byte) (id, runtime string, ok bool) {
	// The v2 line ("0::") is the most precise on a v2 or hybrid host but
	// is "/" on a v1-only host; take the first line that names a container.
	for len(cgroup) > 0 {
		var line []byte
		if i := bytes.IndexByte(cgroup, '\n'); i >= 0 {
			line, cgroup = cgroup[:i], cgroup[i+1:]
		} else {
			line, cgroup = cgroup, nil
		}
		// hierarchy-ID:controller-list:cgroup-path; the path may hold ':'.
		_, rest, ok1 := bytes.Cut(line, []byte{':'})
		_, path, ok2 := bytes.Cut(rest, []byte{':'})
		if !ok1 || !ok2 {
			continue
		}
		if id, runtime, ok := containerInPath(string(path)); ok {
			return id, runtime, true
		}
	}
	return "", "", false
}

// containerInPath returns the innermost container id named by a cgroup path.
func containerInPath(path string) (id, runtime string, ok bool) {
	parent := ""
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" || seg == ".." {
			continue
		}
		if cid, rt, found := containerInSegment(seg, parent); found {
			id, runtime, ok = cid, rt, true
		}
		switch {
		case seg == "docker" || seg == "moby":
			parent = RuntimeDocker
		case strings.HasPrefix(seg, "kubepods"):
			parent = RuntimeKubernetes
		case seg == "libpod_parent":
			parent = RuntimePodman
		}
	}
	return id, runtime, ok
}

func containerInSegment(seg, parent string) (id, runtime string, ok bool) {
	if strings.HasSuffix(seg, ".scope") {
		name := strings.TrimSuffix(seg, ".scope")
		if strings.HasPrefix(name, "crio-conmon-") {
			return "", "", false
		}
		for _, p := range scopePrefixes {
			if rest, found := strings.CutPrefix(name, p.prefix); found && isContainerHex(rest) {
				return rest, p.runtime, true
			}
		}
		return "", "", false
	}
	if rest, found := strings.CutPrefix(seg, "libpod-"); found && isContainerHex(rest) {
		return rest, RuntimePodman, true
	}
	if isContainerHex(seg) {
		return seg, parent, true
	}
	return "", "", false
}

// isContainerHex reports whether s is a 64-digit lower-case hexadecimal
// container id.
func isContainerHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
