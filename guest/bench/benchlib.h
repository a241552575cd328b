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

struct vmstat {
	long pgmigrate_success, pgmigrate_fail;
	long thp_migration_success, thp_migration_fail;
	long tlb_ipis;		/* /proc/interrupts "TLB" row, all CPUs */
	long call_ipis;		/* /proc/interrupts "CAL" row, all CPUs */
};

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

#endif
