package kernel

import "golang.org/x/sys/unix"

// acceptSyscalls returns the numbers of accept(2) and accept4(2), whether
// pt_regs is the x86 one, and ok when the programs can read system call
// numbers and arguments on this architecture.
func acceptSyscalls() (accept, accept4 int32, x86, ok bool) {
	return unix.SYS_ACCEPT, unix.SYS_ACCEPT4, true, true
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

// activitySyscalls returns the watched system calls of x86-64: the
// generic ones and the legacy path calls.
func activitySyscalls() map[int]syscallInfo {
	m := genericSyscalls(func(name string) (int, bool) { n, ok := sysNumbers[name]; return n, ok })
	m[unix.SYS_OPEN] = syscallInfo{actOpen, 0, argNone, 1}
	m[unix.SYS_CREAT] = syscallInfo{actCreat, 0, argNone, argNone}
	m[unix.SYS_UNLINK] = syscallInfo{actUnlink, 0, argNone, argNone}
	m[unix.SYS_RENAME] = syscallInfo{actRename, 0, 1, argNone}
	m[unix.SYS_LINK] = syscallInfo{actLink, 0, 1, argNone}
	m[unix.SYS_SYMLINK] = syscallInfo{actSymlink, 0, 1, argNone}
	m[unix.SYS_CHMOD] = syscallInfo{actChmod, 0, argNone, 1}
	return m
}
