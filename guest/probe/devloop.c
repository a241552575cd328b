// SPDX-License-Identifier: GPL-2.0
/*
 * devloop T PAGES SECONDS: make bench's "cost device" row taken apart.
 * PAGES pages of private anon go to test_hmm's device memory
 * (HMM_DMIRROR_MIGRATE) and come back (a CPU read of each page faults it
 * back to RAM), round after round, while T threads of the process spin
 * without touching the region (so every TLB flush of the mm sends IPIs to
 * them). Times the two halves apart and counts the TLB-shootdown and
 * function-call IPIs (/proc/interrupts TLB and CAL rows, all CPUs):
 *   PROBE devloop T=<t> pages=<n> rounds=<r> failed=<f> pages/s=<x>
 *         to_us=<median us of the ioctl> back_us=<median us of the reads>
 *         tlb/round=<x> cal/round=<x>
 * Measures, judges nothing.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "../bench/benchlib.h"
#include "test_hmm_uapi.h"
#ifndef HMM_DMIRROR_MIGRATE	/* mainline names the same ioctl (0x02) so */
#define HMM_DMIRROR_MIGRATE	HMM_DMIRROR_MIGRATE_TO_DEV
#endif

#define MAX_ROUNDS	100000

static void idle_spin(volatile int *stop)
{
	while (!*stop)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, long n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	int T = argc > 1 ? atoi(argv[1]) : 3;
	size_t npages = argc > 2 ? strtoul(argv[2], NULL, 0) : 1;
	double secs = argc > 3 ? atof(argv[3]) : 5;
	size_t pagesz = sysconf(_SC_PAGESIZE), len = npages * pagesz;
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	char *region = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *bounce = malloc(len);
	double *to = calloc(MAX_ROUNDS, sizeof(double));
	double *back = calloc(MAX_ROUNDS, sizeof(double));
	long rounds = 0, failed = 0, bad = 0;
	struct vmstat v0, v1;
	struct touchers spinners;
	double t0, t;

	if (fd < 0)
		die_errno("open(/dev/hmm_dmirror0) (CONFIG_TEST_HMM?)");
	if (region == MAP_FAILED || !bounce || !to || !back)
		die_errno("mmap/malloc");
	if (madvise(region, len, MADV_NOHUGEPAGE))
		die_errno("madvise(MADV_NOHUGEPAGE)");
	for (size_t i = 0; i < npages; i++)
		*(unsigned long *)(region + i * pagesz) = PATTERN(i);
	touchers_start(&spinners, T, 0, idle_spin);
	read_vmstat(&v0);
	t0 = now();
	do {
		struct hmm_dmirror_cmd cmd = {
			.addr = (uintptr_t)region, .ptr = (uintptr_t)bounce,
			.npages = npages,
		};
		double a = now(), b, c;

		if (ioctl(fd, HMM_DMIRROR_MIGRATE, &cmd))
			failed++;
		b = now();
		for (size_t i = 0; i < npages; i++)
			if (*(volatile unsigned long *)(region + i * pagesz) != PATTERN(i))
				bad++;
		c = now();
		if (rounds < MAX_ROUNDS) {
			to[rounds] = (b - a) * 1e6;
			back[rounds] = (c - b) * 1e6;
		}
		rounds++;
		t = c;
	} while (t - t0 < secs);
	read_vmstat(&v1);
	touchers_stop(&spinners);
	long kept = rounds < MAX_ROUNDS ? rounds : MAX_ROUNDS;

	printf("PROBE devloop T=%d pages=%zu rounds=%ld failed=%ld bad=%ld pages/s=%.0f "
	       "to_us=%.0f back_us=%.0f tlb/round=%.2f cal/round=%.2f\n",
	       T, npages, rounds, failed, bad, (rounds - failed) * npages / (t - t0),
	       median(to, kept), median(back, kept),
	       (double)(v1.tlb_ipis - v0.tlb_ipis) / rounds,
	       (double)(v1.call_ipis - v0.call_ipis) / rounds);
	return 0;
}
