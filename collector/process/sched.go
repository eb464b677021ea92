package process

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// Scheduling selects how the thread that reads the proc connector is
// scheduled (see [Options.ReaderScheduling]).
//
// The proc connector only says that a process exec'd; its executable and
// command line are read from /proc afterwards, and a short-lived process
// (a /bin/true, a shell one-liner) is gone about half a millisecond after
// its exec. On a machine whose cores are busy, a reader scheduled like any
// other thread often gets the CPU too late and can only send what the
// kernel told (pid and parent, marked partial). Running the reader on its
// own thread with a raised priority lets it preempt the busy tasks as
// soon as an event arrives; its work is bounded by the exec rate (about
// 15 µs of CPU per process).
type Scheduling int

// Scheduling choices.
const (
	// SchedulingAuto (the default) asks for SCHED_FIFO at priority 1, the
	// lowest real-time priority (needs CAP_SYS_NICE, which root has), and
	// falls back to SchedulingNice, then to SchedulingInherit, when it is
	// refused.
	SchedulingAuto Scheduling = iota
	// SchedulingNice asks for nice -20 with a short time slice (needs
	// CAP_SYS_NICE), falling back to SchedulingInherit.
	SchedulingNice
	// SchedulingInherit leaves the reader thread as the process is
	// scheduled.
	SchedulingInherit
)

// String returns "auto", "nice" or "inherit".
func (s Scheduling) String() string {
	switch s {
	case SchedulingAuto:
		return "auto"
	case SchedulingNice:
		return "nice"
	case SchedulingInherit:
		return "inherit"
	}
	return "Scheduling(" + strconv.Itoa(int(s)) + ")"
}

// readerSlice is the EEVDF time slice the reader asks for under
// SchedulingNice (Linux ≥ 6.12 honours it; a short slice makes a woken
// task preempt sooner). Older kernels ignore it.
const readerSlice = 100_000 // ns

// raiseThread changes the scheduling of the calling thread (which must be
// locked to its goroutine and not be given back to the runtime) and
// returns what it got: "fifo:1", "nice:-20" or "inherit". The errors of
// the attempts that were refused are returned too, for the log.
func raiseThread(s Scheduling) (got string, refused []error) {
	tid := unix.Gettid()
	if s == SchedulingAuto {
		err := unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 1,
			Flags: unix.SCHED_FLAG_RESET_ON_FORK}, 0)
		if err == nil {
			return "fifo:1", nil
		}
		refused = append(refused, err)
		s = SchedulingNice
	}
	if s == SchedulingNice {
		err := unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_NORMAL, Nice: -20, Runtime: readerSlice,
			Flags: unix.SCHED_FLAG_RESET_ON_FORK}, 0)
		if err != nil {
			// A kernel that refuses the slice: the nice value alone.
			err = unix.Setpriority(unix.PRIO_PROCESS, tid, -20)
		}
		if err == nil {
			return "nice:-20", refused
		}
		refused = append(refused, err)
	}
	return "inherit", refused
}
