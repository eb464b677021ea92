package procfs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// DecodeWaitStatus turns a wait(2) status into the shell's exit status:
// the exit code, or 128+signal for a process killed by a signal.
func DecodeWaitStatus(ws uint32) (status int, sig unix.Signal, core bool) {
	w := unix.WaitStatus(ws)
	switch {
	case w.Exited():
		return w.ExitStatus(), 0, false
	case w.Signaled():
		return 128 + int(w.Signal()), w.Signal(), w.CoreDump()
	}
	return int(ws), 0, false
}

// SignalName returns "SIGKILL" for 9, or the number for unnamed signals.
func SignalName(s unix.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return strconv.Itoa(int(s))
}
