package kernel

import "golang.org/x/sys/unix"

// acceptSyscalls returns the numbers of accept(2) and accept4(2), whether
// pt_regs is the x86 one, and ok when the programs can read system call
// numbers and arguments on this architecture.
func acceptSyscalls() (accept, accept4 int32, x86, ok bool) {
	return unix.SYS_ACCEPT, unix.SYS_ACCEPT4, false, true
}

// udpSyscalls returns the numbers of sendto(2), sendmsg(2) and
// sendmmsg(2), whose exits report UDP peers.
func udpSyscalls() [3]int32 {
	return [3]int32{unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_SENDMMSG}
}

var sysNumbers = map[string]int{
	"openat": unix.SYS_OPENAT, "openat2": unix.SYS_OPENAT2, "unlinkat": unix.SYS_UNLINKAT,
	"renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2, "truncate": unix.SYS_TRUNCATE,
	"linkat": unix.SYS_LINKAT, "symlinkat": unix.SYS_SYMLINKAT, "fchmodat": unix.SYS_FCHMODAT,
	"fchmodat2": unix.SYS_FCHMODAT2, "ptrace": unix.SYS_PTRACE, "memfd_create": unix.SYS_MEMFD_CREATE,
	"socket": unix.SYS_SOCKET, "mount": unix.SYS_MOUNT, "init_module": unix.SYS_INIT_MODULE,
	"finit_module": unix.SYS_FINIT_MODULE, "bpf": unix.SYS_BPF,
}

// activitySyscalls returns the watched system calls of arm64 (the generic
// table only: no legacy path calls).
func activitySyscalls() map[int]syscallInfo {
	return genericSyscalls(func(name string) (int, bool) { n, ok := sysNumbers[name]; return n, ok })
}
