// SPDX-License-Identifier: GPL-2.0
/*
 * Refault storm: T touchers keep reading (or writing) a region while the
 * main thread moves it back and forth between node 0 and node 1 with
 * move_pages(MPOL_MF_MOVE_ALL) for a fixed time.
 *
 *   refault SCENARIO T PAGES SECONDS
 *
 * SCENARIO: private-r private-w   anonymous private memory (MADV_NOHUGEPAGE:
 *                                 4 KiB pages at any size), T threads
 *           shared-r  shared-w    MAP_SHARED|MAP_ANONYMOUS (shmem), T forked processes
 *           shared-drop           as shared-r, but each reader MADV_DONTNEEDs the
 *                                 region after every pass: every read faults from
 *                                 a none pte on a page that stays in the page cache
 *           thp-r                 2 MiB aligned MADV_HUGEPAGE, PAGES huge pages, T threads
 *           hugetlb-r             MAP_HUGETLB, PAGES huge pages, T threads
 *           tmpfs-r   tmpfs-w     MAP_SHARED of a file in /tmp (tmpfs), T forked processes
 *           ext2-r                MAP_SHARED of a file on ext2 on a brd ramdisk
 *                                 (/mnt/ext2: page cache, filemap_fault()), T forked processes
 *           ext2-drop             as ext2-r, but each reader MADV_DONTNEEDs the region
 *                                 after every pass: every read is a filemap_fault()
 *                                 from a none pte
 *           htlb-shared-r         MAP_SHARED of a memfd(MFD_HUGETLB) (hugetlbfs),
 *                                 PAGES huge pages, T forked processes
 *           device-r              private anon, T reader threads; the main thread
 *                                 migrates the region to test_hmm device-private
 *                                 memory (HMM_DMIRROR_MIGRATE) instead of move_pages():
 *                                 each reader fault migrates a page back to RAM
 *
 * T may be 0: nobody touches the region, and moved / seconds is the
 * uncontended move_pages() rate (the cost rows of make bench).
 *
 * Prints one CSV line, prefixed "BENCH,refault," (REFAULT_COLS in host/migbp/bench.py).
 *
 * 5.10's move_pages() can return 0 for a page that did not move and leave
 * its status unwritten: status is pre-filled with a sentinel before every
 * call and a page counts as moved only if its status equals the target node.
 * The return value is never trusted. Each page's target is the node it is
 * not on (re-read with a status-only move_pages() after a failure), so a page
 * left behind by a failed move is not counted as "moved" on the next call.
 *
 * device-r counts differently (the driver reports no per-page status): a call
 * "moved" its pages when the ioctl succeeded, i.e. when the driver found
 * every page mirrored in device memory as it read them back; it "failed"
 * when the ioctl returned -ENOENT: some page was not migrated, or was
 * migrated and already faulted back by a reader. It is an upper bound of
 * failed migrations, comparable between kernels, not an exact count.
 * Every scenario's readers check the data they read (first word of each
 * page: a pattern written before the run); a wrong value is counted and
 * reported in the note as bad=N. Writers (-w) do not check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "test_hmm_uapi.h"		/* lib/ of the kernel tree */

#ifndef HMM_DMIRROR_MIGRATE
/* mainline renamed it (same ioctl number, 0x02); device-r is only measured on 5.10 */
#define HMM_DMIRROR_MIGRATE HMM_DMIRROR_MIGRATE_TO_DEV
#endif

#define SENTINEL (-4242)
#define HPAGE (2UL << 20)

static char *region;
static size_t npages, stride;
static int writer;
static int dropper;		/* shared-drop, ext2-drop: zap the readers' ptes after each pass */
static unsigned long *bad;	/* shared with forked readers */

static void touch_loop(volatile int *stopflag)
{
	unsigned long n = 0, wrong = 0;

	while (!*stopflag) {
		for (size_t i = 0; i < npages; i++) {
			volatile unsigned long *p =
				(unsigned long *)(region + i * stride);

			if (writer)
				p[1] = n;	/* the checked word stays */
			else if (*p != PATTERN(i))
				wrong++;
		}
		if (dropper)
			madvise(region, npages * stride, MADV_DONTNEED);
		n++;
	}
	if (wrong)
		__atomic_add_fetch(bad, wrong, __ATOMIC_RELAXED);
}

static char *map_file(int fd, size_t len, const char *what)
{
	char *p;

	if (fd < 0)
		die_errno(what);
	if (ftruncate(fd, len))
		die_errno("ftruncate");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die_errno("mmap(MAP_SHARED) of a file");
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s SCENARIO T PAGES SECONDS\n", argv[0]);
		return 2;
	}
	const char *scen = argv[1];
	int T = atoi(argv[2]);
	npages = strtoul(argv[3], NULL, 0);
	double secs = atof(argv[4]);
	int tmpfs = !strncmp(scen, "tmpfs", 5);
	int ext2 = !strncmp(scen, "ext2", 4);
	int shtlb = !strncmp(scen, "htlb-shared", 11);
	int device = !strncmp(scen, "device", 6);
	int shared = !strncmp(scen, "shared", 6) || tmpfs || ext2 || shtlb;
	int thp = !strncmp(scen, "thp", 3);
	int huge = !strncmp(scen, "hugetlb", 7) || shtlb;
	size_t pagesz = sysconf(_SC_PAGESIZE);
	char note[256] = "";

	writer = scen[strlen(scen) - 1] == 'w';
	dropper = !strcmp(scen, "shared-drop") || !strcmp(scen, "ext2-drop");
	stride = (thp || huge) ? HPAGE : pagesz;
	size_t len = npages * stride;

	if (thp) {
		/* over-allocate and align to 2 MiB */
		char *raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (raw == MAP_FAILED)
			die_errno("mmap");
		region = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
		if (madvise(region, len, MADV_HUGEPAGE))
			die_errno("madvise(MADV_HUGEPAGE)");
	} else if (shtlb) {
		region = map_file(memfd_create("refault-htlb", MFD_HUGETLB), len,
				  "memfd_create(MFD_HUGETLB)");
	} else if (tmpfs || ext2) {
		const char *path = tmpfs ? "/tmp/refault-tmpfs" : "/mnt/ext2/refault-file";

		region = map_file(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), len, path);
		unlink(path);
	} else if (huge) {
		region = mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (region == MAP_FAILED)
			die_errno("mmap(MAP_HUGETLB) (nr_hugepages reserved?)");
	} else {
		region = mmap(NULL, len, PROT_READ | PROT_WRITE,
			      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED)
			die_errno("mmap");
		/* THP is "always" in the VM: 512 pages could be one huge page */
		if (!shared && madvise(region, len, MADV_NOHUGEPAGE))
			die_errno("madvise(MADV_NOHUGEPAGE)");
	}
	for (size_t i = 0; i < len; i += pagesz)
		region[i] = 1;
	for (size_t i = 0; i < npages; i++)
		*(unsigned long *)(region + i * stride) = PATTERN(i);
	bad = shared_zalloc(sizeof(*bad));

	if (thp) {
		long kb = smaps_field(region, "AnonHugePages:");

		snprintf(note, sizeof(note), "AnonHugePages=%ldkB", kb);
		if (kb < (long)(len >> 10))
			strcat(note, " NOT-THP");
	}

	void **addrs = calloc(npages, sizeof(*addrs));
	int *nodes = calloc(npages, sizeof(int));
	int *status = calloc(npages, sizeof(int));
	int *cur = calloc(npages, sizeof(int));

	for (size_t i = 0; i < npages; i++) {
		addrs[i] = region + i * stride;
		nodes[i] = 0;
		status[i] = SENTINEL;
	}
	/* start on node 0 (not counted) */
	move_pages(0, npages, addrs, nodes, status, MPOL_MF_MOVE_ALL);
	move_pages(0, npages, addrs, NULL, status, 0);
	for (size_t i = 0; i < npages; i++)
		cur[i] = status[i] == 1 ? 1 : 0;

	/* touchers */
	struct touchers tc;

	touchers_start(&tc, T, shared, touch_loop);

	struct vmstat v0, v1;
	unsigned long long calls = 0, moved = 0, failed = 0, positive = 0, errs = 0;

	int dfd = -1;
	char *bounce = NULL;

	if (device) {
		dfd = open("/dev/hmm_dmirror0", O_RDWR);
		if (dfd < 0)
			die_errno("open(/dev/hmm_dmirror0) (CONFIG_TEST_HMM?)");
		bounce = malloc(len);
		if (!bounce)
			die_errno("malloc");
	}

	read_vmstat(&v0);
	double t0 = now(), t1;

	do {
		if (device) {
			struct hmm_dmirror_cmd cmd = {
				.addr = (uintptr_t)region,
				.ptr = (uintptr_t)bounce,
				.npages = npages,
			};

			calls++;
			if (!ioctl(dfd, HMM_DMIRROR_MIGRATE, &cmd)) {
				moved += npages;
				for (size_t i = 0; i < npages; i++)
					if (*(unsigned long *)(bounce + i * stride) !=
					    PATTERN(i))
						(*bad)++;
			} else if (errno == ENOENT) {
				failed += npages;
			} else {
				errs++;
			}
			t1 = now();
			continue;
		}
		for (size_t i = 0; i < npages; i++) {
			nodes[i] = !cur[i];
			status[i] = SENTINEL;
		}
		long rc = move_pages(0, npages, addrs, nodes, status, MPOL_MF_MOVE_ALL);

		calls++;
		if (rc > 0)
			positive++;
		else if (rc < 0)
			errs++;
		int anyfail = 0;

		for (size_t i = 0; i < npages; i++) {
			if (status[i] == nodes[i]) {
				moved++;
				cur[i] = nodes[i];
			} else {
				failed++;
				anyfail = 1;
			}
		}
		if (anyfail) {	/* where are they really? */
			move_pages(0, npages, addrs, NULL, status, 0);
			for (size_t i = 0; i < npages; i++)
				if (status[i] == 0 || status[i] == 1)
					cur[i] = status[i];
		}
		t1 = now();
	} while (t1 - t0 < secs);
	read_vmstat(&v1);

	touchers_stop(&tc);

	unsigned long long tried = moved + failed;

	if (positive || errs) {
		size_t l = strlen(note);

		snprintf(note + l, sizeof(note) - l, "%sret>0:%llu ret<0:%llu",
			 l ? " " : "", positive, errs);
	}
	if (!writer) {
		size_t l = strlen(note);

		snprintf(note + l, sizeof(note) - l, "%sbad=%lu", l ? " " : "",
			 __atomic_load_n(bad, __ATOMIC_RELAXED));
	}
	printf("BENCH,refault,%s,%d,%zu,%.2f,%llu,%llu,%llu,%llu,%ld,%ld,%ld,%ld,%ld,%s\n",
	       scen, T, npages, t1 - t0, calls, moved, failed,
	       tried ? failed * 1000000ULL / tried : 0ULL,
	       v1.pgmigrate_success - v0.pgmigrate_success,
	       v1.pgmigrate_fail - v0.pgmigrate_fail,
	       v1.thp_migration_success - v0.thp_migration_success,
	       v1.thp_migration_fail - v0.thp_migration_fail,
	       v1.tlb_ipis - v0.tlb_ipis, note);
	fflush(stdout);
	return 0;
}
