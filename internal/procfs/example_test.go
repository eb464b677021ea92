package procfs_test

import (
	"fmt"

	"github.com/edgesec/edgesec/internal/procfs"
)

// Read a process from a host root (a fixture here; "/" or "/host" in
// production) and name its user.
func ExampleReadProcess() {
	root := "testdata/hostroot"
	p, err := procfs.ReadProcess(root, 4242, 0)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	users := procfs.NewUserCache(root, 0)
	fmt.Printf("pid=%d ppid=%d exe=%s deleted=%v uid=%d(%s) euid=%d(%s)\n",
		p.PID, p.PPID, p.Exe, p.ExeDeleted, p.UID, users.Name(p.UID), p.EUID, users.Name(p.EUID))
	fmt.Printf("cmdline=%q\n", p.Cmdline)
	fmt.Printf("container=%s… runtime=%s\n", p.ContainerID[:12], p.ContainerRuntime)
	// Output:
	// pid=4242 ppid=777 exe=/usr/bin/evil deleted=true uid=1000(alice) euid=0(root)
	// cmdline="/bin/sh -c echo hi\nthere"
	// container=3f8c2d0e6b7a… runtime=docker
}

// Find the container of a process from its /proc/<pid>/cgroup.
func ExampleContainerID() {
	id, ok := procfs.ContainerID([]byte("0::/system.slice/docker-3f8c2d0e6b7a4c1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d.scope\n"))
	fmt.Println(id[:12], ok)
	_, ok = procfs.ContainerID([]byte("0::/user.slice/user-1000.slice/session-3.scope\n"))
	fmt.Println(ok)
	// Output:
	// 3f8c2d0e6b7a true
	// false
}
