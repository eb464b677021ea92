/* nullsub: the cheapest possible proc connector subscriber. It receives
 * every fork/exec/exit message and discards it, so running the exec
 * generators with it measures the floor that any proc connector consumer
 * costs (kernel message building and multicast, one wakeup per read).
 * Used by scripts/exec-floor. */
#include <linux/connector.h>
#include <linux/netlink.h>
#include <linux/cn_proc.h>
#include <sys/socket.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
  int s = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
  if (s < 0) { perror("socket"); return 1; }
  int sz = 8 << 20; setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = getpid() };
  if (bind(s, (struct sockaddr*)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
  struct { struct nlmsghdr h; struct cn_msg c; enum proc_cn_mcast_op op; } __attribute__((packed)) m;
  memset(&m, 0, sizeof m);
  m.h.nlmsg_len = sizeof m; m.h.nlmsg_type = NLMSG_DONE; m.h.nlmsg_pid = getpid();
  m.c.id.idx = CN_IDX_PROC; m.c.id.val = CN_VAL_PROC; m.c.len = sizeof(enum proc_cn_mcast_op);
  m.op = PROC_CN_MCAST_LISTEN;
  if (send(s, &m, sizeof m, 0) < 0) { perror("send"); return 1; }
  char buf[65536]; long n = 0;
  for (;;) { ssize_t r = recv(s, buf, sizeof buf, 0); if (r > 0) n++; }
}
