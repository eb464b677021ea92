// Package containerd is the containerd implementation of
// [container.Backend], built on github.com/containerd/containerd/v2/client.
// It walks every namespace (moby, k8s.io, default, …) unless
// Options.Namespaces restricts it.
//
// The inventory reads the containers' OCI runtime specs (namespaces,
// capabilities against the default set, mounts, devices, seccomp,
// AppArmor, no_new_privileges, read-only root, memory and CPU limits), the
// tasks' states and the images' digests. Names come from nerdctl's or
// Kubernetes' labels, else the id; the restart policy from containerd's
// restart manager label. A container is reported Privileged when it has
// every capability and no masked paths (what WithPrivileged gives).
//
// The activity stream is containerd's event service. containerd cannot
// replay events: after a reconnection the ContainerActivity collector
// reports that events may have been missed. exec_create carries no
// command (containerd does not keep it); exec_start reads it from the
// process under HostRoot/proc.
//
// Every call is bounded by Options.CallTimeout, every answer by
// MaxMessageBytes. The Backend needs access to the containerd socket
// (root). Importing this package does not link the Moby client.
package containerd
