// SPDX-License-Identifier: GPL-2.0 OR MIT
//
// edgesec kernel events: process exec, exit and fork, TCP connect and
// accept, and the first UDP datagram of a process to each peer, from raw
// tracepoints, into one ring buffer.
//
// Two kinds of program. The programs on system call entry and exit, which
// run at every system call of the host, are BTF tracepoints (tp_btf):
// their arguments are BTF pointers, read with direct loads rather than
// helper calls. Attaching one makes the loader find its tracepoint's
// prototype in the kernel's BTF, and those of sys_enter and sys_exit
// refer to struct pt_regs only. The others are plain raw tracepoints
// (raw_tp) and read the kernel with BPF_CORE_READ (bpf_probe_read_kernel):
// the prototypes of their tracepoints refer to task_struct or sock, whose
// types with everything they refer to are megabytes of the loader's memory
// to find. CO-RE relocates every program against the few kernel types the
// loader reads (kerneltypes.go).
//
// The record layouts are parsed by collector/kernel/record.go: keep the two
// in step (the _Static_asserts below pin the offsets the parser uses).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TASK_COMM_LEN 16
#define CGROUP_NAME_MAX 128
#define FILENAME_MAX 256
#define ARGV_MAX 4096

#define AF_INET 2
#define AF_INET6 10

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

enum record_type {
	REC_EXEC = 1,
	REC_EXIT = 2,
	REC_FORK = 3,
	REC_CONNECT = 4,
	REC_ACCEPT = 5,
	REC_ACTIVITY = 6,
	REC_UDP = 7,
};

enum record_flags {
	FLAG_ARGV_TRUNCATED = 1 << 0,
	FLAG_FILENAME_TRUNCATED = 1 << 1,
	FLAG_ARGV_UNREADABLE = 1 << 2,
	FLAG_CGROUP_TRUNCATED = 1 << 3,
	FLAG_EXEC_MEMFD = 1 << 4,     // exec: the executable is a memfd (fileless)
	FLAG_PATH_TRUNCATED = 1 << 5, // activity: a path did not fit
	FLAG_UDP_CONNECTED = 1 << 6,  // udp: the socket is connected (connect(2))
	FLAG_UDP_BOUND = 1 << 7,      // udp: its port was bound explicitly (bind(2) with a port: a server)
};

// Counters, one slot each in the stats array.
enum stat {
	STAT_RINGBUF_FULL = 0,  // a record did not fit in the ring buffer
	STAT_ARGV_FAULT = 1,    // argv could not be read (sent without it)
	STAT_CONNECT_FULL = 2,  // pending-connect table full (connect not reported)
	STAT_PATH_FAULT = 3,    // a watched system call's path could not be read
	STAT_COMPAT = 4,        // a 32-bit process's system call with a traced number, not interpreted
	STAT_UDP_UNREAD = 5,    // messages of a sendmmsg after the UDP_MMSG_MAX first, not looked at
	STAT_MAX = 6,
};

// Header shared by every record.
struct task_rec {
	u32 type;
	u32 flags;
	u64 ktime;        // CLOCK_MONOTONIC ns
	u32 pid;          // thread id
	u32 tgid;         // process id
	u32 ppid;         // parent's process id
	u32 code;         // exit: wait(2) status
	u64 cgroup_id;    // id of the cgroup (v2, or memory v1 on a v1 host)
	char comm[TASK_COMM_LEN];
};

struct exec_rec {
	struct task_rec h;
	char parent_comm[TASK_COMM_LEN];
	u32 uid, euid, gid, egid;
	u16 filename_len, argv_len, cg_leaf_len, cg_parent_len;
	char cg_leaf[CGROUP_NAME_MAX];   // name of the task's cgroup v2
	char cg_parent[CGROUP_NAME_MAX]; // and of its parent
	char filename[FILENAME_MAX];
	char argv[ARGV_MAX];             // argv_len bytes are sent
};

struct conn_rec {
	struct task_rec h;
	u32 uid;
	u16 family;
	u16 sport; // host order
	u16 dport; // host order
	u16 pad;
	u8 saddr[16];
	u8 daddr[16];
};

_Static_assert(sizeof(struct task_rec) == 56, "task_rec layout");
_Static_assert(__builtin_offsetof(struct exec_rec, uid) == 72, "exec_rec layout");
_Static_assert(__builtin_offsetof(struct exec_rec, filename_len) == 88, "exec_rec layout");
_Static_assert(__builtin_offsetof(struct exec_rec, cg_leaf) == 96, "exec_rec layout");
_Static_assert(__builtin_offsetof(struct exec_rec, filename) == 352, "exec_rec layout");
_Static_assert(__builtin_offsetof(struct exec_rec, argv) == 608, "exec_rec layout");
_Static_assert(sizeof(struct conn_rec) == 104, "conn_rec layout");

// Set by the loader before load (read-only for the programs).
volatile const u64 wakeup_bytes = 64 * 1024; // wake the reader from this much queued data
volatile const s32 self_tgid = 0;            // the collector's own process, not reported
volatile const s32 nr_accept = -1;           // syscall numbers of accept/accept4 on this arch
volatile const s32 nr_accept4 = -1;
volatile const bool is_x86 = false;          // how to read the syscall number at sys_exit
volatile const s32 nr_sendto = -1;           // syscall numbers of the UDP sends (-1: not traced)
volatile const s32 nr_sendmsg = -1;
volatile const s32 nr_sendmmsg = -1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); // resized by the loader
} events SEC(".maps");

#define BPF_F_MMAPABLE (1U << 10) // linux/bpf.h (Linux 5.5+)

// The counters, added to atomically (they count rare losses, so the CPUs
// seldom share the cache line) and mapped into the reader: it reads them
// from memory without a system call.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

// Per-CPU scratch space for the exec record (too big for the stack).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exec_rec);
} exec_scratch SEC(".maps");

// Connections in SYN_SENT, by socket: who called connect.
struct pending_connect {
	u64 cgroup_id;
	u32 pid, tgid, ppid, uid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct pending_connect);
} connecting SEC(".maps");

static __always_inline void count_n(u32 which, u64 n)
{
	u64 *v = bpf_map_lookup_elem(&stats, &which);
	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline void count(u32 which)
{
	count_n(which, 1);
}

// Wake the reader only once wakeup_bytes are queued; below that it polls.
static __always_inline u64 wake_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node___new *n = (void *)kn;
	struct kernfs_node___old *o = (void *)kn;
	if (bpf_core_field_exists(n->__parent))
		return BPF_CORE_READ(n, __parent);
	return BPF_CORE_READ(o, parent);
}

// The cgroup that tells a task's container: its cgroup v2, or, when the
// task sits in the v2 root (a cgroup v1 or hybrid host), its memory
// cgroup v1. NULL when unknown.
static __always_inline struct kernfs_node *task_cgroup(struct task_struct *task)
{
	struct css_set *cgroups = BPF_CORE_READ(task, cgroups);
	struct kernfs_node *kn = BPF_CORE_READ(cgroups, dfl_cgrp, kn);
	if (kn && kn_parent(kn))
		return kn;
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return kn;
	long id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	if (id < 0 || id >= 64)
		return kn;
	struct cgroup_subsys_state *css = NULL;
	struct cgroup_subsys_state **subsys = __builtin_preserve_access_index(&cgroups->subsys[0]);
	bpf_probe_read_kernel(&css, sizeof(css), subsys + id);
	struct kernfs_node *v1 = BPF_CORE_READ(css, cgroup, kn);
	return v1 ? v1 : kn;
}

static __always_inline u64 cgroup_id(struct kernfs_node *kn)
{
	return kn ? BPF_CORE_READ(kn, id) : 0;
}

static __always_inline void fill_task(struct task_rec *h, u32 type, struct task_struct *task)
{
	h->type = type;
	h->flags = 0;
	h->ktime = bpf_ktime_get_ns();
	h->pid = BPF_CORE_READ(task, pid);
	h->tgid = BPF_CORE_READ(task, tgid);
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->code = 0;
	h->cgroup_id = cgroup_id(task_cgroup(task));
	BPF_CORE_READ_STR_INTO(&h->comm, task, comm);
}

static __always_inline u16 read_kn_name(char *dst, struct kernfs_node *kn, u32 *flags)
{
	if (!kn)
		return 0;
	const char *name = BPF_CORE_READ(kn, name);
	long n = bpf_probe_read_kernel_str(dst, CGROUP_NAME_MAX, name);
	if (n <= 0)
		return 0;
	if (n == CGROUP_NAME_MAX)
		*flags |= FLAG_CGROUP_TRUNCATED;
	return n - 1;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	u32 zero = 0;
	struct exec_rec *e;

	if (BPF_CORE_READ(task, tgid) == self_tgid)
		return 0;
	e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;
	fill_task(&e->h, REC_EXEC, task);
	BPF_CORE_READ_STR_INTO(&e->parent_comm, task, real_parent, comm);
	e->uid = BPF_CORE_READ(task, real_cred, uid.val);
	e->gid = BPF_CORE_READ(task, real_cred, gid.val);
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->egid = BPF_CORE_READ(task, cred, egid.val);

	struct kernfs_node *kn = task_cgroup(task);
	e->cg_leaf_len = read_kn_name(e->cg_leaf, kn, &e->h.flags);
	e->cg_parent_len = kn ? read_kn_name(e->cg_parent, kn_parent(kn), &e->h.flags) : 0;

	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(e->filename, FILENAME_MAX, filename);
	if (n <= 0) {
		e->filename_len = 0;
	} else {
		if (n == FILENAME_MAX)
			e->h.flags |= FLAG_FILENAME_TRUNCATED;
		e->filename_len = n - 1;
	}

	// Fileless execution: the executable is a memfd ("memfd:<name>").
	char name[8] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
		e->h.flags |= FLAG_EXEC_MEMFD;

	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	u64 len = end > start ? end - start : 0;
	if (len > ARGV_MAX) {
		len = ARGV_MAX;
		e->h.flags |= FLAG_ARGV_TRUNCATED;
	}
	// Help the verifier: len is within [0, ARGV_MAX].
	len &= (ARGV_MAX << 1) - 1;
	if (len > ARGV_MAX)
		len = ARGV_MAX;
	if (len > 0 && bpf_probe_read_user(e->argv, len, (void *)start) != 0) {
		e->h.flags |= FLAG_ARGV_UNREADABLE;
		count(STAT_ARGV_FAULT);
		len = 0;
	}
	e->argv_len = len;

	u64 size = __builtin_offsetof(struct exec_rec, argv) + len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, wake_flags()) != 0)
		count(STAT_RINGBUF_FULL);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	// One record per process: when its last thread exits.
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (BPF_CORE_READ(task, tgid) == self_tgid)
		return 0;
	struct task_rec *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count(STAT_RINGBUF_FULL);
		return 0;
	}
	fill_task(h, REC_EXIT, task);
	h->code = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(h, wake_flags());
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	// Processes only, not threads.
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct task_rec *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count(STAT_RINGBUF_FULL);
		return 0;
	}
	fill_task(h, REC_FORK, child);
	bpf_ringbuf_submit(h, wake_flags());
	return 0;
}

// Socket addresses and ports of sk into r.
static __always_inline int fill_sock(struct conn_rec *r, struct sock *sk)
{
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->family = family;
	r->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	r->pad = 0;
	if (family == AF_INET) {
		__builtin_memset(r->saddr, 0, sizeof(r->saddr));
		__builtin_memset(r->daddr, 0, sizeof(r->daddr));
		BPF_CORE_READ_INTO((u32 *)r->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((u32 *)r->daddr, sk, __sk_common.skc_daddr);
		return 0;
	}
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		return 0;
	}
	return -1;
}

// Outbound TCP: connect(2) moves the socket to SYN_SENT in the caller's
// context (before the source port is chosen); the handshake completes
// (SYN_SENT -> ESTABLISHED) in softirq context, with both ports known.
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(handle_set_state, struct sock *sk, int oldstate, int newstate)
{
	u64 key = (u64)sk;

	if (newstate == TCP_SYN_SENT) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		u32 tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid == (u32)self_tgid)
			return 0;
		struct pending_connect p = {};
		p.cgroup_id = cgroup_id(task_cgroup(task));
		p.pid = (u32)bpf_get_current_pid_tgid();
		p.tgid = tgid;
		p.ppid = BPF_CORE_READ(task, real_parent, tgid);
		p.uid = (u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(&p.comm, sizeof(p.comm));
		if (bpf_map_update_elem(&connecting, &key, &p, BPF_ANY) != 0)
			count(STAT_CONNECT_FULL);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT)
		return 0;
	struct pending_connect *p = bpf_map_lookup_elem(&connecting, &key);
	if (!p)
		return 0;
	if (newstate == TCP_ESTABLISHED) {
		struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
		if (!r) {
			count(STAT_RINGBUF_FULL);
		} else {
			r->h.type = REC_CONNECT;
			r->h.flags = 0;
			r->h.ktime = bpf_ktime_get_ns();
			r->h.pid = p->pid;
			r->h.tgid = p->tgid;
			r->h.ppid = p->ppid;
			r->h.code = 0;
			r->h.cgroup_id = p->cgroup_id;
			__builtin_memcpy(r->h.comm, p->comm, TASK_COMM_LEN);
			r->uid = p->uid;
			if (fill_sock(r, sk) != 0)
				bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
			else
				bpf_ringbuf_submit(r, wake_flags());
		}
	}
	bpf_map_delete_elem(&connecting, &key);
	return 0;
}

struct pt_regs___x86 {
	unsigned long orig_ax;
	unsigned long di, si, dx, r10, r8, r9;
} __attribute__((preserve_access_index));

// x86: the thread_info embedded in task_struct, whose status has
// TS_COMPAT while an ia32 system call runs (until the return to user mode,
// after sys_exit).
struct thread_info___x86 {
	u32 status;
} __attribute__((preserve_access_index));

struct task_struct___x86 {
	struct thread_info___x86 thread_info;
} __attribute__((preserve_access_index));

struct pt_regs___arm64 {
	int syscallno;
	u64 orig_x0;
	u64 regs[31];
	u64 pstate;
} __attribute__((preserve_access_index));

#define X86_TS_COMPAT 0x0002   // TS_COMPAT: an ia32 system call is running
#define ARM64_PSR_MODE32 0x10 // PSR_MODE32_BIT: a 32-bit (AArch32) task

// A 32-bit system call: its numbers and argument registers are not the
// 64-bit ones the loader set. On x86 this is the kernel's own test
// (in_ia32_syscall): a 64-bit process can make ia32 calls too (int $0x80),
// with the user code segment of a 64-bit one, so the code segment does not
// tell. On arm64 a task is AArch32 or AArch64 as a whole.
static __always_inline bool compat_syscall(struct pt_regs *regs)
{
	if (is_x86) {
		// A BTF pointer: a direct load, no helper call.
		struct task_struct___x86 *t = (void *)bpf_get_current_task_btf();
		return t->thread_info.status & X86_TS_COMPAT;
	}
	return ((struct pt_regs___arm64 *)regs)->pstate & ARM64_PSR_MODE32;
}

#define EEXIST_BPF 17 // -EEXIST from bpf_map_update_elem with BPF_NOEXIST

#define S_IFMT 00170000
#define S_IFSOCK 0140000

// The socket of descriptor fd of task, NULL when fd is not a socket.
static __always_inline struct sock *sock_of_fd(struct task_struct *task, u64 fd)
{
	// task is a BTF pointer: direct loads (cheaper than helper calls).
	struct fdtable *fdt = task->files->fdt;
	if (fd >= fdt->max_fds)
		return NULL;
	struct file **fds = fdt->fd;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	// The descriptor may have been closed or replaced since the call by
	// another thread: make sure it still is a socket.
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

// Inbound TCP: at the exit of accept/accept4, in the accepting process, the
// returned descriptor is the new connection's socket.
static __always_inline void accepted(struct task_struct *task, long ret)
{
	struct sock *sk = sock_of_fd(task, ret);
	if (!sk)
		return;
	struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(STAT_RINGBUF_FULL);
		return;
	}
	fill_task(&r->h, REC_ACCEPT, task);
	r->uid = (u32)bpf_get_current_uid_gid();
	if (fill_sock(r, sk) != 0) {
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		return;
	}
	bpf_ringbuf_submit(r, wake_flags());
}

// ---------------------------------------------------------------------
// UDP: the first datagram a process sends to each peer.
//
// At the exit of sendto/sendmsg/sendmmsg (the peer is the address the
// caller gave, else the connected socket's) and, where the kernel has the
// sock_send_length tracepoint (Linux >= 6.4), at every send on a connected
// UDP socket (write, writev, send on it too). A peer is reported once per
// process: the udp_peers LRU table is keyed by process (tgid and the start
// time of its leader, so a reused pid is a new process, and the leader's
// exec count, so a program the process execs reports its peers anew),
// family, peer address and port, and a record is sent only when the key is
// inserted.

#define IPPROTO_UDP 17
#define SOCK_BINDPORT_LOCK 4
#define UDP_MMSG_MAX 8

struct udp_peer_key {
	u64 start_time; // the process's group leader's start time (ns since boot)
	u64 exec_id;    // its count of execs: a new program is a new sender
	u32 tgid;
	u16 family;     // the socket's
	u16 dport;      // host order
	u8 daddr[16];   // an IPv4 peer of an IPv4 socket in the first 4 bytes
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192); // about 0.9 MB of kernel memory (memlock), preallocated
	__type(key, struct udp_peer_key);
	__type(value, u8);
} udp_peers SEC(".maps");

// User-space layouts (UAPI, 64-bit).
struct user_sockaddr {
	u16 family;
	__be16 port;
	union {
		__be32 v4;               // sockaddr_in
		struct {
			__be32 flowinfo; // sockaddr_in6
			u8 v6[16];
		};
	};
};

struct user_msghdr_head {
	u64 msg_name;
	s32 msg_namelen;
};

#define MMSGHDR_SIZE 64 // struct mmsghdr: a 56-byte msghdr and msg_len, padded

// A UDP socket of the inet families: its family, else 0.
static __always_inline u16 udp_family(struct sock *sk)
{
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return 0;
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6 ? family : 0;
}

// Reports the peer in key (the process fields are filled here) of sk, the
// first time the process sends to it.
static __noinline void udp_report(struct task_struct *task, struct sock *sk, struct udp_peer_key *key)
{
	// Read with helpers: task is a BTF pointer at sys_exit, not at
	// sock_send_length (a raw tracepoint).
	key->tgid = BPF_CORE_READ(task, tgid);
	key->start_time = BPF_CORE_READ(task, group_leader, start_time);
	key->exec_id = BPF_CORE_READ(task, group_leader, self_exec_id);
	// A lookup first: most datagrams go to a peer already reported, and a
	// failed BPF_NOEXIST update of an LRU map costs a node allocation.
	if (bpf_map_lookup_elem(&udp_peers, key))
		return;
	u8 one = 1;
	// -EEXIST: reported before (by another thread just now). Any other
	// failure to remember the peer must not lose its first datagram: it is
	// reported, and may be again.
	if (bpf_map_update_elem(&udp_peers, key, &one, BPF_NOEXIST) == -EEXIST_BPF)
		return;
	struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(STAT_RINGBUF_FULL);
		// Not reported: forget the peer so that the next datagram
		// tries again.
		bpf_map_delete_elem(&udp_peers, key);
		return;
	}
	fill_task(&r->h, REC_UDP, task);
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_ESTABLISHED)
		r->h.flags |= FLAG_UDP_CONNECTED;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks) & SOCK_BINDPORT_LOCK)
		r->h.flags |= FLAG_UDP_BOUND;
	r->uid = (u32)bpf_get_current_uid_gid();
	fill_sock(r, sk);
	r->dport = key->dport;
	__builtin_memcpy(r->daddr, key->daddr, sizeof(r->daddr));
	bpf_ringbuf_submit(r, wake_flags());
}

// The connected peer of sk into key; -1 when sk is not connected.
static __always_inline int udp_sock_peer(struct sock *sk, u16 family, struct udp_peer_key *key)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_ESTABLISHED)
		return -1;
	key->family = family;
	key->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(key->daddr, 0, sizeof(key->daddr));
	if (family == AF_INET)
		BPF_CORE_READ_INTO((u32 *)key->daddr, sk, __sk_common.skc_daddr);
	else
		BPF_CORE_READ_INTO(&key->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	return 0;
}

// The peer of a datagram sent on sk (of family) into key: the user's
// address at addr (len bytes) when given, else the connected peer; -1
// when there is none.
static __always_inline int udp_peer(struct sock *sk, u16 family, u64 addr, s64 len, struct udp_peer_key *key)
{
	if (!addr || len < 4)
		return udp_sock_peer(sk, family, key);
	struct user_sockaddr sa = {};
	if (bpf_probe_read_user(&sa, len < (s64)sizeof(sa) ? 8 : sizeof(sa), (void *)addr) != 0)
		return -1;
	key->family = family;
	key->dport = bpf_ntohs(sa.port);
	__builtin_memset(key->daddr, 0, sizeof(key->daddr));
	if (sa.family == AF_INET) {
		if (family == AF_INET) {
			__builtin_memcpy(key->daddr, &sa.v4, 4);
		} else {
			// An IPv4 peer of a dual-stack IPv6 socket: ::ffff:a.b.c.d.
			key->daddr[10] = 0xff;
			key->daddr[11] = 0xff;
			__builtin_memcpy(&key->daddr[12], &sa.v4, 4);
		}
		return 0;
	}
	if (sa.family == AF_INET6 && family == AF_INET6 && len >= (s64)sizeof(sa)) {
		__builtin_memcpy(key->daddr, sa.v6, 16);
		return 0;
	}
	return udp_sock_peer(sk, family, key); // AF_UNSPEC: the connected peer
}

// System call argument i at sys_exit (arm64 keeps the first in orig_x0,
// regs[0] holds the return value by then).
static __always_inline u64 exit_arg(struct pt_regs *regs, u32 i)
{
	if (is_x86) {
		struct pt_regs___x86 *r = (void *)regs;
		switch (i) { // regs is a BTF pointer: direct loads
		case 0: return r->di;
		case 1: return r->si;
		case 2: return r->dx;
		case 3: return r->r10;
		case 4: return r->r8;
		case 5: return r->r9;
		}
		return 0;
	}
	struct pt_regs___arm64 *r = (void *)regs;
	switch (i) {
	case 0: return r->orig_x0;
	case 1: return r->regs[1];
	case 2: return r->regs[2];
	case 3: return r->regs[3];
	case 4: return r->regs[4];
	case 5: return r->regs[5];
	}
	return 0;
}

// sendto, sendmsg or sendmmsg (nr) returned ret >= 0.
static __always_inline void udp_sent(struct task_struct *task, struct pt_regs *regs, long nr, long ret)
{
	// The descriptor and the address length are ints: the kernel reads
	// the low 32 bits of their registers, and so must the program (a
	// caller may leave anything in the high ones).
	struct sock *sk = sock_of_fd(task, (u32)exit_arg(regs, 0));
	u16 family = udp_family(sk);
	if (!family)
		return;
	struct udp_peer_key key = {};
	if (nr == nr_sendto) {
		if (udp_peer(sk, family, exit_arg(regs, 4), (s32)exit_arg(regs, 5), &key) == 0)
			udp_report(task, sk, &key);
		return;
	}
	u64 msg = exit_arg(regs, 1);
	u32 n = 1; // sendmsg
	if (nr == nr_sendmmsg) {
		n = ret < UDP_MMSG_MAX ? ret : UDP_MMSG_MAX; // the messages sent, bounded
		if (ret > UDP_MMSG_MAX)
			count_n(STAT_UDP_UNREAD, ret - UDP_MMSG_MAX);
	}
	for (u32 i = 0; i < UDP_MMSG_MAX; i++) {
		if (i >= n)
			break;
		struct user_msghdr_head h = {};
		if (bpf_probe_read_user(&h, sizeof(h), (void *)(msg + (u64)i * MMSGHDR_SIZE)) != 0)
			return;
		if (udp_peer(sk, family, h.msg_name, h.msg_namelen, &key) == 0)
			udp_report(task, sk, &key);
	}
}

// At the exit of accept/accept4 (inbound TCP) and of the UDP sends.
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	if (ret < 0)
		return 0;
	// regs is a BTF pointer: a direct load, no helper call (this runs at
	// every system call exit).
	long nr;
	if (is_x86)
		nr = ((struct pt_regs___x86 *)regs)->orig_ax;
	else
		nr = ((struct pt_regs___arm64 *)regs)->syscallno;
	bool accept = nr_accept4 >= 0 && (nr == nr_accept4 || nr == nr_accept);
	bool udp = nr_sendto >= 0 && (nr == nr_sendto || nr == nr_sendmsg || nr == nr_sendmmsg);
	if (!accept && !udp)
		return 0;
	if (compat_syscall(regs)) {
		count(STAT_COMPAT);
		return 0;
	}

	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	if (task->tgid == self_tgid)
		return 0;
	if (accept)
		accepted(task, ret);
	else
		udp_sent(task, regs, nr, ret);
	return 0;
}

// Every send on a socket (Linux >= 6.4): a connected UDP socket's peer,
// whatever the system call (write, writev, send, sendmsg, …).
SEC("raw_tp/sock_send_length")
int BPF_PROG(handle_sock_send, struct sock *sk, int ret, int flags)
{
	// Most sends are not on a UDP socket: one read tells.
	if (ret < 0)
		return 0;
	u16 family = udp_family(sk);
	if (!family)
		return 0;
	struct udp_peer_key key = {};
	if (udp_sock_peer(sk, family, &key) != 0)
		return 0; // not connected: seen at the exit of sendto/sendmsg
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, tgid) == self_tgid)
		return 0;
	udp_report(task, sk, &key);
	return 0;
}

// ---------------------------------------------------------------------
// Security-relevant system calls, filtered in the kernel.
//
// The loader fills `syscalls` (by syscall number of this architecture:
// what kind of call it is and where its arguments are) and `watched` (path
// prefixes and the operations reported under each). A call is reported at
// entry (an attempt: the record does not say whether it succeeded).

enum activity_kind {
	ACT_OPEN = 1,      // path, flags
	ACT_UNLINK = 2,    // path
	ACT_RENAME = 3,    // path (old), path2 (new)
	ACT_TRUNCATE = 4,  // path
	ACT_LINK = 5,      // path (existing), path2 (new link)
	ACT_SYMLINK = 6,   // path (target), path2 (new link)
	ACT_CHMOD = 7,     // path, mode (flags)
	ACT_PTRACE = 8,    // request (flags), target pid (arg)
	ACT_MEMFD = 9,     // name (path)
	ACT_SOCKET = 10,   // domain (arg), type (flags)
	ACT_MOUNT = 11,    // source (path), target (path2), flags
	ACT_MODULE = 12,   // init_module/finit_module
	ACT_BPF = 13,      // cmd (arg)
	ACT_CREAT = 14,    // creat(2): path; an open for writing
};

// Operations of a watched prefix (and of a reported record, in `ops`).
enum op {
	OP_READ = 1 << 0,
	OP_WRITE = 1 << 1,
	OP_DELETE = 1 << 2,   // unlink, rename from or over
	OP_TRUNCATE = 1 << 3, // truncate(2), open with O_TRUNC
	OP_LINK = 1 << 4,     // hard or symbolic link from or to
};

#define ARG_NONE 255
#define PATH_MAX_BPF 256
#define PREFIX_MAX 64
#define WATCHED_MAX 32

#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define S_ISUID 04000
#define S_ISGID 02000
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define AF_PACKET 17
#define BPF_PROG_LOAD 5

struct syscall_info {
	u8 kind;
	u8 path_arg;  // argument index of path, or ARG_NONE
	u8 path2_arg;
	u8 flags_arg;
};

struct watched_prefix {
	u32 len; // 0 ends the list
	u32 ops;
	char prefix[PREFIX_MAX];
};

struct activity_rec {
	struct task_rec h;
	u32 kind;
	u32 ops;      // the watched operations matched
	u64 flags;    // open flags, chmod mode, ptrace request, socket type, mount flags
	u64 arg;      // ptrace target pid, socket domain, bpf cmd, finit_module fd
	u32 uid;
	u16 path_len, path2_len;
	char path[PATH_MAX_BPF];
	char path2[PATH_MAX_BPF];
};

_Static_assert(__builtin_offsetof(struct activity_rec, kind) == 56, "activity_rec layout");
_Static_assert(__builtin_offsetof(struct activity_rec, path) == 88, "activity_rec layout");
_Static_assert(sizeof(struct activity_rec) == 600, "activity_rec layout");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, struct syscall_info);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WATCHED_MAX);
	__type(key, u32);
	__type(value, struct watched_prefix);
} watched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct activity_rec);
} activity_scratch SEC(".maps");

struct pt_regs___x86_args {
	unsigned long di, si, dx, r10, r8, r9;
} __attribute__((preserve_access_index));

struct pt_regs___arm64_args {
	u64 regs[31];
} __attribute__((preserve_access_index));

// System call argument i (0-5) at sys_enter.
static __always_inline u64 sys_arg(struct pt_regs *regs, u32 i)
{
	if (is_x86) {
		struct pt_regs___x86_args *r = (void *)regs;
		switch (i) {
		case 0: return BPF_CORE_READ(r, di);
		case 1: return BPF_CORE_READ(r, si);
		case 2: return BPF_CORE_READ(r, dx);
		case 3: return BPF_CORE_READ(r, r10);
		case 4: return BPF_CORE_READ(r, r8);
		case 5: return BPF_CORE_READ(r, r9);
		}
		return 0;
	}
	struct pt_regs___arm64_args *r = (void *)regs;
	u64 v = 0;
	if (i < 6)
		bpf_probe_read_kernel(&v, sizeof(v), (void *)__builtin_preserve_access_index(&r->regs[0]) + i * sizeof(u64));
	return v;
}

// Reads the user string at addr into dst; returns its length (without
// the NUL), 0 when unreadable.
static __always_inline u16 read_path(char *dst, u64 addr, u32 *flags)
{
	if (!addr)
		return 0;
	long n = bpf_probe_read_user_str(dst, PATH_MAX_BPF, (void *)addr);
	if (n <= 0) {
		count(STAT_PATH_FAULT);
		dst[0] = 0;
		return 0;
	}
	if (n == PATH_MAX_BPF)
		*flags |= FLAG_PATH_TRUNCATED;
	return n - 1;
}

struct match_ctx {
	const char *path;
	u32 op;
	u32 matched;
};

static long match_one(u32 i, struct match_ctx *m)
{
	u32 key = i;
	struct watched_prefix *w = bpf_map_lookup_elem(&watched, &key);
	if (!w || w->len == 0)
		return 1; // end of the list
	if (!(w->ops & m->op))
		return 0;
	u32 len = w->len;
	if (len > PREFIX_MAX)
		return 0;
	for (u32 j = 0; j < PREFIX_MAX; j++) {
		if (j >= len) {
			m->matched |= w->ops & m->op;
			return 0;
		}
		if (m->path[j] != w->prefix[j])
			return 0;
	}
	m->matched |= w->ops & m->op;
	return 0;
}

// The operations of op that a watched prefix of path reports.
static __always_inline u32 match_path(const char *path, u32 op)
{
	if (path[0] != '/')
		return 0; // relative paths are not matched
	struct match_ctx m = {.path = path, .op = op};
	bpf_loop(WATCHED_MAX, match_one, &m, 0);
	return m.matched;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	if (id < 0 || id >= 512)
		return 0;
	u32 nr = id;
	struct syscall_info *si = bpf_map_lookup_elem(&syscalls, &nr);
	if (!si || si->kind == 0)
		return 0;
	// A 32-bit process's numbers and argument registers are not the ones
	// the loader described: counted, not interpreted.
	if (compat_syscall(regs)) {
		count(STAT_COMPAT);
		return 0;
	}
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == (u32)self_tgid)
		return 0;
	u32 kind = si->kind;
	u64 flags = si->flags_arg < 6 ? sys_arg(regs, si->flags_arg) : 0;
	u64 arg0 = sys_arg(regs, 0);
	u64 arg1 = sys_arg(regs, 1);

	// Calls reported whatever the path: decide before reading it.
	switch (kind) {
	case ACT_CHMOD:
		if (!(flags & (S_ISUID | S_ISGID)))
			return 0;
		break;
	case ACT_PTRACE:
		if (arg0 != PTRACE_ATTACH && arg0 != PTRACE_SEIZE)
			return 0;
		break;
	case ACT_SOCKET: // int family: the low 32 bits, as the kernel reads it
		if ((u32)arg0 != AF_PACKET)
			return 0;
		break;
	case ACT_BPF: // int cmd
		if ((u32)arg0 != BPF_PROG_LOAD)
			return 0;
		break;
	}

	u32 zero = 0;
	struct activity_rec *a = bpf_map_lookup_elem(&activity_scratch, &zero);
	if (!a)
		return 0;
	a->h.flags = 0;
	a->path_len = si->path_arg < 6 ? read_path(a->path, sys_arg(regs, si->path_arg), &a->h.flags) : 0;
	a->path2_len = si->path2_arg < 6 ? read_path(a->path2, sys_arg(regs, si->path2_arg), &a->h.flags) : 0;
	if (!a->path_len)
		a->path[0] = 0;
	if (!a->path2_len)
		a->path2[0] = 0;

	u32 ops = 0;
	switch (kind) {
	case ACT_OPEN:
	case ACT_CREAT: {
		u32 op = OP_READ;
		if (kind == ACT_CREAT)
			flags = O_CREAT | O_WRONLY | O_TRUNC;
		if (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))
			op = OP_WRITE;
		if (flags & O_TRUNC)
			op |= OP_TRUNCATE;
		ops = match_path(a->path, op);
		if (!ops)
			return 0;
		break;
	}
	case ACT_UNLINK:
		ops = match_path(a->path, OP_DELETE);
		if (!ops)
			return 0;
		break;
	case ACT_RENAME:
		ops = match_path(a->path, OP_DELETE) | match_path(a->path2, OP_DELETE);
		if (!ops)
			return 0;
		break;
	case ACT_TRUNCATE:
		ops = match_path(a->path, OP_TRUNCATE);
		if (!ops)
			return 0;
		break;
	case ACT_LINK:
	case ACT_SYMLINK:
		ops = match_path(a->path, OP_LINK) | match_path(a->path2, OP_LINK);
		if (!ops)
			return 0;
		break;
	}

	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	fill_task(&a->h, REC_ACTIVITY, task);
	a->kind = kind;
	a->ops = ops;
	a->flags = flags;
	a->arg = kind == ACT_PTRACE ? arg1 : arg0;
	a->uid = (u32)bpf_get_current_uid_gid();
	if (bpf_ringbuf_output(&events, a, sizeof(*a), wake_flags()) != 0)
		count(STAT_RINGBUF_FULL);
	return 0;
}
