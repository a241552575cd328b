// SPDX-License-Identifier: GPL-2.0
/*
 * streak KIND T SECONDS [PAGES]: move a region back and forth between
 * nodes 0 and 1 with move_pages(MPOL_MF_MOVE_ALL) while T readers read it,
 * for SECONDS, and print what happened to the moves.
 *
 * KIND: private  private anonymous, PAGES pages, T reader threads
 *       thp      one 2 MiB aligned MADV_HUGEPAGE region, T reader threads
 *       shared   MAP_SHARED|MAP_ANONYMOUS (shmem), PAGES pages, T forked readers
 *       tmpfs    MAP_SHARED of a /tmp file, PAGES pages, T forked readers
 *       ext2     MAP_SHARED of a file on /mnt/ext2 (ext2 on brd's /dev/ram0, made
 *                by /init: page cache, filemap_fault()), PAGES pages, T forked readers
 *       htlb     MAP_SHARED of a memfd(MFD_HUGETLB), one huge page, T forked readers
 *       shmthp   MAP_SHARED|MAP_ANONYMOUS, one 2 MiB MADV_HUGEPAGE region (shmem THP,
 *                PMD-mapped in every process: shmem_enabled is set to "advise" for
 *                the run), T forked readers
 *       shmswap  MAP_SHARED|MAP_ANONYMOUS, PAGES pages, T forked readers that drop
 *                their pte after every read (MADV_DONTNEED: each read is a fresh
 *                shmem_fault()); before each move the mover pages the region out
 *                (MADV_PAGEOUT: only while no reader maps it, needs swap, see
 *                swap.sh) and reads it back in, so readers fault on pages coming
 *                back from swap. status -ENOENT (page not mapped at the move) is
 *                counted apart, not as a failed move
 *       shmdrop  as shmswap without the paging out: readers that drop their pte
 *                after every read, so every read is a fault from a none pte
 *       ext2drop as ext2, with readers that drop their pte after every read (as
 *                shmdrop): every read is a filemap_fault() from a none pte
 *       shmthpdrop  as shmthp, but the readers read one 4 KiB page in the middle
 *                of the THP and drop only that pte after every read: the THP is
 *                pte-mapped in them, and every read is a shmem fault at an index
 *                that is not the THP's first (a tail page of the page cache)
 *
 * A page counts as moved only when its status entry, pre-filled with a
 * sentinel, holds the target node: 5.10's move_pages() may return 0 for a
 * page it did not move. Output (host/migbp/probe.py keeps these lines):
 *   PROBE <kind> T=<t> pages=<n> secs=<s> calls=<c> moved=<m> failed=<f> maxstreak=<calls>
 *   PROBE   status <value>: <count>     (sentinel = status never written)
 *   PROBE   vmstat <counter>: <delta>   (shmthp, shmswap, shmdrop, ext2drop)
 *   PROBE   smaps <field>: <kB>         (shmthp: is the region PMD-mapped?)
 * maxstreak is the longest run of consecutive calls with a failed page.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bench/benchlib.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB	4
#endif
#define SENTINEL	(-4242)
#define MAX_PAGES	64
#define MAX_READERS	64
#define HPAGE		(2UL << 20)

static char *region;
static size_t touch_len;		/* bytes the readers walk, 4 KiB apart */
static volatile int *stop;
static int drop_pte;			/* shmswap: readers MADV_DONTNEED after each read */
static size_t read_off;			/* shmthpdrop: where in the region the readers read */

static unsigned long read_until_stop(void)
{
	unsigned long sum = 0;

	while (!*stop) {
		for (size_t off = 0; off < touch_len; off += 4096)
			sum += *(volatile char *)(region + read_off + off);
		if (drop_pte)
			madvise(region + read_off, touch_len, MADV_DONTNEED);
	}
	return sum;
}

static void *reader_thread(void *arg)
{
	(void)arg;
	return (void *)read_until_stop();
}

/* write @val to a sysfs file, keeping what it said before ("[x]" of a list) in @old */
static void sysfs_set(const char *path, const char *val, char *old, size_t n)
{
	char buf[128] = "", *l, *r;

	read_str(path, buf, sizeof(buf));
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	snprintf(old, n, "%.*s", r ? (int)(r - l - 1) : 0, l ? l + 1 : "");
	if (write_str(path, val))
		fprintf(stderr, "streak: cannot write %s to %s\n", val, path);
}

static char *map_kind(const char *kind, size_t npages, size_t *len)
{
	int fd = -1;
	char *p;

	*len = npages * 4096;
	if (!strcmp(kind, "shmthp") || !strcmp(kind, "shmthpdrop")) {
		/* shmem_get_unmapped_area() aligns it to 2 MiB */
		*len = HPAGE;
		p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED && madvise(p, HPAGE, MADV_HUGEPAGE))
			perror("streak: madvise(MADV_HUGEPAGE)");
		return p;
	}
	if (!strcmp(kind, "private") || !strcmp(kind, "shared") || !strcmp(kind, "shmswap") ||
	    !strcmp(kind, "shmdrop")) {
		int share = !strcmp(kind, "private") ? MAP_PRIVATE : MAP_SHARED;

		return mmap(NULL, *len, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
	}
	if (!strcmp(kind, "thp")) {
		*len = HPAGE;
		p = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return p;
		p = (char *)(((unsigned long)p + HPAGE - 1) & ~(HPAGE - 1));
		madvise(p, HPAGE, MADV_HUGEPAGE);
		return p;
	}
	if (!strcmp(kind, "tmpfs") || !strncmp(kind, "ext2", 4)) {
		fd = open(!strncmp(kind, "ext2", 4) ? "/mnt/ext2/streak" : "/tmp/streak",
			  O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else if (!strcmp(kind, "htlb")) {
		*len = HPAGE;
		fd = memfd_create("streak", MFD_HUGETLB);
	}
	if (fd < 0 || ftruncate(fd, *len))
		return MAP_FAILED;
	return mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "shared";
	int nreaders = argc > 2 ? atoi(argv[2]) : 3;
	double secs = argc > 3 ? atof(argv[3]) : 10;
	size_t npages = argc > 4 ? atoi(argv[4]) : 1;
	int threads = !strcmp(kind, "private") || !strcmp(kind, "thp");
	int shmthpdrop = !strcmp(kind, "shmthpdrop");
	int shmthp = !strcmp(kind, "shmthp") || shmthpdrop, shmswap = !strcmp(kind, "shmswap");
	int shmdrop = !strcmp(kind, "shmdrop"), ext2drop = !strcmp(kind, "ext2drop");
	static const char *const counters[] = {
		"pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
		"thp_migration_fail", "pswpin", "pswpout",
	};
	long before[6], absent = 0;
	const char *shmem_enabled = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
	char old_enabled[32] = "";
	int where[MAX_PAGES], target[MAX_PAGES], status[MAX_PAGES];
	long calls = 0, moved = 0, failed = 0, streak = 0, maxstreak = 0;
	long sentinel = 0, by_status[64] = { 0 };
	pthread_t tid[MAX_READERS];
	pid_t pid[MAX_READERS];
	void *pages[MAX_PAGES];
	size_t len, n;
	double end;
	int i;

	if (nreaders < 0 || nreaders > MAX_READERS || npages < 1 || npages > MAX_PAGES) {
		fprintf(stderr, "usage: streak KIND T<=%d SECONDS [PAGES<=%d]\n",
			MAX_READERS, MAX_PAGES);
		return 2;
	}
	if (shmthp)
		sysfs_set(shmem_enabled, "advise", old_enabled, sizeof(old_enabled));
	drop_pte = shmswap || shmdrop || shmthpdrop || ext2drop;
	read_off = shmthpdrop ? 17 * 4096 : 0;
	region = map_kind(kind, npages, &len);
	stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || stop == MAP_FAILED) {
		perror("streak: mmap");
		return 1;
	}
	memset(region, 0x5a, len);
	n = len >= HPAGE ? 1 : npages;		/* one huge page is one move */
	touch_len = len >= HPAGE ? 4096 : len;
	for (i = 0; i < (int)n; i++)
		pages[i] = region + i * 4096;

	for (i = 0; i < nreaders; i++) {
		if (threads) {
			pthread_create(&tid[i], NULL, reader_thread, NULL);
		} else if ((pid[i] = fork()) == 0) {
			read_until_stop();
			_exit(0);
		}
	}
	usleep(100000);
	if (shmthp)
		printf("PROBE   smaps ShmemPmdMapped (start): %ld\n",
		       smaps_field(region, "ShmemPmdMapped:"));
	for (i = 0; i < 6; i++)
		before[i] = vmstat_field(counters[i]);

	for (end = now() + secs; now() < end; calls++) {
		int bad = 0;

		if (shmswap) {
			/* out to swap if no reader maps it now, then back in */
			madvise(region, len, MADV_PAGEOUT);
			for (i = 0; i < (int)n; i++)
				(void)*(volatile char *)pages[i];
		}
		for (i = 0; i < (int)n; i++)
			where[i] = SENTINEL;
		move_pages(0, n, pages, NULL, where, 0);
		for (i = 0; i < (int)n; i++) {
			target[i] = where[i] == 0 ? 1 : 0;
			status[i] = SENTINEL;
		}
		move_pages(0, n, pages, target, status, MPOL_MF_MOVE_ALL);
		for (i = 0; i < (int)n; i++) {
			if (status[i] == target[i]) {
				moved++;
			} else if (shmswap && status[i] == -2) {
				absent++;	/* -ENOENT: paged out again before the move */
			} else {
				failed++;
				bad = 1;
			}
			if (status[i] == SENTINEL)
				sentinel++;
			else if (status[i] > -48 && status[i] < 16)
				by_status[status[i] + 48]++;
		}
		streak = bad ? streak + 1 : 0;
		if (streak > maxstreak)
			maxstreak = streak;
	}
	*stop = 1;
	for (i = 0; i < nreaders; i++) {
		if (threads)
			pthread_join(tid[i], NULL);
		else
			waitpid(pid[i], NULL, 0);
	}

	printf("PROBE %s T=%d pages=%zu secs=%.0f calls=%ld moved=%ld failed=%ld maxstreak=%ld\n",
	       kind, nreaders, n, secs, calls, moved, failed, maxstreak);
	for (i = 0; i < 6; i++)
		if (shmthp || shmswap || shmdrop || ext2drop)
			printf("PROBE   vmstat %s: %ld\n", counters[i], vmstat_field(counters[i]) - before[i]);
	if (shmthp) {
		char was[32];

		printf("PROBE   smaps ShmemPmdMapped (end): %ld\n",
		       smaps_field(region, "ShmemPmdMapped:"));
		sysfs_set(shmem_enabled, old_enabled, was, sizeof(was));
	}
	if (absent)
		printf("PROBE   not mapped at the move (-ENOENT, not counted): %ld\n", absent);
	for (i = 0; i < 64; i++)
		if (by_status[i])
			printf("PROBE   status %d: %ld\n", i - 48, by_status[i]);
	if (sentinel)
		printf("PROBE   status sentinel: %ld\n", sentinel);
	return 0;
}
