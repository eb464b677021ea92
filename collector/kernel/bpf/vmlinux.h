/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Minimal kernel type definitions for the edgesec CO-RE programs.
 *
 * Not the full output of `bpftool btf dump file /sys/kernel/btf/vmlinux
 * format c` (2.8 MB on Linux 6.18): only the types and the members the
 * programs read, written by hand from that output. Every struct carries
 * preserve_access_index, so member offsets are relocated at load time
 * against the running kernel's BTF (CO-RE): the layout written here does
 * not have to match any kernel, only the member names and types do. A
 * "___flavor" suffix names an alternative layout of the same kernel type
 * (libbpf convention), used where a member was renamed across versions.
 */
#ifndef __EDGESEC_VMLINUX_H__
#define __EDGESEC_VMLINUX_H__

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef _Bool bool;
enum { false = 0, true = 1 };

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	uid_t val;
} kuid_t;

typedef struct {
	gid_t val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
};

struct signal_struct {
	atomic_t live;
};

/* Linux >= 6.15 renamed kernfs_node.parent to __parent. */
struct kernfs_node {
	const char *name;
	u64 id;
};

struct kernfs_node___new {
	struct kernfs_node *__parent;
};

struct kernfs_node___old {
	struct kernfs_node *parent;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct cgroup_subsys_state {
	struct cgroup *cgroup;
};

/* Values relocated by CO-RE (bpf_core_enum_value); these are placeholders. */
enum cgroup_subsys_id {
	memory_cgrp_id = 4,
};

struct css_set {
	struct cgroup_subsys_state *subsys[1]; /* CGROUP_SUBSYS_COUNT entries */
	struct cgroup *dfl_cgrp;
};

struct task_struct {
	pid_t pid;
	pid_t tgid;
	int exit_code;
	char comm[16];
	struct task_struct *real_parent;
	const struct cred *real_cred;
	const struct cred *cred;
	struct mm_struct *mm;
	struct signal_struct *signal;
	struct css_set *cgroups;
	struct files_struct *files;
	struct task_struct *group_leader;
	u64 start_time;
	u64 self_exec_id; // u64 since Linux 5.7; the ring buffer needs 5.8
};

struct file;

struct qstr {
	const unsigned char *name;
};

struct dentry {
	struct qstr d_name;
};

struct path {
	struct dentry *dentry;
};

struct linux_binprm {
	struct file *file;
	const char *filename;
};

/* Sockets (TCP connect and accept). */

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct sock_common {
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	u16 sk_protocol;
	u16 sk_type;
	u8 sk_userlocks; /* a 4-bit bitfield in older kernels: read with BPF_CORE_READ_BITFIELD_PROBED */
};

struct socket {
	struct sock *sk;
};

struct inode {
	unsigned short i_mode;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
	void *private_data;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct pt_regs;

#pragma clang attribute pop

#endif /* __EDGESEC_VMLINUX_H__ */
