package kernel

// Activity kinds (enum activity_kind in bpf/events.c).
const (
	actOpen     = 1
	actUnlink   = 2
	actRename   = 3
	actTruncate = 4
	actLink     = 5
	actSymlink  = 6
	actChmod    = 7
	actPtrace   = 8
	actMemfd    = 9
	actSocket   = 10
	actMount    = 11
	actModule   = 12
	actBPF      = 13
	actCreat    = 14
)

// argNone marks an argument a system call does not have.
const argNone = 255

// syscallInfo is the value of the syscalls map: what kind of call a
// system call number is and which arguments hold its paths and flags
// (struct syscall_info).
type syscallInfo struct {
	Kind, PathArg, Path2Arg, FlagsArg uint8
}

// maxSyscallNr is the size of the syscalls map.
const maxSyscallNr = 512

// genericSyscalls are the watched calls of the generic system call table
// (present on every architecture), by the unix package's numbers of this
// one.
func genericSyscalls(nr func(name string) (int, bool)) map[int]syscallInfo {
	out := map[int]syscallInfo{}
	add := func(name string, info syscallInfo) {
		if n, ok := nr(name); ok {
			out[n] = info
		}
	}
	add("openat", syscallInfo{actOpen, 1, argNone, 2})
	add("openat2", syscallInfo{actOpen, 1, argNone, argNone}) // flags are in a struct: treated as a read
	add("unlinkat", syscallInfo{actUnlink, 1, argNone, argNone})
	add("renameat", syscallInfo{actRename, 1, 3, argNone})
	add("renameat2", syscallInfo{actRename, 1, 3, argNone})
	add("truncate", syscallInfo{actTruncate, 0, argNone, argNone})
	add("linkat", syscallInfo{actLink, 1, 3, argNone})
	add("symlinkat", syscallInfo{actSymlink, 0, 2, argNone})
	add("fchmodat", syscallInfo{actChmod, 1, argNone, 2})
	add("fchmodat2", syscallInfo{actChmod, 1, argNone, 2})
	add("ptrace", syscallInfo{actPtrace, argNone, argNone, 0})
	add("memfd_create", syscallInfo{actMemfd, 0, argNone, 1})
	add("socket", syscallInfo{actSocket, argNone, argNone, 1})
	add("mount", syscallInfo{actMount, 0, 1, 3})
	add("init_module", syscallInfo{actModule, argNone, argNone, argNone})
	add("finit_module", syscallInfo{actModule, argNone, argNone, 2})
	add("bpf", syscallInfo{actBPF, argNone, argNone, argNone})
	return out
}
