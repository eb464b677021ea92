// Package hostfs reads the host's files through a host root: "/" when
// edgesec runs on the host, "/host" when it runs in a container with the
// host's filesystem mounted there. Symbolic links are followed the way the
// host would follow them, so that /host/etc/localtime ->
// /usr/share/zoneinfo/UTC names /host/usr/share/zoneinfo/UTC, not the
// container's own file, and ".." never climbs above the root.
//
// It is the one resolver the collectors share (collector/sysinfo,
// collector/users, collector/baseline). Its functions are safe for
// concurrent use and hold no state.
//
// Resolution is lexical over Lstat and Readlink, then the caller opens the
// resolved path: it confines reads of a read-only host mount, which is
// what the collectors need; it is not a defence against a process that
// swaps directories for symbolic links while a read is in progress (only
// the host's root can do that to /host, and it can do anything anyway).
package hostfs
