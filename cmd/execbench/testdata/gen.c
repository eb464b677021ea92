/*
 * gen: a fork/exec load generator for execbench.
 *
 *   gen RATE SECONDS OUT [PROGRAM]
 *
 * Forks and execs PROGRAM (default /bin/true) RATE times per second (0: as
 * fast as it can, one at a time) for SECONDS, waiting for each child. Each
 * child gets one argument, a marker unique to it ("EB<gen pid>-<n>"), so a
 * monitor's capture can be checked by command line as well as by pid.
 * Before each fork it records CLOCK_REALTIME; at the end it writes one
 * "pid realtime_ns marker" line per child to OUT and prints the number of
 * execs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: gen RATE SECONDS OUT [PROGRAM]\n");
		return 2;
	}
	double rate = atof(argv[1]);
	double secs = atof(argv[2]);
	const char *prog = argc > 4 ? argv[4] : "/bin/true";
	size_t cap = 1 << 16, n = 0;
	int64_t *rec = malloc(cap * 2 * sizeof(int64_t));
	if (!rec) return 1;
	char marker[48];
	char *args[] = {(char *)prog, marker, NULL};
	long self = (long)getpid();
	char *const env[] = {NULL};
	int64_t start = now_ns(CLOCK_MONOTONIC);
	int64_t end = start + (int64_t)(secs * 1e9);
	int64_t step = rate > 0 ? (int64_t)(1e9 / rate) : 0;
	int64_t next = start;
	for (;;) {
		int64_t m = now_ns(CLOCK_MONOTONIC);
		if (m >= end) break;
		if (step > 0 && m < next) {
			struct timespec ts = {(next - m) / 1000000000LL, (next - m) % 1000000000LL};
			nanosleep(&ts, NULL);
			continue;
		}
		next += step;
		snprintf(marker, sizeof marker, "EB%ld-%zu", self, n);
		int64_t t = now_ns(CLOCK_REALTIME);
		pid_t pid = fork();
		if (pid == 0) {
			execve(prog, args, env);
			_exit(127);
		}
		if (pid < 0) {
			perror("fork");
			continue;
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
		if (n == cap) {
			cap *= 2;
			rec = realloc(rec, cap * 2 * sizeof(int64_t));
			if (!rec) return 1;
		}
		rec[2 * n] = pid;
		rec[2 * n + 1] = t;
		n++;
	}
	FILE *f = fopen(argv[3], "w");
	if (!f) { perror("open"); return 1; }
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%lld %lld EB%ld-%zu\n", (long long)rec[2 * i], (long long)rec[2 * i + 1], self, i);
	fclose(f);
	printf("%zu\n", n);
	return 0;
}
