// Package kernel is an eBPF source of kernel events: ProcessCreate and
// ProcessTerminate (exec, exit, and fork for ancestry), TCP
// ConnectionCreate (connect and accept, IPv4 and IPv6) and UDP
// ConnectionCreate (the first datagram of a process to each peer), with the payloads
// and ExtraDetails of collector/process and collector/connection, and
// KernelActivity (security-relevant file and system call activity,
// filtered in the kernel), from CO-RE BPF programs on BTF tracepoints and
// one ring buffer.
//
// # Why
//
// The proc connector tells that a process ran but not what it ran: the
// command line is read from /proc afterwards, and a short-lived process is
// gone by then. sock_diag snapshots miss connections shorter than the
// interval. Here the kernel programs copy what is needed when it happens:
// argv (up to [MaxArgv] bytes, read from the new process's memory in the
// exec tracepoint), the executed path, uids, the cgroup; and connections
// with the process that made them, even when closed within a millisecond.
//
// # Programs
//
// bpf/events.c, compiled with clang into an object embedded with bpf2go
// (one little-endian object for amd64, arm64 and the other little-endian
// architectures; CO-RE relocates the kernel types at load, against the
// running kernel's BTF). Only raw tracepoints are used, which need neither
// tracefs nor kprobes nor fentry: BTF ones (tp_btf, whose arguments are
// read with direct loads) at system call entry and exit, which run at
// every system call; plain ones (raw_tp, read with BPF_CORE_READ) for the
// others, whose arguments are task_struct and sock. The loader reads from
// the kernel's BTF only the types the programs name, with only the members
// they read (about a hundred types, see kerneltypes.go): cilium/ebpf would
// otherwise index all of it and decode every type those two refer to,
// megabytes of memory at start-up. The programs are:
//
//   - sched_process_exec: pid, parent pid, comm and the parent's comm,
//     real and effective uid and gid, the path passed to execve, argv,
//     the cgroup v2 id and the names of the cgroup and its parent (the
//     container id, as in /proc/<pid>/cgroup);
//   - sched_process_exit, when the last thread of a process exits (signal
//     live count 0): the wait status (exit code, or signal and core dump);
//   - sched_process_fork, for processes (not threads): the parent;
//   - inet_sock_set_state: a TCP socket entering SYN_SENT is remembered
//     with the process calling connect (in a bounded table), and reported
//     when it reaches ESTABLISHED — the source port is only known then;
//   - sys_exit, for accept and accept4 returning a descriptor: the new
//     socket, in the accepting process (the state change of an inbound
//     connection runs in softirq context, where the process is unknown);
//     and for sendto, sendmsg and sendmmsg on a UDP socket (see below);
//   - sock_send_length (Linux >= 6.4; optional), for every send on a
//     connected UDP socket, whatever the system call (write, writev);
//   - sys_enter, for the watched system calls (see below).
//
// # UDP
//
// A UDP ConnectionCreate is the first datagram a process sends to a peer
// (address and port): at the exit of a successful sendto, sendmsg or
// sendmmsg (its first 8 messages), the peer is the address the caller
// gave, else the socket's connected peer; with sock_send_length, any send
// on a connected socket is seen too (Stats.UDPConnectedSends; without it,
// write(2) on a connected socket — Go's resolver, for one — is not). The
// programs deduplicate in the kernel: an LRU table of 8,192 entries keyed
// by process (pid and its start time, so a reused pid is a new process,
// and its count of execs, so a program the process execs reports its peers
// anew), family, peer address and port; a record is sent only when the key is
// inserted, so a DNS client is one event per server, not one per query. A
// peer evicted from the table is reported again at its next datagram. A
// record the ring buffer has no room for is counted (RingBufferFull) and
// its key removed, so that the next datagram tries again.
//
// The address a caller gives is read from its memory at the exit of the
// call, after the datagram left: a process that rewrites it from another
// thread meanwhile can have another peer reported, or none. A peer read
// from a connected socket (sock_send_length, or a send without an
// address) is the kernel's and cannot be forged so. The messages of a
// sendmmsg after the eighth are not looked at: they are counted in
// Stats.UDPUnread. Sends that
// make no system call of their own (io_uring) are seen only on connected
// sockets, through sock_send_length.
//
// The item has Protocol "UDP" and State "CONNECTED" (a connected socket,
// as collector/connection says) or "UNCONNECTED"; LocalAddress is the
// socket's bound address (0.0.0.0 or :: for an unbound socket: the route's
// source address is not known to the socket). Direction is In when the
// local port was bound explicitly (bind(2) with a port: a server
// answering a client), Out otherwise. Datagrams received are not
// reported, nor a datagram sent by the collector's own process.
//
// 32-bit system calls on a 64-bit kernel (those of an ia32 or AArch32
// userland, and on amd64 those a 64-bit process makes with int $0x80)
// have other numbers and argument registers: the programs skip them. A
// 32-bit call whose number is one the programs trace is counted in
// [Stats].CompatSkipped; the others are not seen at all. Neither accept,
// UDP sends nor system call activity of 32-bit calls is reported, so a
// process could make its file operations by 32-bit calls to go unseen:
// where no 32-bit program is needed, turn ia32 emulation off
// (ia32_emulation=0 on the kernel command line, Linux >= 6.7, or a kernel
// without CONFIG_IA32_EMULATION).
//
// # System call activity
//
// With [Options.Activity], a program on sys_enter reports KernelActivity
// events (an extension event, schemas/edgesec): opens of watched files
// for reading or writing, unlink, rename from or over a watched path,
// truncation (truncate(2), or an open with O_TRUNC), hard and symbolic
// links from or to a watched path, chmod to setuid or setgid, ptrace
// attach, memfd_create and execution from a memfd (fileless), packet
// sockets (AF_PACKET), mounts, kernel module loads and BPF program loads.
// The filtering is done in the kernel so that volume stays low: the
// system call number is looked up in an array filled at load with this
// architecture's numbers (most calls stop there), and paths are compared
// with up to [MaxWatchedPaths] prefixes, each with the operations it
// reports ([Options.WatchedPaths], [DefaultWatchedPaths]). Calls are
// reported at entry: an attempt, successful or not. Relative paths (openat
// relative to a directory descriptor, or to the working directory) are not
// matched; nor are descriptor-based calls (fchmod, ftruncate). Container
// runtimes legitimately mount, and runc re-executes itself from a memfd:
// detection rules have to know them.
//
// # Watched paths at run time
//
// The watched paths follow the live configuration: the Collector
// implements collector.Configurer, and the engine hands it every
// configuration it applies. The kernelWatchedPaths key
// ([ParseWatchedPaths]) is a JSON array of "defaults" (which stands for
// [Options.WatchedPaths]) and {"prefix": …, "ops": "read|write"} objects:
//
//	["defaults", {"prefix": "/opt/app/secrets/", "ops": "read|write"}]
//
// null or [] is the defaults. A list the collector cannot use (a relative
// or too long prefix, an unknown operation, more than [MaxWatchedPaths]
// prefixes once expanded) is refused with a twinconfig.Problem naming the
// key, which the engine sends as a ConfigurationError; the list in effect
// stays. [Collector.SetWatchedPaths] does the same from code.
//
// A new list is written into the running filter, without reloading the
// programs, slot by slot and only where it changed. The filter scans its
// slots in order, skips a slot with no operation and stops at an empty
// one; a map update is a plain copy that a program on another CPU may
// read half-done. So a slot whose prefix changes is first disabled, then
// given its new prefix (still disabled), then its operations, with an RCU
// grace period (membarrier(MEMBARRIER_CMD_GLOBAL); a 50 ms sleep where it
// is refused) between the steps, so that no program still runs with what
// the step replaced. A system call is thus matched against, in each slot,
// the old entry, the new one or none, never a half-written prefix; a call
// made during the update may miss a prefix being replaced. Adding
// prefixes after the existing ones (["defaults", …]) or removing the last
// ones costs one step and one grace period.
//
// # Ring buffer and losses
//
// One BPF ring buffer ([Options.RingBufferSize]) shared by all CPUs. The
// programs wake the reader only once [Options.WakeupBytes] are queued
// (BPF_RB_NO_WAKEUP below that); the reader otherwise drains the buffer
// every [Options.PollInterval] (and skips the read when it is empty). The
// reader waits in the Go runtime's network poller, holding no thread, and
// reads the records in place from the buffer's memory mapping, without a
// system call: a goroutine blocked in a system call, or entering one,
// keeps the runtime's sysmon thread waking up to every 20 µs, which cost
// more CPU than building the events. Per record, the userspace path reads nothing from /proc on a
// cgroup v2 host (the record carries uid, parent, command names, filename,
// argv and cgroup names; /proc is read only for processes older than the
// collector, and for cgroup v1), resolves an executable's symbolic links
// once per path, shares repeated short strings and allocates about five
// times per event (BenchmarkRecordPath). A record that does not fit is counted in an
// array in the kernel that the collector maps and reads without a system call
// (Stats.RingBufferFull), as are connects not
// remembered because their table was full (Stats.ConnectTableFull) and
// argv reads that failed (Stats.ArgvFaults, the event is then sent
// without a command line and marked partial). Events dropped on a full
// queue to the Sink are counted too (Stats.Dropped); every loss is
// reported through collector.ReportError at most every
// [Options.ReportEvery]. Nothing is lost silently.
//
// # Attribution
//
// The container id comes from the names of the process's cgroup and its
// parent, read in the kernel (cgroup v2, or the memory controller's cgroup
// v1 when the process sits in the v2 root, as on v1 and hybrid hosts;
// cached by cgroup id; Docker/Moby and so IoT Edge, containerd, CRI-O,
// Podman, as internal/procfs.ContainerID). With
// [Options.Resolver] the container and IoT Edge module names are added.
// The executable of a host process is the executed path with its symbolic
// links resolved (as /proc/<pid>/exe shows it); in a container the path
// is kept as the process gave it. Executables and command lines of live
// processes are remembered in a bounded table ([Options.MaxTracked]) for
// their exits, children and connections; processes that started before
// the collector are read from /proc once at start, and on their first
// connection.
//
// # Availability and fallback
//
// [New] loads and attaches the programs; any failure is returned wrapping
// [ErrNotAvailable] and the caller uses the proc connector
// (collector/process) and sock_diag (collector/connection) instead.
// [Options.Disable] forces that fallback; [WithFallbackNotice] wraps the
// fallback collectors so that they say once why (a Diagnostic event and
// the Heartbeat state). The source needs Linux >= 5.8
// (BPF ring buffer; BTF tracepoints need 5.5), kernel BTF
// (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF), and CAP_BPF with
// CAP_PERFMON (or CAP_SYS_ADMIN); see docs/privileges.md. The parsed
// object and the kernel types read are released right after load. Importing
// collector/process alone does not link this package or cilium/ebpf.
//
// defaults (the reference module) drops the sock_diag sampler
// (collector/connection) where Stats.UDP and Stats.UDPConnectedSends are
// both true, and keeps it for connected UDP sockets elsewhere.
//
// # Regenerating
//
// go generate ./collector/kernel (needs clang, llvm-strip and libbpf's
// headers); scripts/bpf-check regenerates and fails when the committed
// object differs from the C source.
package kernel
