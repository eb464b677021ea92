package container

import (
	"path"
	"strings"
)

// Mount risks (event.Mount.Risk).
const (
	RiskDockerSocket      = "DockerSocket"
	RiskContainerdSocket  = "ContainerdSocket"
	RiskHostRoot          = "HostRoot"
	RiskSensitiveHostPath = "SensitiveHostPath"
)

// sensitive are host paths whose exposure to a container lets it read
// secrets or take over the host (a mount of the path or anything below it).
var sensitive = []string{
	"/etc", "/root", "/home", "/boot", "/proc", "/sys", "/dev", "/lib/modules", "/usr", "/bin", "/sbin", "/lib",
	"/var/run", "/run", "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/var/log",
	"/var/lib/aziot", "/etc/aziot", "/var/lib/iotedge", "/var/run/iotedge", "/run/aziot", "/var/lib/rancher",
}

// MountRisk classifies a host path mounted into a container (a bind
// mount's source): the engine sockets, the host root, and host paths that
// give away secrets or control of the host. It returns "" for anything
// else, including named volumes (pass only host paths).
func MountRisk(source string) string {
	if source == "" {
		return ""
	}
	p := path.Clean("/" + source)
	base := path.Base(p)
	switch {
	case p == "/":
		return RiskHostRoot
	case base == "docker.sock" || p == "/var/run/docker" || p == "/run/docker":
		return RiskDockerSocket
	case base == "containerd.sock" || strings.HasSuffix(p, "/containerd") && (strings.HasPrefix(p, "/run/") || strings.HasPrefix(p, "/var/run/")):
		return RiskContainerdSocket
	}
	for _, s := range sensitive {
		if p == s || strings.HasPrefix(p, s+"/") {
			return RiskSensitiveHostPath
		}
	}
	return ""
}

// NormalizeCap returns a capability name as Moby reports it: upper case,
// without the CAP_ prefix ("ALL" stays "ALL").
func NormalizeCap(c string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
}
