// Package process is the ProcessCreate / ProcessTerminate collector: real
// time process events from the kernel proc connector, enriched from /proc,
// attributed to containers and IoT Edge modules, with a /proc polling
// fallback.
//
// # Source
//
// The collector opens a NETLINK_CONNECTOR socket, joins the CN_IDX_PROC
// group and subscribes with PROC_CN_MCAST_LISTEN. It is implemented
// directly on golang.org/x/sys/unix rather than with vishvananda/netlink's
// ProcEventMonitor because it needs what that API does not expose: the
// socket receive buffer size (SO_RCVBUFFORCE), ENOBUFS overruns and the
// per-CPU sequence numbers that count the events lost in one, the kernel
// timestamp of each event, the exit event's parent fields, and batched,
// allocation-free decoding of many datagrams per wake-up on the Go
// netpoller (so that cancelling the context closes the socket and ends the
// reader at once).
//
//   - fork: remembered (parent pid, and the parent's executable, user and
//     container, which the child inherits) in a bounded LRU of live
//     processes ([Options.MaxTracked]); threads are ignored.
//   - exec: a ProcessCreate, enriched from /proc/<pid>: executable,
//     command line (capped at [Options.MaxCmdline], marked
//     CommandLineTruncated), real uid and user name (from <root>/etc/passwd,
//     cached), parent pid, and in ExtraDetails Comm, ParentComm,
//     ParentExecutable, EffectiveUserId/Name when they differ (setuid),
//     ExecutableDeleted, ContainerId, ContainerName and ModuleName.
//   - exit: a ProcessTerminate with the executable remembered from the exec
//     and the shell's exit status: the exit code, or 128+signal for a
//     process killed by a signal, with Signal ("SIGKILL") and CoreDumped in
//     ExtraDetails.
//
// A process that exits before /proc could be read still produces its
// ProcessCreate with what is known (pid, parent pid, the user and
// container inherited at fork, the parent's comm and executable, the comm
// while /proc still shows the exiting task), marked "Enrichment":"partial"
// and "EnrichmentError":"exited before /proc was read", and counted
// (Stats.NoCommandLine); it is never dropped silently. Events carry the
// kernel's timestamp. The collector's own process is filtered out.
//
// # Attribution
//
// ContainerId comes from /proc/<pid>/cgroup (cgroup v1 and v2 layouts of
// Docker/Moby and so IoT Edge, containerd, CRI-O and Podman; see
// internal/procfs.ContainerID), read at exec and otherwise inherited from
// the parent, cached per pid. With [Options.Resolver] (the container
// collectors' runtime client) the container and IoT Edge module names are
// added; without it the id alone.
//
// # Load and bounded memory
//
// One goroutine reads the socket and enriches each event as it reads it,
// so that /proc/<pid> is read while a short-lived process most likely
// still runs, with raw system calls on a kept /proc descriptor and reused
// buffers (internal/procfs.Reader); it queues the events in a bounded
// queue ([Options.QueueSize]) that another goroutine hands to the Sink in
// batches, woken only when the queue goes from empty to non-empty. The
// reader never waits for the Sink.
//
// A /bin/true is gone about half a millisecond after its exec, so the
// reader must run at once when an event arrives, also when both cores are
// busy. It therefore runs on an OS thread of its own (locked to its
// goroutine, discarded when it ends) that waits in poll(2) itself rather
// than in the Go netpoller, so that the kernel wakes it directly; the
// thread asks for SCHED_FIFO priority 1 (or nice -20, see [Scheduling] and
// [Options.ReaderScheduling]); and during a burst it waits for the next
// event without giving its P back to the Go scheduler, so that a busy
// engine does not delay it by a scheduling quantum (see BENCHMARKS.md for
// the capture rates this gives under an exec flood with both cores
// loaded). A fork bomb cannot grow memory: a full
// queue drops events and counts them (Stats.Dropped), the live table is an
// LRU, command lines are capped. Datagrams that do not come from the
// kernel (a local process can unicast to the socket) are ignored. The socket buffer is sized with
// SO_RCVBUFFORCE (root) or SO_RCVBUF; events lost to a full buffer
// (ENOBUFS, Stats.Overruns) are counted exactly from the per-CPU sequence
// gaps (Stats.LostEvents; a number that arrives late, sent out of order by
// two tasks of one CPU, is not counted). Losses, drops and events sent
// without a command line are logged and reported through
// collector.ReportError ([ErrLoss]) at once and then at most every
// [Options.ReportEvery]; the collector keeps going. The events that never
// reached the Sink (LostEvents + Dropped) are its
// [collector.DropCounter] count, for the engine's DroppedEventsStatistics.
//
// # Privileges and fallback
//
// The proc connector needs CAP_NET_ADMIN in the initial user namespace and
// the host's network namespace (the reference module runs with host
// network and host PID namespace, which the pids and /proc also need).
// Without them (EPERM, or EPROTONOSUPPORT in another network namespace),
// or with [ModePoll], the collector polls /proc every
// [Options.PollInterval] and diffs (pid, start time) pairs: it misses every
// process shorter than the interval, reports exit statuses as -1 with
// ExitStatusKnown "false", and says so once through collector.ReportError
// ([ErrPolling]) and a log line. Reading another user's /proc/<pid>/exe
// needs CAP_SYS_PTRACE (root); without it events are marked partial.
// [ModeNetlink] refuses to fall back (Run returns the error).
//
// # Benchmarks
//
// cmd/execbench compares this collector with the polling fallback and
// auditd on a C fork/exec load (see BENCHMARKS.md).
package process
