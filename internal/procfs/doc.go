// Package procfs reads what edgesec needs to know about a process from
// /proc under a host root ("/" on the host, "/host" when the module runs in
// a container with the host filesystem mounted there and the host PID
// namespace).
//
// The package is split the usual way: pure parsers that take bytes
// ([ParseStat], [ParseStatus], [ParseCmdline], [ContainerID],
// [ParsePasswd]) and are fuzzed, and readers that do the I/O
// ([ReadProcess], [ReadStat], [ReadCmdline], [ListPIDs], [UserCache]).
//
// # Bounded memory
//
// Everything read from /proc is bounded: command lines are read up to a cap
// ([DefaultMaxCmdline] unless the caller asks otherwise) and marked
// truncated, the status and stat files are read with a fixed limit, and
// /etc/passwd lines and entries are capped. Strings returned are valid
// UTF-8 (invalid bytes become U+FFFD); control characters such as newlines
// are kept as they are (the event encoder escapes them).
//
// # Privileges
//
// /proc/<pid>/stat, status, cmdline and cgroup are world-readable.
// /proc/<pid>/exe of another user's process needs CAP_SYS_PTRACE (root has
// it); without it [Process.Exe] is empty and [Process.Partial] is set.
//
// # Concurrency
//
// The functions are safe for concurrent use. A [UserCache] is safe for
// concurrent use by many goroutines.
package procfs
