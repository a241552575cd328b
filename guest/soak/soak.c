// SPDX-License-Identifier: GPL-2.0
/*
 * Soak: a hostile mix of everything that migrates pages, all at once, for a
 * fixed time, with every byte of every region checked.
 *
 *   soak SECONDS [OFFLINE_LIMIT_SECONDS]
 *
 * Workers (one forked process each, started together, stopped together):
 *   private  4 MiB anon, MADV_NOHUGEPAGE   \  the main thread moves every page
 *   thp      2 x 2 MiB anon, MADV_HUGEPAGE  | to the other node with
 *   hugetlb  2 x 2 MiB MAP_HUGETLB          | move_pages(MPOL_MF_MOVE_ALL), back
 *   shared   4 MiB MAP_SHARED|MAP_ANONYMOUS  | and forth, while 2 touchers
 *   file     4 MiB MAP_SHARED of a file on   | (threads; forked processes for
 *            ext2 (/mnt/ext2, brd, /init)    | shared, file, hugetlbfs)
 *   hugetlbfs 2 x 2 MiB MAP_SHARED of a     | verify and rewrite it
 *            memfd(MFD_HUGETLB)             /
 *   fork     4 MiB anon (THP) being moved by a thread while the main thread
 *            forks children that verify their COW snapshot, move some of its
 *            pages themselves, write some (COW break) and exit; the parent
 *            rewrites pages of its own copy meanwhile
 *   churn    8 MiB anon (THP) being moved by a thread while the main thread
 *            does mprotect / mremap away and back / MADV_DONTNEED / munmap+mmap
 *            on 512 KiB chunks, and a toucher verifies the chunks nobody churns
 *   hmm      1 MiB anon moved by a thread while the main thread migrates it to
 *            test_hmm's device memory (HMM_DMIRROR_MIGRATE), reads and writes it
 *            through the device, and faults it back with CPU reads and writes
 *   compact  echo 1 > /proc/sys/vm/compact_memory in a loop
 *   offline  offline + online_movable each Movable memory block of node 1 in
 *            turn (SIGALRM after OFFLINE_LIMIT s, like guest/bench/offline.c)
 *
 * Checksum pattern: every 8-byte word of every 4 KiB page is a function of
 * (region, page, word, generation). A page has exactly one writer (a toucher
 * owns a slice; the churner owns the churned chunks; the hmm thread owns its
 * region), which keeps the page's generation, so every check is exact. Pages
 * that are legitimately discarded (MADV_DONTNEED, munmap) must read back as
 * zeros, then are re-seeded with a new generation. Migrator threads only
 * migrate, never write. Corrupted bytes = bytes that differ from the expected
 * value, counted continuously and in a final pass over every region after the
 * migrators stopped.
 *
 * Output (parsed by host/migbp/soak.py), one line each, prefix "SOAK,":
 *   SOAK,start,<seconds>,<offline limit>   SOAK,info,<text>
 *   SOAK,progress,<elapsed s>,<ops so far>,<pgmigrate_success so far>
 *   SOAK,corrupt,<region>,<page>,<word>,<bad bytes>,<expected gen>,<detail>  (first 50)
 *   SOAK,verify,<region>,<pages>,<bad bytes>           (final pass)
 *   SOAK,op,<worker>.<op>,<count>                      (at the end, every counter)
 *   SOAK,vmstat,<counter>,<delta>
 *   SOAK,hung,<worker>,<pid>,<state>,<wchan>           (did not stop within the grace time)
 *   SOAK,error,<text>                                  (a worker could not do its job)
 *   SOAK,result,corrupted_bytes=<n>,hung=<n>,errors=<n>
 *   SOAK,end,<seconds>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "test_hmm_uapi.h"

#define PAGE 4096UL
#define HPAGE (2UL << 20)
#define SENTINEL (-4242)
#define MAX_CORRUPT_LINES 50

/* ------------------------------------------------------------ counters */

#define OPS(X) \
	X(private_move_pages) X(private_pages_moved) X(private_verify_pages) X(private_write_pages) \
	X(thp_move_pages) X(thp_pages_moved) X(thp_verify_pages) X(thp_write_pages) \
	X(hugetlb_move_pages) X(hugetlb_pages_moved) X(hugetlb_verify_pages) X(hugetlb_write_pages) \
	X(shared_move_pages) X(shared_pages_moved) X(shared_verify_pages) X(shared_write_pages) \
	X(file_move_pages) X(file_pages_moved) X(file_verify_pages) X(file_write_pages) \
	X(hugetlbfs_move_pages) X(hugetlbfs_pages_moved) X(hugetlbfs_verify_pages) \
	X(hugetlbfs_write_pages) \
	X(fork_move_pages) X(fork_pages_moved) X(fork_fork_exit) X(fork_child_move_pages) \
	X(fork_child_verify_pages) X(fork_cow_writes) X(fork_verify_pages) \
	X(churn_move_pages) X(churn_pages_moved) X(churn_mprotect) X(churn_mremap) \
	X(churn_madv_dontneed) X(churn_munmap_mmap) X(churn_verify_pages) \
	X(hmm_move_pages) X(hmm_pages_moved) X(hmm_migrate_to_device) X(hmm_pages_to_device) \
	X(hmm_device_read) X(hmm_device_write) X(hmm_cpu_fault_back) X(hmm_ioctl_errors) \
	X(hmm_verify_pages) \
	X(compact_runs) \
	X(offline_ok) X(offline_timeout) X(offline_busy) X(offline_online_ok) \
	X(offline_online_retry) X(offline_online_failed)

#define ENUM(n) n,
enum { OPS(ENUM) NOPS };
#define NAME(n) #n,
static const char *op_names[] = { OPS(NAME) };

struct shared_state {
	volatile int stop;
	long ops[NOPS];
	long corrupted_bytes;
	long corrupt_lines;
	long errors;
	long hung;
};

static struct shared_state *S;
static double deadline;

static void count(int op, long n)
{
	__atomic_add_fetch(&S->ops[op], n, __ATOMIC_RELAXED);
}

static int stopping(void)
{
	return S->stop || now() >= deadline;
}

/* One write(2) per line: no stdio locks (fork from threaded processes). */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) < 0)
		return;
}

static void error(const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	__atomic_add_fetch(&S->errors, 1, __ATOMIC_RELAXED);
	say("SOAK,error,%s", buf);
}

/* ------------------------------------------------------------ pattern */

static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t page_base(uint64_t seed, uint64_t page, uint64_t gen)
{
	return mix(seed * 0x100000001b3ULL ^ (page << 24) ^ gen) | 1;
}

static void fill_page(void *p, uint64_t seed, uint64_t page, uint64_t gen)
{
	uint64_t *w = p, b = page_base(seed, page, gen);

	for (unsigned i = 0; i < PAGE / 8; i++)
		w[i] = b + i * 0x9e3779b97f4a7c15ULL;
}

static int bad_bytes(uint64_t x)
{
	int n = 0;

	for (; x; x >>= 8)
		n += (x & 0xff) != 0;
	return n;
}

/*
 * Check one page against generation gen (zero = expect all zero bytes).
 * Returns the number of corrupted bytes; reports the first word that differs.
 */
static long check_page(const char *region, const void *p, uint64_t seed, uint64_t page,
		       uint64_t gen, int zero)
{
	const volatile uint64_t *w = p;
	uint64_t b = page_base(seed, page, gen);
	long bad = 0;
	int first = -1;
	uint64_t got = 0, want = 0;

	for (unsigned i = 0; i < PAGE / 8; i++) {
		uint64_t e = zero ? 0 : b + i * 0x9e3779b97f4a7c15ULL;
		uint64_t v = w[i];

		if (v != e) {
			bad += bad_bytes(v ^ e);
			if (first < 0) {
				first = i;
				got = v;
				want = e;
			}
		}
	}
	if (bad) {
		__atomic_add_fetch(&S->corrupted_bytes, bad, __ATOMIC_RELAXED);
		if (__atomic_add_fetch(&S->corrupt_lines, 1, __ATOMIC_RELAXED) <= MAX_CORRUPT_LINES)
			say("SOAK,corrupt,%s,%lu,%d,%ld,%s%lu,got=%016lx want=%016lx",
			    region, (unsigned long)page, first, bad, zero ? "zero/" : "",
			    (unsigned long)gen, (unsigned long)got, (unsigned long)want);
	}
	return bad;
}

/* ------------------------------------------------------------ migration */

/*
 * move_pages() every address to the node it is not on. 5.10's move_pages()
 * can return 0 for a page that did not move: only status == target counts
 * (see guest/bench/refault.c). Pages that are not mapped right now (churn)
 * report -EFAULT/-ENOENT and are simply not counted.
 */
struct mover {
	size_t n;
	void **addrs;
	int *nodes, *status, *cur;
};

static void mover_init(struct mover *m, char *base, size_t len, size_t stride)
{
	m->n = len / stride;
	m->addrs = calloc(m->n, sizeof(void *));
	m->nodes = calloc(m->n, sizeof(int));
	m->status = calloc(m->n, sizeof(int));
	m->cur = calloc(m->n, sizeof(int));
	for (size_t i = 0; i < m->n; i++)
		m->addrs[i] = base + i * stride;
}

static void mover_step(struct mover *m, int op_calls, int op_moved)
{
	long moved = 0;
	int anyfail = 0;

	for (size_t i = 0; i < m->n; i++) {
		m->nodes[i] = !m->cur[i];
		m->status[i] = SENTINEL;
	}
	move_pages(0, m->n, m->addrs, m->nodes, m->status, MPOL_MF_MOVE_ALL);
	for (size_t i = 0; i < m->n; i++) {
		if (m->status[i] == m->nodes[i]) {
			moved++;
			m->cur[i] = m->nodes[i];
		} else {
			anyfail = 1;
		}
	}
	if (anyfail) {
		move_pages(0, m->n, m->addrs, NULL, m->status, 0);
		for (size_t i = 0; i < m->n; i++)
			if (m->status[i] == 0 || m->status[i] == 1)
				m->cur[i] = m->status[i];
	}
	count(op_calls, 1);
	count(op_moved, moved);
}

struct mover_arg {
	struct mover m;
	int op_calls, op_moved;
	volatile int *stop;
};

static void *mover_thread(void *arg)
{
	struct mover_arg *a = arg;

	while (!*a->stop && !stopping())
		mover_step(&a->m, a->op_calls, a->op_moved);
	return NULL;
}

static void start_mover(pthread_t *th, struct mover_arg *a, char *base, size_t len,
			size_t stride, int op_calls, int op_moved, volatile int *stop)
{
	mover_init(&a->m, base, len, stride);
	a->op_calls = op_calls;
	a->op_moved = op_moved;
	a->stop = stop;
	if (pthread_create(th, NULL, mover_thread, a))
		error("pthread_create mover: %s", strerror(errno));
}

static char *map_aligned(size_t len, int flags)
{
	char *raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (raw == MAP_FAILED)
		return NULL;
	return (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
}

/* ------------------------------------------------------------ region workers */

/*
 * private / thp / hugetlb / shared: pages [0, ro) are written once and only
 * read; toucher t owns the pages of slice t of the rest: verify, rewrite with
 * the next generation.
 */
#define TOUCHERS 2

struct region {
	const char *name;
	char *mem;
	size_t pages, ro;
	uint64_t seed;
	uint64_t *gen;		/* per page; MAP_SHARED (touchers may be processes) */
	int op_verify, op_write;
};

static void toucher(struct region *r, int t, volatile int *stop)
{
	size_t rw = r->pages - r->ro, lo = r->ro + rw * t / TOUCHERS,
	       hi = r->ro + rw * (t + 1) / TOUCHERS;

	while (!*stop && !stopping()) {
		for (size_t p = 0; p < r->ro && !*stop; p++) {
			check_page(r->name, r->mem + p * PAGE, r->seed, p, 0, 0);
			count(r->op_verify, 1);
		}
		for (size_t p = lo; p < hi && !*stop; p++) {
			check_page(r->name, r->mem + p * PAGE, r->seed, p, r->gen[p], 0);
			fill_page(r->mem + p * PAGE, r->seed, p, r->gen[p] + 1);
			r->gen[p]++;
			count(r->op_verify, 1);
			count(r->op_write, 1);
		}
	}
}

struct toucher_arg {
	struct region *r;
	int t;
	volatile int *stop;
};

static void *toucher_thread(void *arg)
{
	struct toucher_arg *a = arg;

	toucher(a->r, a->t, a->stop);
	return NULL;
}

static long verify_all(struct region *r)
{
	long bad = 0;

	for (size_t p = 0; p < r->pages; p++)
		bad += check_page(r->name, r->mem + p * PAGE, r->seed, p, r->gen[p], 0);
	count(r->op_verify, r->pages);
	say("SOAK,verify,%s,%zu,%ld", r->name, r->pages, bad);
	return bad;
}

static void *shared_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

enum kind { K_PRIVATE, K_THP, K_HUGETLB, K_SHARED, K_FILE, K_HTLB_SHARED };

/* MAP_SHARED of a file (fd closed here): page cache, faults via ->fault */
static void *file_map(int fd, size_t len)
{
	void *p = MAP_FAILED;

	if (fd >= 0 && !ftruncate(fd, len))
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void region_worker(enum kind k)
{
	static const char *names[] = { "private", "thp", "hugetlb", "shared", "file",
				       "hugetlbfs" };
	static const int ops[][4] = {
		{ private_move_pages, private_pages_moved, private_verify_pages, private_write_pages },
		{ thp_move_pages, thp_pages_moved, thp_verify_pages, thp_write_pages },
		{ hugetlb_move_pages, hugetlb_pages_moved, hugetlb_verify_pages, hugetlb_write_pages },
		{ shared_move_pages, shared_pages_moved, shared_verify_pages, shared_write_pages },
		{ file_move_pages, file_pages_moved, file_verify_pages, file_write_pages },
		{ hugetlbfs_move_pages, hugetlbfs_pages_moved, hugetlbfs_verify_pages,
		  hugetlbfs_write_pages },
	};
	/* touchers of MAP_SHARED regions are processes: the mm-wide paths differ */
	int procs = k == K_SHARED || k == K_FILE || k == K_HTLB_SHARED;
	size_t len = 4UL << 20, stride = PAGE;
	struct region r = { .name = names[k], .seed = 1000 + k,
			    .op_verify = ops[k][2], .op_write = ops[k][3] };

	switch (k) {
	case K_PRIVATE:
		r.mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r.mem != MAP_FAILED && madvise(r.mem, len, MADV_NOHUGEPAGE))
			error("private: madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
		break;
	case K_THP:
		r.mem = map_aligned(len, 0);
		if (r.mem && madvise(r.mem, len, MADV_HUGEPAGE))
			error("thp: madvise(MADV_HUGEPAGE): %s", strerror(errno));
		stride = HPAGE;
		break;
	case K_HUGETLB:
		r.mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		stride = HPAGE;
		break;
	case K_SHARED:
		r.mem = shared_map(len);
		break;
	case K_FILE: {
		const char *path = "/mnt/ext2/soak-file";

		r.mem = file_map(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), len);
		unlink(path);
		break;
	}
	case K_HTLB_SHARED:
		r.mem = file_map(memfd_create("soak-htlb", MFD_HUGETLB), len);
		stride = HPAGE;
		break;
	}
	if (!r.mem || r.mem == MAP_FAILED) {
		error("%s: mmap %zu MiB: %s", r.name, len >> 20, strerror(errno));
		_exit(1);
	}
	r.pages = len / PAGE;
	r.ro = r.pages / 3;
	r.gen = shared_map(r.pages * sizeof(uint64_t));
	if (!r.gen) {
		error("%s: mmap gen: %s", r.name, strerror(errno));
		_exit(1);
	}
	for (size_t p = 0; p < r.pages; p++)
		fill_page(r.mem + p * PAGE, r.seed, p, 0);
	if (k == K_THP) {
		long kb = smaps_field(r.mem, "AnonHugePages:");

		say("SOAK,info,thp AnonHugePages=%ldkB of %zukB%s", kb, len >> 10,
		    kb < (long)(len >> 10) ? " NOT-THP" : "");
	}

	volatile int *stop = shared_map(PAGE);
	pthread_t th[TOUCHERS];
	pid_t kids[TOUCHERS];
	struct toucher_arg ta[TOUCHERS];

	for (int t = 0; t < TOUCHERS; t++) {
		ta[t] = (struct toucher_arg){ &r, t, stop };
		if (procs) {
			kids[t] = fork();
			if (kids[t] == 0) {
				toucher(&r, t, stop);
				_exit(0);
			}
			if (kids[t] < 0)
				error("%s: fork: %s", r.name, strerror(errno));
		} else if (pthread_create(&th[t], NULL, toucher_thread, &ta[t])) {
			error("%s: pthread_create: %s", r.name, strerror(errno));
		}
	}
	struct mover m;

	mover_init(&m, r.mem, len, stride);
	while (!stopping())
		mover_step(&m, ops[k][0], ops[k][1]);
	*stop = 1;
	for (int t = 0; t < TOUCHERS; t++) {
		if (procs) {
			if (kids[t] > 0)
				waitpid(kids[t], NULL, 0);
		} else {
			pthread_join(th[t], NULL);
		}
	}
	verify_all(&r);
	_exit(0);
}

/* ------------------------------------------------------------ fork */

static void fork_worker(void)
{
	size_t len = 4UL << 20, pages = len / PAGE;
	struct region r = { .name = "fork", .seed = 2000, .pages = pages,
			    .op_verify = fork_verify_pages };
	unsigned seed = 1;

	r.mem = map_aligned(len, 0);
	r.gen = calloc(pages, sizeof(uint64_t));	/* private: the child's copy is its snapshot */
	if (!r.mem || !r.gen) {
		error("fork: mmap: %s", strerror(errno));
		_exit(1);
	}
	for (size_t p = 0; p < pages; p++)
		fill_page(r.mem + p * PAGE, r.seed, p, 0);

	volatile int *stop = shared_map(PAGE);
	struct mover_arg ma;
	pthread_t mth;
	/* the child's own move_pages() arrays, allocated before fork() */
	void *caddr[16];
	int cnode[16], cstatus[16];

	start_mover(&mth, &ma, r.mem, len, PAGE, fork_move_pages, fork_pages_moved, stop);
	while (!stopping()) {
		pid_t pid = fork();

		if (pid < 0) {
			error("fork: fork: %s", strerror(errno));
			break;
		}
		if (pid == 0) {
			unsigned s = seed * 7919 + 17;
			size_t p;

			/* move part of the COW-shared snapshot ourselves */
			for (int i = 0; i < 16; i++) {
				caddr[i] = r.mem + (rand_r(&s) % pages) * PAGE;
				cnode[i] = rand_r(&s) & 1;
				cstatus[i] = SENTINEL;
			}
			move_pages(0, 16, caddr, cnode, cstatus, MPOL_MF_MOVE_ALL);
			count(fork_child_move_pages, 1);
			for (p = 0; p < pages; p++)
				check_page("fork-child", r.mem + p * PAGE, r.seed, p, r.gen[p], 0);
			count(fork_child_verify_pages, pages);
			/* break COW on some pages, check our copy */
			for (int i = 0; i < 16; i++) {
				p = rand_r(&s) % pages;
				fill_page(r.mem + p * PAGE, r.seed + 1, p, seed);
				check_page("fork-child-cow", r.mem + p * PAGE, r.seed + 1, p, seed, 0);
			}
			count(fork_cow_writes, 16);
			_exit(0);
		}
		/* the parent rewrites pages of its copy while the child runs */
		for (int i = 0; i < 8; i++) {
			size_t p = rand_r(&seed) % pages;

			check_page(r.name, r.mem + p * PAGE, r.seed, p, r.gen[p], 0);
			fill_page(r.mem + p * PAGE, r.seed, p, r.gen[p] + 1);
			r.gen[p]++;
			count(fork_verify_pages, 1);
			count(fork_cow_writes, 1);
		}
		int st;

		if (waitpid(pid, &st, 0) == pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			error("fork: child exited with status 0x%x", st);
		count(fork_fork_exit, 1);
	}
	*stop = 1;
	pthread_join(mth, NULL);
	verify_all(&r);
	_exit(0);
}

/* ------------------------------------------------------------ churn */

#define CHUNK (512UL << 10)
#define CHUNKS 16
#define STABLE 4		/* chunks [0, STABLE) are never churned */

static struct region churn;

static void *churn_toucher(void *arg)
{
	volatile int *stop = arg;
	size_t n = STABLE * CHUNK / PAGE;

	while (!*stop && !stopping())
		for (size_t p = 0; p < n && !*stop; p++) {
			check_page(churn.name, churn.mem + p * PAGE, churn.seed, p, churn.gen[p], 0);
			count(churn_verify_pages, 1);
		}
	return NULL;
}

static void check_chunk(int c, const char *at, int zero)
{
	size_t p0 = c * CHUNK / PAGE;

	for (size_t i = 0; i < CHUNK / PAGE; i++)
		check_page(churn.name, (at ? at : churn.mem + p0 * PAGE) + i * PAGE, churn.seed,
			   p0 + i, churn.gen[p0 + i], zero);
	count(churn_verify_pages, CHUNK / PAGE);
}

static void reseed_chunk(int c)
{
	size_t p0 = c * CHUNK / PAGE;

	for (size_t i = 0; i < CHUNK / PAGE; i++) {
		churn.gen[p0 + i]++;
		fill_page(churn.mem + (p0 + i) * PAGE, churn.seed, p0 + i, churn.gen[p0 + i]);
	}
}

static void churn_worker(void)
{
	size_t len = CHUNKS * CHUNK;
	unsigned seed = 3;

	churn = (struct region){ .name = "churn", .seed = 3000, .pages = len / PAGE,
				 .op_verify = churn_verify_pages };
	churn.mem = map_aligned(len, 0);
	churn.gen = calloc(churn.pages, sizeof(uint64_t));
	if (!churn.mem || !churn.gen) {
		error("churn: mmap: %s", strerror(errno));
		_exit(1);
	}
	for (size_t p = 0; p < churn.pages; p++)
		fill_page(churn.mem + p * PAGE, churn.seed, p, 0);

	volatile int *stop = shared_map(PAGE);
	struct mover_arg ma;
	pthread_t mth, tth;

	start_mover(&mth, &ma, churn.mem, len, PAGE, churn_move_pages, churn_pages_moved, stop);
	if (pthread_create(&tth, NULL, churn_toucher, (void *)stop))
		error("churn: pthread_create: %s", strerror(errno));
	while (!stopping()) {
		int c = STABLE + rand_r(&seed) % (CHUNKS - STABLE);
		char *a = churn.mem + c * CHUNK;

		check_chunk(c, NULL, 0);
		switch (rand_r(&seed) % 4) {
		case 0:
			if (mprotect(a, CHUNK, PROT_READ))
				error("churn: mprotect(PROT_READ): %s", strerror(errno));
			check_chunk(c, NULL, 0);
			if (mprotect(a, CHUNK, PROT_READ | PROT_WRITE))
				error("churn: mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
			reseed_chunk(c);
			count(churn_mprotect, 1);
			break;
		case 1: {
			char *tmp = mmap(NULL, CHUNK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (tmp == MAP_FAILED ||
			    mremap(a, CHUNK, CHUNK, MREMAP_MAYMOVE | MREMAP_FIXED, tmp) == MAP_FAILED) {
				error("churn: mremap away: %s", strerror(errno));
				break;
			}
			check_chunk(c, tmp, 0);
			if (mremap(tmp, CHUNK, CHUNK, MREMAP_MAYMOVE | MREMAP_FIXED, a) == MAP_FAILED) {
				error("churn: mremap back: %s", strerror(errno));
				_exit(1);
			}
			check_chunk(c, NULL, 0);
			count(churn_mremap, 1);
			break;
		}
		case 2:
			if (madvise(a, CHUNK, MADV_DONTNEED))
				error("churn: madvise(MADV_DONTNEED): %s", strerror(errno));
			check_chunk(c, NULL, 1);	/* discarded: must read zeros */
			reseed_chunk(c);
			count(churn_madv_dontneed, 1);
			break;
		case 3:
			if (munmap(a, CHUNK) ||
			    mmap(a, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				 -1, 0) == MAP_FAILED) {
				error("churn: munmap/mmap: %s", strerror(errno));
				_exit(1);
			}
			check_chunk(c, NULL, 1);
			reseed_chunk(c);
			count(churn_munmap_mmap, 1);
			break;
		}
	}
	*stop = 1;
	pthread_join(mth, NULL);
	pthread_join(tth, NULL);
	verify_all(&churn);
	_exit(0);
}

/* ------------------------------------------------------------ hmm */

static int dmirror(int fd, unsigned long req, void *addr, void *buf, size_t npages,
		   struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)addr, .ptr = (uintptr_t)buf,
				       .npages = npages };

	while (ioctl(fd, req, &cmd)) {
		if (errno != EINTR) {
			count(hmm_ioctl_errors, 1);
			if (__atomic_load_n(&S->ops[hmm_ioctl_errors], __ATOMIC_RELAXED) <= 5)
				say("SOAK,info,hmm ioctl 0x%lx: %s", req, strerror(errno));
			return -errno;
		}
	}
	if (out)
		*out = cmd;
	return 0;
}

/* CPU reads of pages [p0, p0 + n): device pages migrate back to system memory */
static void cpu_fault_back(struct region *r, size_t p0, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_page(r->name, r->mem + (p0 + i) * PAGE, r->seed, p0 + i, r->gen[p0 + i], 0);
	count(hmm_verify_pages, n);
	count(hmm_cpu_fault_back, 1);
}

/*
 * Device reads and writes (HMM_DMIRROR_READ/WRITE) only ever see system
 * memory: the range is faulted back first. 5.10's lib/test_hmm.c cannot
 * handle its own device-private pages there (base and patched alike):
 * dmirror_do_fault() stores the device-private struct page that
 * hmm_range_fault() returns for them in the mirror's page table, and
 * dmirror_do_read()/do_write() then kmap() it: an oops in memcpy (found by
 * the first run of this soak). Migration to the device and CPU faults back
 * from it are exercised without restriction.
 */
static void hmm_worker(void)
{
	size_t len = 1UL << 20, pages = len / PAGE;
	struct region r = { .name = "hmm", .seed = 4000, .pages = pages,
			    .op_verify = hmm_verify_pages };
	unsigned seed = 4;
	int fd = open("/dev/hmm_dmirror0", O_RDWR);

	if (fd < 0) {
		error("hmm: open /dev/hmm_dmirror0: %s", strerror(errno));
		_exit(1);
	}
	r.mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r.gen = calloc(pages, sizeof(uint64_t));
	char *mirror = malloc(len);

	if (r.mem == MAP_FAILED || !r.gen || !mirror) {
		error("hmm: mmap: %s", strerror(errno));
		_exit(1);
	}
	for (size_t p = 0; p < pages; p++)
		fill_page(r.mem + p * PAGE, r.seed, p, 0);

	volatile int *stop = shared_map(PAGE);
	struct mover_arg ma;
	pthread_t mth;

	start_mover(&mth, &ma, r.mem, len, PAGE, hmm_move_pages, hmm_pages_moved, stop);
	while (!stopping()) {
		size_t p0 = rand_r(&seed) % pages;
		size_t n = 1 + rand_r(&seed) % (pages - p0 < 64 ? pages - p0 : 64);
		char *a = r.mem + p0 * PAGE;
		struct hmm_dmirror_cmd c;

		switch (rand_r(&seed) % 5) {
		case 0:		/* to device memory; the device returns what it holds */
			if (dmirror(fd, HMM_DMIRROR_MIGRATE, a, mirror, n, &c))
				break;
			for (size_t i = 0; i < n; i++)
				check_page("hmm-device", mirror + i * PAGE, r.seed, p0 + i,
					   r.gen[p0 + i], 0);
			count(hmm_verify_pages, n);
			count(hmm_migrate_to_device, 1);
			count(hmm_pages_to_device, c.cpages);
			break;
		case 1:		/* device reads (system memory, see above) */
			cpu_fault_back(&r, p0, n);
			if (dmirror(fd, HMM_DMIRROR_READ, a, mirror, n, NULL))
				break;
			for (size_t i = 0; i < n; i++)
				check_page("hmm-device", mirror + i * PAGE, r.seed, p0 + i,
					   r.gen[p0 + i], 0);
			count(hmm_verify_pages, n);
			count(hmm_device_read, 1);
			break;
		case 2:		/* device writes the next generation (system memory) */
			cpu_fault_back(&r, p0, n);
			for (size_t i = 0; i < n; i++)
				fill_page(mirror + i * PAGE, r.seed, p0 + i, r.gen[p0 + i] + 1);
			if (dmirror(fd, HMM_DMIRROR_WRITE, a, mirror, n, NULL)) {
				/*
				 * The device wrote whole pages in order up to the
				 * failure, but the ioctl does not say how many:
				 * take each page's generation from its first word
				 * (the full check of the page follows later).
				 */
				for (size_t i = 0; i < n; i++)
					if (*(volatile uint64_t *)(a + i * PAGE) ==
					    page_base(r.seed, p0 + i, r.gen[p0 + i] + 1))
						r.gen[p0 + i]++;
				break;
			}
			for (size_t i = 0; i < n; i++)
				r.gen[p0 + i]++;
			count(hmm_device_write, 1);
			break;
		case 3:		/* CPU reads: device pages fault back to system memory */
			cpu_fault_back(&r, p0, n);
			break;
		case 4:		/* CPU writes (the dirty bit must survive the way back) */
			for (size_t i = 0; i < n; i++) {
				check_page(r.name, a + i * PAGE, r.seed, p0 + i, r.gen[p0 + i], 0);
				fill_page(a + i * PAGE, r.seed, p0 + i, r.gen[p0 + i] + 1);
				r.gen[p0 + i]++;
			}
			count(hmm_verify_pages, n);
			count(hmm_cpu_fault_back, 1);
			break;
		}
	}
	*stop = 1;
	pthread_join(mth, NULL);
	/* what the CPU sees (faults everything back), then what the device sees */
	verify_all(&r);
	if (!dmirror(fd, HMM_DMIRROR_READ, r.mem, mirror, pages, NULL)) {
		long bad = 0;

		for (size_t p = 0; p < pages; p++)
			bad += check_page("hmm-device", mirror + p * PAGE, r.seed, p, r.gen[p], 0);
		say("SOAK,verify,hmm-device,%zu,%ld", pages, bad);
	}
	close(fd);
	_exit(0);
}

/* ------------------------------------------------------------ compaction, offline */

static void compact_worker(void)
{
	while (!stopping()) {
		int r = write_str("/proc/sys/vm/compact_memory", "1");

		if (r) {
			error("compact: /proc/sys/vm/compact_memory: %s", strerror(-r));
			_exit(1);
		}
		count(compact_runs, 1);
		usleep(200000);
	}
	_exit(0);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void offline_worker(int limit)
{
	char path[256], buf[128];
	int blocks[64], n = 0;
	DIR *d = opendir("/sys/devices/system/node/node1");
	struct dirent *e;
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */

	while (d && (e = readdir(d)) && n < 64) {
		int b;

		if (sscanf(e->d_name, "memory%d", &b) != 1)
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%d/valid_zones", b);
		if (!read_str(path, buf, sizeof(buf)) && !strcmp(buf, "Movable"))
			blocks[n++] = b;
	}
	if (d)
		closedir(d);
	if (!n) {
		error("offline: no online Movable memory block on node 1");
		_exit(1);
	}
	say("SOAK,info,offline cycles %d Movable blocks of node 1 (first memory%d)", n, blocks[0]);
	sigaction(SIGALRM, &sa, NULL);
	for (int i = 0; !stopping(); i = (i + 1) % n) {
		snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%d/state", blocks[i]);
		alarm(limit);
		int ret = write_str(path, "offline");

		alarm(0);
		count(ret == 0 ? offline_ok : ret == -EINTR ? offline_timeout : offline_busy, 1);
		if (ret && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
			say("SOAK,info,offline memory%d: %s", blocks[i], strerror(-ret));
		if (!read_str(path, buf, sizeof(buf)) && strcmp(buf, "online")) {
			/*
			 * Under KASAN the online fails now and then (EPERM from
			 * kasan_mem_notifier(): "vmap allocation ... failed" for
			 * the block's shadow, base and patched alike): retry for
			 * a minute, then leave the block out of the rotation.
			 */
			int r, tries = 0;

			while ((r = write_str(path, "online_movable")) && ++tries < 30) {
				count(offline_online_retry, 1);
				sleep(2);
			}
			if (r) {
				say("SOAK,info,offline: memory%d stays offline: online_movable: %s",
				    blocks[i], strerror(-r));
				count(offline_online_failed, 1);
				blocks[i] = blocks[--n];
				if (!n)
					break;
				continue;
			}
			count(offline_online_ok, 1);
		}
		usleep(500000);
	}
	_exit(0);
}

/* ------------------------------------------------------------ main */

struct worker {
	const char *name;
	pid_t pid;
	int done;
};

static void proc_field(pid_t pid, const char *file, char *out, size_t n)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if (read_str(path, out, n))
		snprintf(out, n, "?");
	for (char *c = out; *c; c++)
		if (*c == ',' || *c == '\n')
			*c = ' ';
}

static long total_ops(void)
{
	long t = 0;

	for (int i = 0; i < NOPS; i++)
		t += S->ops[i];
	return t;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SECONDS [OFFLINE_LIMIT]\n", argv[0]);
		return 2;
	}
	double secs = atof(argv[1]);
	int limit = argc > 2 ? atoi(argv[2]) : 20;
	int grace = 180;
	struct vmstat v0, v1;
	struct worker w[] = { { "private" }, { "thp" }, { "hugetlb" }, { "shared" }, { "fork" },
			      { "churn" }, { "hmm" }, { "compact" }, { "offline" }, { "file" },
			      { "hugetlbfs" } };
	int nw = sizeof(w) / sizeof(w[0]);

	S = shared_map(sizeof(*S));
	if (!S) {
		perror("mmap");
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	say("SOAK,start,%.0f,%d", secs, limit);
	read_vmstat(&v0);
	double t0 = now();

	deadline = t0 + secs;
	for (int i = 0; i < nw; i++) {
		w[i].pid = fork();
		if (w[i].pid < 0) {
			error("fork %s: %s", w[i].name, strerror(errno));
			continue;
		}
		if (w[i].pid)
			continue;
		switch (i) {
		case 0: region_worker(K_PRIVATE);
		case 1: region_worker(K_THP);
		case 2: region_worker(K_HUGETLB);
		case 3: region_worker(K_SHARED);
		case 4: fork_worker();
		case 5: churn_worker();
		case 6: hmm_worker();
		case 7: compact_worker();
		case 8: offline_worker(limit);
		case 9: region_worker(K_FILE);
		case 10: region_worker(K_HTLB_SHARED);
		}
		_exit(0);
	}

	/* progress until the deadline, then the grace time for workers to stop */
	double next = t0 + 60;
	int left = nw;

	for (int i = 0; i < nw; i++)
		if (w[i].pid <= 0) {
			w[i].done = 1;
			left--;
		}
	while (left) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid > 0) {
			for (int i = 0; i < nw; i++)
				if (w[i].pid == pid) {
					w[i].done = 1;
					left--;
					if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
						error("worker %s exited with status 0x%x", w[i].name, st);
				}
			continue;
		}
		double t = now();

		if (t >= deadline)
			S->stop = 1;
		if (t >= deadline + grace)
			break;
		if (t >= next) {
			read_vmstat(&v1);
			say("SOAK,progress,%.0f,%ld,%ld", t - t0, total_ops(),
			    v1.pgmigrate_success - v0.pgmigrate_success);
			next += 60;
		}
		usleep(200000);
	}
	for (int i = 0; i < nw; i++) {
		char state[256], wchan[128];

		if (w[i].done)
			continue;
		proc_field(w[i].pid, "stat", state, sizeof(state));
		proc_field(w[i].pid, "wchan", wchan, sizeof(wchan));
		S->hung++;
		say("SOAK,hung,%s,%d,%s,%s", w[i].name, w[i].pid, state, wchan);
	}
	read_vmstat(&v1);
	for (int i = 0; i < NOPS; i++) {
		char name[64];
		char *u;

		snprintf(name, sizeof(name), "%s", op_names[i]);
		u = strchr(name, '_');
		if (u)
			*u = '.';
		say("SOAK,op,%s,%ld", name, S->ops[i]);
	}
	say("SOAK,vmstat,pgmigrate_success,%ld", v1.pgmigrate_success - v0.pgmigrate_success);
	say("SOAK,vmstat,pgmigrate_fail,%ld", v1.pgmigrate_fail - v0.pgmigrate_fail);
	say("SOAK,vmstat,thp_migration_success,%ld",
	    v1.thp_migration_success - v0.thp_migration_success);
	say("SOAK,vmstat,thp_migration_fail,%ld", v1.thp_migration_fail - v0.thp_migration_fail);
	say("SOAK,result,corrupted_bytes=%ld,hung=%ld,errors=%ld", S->corrupted_bytes, S->hung,
	    S->errors);
	say("SOAK,end,%.0f", now() - t0);
	for (int i = 0; i < nw; i++)
		if (!w[i].done)
			kill(w[i].pid, SIGKILL);
	return S->corrupted_bytes || S->hung || S->errors ? 1 : 0;
}
