/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the guest benchmark programs (header-only). */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct vmstat {
	long pgmigrate_success, pgmigrate_fail;
	long thp_migration_success, thp_migration_fail;
	long tlb_ipis;		/* /proc/interrupts "TLB" row, all CPUs */
	long call_ipis;		/* /proc/interrupts "CAL" row, all CPUs */
};

/* The first word of page i of a benchmark region, written before a run. */
#define PATTERN(i) (0x5a5a000000000000UL | (i))

static inline void die_errno(const char *what)
{
	printf("BENCH,error,%s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline long irq_row(const char *name)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096];
	long sum = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (*p == ' ')
			p++;
		if (strncmp(p, name, strlen(name)) || p[strlen(name)] != ':')
			continue;
		p += strlen(name) + 1;
		sum = 0;
		for (;;) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
		break;
	}
	fclose(f);
	return sum;
}

static inline void read_vmstat(struct vmstat *v)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[128];
	long val;

	memset(v, 0, sizeof(*v));
	if (f) {
		while (fscanf(f, "%127s %ld", key, &val) == 2) {
			if (!strcmp(key, "pgmigrate_success"))
				v->pgmigrate_success = val;
			else if (!strcmp(key, "pgmigrate_fail"))
				v->pgmigrate_fail = val;
			else if (!strcmp(key, "thp_migration_success"))
				v->thp_migration_success = val;
			else if (!strcmp(key, "thp_migration_fail"))
				v->thp_migration_fail = val;
		}
		fclose(f);
	}
	v->tlb_ipis = irq_row("TLB");
	v->call_ipis = irq_row("CAL");
}

/* One /proc/vmstat counter, -1 if the kernel has none of that name. */
static inline long vmstat_field(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[128];
	long val, found = -1;

	while (f && fscanf(f, "%127s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			found = val;
	if (f)
		fclose(f);
	return found;
}

static inline int read_str(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = 0;
	return 0;
}

/* write to a sysfs file; returns 0 or -errno */
static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* A numeric field (kB) of the /proc/self/smaps entry containing addr. */
static inline long smaps_field(void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long val = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && !strncmp(line, field, strlen(field))) {
			val = strtol(line + strlen(field), NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* Zeroed MAP_SHARED memory: counters that forked children add to. */
static inline void *shared_zalloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die_errno("mmap(MAP_SHARED|MAP_ANONYMOUS)");
	return p;
}

/*
 * T touchers that run fn(stop) until touchers_stop(): forked processes
 * (for shared memory) or threads of this process (for private memory).
 * The stop flag lives in a MAP_SHARED page so that children see it too.
 */
struct touchers {
	int n, forked;
	pthread_t *th;
	pid_t *kids;
	volatile int *stop;
	void (*fn)(volatile int *stop);
};

static inline void *touchers_thread(void *arg)
{
	struct touchers *tc = arg;

	tc->fn(tc->stop);
	return NULL;
}

static inline void touchers_start(struct touchers *tc, int n, int forked,
				  void (*fn)(volatile int *stop))
{
	tc->n = n;
	tc->forked = forked;
	tc->fn = fn;
	tc->th = calloc(n > 0 ? n : 1, sizeof(*tc->th));
	tc->kids = calloc(n > 0 ? n : 1, sizeof(*tc->kids));
	tc->stop = shared_zalloc(4096);
	if (!tc->th || !tc->kids)
		die_errno("touchers");
	*tc->stop = 0;
	for (int t = 0; t < n; t++) {
		if (forked) {
			tc->kids[t] = fork();
			if (tc->kids[t] < 0)
				die_errno("fork");
			if (!tc->kids[t]) {
				fn(tc->stop);
				_exit(0);
			}
		} else if (pthread_create(&tc->th[t], NULL, touchers_thread, tc)) {
			die_errno("pthread_create");
		}
	}
}

static inline void touchers_stop(struct touchers *tc)
{
	*tc->stop = 1;
	for (int t = 0; t < tc->n; t++) {
		if (tc->forked)
			waitpid(tc->kids[t], NULL, 0);
		else
			pthread_join(tc->th[t], NULL);
	}
}

#endif
