package containerd_test

import (
	"fmt"

	"github.com/edgesec/edgesec/collector/container/containerd"
)

// FromContainer maps what containerd knows of a container (its OCI spec,
// labels, image and task) to a ContainerInventory item, without a daemon.
func ExampleFromContainer() {
	spec := []byte(`{
	  "ociVersion": "1.1.0",
	  "process": {"user": {"uid": 0, "gid": 0}, "noNewPrivileges": false,
	    "capabilities": {"bounding": ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]}},
	  "root": {"path": "rootfs", "readonly": false},
	  "mounts": [{"destination": "/var/run/docker.sock", "type": "bind", "source": "/var/run/docker.sock", "options": ["rbind", "rw"]}],
	  "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
	}`)
	p, err := containerd.FromContainer(&containerd.Container{
		Namespace: "default",
		ID:        "sensor",
		Image:     "registry.example/sensor:1.4",
		Spec:      spec,
		Task:      &containerd.Task{Status: "running", Pid: 4242},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: state %s, network %s (no network namespace in the spec), caps added %v, mounts %d\n", p.Name, p.State, p.NetworkMode, p.CapAdd, len(p.Mounts))
	// Output: sensor: state running, network host (no network namespace in the spec), caps added [NET_ADMIN SYS_ADMIN], mounts 1
}
