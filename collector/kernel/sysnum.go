package kernel

import "runtime"

// acceptSyscalls returns the numbers of accept(2) and accept4(2) and
// whether pt_regs is the x86 one, for the architectures whose syscall
// number the accept program can read at sys_exit (orig_ax on x86-64,
// syscallno on arm64). ok is false elsewhere: inbound connections are
// then not reported.
func acceptSyscalls() (accept, accept4 int32, x86, ok bool) {
	switch runtime.GOARCH {
	case "amd64":
		return 43, 288, true, true
	case "arm64":
		return 202, 242, false, true
	}
	return -1, -1, false, false
}
