//go:build !amd64 && !arm64

package kernel

// acceptSyscalls reports that the programs cannot read system call
// numbers and arguments on this architecture: inbound connections and
// system call activity are not available.
func acceptSyscalls() (accept, accept4 int32, x86, ok bool) { return -1, -1, false, false }

// activitySyscalls is empty on this architecture.
func activitySyscalls() map[int]syscallInfo { return nil }

// udpSyscalls: not traced on this architecture.
func udpSyscalls() [3]int32 { return [3]int32{-1, -1, -1} }
