// SPDX-License-Identifier: GPL-2.0
/*
 * Memory offline under refault load.
 *
 *   offline private|private-4k|shared|cpu-hog|ipi-hog|shared-ipi-hog T LIMIT_SECONDS [MIB]
 *
 * private is THP-backed (THP "always" in the VM), private-4k is
 * MADV_NOHUGEPAGE, shared (shmem) is 4 KiB pages.
 *
 * Binds a MIB (default 128) MiB region to node 1 (where the guest's pc-dimm
 * is onlined movable), touches it, finds the memory block holding most of
 * it (pagemap -> PFN -> /sys/devices/system/memory/memoryN), checks the block
 * is Movable, starts T touchers (threads for private, forked processes for
 * shared = MAP_SHARED|MAP_ANONYMOUS) that keep reading the region, and times
 * `echo offline > memoryN/state`. After LIMIT seconds a SIGALRM interrupts the
 * write (offline_pages() returns -EINTR on a pending signal): a timeout.
 * Then the block is onlined back (online_movable).
 *
 * Two controls split the cost of touchers (private region in both):
 *   cpu-hog  T forked processes that only spin: they compete for the vCPUs
 *            (4 vCPUs on a 2-core host under TCG) but share no mm with the
 *            region, so no TLB-shootdown IPIs and no migration-entry faults;
 *   ipi-hog  T threads of the region's process that spin without touching
 *            it: CPU competition plus TLB-shootdown IPIs (the mm is live on
 *            their CPUs), but no faults on migration entries.
 * and one for the shared region:
 *   shared-ipi-hog  T forked processes that read every page of the shared
 *            region once (so each maps all of it) and then spin without
 *            touching it: every page unmap must shoot down their TLBs, as
 *            with shared readers, but nobody faults during the offline.
 *
 * Prints one CSV line prefixed "BENCH,offline," (see host/migbp/bench.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

static char *region;
static size_t len, pagesz;

static void touch_loop(volatile int *stopflag)
{
	unsigned long sum = 0;

	while (!*stopflag)
		for (size_t i = 0; i < len && !*stopflag; i += pagesz)
			sum += *(volatile char *)(region + i);
	if (sum == 42)
		fprintf(stderr, " ");
}

static void spin_loop(volatile int *stopflag)
{
	while (!*stopflag)
		;
}

static int spin_only;

static void populate_then_spin(volatile int *stopflag)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < len; i += pagesz)
		sum += *(volatile char *)(region + i);
	if (sum == 42)
		fprintf(stderr, " ");
	spin_loop(stopflag);
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s private|shared T LIMIT [MIB]\n", argv[0]);
		return 2;
	}
	const char *scen = argv[1];
	int populate = !strcmp(scen, "shared-ipi-hog");
	int shared = !strcmp(scen, "shared") || populate;
	int forked = shared || !strcmp(scen, "cpu-hog");
	int nohuge = !strcmp(scen, "private-4k");

	spin_only = !strcmp(scen, "cpu-hog") || !strcmp(scen, "ipi-hog");
	int T = atoi(argv[2]);
	int limit = atoi(argv[3]);
	size_t mib = argc > 4 ? strtoul(argv[4], NULL, 0) : 128;
	char buf[256], path[256], zones[128] = "?";
	unsigned long bs;

	pagesz = sysconf(_SC_PAGESIZE);
	len = mib << 20;
	if (read_str("/sys/devices/system/memory/block_size_bytes", buf, sizeof(buf)))
		die_errno("block_size_bytes");
	bs = strtoul(buf, NULL, 16);

	region = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		die_errno("mmap");
	unsigned long mask = 1UL << 1;

	if (mbind(region, len, MPOL_BIND, &mask, 8 * sizeof(mask), 0))
		die_errno("mbind(node 1)");
	/* THP is "always" in the VM: private-4k wants 4 KiB pages like shmem */
	if (nohuge && madvise(region, len, MADV_NOHUGEPAGE))
		die_errno("madvise(MADV_NOHUGEPAGE)");
	for (size_t i = 0; i < len; i += pagesz)
		region[i] = 1;

	/* which memory blocks hold the region? */
	int pm = open("/proc/self/pagemap", O_RDONLY);

	if (pm < 0)
		die_errno("pagemap");
	size_t n = len / pagesz;
	uint64_t *ent = calloc(n, sizeof(*ent));

	if (pread(pm, ent, n * 8, ((uintptr_t)region / pagesz) * 8) != (ssize_t)(n * 8))
		die_errno("pread pagemap");
	close(pm);
	long best = -1, bestcnt = 0, nblocks = 0, present = 0;
	long *cnt = NULL, ncnt = 0;

	for (size_t i = 0; i < n; i++) {
		if (!(ent[i] >> 63))
			continue;
		present++;
		uint64_t pfn = ent[i] & ((1ULL << 55) - 1);
		long blk = (pfn * pagesz) / bs;

		if (blk >= ncnt) {
			cnt = realloc(cnt, (blk + 1) * sizeof(*cnt));
			memset(cnt + ncnt, 0, (blk + 1 - ncnt) * sizeof(*cnt));
			ncnt = blk + 1;
		}
		if (!cnt[blk]++)
			nblocks++;
		if (cnt[blk] > bestcnt) {
			bestcnt = cnt[blk];
			best = blk;
		}
	}
	if (best < 0 || !bestcnt) {
		printf("BENCH,error,offline: no PFNs in pagemap (present %ld)\n", present);
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%ld/valid_zones", best);
	read_str(path, zones, sizeof(zones));
	for (char *c = zones; *c; c++)
		if (*c == ' ' || *c == ',')
			*c = '+';
	if (!strstr(zones, "Movable")) {
		printf("BENCH,error,offline: memory%ld holding the region is not Movable (%s)\n",
		       best, zones);
		return 1;
	}
	char blkinfo[192];

	snprintf(blkinfo, sizeof(blkinfo), "blocks=%ld phys=0x%lx-0x%lx zones=%s AnonHugePages=%ldkB",
		 nblocks, best * bs, (best + 1) * bs - 1, zones,
		 smaps_field(region, "AnonHugePages:"));

	/* touchers */
	struct touchers tc;

	touchers_start(&tc, T, forked, populate ? populate_then_spin :
		       spin_only ? spin_loop : touch_loop);
	usleep(populate ? 3000000 : 200000);	/* let them run (and map it all) */

	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */

	sigaction(SIGALRM, &sa, NULL);
	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%ld/state", best);

	struct vmstat v0, v1;

	read_vmstat(&v0);
	double t0 = now();

	alarm(limit);
	int ret = write_str(path, "offline");

	alarm(0);
	double t1 = now();

	read_vmstat(&v1);

	touchers_stop(&tc);

	const char *result = "ok";
	char rbuf[64];

	if (ret == -EINTR) {
		result = "timeout";
	} else if (ret) {
		snprintf(rbuf, sizeof(rbuf), "error:%s", strerror(-ret));
		result = rbuf;
	}
	/* online it back */
	char state[64] = "?", onl[64] = "not-needed";
	double t2 = now();

	read_str(path, state, sizeof(state));
	if (strcmp(state, "online")) {
		int r = write_str(path, "online_movable");

		if (r)
			r = write_str(path, "online");
		snprintf(onl, sizeof(onl), "%s", r ? strerror(-r) : "ok");
	}
	double t3 = now();

	read_str(path, state, sizeof(state));
	printf("BENCH,offline,%s,%d,%zu,memory%ld,%.2f,%s,%ld,%ld,%ld,%ld,%ld,%s,%.2f,%s present=%ld in_block=%ld\n",
	       scen, T, mib, best, t1 - t0, result,
	       v1.pgmigrate_success - v0.pgmigrate_success,
	       v1.pgmigrate_fail - v0.pgmigrate_fail,
	       v1.tlb_ipis - v0.tlb_ipis, v1.call_ipis - v0.call_ipis,
	       bestcnt, onl, t3 - t2, blkinfo, present, bestcnt);
	fflush(stdout);
	return strcmp(state, "online") ? 1 : 0;
}
