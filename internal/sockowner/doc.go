// Package sockowner attributes sockets (by inode) to the processes that
// hold them: pid, executable, command line, uid and container id, read
// from HostRoot/proc through internal/procfs.
//
// The only way Linux tells which process holds a socket is the
// /proc/<pid>/fd links ("socket:[inode]"), and reading every descriptor of
// every process is what makes `ss -p` and gopsutil slow. A [Resolver]
// therefore keeps an inode → pid cache and refreshes it incrementally:
//
//   - A Lookup whose sockets are all cached reads nothing from /proc.
//   - For sockets not cached yet it lists /proc and reads the descriptors
//     of the processes started since the last scan only (a short-lived
//     client is caught here, and its details are read at once).
//   - Only when some socket is still unknown does it re-read known
//     processes: those whose uid is the socket creator's first, then the
//     ones that opened sockets recently, stopping as soon as every socket
//     is found. A process that gets a new socket has its details re-read
//     (it may have exec'd since).
//   - A socket still without owner after a complete scan (held by a
//     process it may not read, or in flight in a unix socket message) is
//     remembered and does not cause another scan.
//
// Memory and work are bounded: Options.MaxInodes, MaxProcesses and
// MaxScanFDs (descriptors read per Lookup); the counters of [Stats] say
// when a bound was hit. The descriptors are read with one open, one
// fstat, getdents64 and one readlinkat per descriptor, without
// allocating.
//
// # Privileges
//
// Reading another user's /proc/<pid>/fd needs root (CAP_DAC_READ_SEARCH
// and CAP_SYS_PTRACE, with ptrace access mode checks). Without them only
// the module's own user's processes are attributed; the others' sockets
// have no owner, a warning is logged once and Stats.FDDirErrors counts
// them. Inside a container the host's processes are visible only with the
// host's pid namespace (pid: host) and HostRoot pointing at the host's
// /proc mount.
package sockowner
