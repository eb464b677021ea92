// Package sockdiag lists the host's internet sockets (TCP, UDP and raw;
// IPv4 and IPv6) with their states, addresses, inode, creator uid and
// kernel cookie.
//
// The fast path is a netlink sock_diag dump (NETLINK_SOCK_DIAG,
// SOCK_DIAG_BY_FAMILY with struct inet_diag_req_v2), on
// golang.org/x/sys/unix with a reused receive buffer: [Conn]. Its answers
// are decoded by the pure function [ParseMessages]. The fallback is the
// text tables /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}, decoded by
// [ParseProcNet]. [Source] picks netlink and falls back per table when
// netlink fails (socket creation refused by a seccomp profile or an LSM,
// a protocol whose diag module is missing, or a kernel built without
// CONFIG_INET_RAW_DIAG, which answers raw dumps with nothing: an empty raw
// dump is checked against /proc/net/raw).
//
// # Privileges
//
// Dumping sockets needs no privilege: an unprivileged process sees every
// socket of its network namespace. Reading another namespace
// (SourceOptions.NetNS, for example the host's from a container with its
// own network) needs CAP_SYS_ADMIN for setns(2). Without it, or without
// netlink, the /proc/net files of SourceOptions.ProcNetDir are read
// instead (world-readable); they carry no socket cookie, so [Socket.Key]
// then hashes the addresses and inode.
//
// Dumps see one network namespace: the one the netlink socket was opened
// in ([OpenInNetNS], [InNetNS]). The collectors built on this package
// therefore report the host's sockets only when the module runs with the
// host's network (network_mode host) or is pointed at the host's
// namespace.
package sockdiag
