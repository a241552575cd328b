// SPDX-License-Identifier: GPL-2.0
/*
 * The cost side of make bench: throughput of paths the series changes, with
 * nothing failing. (Uncontended move_pages() is `refault SCEN 0 PAGES SECS`.)
 *
 *   cost fault  pf1-anon|pf2-tmpfs|pf3-tmpfs|pf2-ext2|pf3-ext2  T PAGES SECS
 *   cost lock   tmpfs-write|ext2-write|htlb-read                T PAGES SECS
 *   cost device -                                               T PAGES SECS
 *   cost control spin                                           T 0 SECS
 *
 * fault: page faults without migration, as will-it-scale's page_fault1/2/3:
 *   T processes each map PAGES pages, write one byte to every page, unmap,
 *   and again until SECS are up. pf1: private anonymous (MADV_NOHUGEPAGE,
 *   THP is "always" in the VM: will-it-scale counts 4 KiB faults);
 *   pf2: MAP_PRIVATE of a file (a COW fault: ->fault finds the file page);
 *   pf3: MAP_SHARED of a file (->fault + ->page_mkwrite). Each process has
 *   its own file, written in full before the clock starts so that the runs
 *   find it in the page cache: tmpfs (/tmp: shmem_fault(), where the series
 *   adds a lockless look at the page's lock bit to every fault) or ext2 on a
 *   brd ramdisk (/mnt/ext2: filemap_fault(), where the series changes only
 *   what a fault does when its trylock of the page fails).
 *   count = pages written.
 * lock: read faults on a page that another task keeps locking, no migration:
 *   one PAGES-page file shared by T forked readers, each reads every page
 *   and zaps its mapping (MADV_DONTNEED; munmap + mmap on hugetlbfs, which
 *   refuses MADV_DONTNEED), over and over, while one more process takes the
 *   page lock of every page in turn: pwrite() of 4 KiB to a tmpfs file
 *   (shmem_write_begin() holds it across the copy) or to an ext2 file on brd
 *   (/mnt/ext2: grab_cache_page_write_begin() in ext2_write_begin()), or
 *   pread() of 4 KiB of a hugetlbfs file (hugetlbfs_read_iter():
 *   find_lock_page()). A reader whose fault finds the page locked sleeps on
 *   it: in shmem_fault() and filemap_fault() the patched kernel waits without
 *   a reference and looks the page up again. count = pages read after a zap
 *   (reader refaults).
 * device: PAGES pages of private anon (4 KiB) to test_hmm's device memory
 *   (HMM_DMIRROR_MIGRATE on /dev/hmm_dmirror0) and back (a CPU read of
 *   every page faults it back), round after round. count = pages moved to
 *   the device and back, only from rounds whose ioctl succeeded (the driver
 *   found every page in device memory); the CPU reads check the data.
 *   T threads of the same process spin meanwhile without touching the
 *   region: with T > 0 the mm is live on other CPUs, so every TLB flush of
 *   the migration sends IPIs to them, as in a multi-threaded process using a
 *   device. migrate_vma_collect_pmd() flushes once per range on 5.10 and
 *   still does with the series (it keeps ptep_get_and_clear() and the
 *   batched flush; an earlier version flushed per page): these rows check
 *   that device migration costs the same.
 * control: T processes that only spin in user space (a multiply-add per
 *   iteration, no system call, no fault): the emulator's speed at that
 *   moment, the same for any kernel. Under TCG on a shared host it drifts
 *   by several percent between boots: make bench shows its patched/base
 *   ratios as (part of) the noise band of a run. count = iterations / 1000.
 *
 * Prints "BENCH,cost,GROUP,CASE,T,PAGES,SECONDS,COUNT,NOTE"
 * (host/migbp/bench.py COST_COLS); SECONDS is the mean time the workers ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "test_hmm_uapi.h"		/* lib/ of the kernel tree */

#define HPAGE (2UL << 20)
#define MAXW 64

/* what the forked workers add up; lives in a MAP_SHARED page */
static struct totals {
	int next;			/* worker index dispenser */
	int workers;			/* how many account()ed */
	unsigned long long count;	/* pages faulted / read / moved */
	unsigned long long usecs;	/* sum over workers of their run time */
	unsigned long long minflt;	/* sum of their minor faults */
	unsigned long long majflt;	/* and major ones */
	unsigned long long other;	/* locker operations, failed rounds ... */
	unsigned long long bad;		/* wrong data seen */
} *tot;

static const char *scen;
static size_t npages, pagesz, len;
static int fds[MAXW];		/* per-worker file (fault) or the one file (lock) */
static int anon, shared_map, hugetlbfs;

struct start {
	double t;
	long minflt, majflt;
};

static struct start started(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (struct start){ now(), ru.ru_minflt, ru.ru_majflt };
}

/* a worker's epilogue: its count, run time and page faults into tot */
static void account(struct start s, unsigned long long n)
{
	struct start e = started();

	__atomic_add_fetch(&tot->workers, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&tot->count, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&tot->usecs, (unsigned long long)((e.t - s.t) * 1e6),
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&tot->minflt, e.minflt - s.minflt, __ATOMIC_RELAXED);
	__atomic_add_fetch(&tot->majflt, e.majflt - s.majflt, __ATOMIC_RELAXED);
}

/* Where a scenario's files live: ext2 on brd for "...ext2...", else tmpfs. */
static const char *file_dir(void)
{
	return strstr(scen, "ext2") ? "/mnt/ext2" : "/tmp";
}

/* an unlinked file of len bytes, PATTERN(page) in every page, in the page cache */
static int make_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *buf = calloc(1, pagesz);

	if (fd < 0 || !buf)
		die_errno(path);
	unlink(path);
	for (size_t i = 0; i < npages; i++) {
		*(unsigned long *)buf = PATTERN(i);
		if (pwrite(fd, buf, pagesz, i * pagesz) != (ssize_t)pagesz)
			die_errno("pwrite (fill)");
	}
	free(buf);
	return fd;
}

/* ------------------------------------------------------------ fault */

static void fault_worker(volatile int *stop)
{
	int me = __atomic_fetch_add(&tot->next, 1, __ATOMIC_RELAXED);
	unsigned long long n = 0;
	struct start s = started();

	while (!*stop) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       (shared_map ? MAP_SHARED : MAP_PRIVATE) |
			       (anon ? MAP_ANONYMOUS : 0), anon ? -1 : fds[me], 0);

		if (p == MAP_FAILED)
			die_errno("mmap");
		if (anon && madvise(p, len, MADV_NOHUGEPAGE))
			die_errno("madvise(MADV_NOHUGEPAGE)");
		for (size_t i = 0; i < len && !*stop; i += pagesz, n++)
			p[i + 8] = 1;	/* leaves the pattern word alone */
		munmap(p, len);
	}
	account(s, n);
}

static void setup_fault(int T)
{
	char path[64];

	anon = !strncmp(scen, "pf1", 3);
	shared_map = !strncmp(scen, "pf3", 3);
	for (int t = 0; t < T && !anon; t++) {
		snprintf(path, sizeof(path), "%s/cost-pf-%d", file_dir(), t);
		fds[t] = make_file(path);
	}
}

/* ------------------------------------------------------------ lock */

static char *map_shared_ro(int fd)
{
	char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		die_errno("mmap(MAP_SHARED) of the locked file");
	return p;
}

static void reader(volatile int *stop)
{
	char *p = map_shared_ro(fds[0]);
	size_t stride = hugetlbfs ? HPAGE : pagesz;
	unsigned long long n = 0, bad = 0;
	struct start s = started();

	while (!*stop) {
		for (size_t i = 0; i < npages; i++, n++)
			if (*(volatile unsigned long *)(p + i * stride) != PATTERN(i))
				bad++;
		if (hugetlbfs) {
			munmap(p, len);
			p = map_shared_ro(fds[0]);
		} else if (madvise(p, len, MADV_DONTNEED)) {
			die_errno("madvise(MADV_DONTNEED)");
		}
	}
	account(s, n);
	__atomic_add_fetch(&tot->bad, bad, __ATOMIC_RELAXED);
}

/* takes the page lock of every page in turn; rewrites the same data */
static void locker(volatile int *stop)
{
	size_t stride = hugetlbfs ? HPAGE : pagesz;
	char *buf = calloc(1, pagesz);
	unsigned long long ops = 0;

	if (!buf)
		die_errno("calloc");
	while (!*stop) {
		for (size_t i = 0; i < npages; i++, ops++) {
			ssize_t r;

			*(unsigned long *)buf = PATTERN(i);
			r = hugetlbfs ? pread(fds[0], buf, pagesz, i * stride)
				      : pwrite(fds[0], buf, pagesz, i * stride);
			if (r != (ssize_t)pagesz)
				die_errno(hugetlbfs ? "pread" : "pwrite");
		}
	}
	tot->other = ops;
}

static void setup_lock(void)
{
	char path[64];

	hugetlbfs = !strncmp(scen, "htlb", 4);
	if (!hugetlbfs) {
		snprintf(path, sizeof(path), "%s/cost-lock", file_dir());
		fds[0] = make_file(path);
		return;
	}
	/* hugetlbfs has no write(): fill it through a mapping */
	len = npages * HPAGE;
	fds[0] = memfd_create("cost-lock-htlb", MFD_HUGETLB);
	if (fds[0] < 0 || ftruncate(fds[0], len))
		die_errno("memfd_create(MFD_HUGETLB) + ftruncate");
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);

	if (p == MAP_FAILED)
		die_errno("mmap of the hugetlbfs file (nr_hugepages reserved?)");
	for (size_t i = 0; i < npages; i++)
		*(unsigned long *)(p + i * HPAGE) = PATTERN(i);
	munmap(p, len);
}

/* ------------------------------------------------------------ device */

static void idle_spin(volatile int *stop)
{
	while (!*stop)
		;
}

static void device(int T, double secs)
{
	struct touchers spinners;
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	char *region = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *bounce = malloc(len);
	unsigned long long n = 0;
	struct start s;

	if (fd < 0)
		die_errno("open(/dev/hmm_dmirror0) (CONFIG_TEST_HMM?)");
	if (region == MAP_FAILED || !bounce)
		die_errno("mmap/malloc");
	if (madvise(region, len, MADV_NOHUGEPAGE))
		die_errno("madvise(MADV_NOHUGEPAGE)");
	for (size_t i = 0; i < npages; i++)
		*(unsigned long *)(region + i * pagesz) = PATTERN(i);
	touchers_start(&spinners, T, 0, idle_spin);
	s = started();
	do {
		struct hmm_dmirror_cmd cmd = {
			.addr = (uintptr_t)region, .ptr = (uintptr_t)bounce,
			.npages = npages,
		};

		if (!ioctl(fd, HMM_DMIRROR_MIGRATE, &cmd))
			n += npages;
		else
			tot->other++;		/* a failed round */
		for (size_t i = 0; i < npages; i++)	/* back to RAM */
			if (*(volatile unsigned long *)(region + i * pagesz) != PATTERN(i))
				tot->bad++;
	} while (now() - s.t < secs);
	account(s, n);
	touchers_stop(&spinners);

	/* every page should be system memory again */
	unsigned char *snap = (unsigned char *)bounce;
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)region, .ptr = (uintptr_t)snap, .npages = npages,
	};
	unsigned long dev = 0;

	if (ioctl(fd, HMM_DMIRROR_SNAPSHOT, &cmd))
		die_errno("HMM_DMIRROR_SNAPSHOT");
	for (size_t i = 0; i < npages; i++)
		dev += snap[i] == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	if (dev)
		printf("BENCH,error,cost device %zu: %lu pages still in device memory\n",
		       npages, dev);
	close(fd);
}

/* ------------------------------------------------------------ control */

static void spin_worker(volatile int *stop)
{
	unsigned long long n = 0;
	uint64_t x = 1;
	struct start s = started();

	while (!*stop) {
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n++;
	}
	account(s, n);
	if (x == 42)		/* keep the loop */
		printf(" ");
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s fault|lock|device|control CASE T PAGES SECONDS\n", argv[0]);
		return 2;
	}
	const char *group = argv[1];
	int T = atoi(argv[3]);
	double secs = atof(argv[5]);
	struct touchers work, lock;
	int locking = !strcmp(group, "lock");
	char note[160];

	scen = argv[2];
	npages = strtoul(argv[4], NULL, 0);
	pagesz = sysconf(_SC_PAGESIZE);
	len = npages * pagesz;
	tot = shared_zalloc(sizeof(*tot));
	if (T < 0 || T > MAXW) {
		fprintf(stderr, "T must be 0-%d\n", MAXW);
		return 2;
	}

	if (!strcmp(group, "device")) {
		device(T, secs);
	} else {
		void (*fn)(volatile int *) = fault_worker;

		if (locking) {
			setup_lock();
			fn = reader;
		} else if (!strcmp(group, "fault")) {
			setup_fault(T);
		} else if (!strcmp(group, "control")) {
			fn = spin_worker;
		} else {
			fprintf(stderr, "unknown group %s\n", group);
			return 2;
		}
		if (locking)
			touchers_start(&lock, 1, 1, locker);
		touchers_start(&work, T, 1, fn);
		struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };

		nanosleep(&ts, NULL);
		touchers_stop(&work);
		if (locking)
			touchers_stop(&lock);
	}

	double mean = tot->workers ? tot->usecs / 1e6 / tot->workers : 0;

	note[0] = 0;
	if (strcmp(group, "control"))
		snprintf(note, sizeof(note), "minflt/page=%.2f majflt/page=%.2f",
			 tot->count ? (double)tot->minflt / tot->count : 0.0,
			 tot->count ? (double)tot->majflt / tot->count : 0.0);
	if (locking || !strcmp(group, "device")) {
		size_t l = strlen(note);

		snprintf(note + l, sizeof(note) - l, " %s=%llu bad=%llu",
			 locking ? "locker_ops" : "failed_rounds", tot->other, tot->bad);
	}
	printf("BENCH,cost,%s,%s,%d,%zu,%.3f,%llu,%s\n", group, scen, T, npages, mean,
	       tot->count, note);
	fflush(stdout);
	return 0;
}
