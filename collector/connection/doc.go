// Package connection is the ConnectionCreate collector: new inbound and
// outbound TCP connections (IPv4 and IPv6) and UDP flows, attributed to
// the process (pid, executable, command line, user) and container that
// own them.
//
// # How it works
//
// Every Options.Interval (1 s by default) it takes a snapshot of the
// TCP and UDP socket tables over netlink sock_diag (internal/sockdiag)
// and compares it with the previous one by socket cookie: each socket not
// seen before is one ConnectionCreate event with a single item. The first
// snapshot is the baseline (connections open when the module starts are
// not reported, unless Options.ReportExisting). Reported are TCP sockets
// in every connection state (SYN_SENT — attempts — ESTABLISHED, and the
// closing states, so that a connection opened and closed between two
// snapshots is still seen while it lingers in TIME_WAIT) and connected UDP
// sockets ("flows": a UDP socket that called connect(2), as resolvers and
// most UDP clients do; datagrams sent with sendto(2) on an unconnected
// socket have no peer in the socket table and are not seen).
//
// An inbound connection the kernel has completed but the server has not
// accept(2)ed yet has no file, so no owner: it is held back for up to
// three snapshots, then reported unattributed (so a full accept queue is
// still seen).
//
// Direction: a connection whose local port is a listening port (a TCP
// LISTEN socket, or an unconnected UDP socket, of the same protocol on the
// same or a wildcard address, in this snapshot or the previous one) is
// In, any other Out. Addresses are plain
// IP literals: IPv4-mapped IPv6 addresses are shown in IPv4 form
// (ExtraDetails IPv4Mapped "true"); ports are decimal strings.
//
// Attribution goes through internal/sockowner: an inode → pid cache
// refreshed incrementally (only processes started since the last scan, then
// the likely owners, never every /proc/*/fd on every tick). ExtraDetails
// carries Family, State (the TCP state when seen, "CONNECTED" for UDP),
// Inode, SocketUserId, Comm, UserName, Loopback ("true" when both ends are
// loopback addresses), ContainerId (from the process's cgroup) and, with
// Options.Containers, ContainerName and ModuleName. A connection whose
// process cannot be found (a socket that no longer has a file — TIME_WAIT
// — or a process the module may not read) has ProcessId 0, an empty
// Executable and Attribution "none".
//
// # Limits
//
// Connections opened and fully closed within one interval without
// lingering (a UDP query on a connected socket closed at once, a TCP
// connection reset before the snapshot) are missed: this is a sampler,
// not an audit trail. At most Options.MaxTracked connections are
// remembered; new ones beyond that are counted (Stats.Overflow) and
// reported as a problem (a Diagnostic event) at most once a minute.
//
// # Privileges
//
// Reading the socket tables needs no privilege. Attributing sockets of
// other users' processes needs root (CAP_DAC_READ_SEARCH and
// CAP_SYS_PTRACE). In a container the module needs the host's network
// (network_mode host) or Options.NetNS pointing at the host's namespace
// (CAP_SYS_ADMIN), and the host's pid namespace with HostRoot at the
// host's filesystem for attribution. When netlink cannot be used (a
// seccomp profile refusing AF_NETLINK, for example) the collector reads
// /proc/net/{tcp,tcp6,udp,udp6} instead, logs a warning and reports the
// fallback as a Diagnostic; sockets are then told apart by address and
// inode instead of cookie.
package connection
