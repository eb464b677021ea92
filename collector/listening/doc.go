// Package listening is the ListeningPorts collector: a periodic snapshot
// of the host's listening sockets — TCP sockets in LISTEN, UDP sockets
// bound to a port and not connected, and raw sockets (IPv4 and IPv6) —
// each with the process that owns it.
//
// Each item has Protocol ("TCP", "UDP" or "RAW"), LocalAddress (a plain
// IP literal; IPv4-mapped addresses in IPv4 form) and LocalPort (for raw
// sockets, the IP protocol number, named in ExtraDetails RawProtocol).
// ExtraDetails carries Family ("IPv4"/"IPv6"), Inode, SocketUserId and the
// owner: ProcessId, Executable, CommandLine, UserId, UserName, ContainerId
// (from the process's cgroup) and, with Options.Containers, ContainerName
// and ModuleName; Attribution "none" when no process could be found. A
// socket shared by several processes (a forking server) is attributed to
// the lowest pid, normally the parent. Items are ordered by protocol,
// family, port and address, and a snapshot larger than
// Options.MaxEventBytes is split into several events; a host without
// listeners gets one empty event.
//
// The tables are read over netlink sock_diag; see internal/sockdiag for
// the /proc/net fallback (used per table, for example for raw sockets on
// kernels built without CONFIG_INET_RAW_DIAG) and internal/sockowner for
// how owners are found without reading every process's descriptors on
// each snapshot.
//
// # Privileges
//
// Listing sockets needs no privilege. Attributing other users' sockets
// needs root (CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE); without it those
// sockets are reported with Attribution "none" and a warning is logged
// once. In a container the module needs the host's network (or
// Options.NetNS, with CAP_SYS_ADMIN) and pid namespaces, with HostRoot at
// the host's filesystem.
package listening
