// SPDX-License-Identifier: GPL-2.0
/*
 * coverage-extra: paths of the series that hmm-tests and vm/migration do not
 * reach, for `make coverage` only (not a test of the series: every case
 * passes as long as the calls return). TAP on stdout.
 *
 *  1. move_pages(): an unmovable page (pinned by vmsplice) queued in a batch
 *     that is flushed because the next page is already on its target node:
 *     do_pages_move()'s second flush returns > 0.
 *  2. migrate_vma on anonymous pages still mapped by a forked child:
 *     migrate_vma_unmap() has to try_to_unmap() the child's ptes.
 *  3. two threads move the same hugetlb page back and forth with
 *     move_pages(): follow_page() of one finds the other's migration entry
 *     (follow_huge_pmd_pte() waits on it). Racy: tried for a few seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test_hmm_uapi.h"

#define MPOL_MF_MOVE_ALL (1 << 2)
#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif

static long move_pages(unsigned long n, void **pages, const int *nodes, int *status)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE_ALL);
}

static int tests;

static void result(int ok, const char *name, const char *fmt, long v)
{
	printf("%sok %d %s # ", ok ? "" : "not ", ++tests, name);
	printf(fmt, v);
	printf("\n");
	fflush(stdout);
}

static void batch_flush(void)
{
	long psz = sysconf(_SC_PAGESIZE), ret;
	char *a = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *pages[2] = { a, a + psz };
	int start[2] = { 0, 1 }, target[2] = { 1, 1 }, status[2];
	struct iovec iov = { a, psz };
	int p[2];

	memset(a, 1, 2 * psz);
	move_pages(2, pages, start, status);
	if (pipe(p) || vmsplice(p[1], &iov, 1, 0) != psz) {
		result(0, "batch_flush", "vmsplice failed: errno %ld", errno);
		return;
	}
	ret = move_pages(2, pages, target, status);
	result(ret >= 0, "batch_flush", "move_pages returned %ld", ret);
	close(p[0]);
	close(p[1]);
	munmap(a, 2 * psz);
}

static void device_shared_with_child(void)
{
	long psz = sysconf(_SC_PAGESIZE), npages = 16, ret;
	char *a = mmap(NULL, npages * psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *mirror = malloc(npages * psz);
	struct hmm_dmirror_cmd cmd = { 0 };
	int fd = open("/dev/hmm_dmirror0", O_RDWR), p[2];
	pid_t child;
	char c;

	if (fd < 0 || pipe(p)) {
		result(0, "device_shared_with_child", "no /dev/hmm_dmirror0: errno %ld", errno);
		return;
	}
	memset(a, 2, npages * psz);
	child = fork();
	if (child == 0) {	/* keeps the pages mapped until the parent is done */
		close(p[1]);
		read(p[0], &c, 1);
		_exit(a[0] == 2 ? 0 : 1);
	}
	cmd.addr = (uintptr_t)a;
	cmd.ptr = (uintptr_t)mirror;
	cmd.npages = npages;
	ret = ioctl(fd, HMM_DMIRROR_MIGRATE, &cmd) ? -errno : (long)cmd.cpages;
	close(p[1]);
	waitpid(child, NULL, 0);
	result(ret >= 0, "device_shared_with_child", "pages migrated: %ld", ret);
	close(fd);
	munmap(a, npages * psz);
	free(mirror);
}

static void *hpage;
static volatile int stop;
static long moves[2];

static void *mover(void *arg)
{
	long id = (long)arg;
	int node = id, status;

	while (!stop) {
		node = !node;
		if (move_pages(1, &hpage, &node, &status) == 0 && status == node)
			moves[id]++;
	}
	return NULL;
}

static void hugetlb_two_movers(void)
{
	pthread_t t[2];
	long i;

	hpage = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (hpage == MAP_FAILED) {
		printf("ok %d hugetlb_two_movers # SKIP MAP_HUGETLB: %s\n", ++tests,
		       strerror(errno));
		return;
	}
	memset(hpage, 3, 2 << 20);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, mover, (void *)i);
	sleep(3);
	stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	result(1, "hugetlb_two_movers", "moves: %ld", moves[0] + moves[1]);
	munmap(hpage, 2 << 20);
}

int main(void)
{
	printf("TAP version 13\n1..3\n");
	batch_flush();
	device_shared_with_child();
	hugetlb_two_movers();
	printf("# Totals: pass:%d fail:0 xfail:0 xpass:0 skip:0 error:0\n", tests);
	return 0;
}
