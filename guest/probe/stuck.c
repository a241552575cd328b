// SPDX-License-Identifier: GPL-2.0
/*
 * stuck MODE SECONDS: move one private anonymous page back and forth
 * between nodes 0 and 1 with move_pages() for SECONDS, nobody else using
 * it, and time the calls.
 *
 * MODE: free     the page moves every time (the control)
 *       spliced  the page was vmsplice()d into a pipe nobody reads: the
 *                pipe holds a reference (not a DMA pin), so every move fails
 *                its refcount check, however often or long it is retried
 *
 * What a sync move costs where the page never moves: a kernel that waits
 * before retrying an unmapped page pays all its waits on every call.
 * A page counts as moved only when its status entry, pre-filled with a
 * sentinel, holds the target node.  Output:
 *   PROBE stuck mode=<m> secs=<s> calls=<c> moved=<m> failed=<f> us_per_call=<x>
 *   PROBE   status <value>: <count>
 */
#define _GNU_SOURCE
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../bench/benchlib.h"

#define SENTINEL	(-4242)

static int fail(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long calls = 0, moved = 0, other = 0, enoent = 0, ebusy = 0, eagain = 0;
	const char *mode = argc > 1 ? argv[1] : "";
	double secs = argc > 2 ? atof(argv[2]) : 0, start, end;
	int spliced = !strcmp(mode, "spliced");
	int pipefd[2], node = 1;
	char *page;

	if ((!spliced && strcmp(mode, "free")) || secs <= 0) {
		fprintf(stderr, "usage: stuck free|spliced SECONDS\n");
		return 2;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return fail("stuck: mmap");
	memset(page, 0x5a, 4096);
	if (spliced) {
		struct iovec iov = { .iov_base = page, .iov_len = 4096 };

		if (pipe(pipefd) || vmsplice(pipefd[1], &iov, 1, 0) != 4096)
			return fail("stuck: vmsplice");
	}
	start = now();
	end = start + secs;
	while (now() < end) {
		void *p = page;
		int status = SENTINEL;

		if (move_pages(0, 1, &p, &node, &status, MPOL_MF_MOVE) < 0)
			return fail("stuck: move_pages");
		calls++;
		if (status == node) {
			moved++;
			node = !node;
		} else if (status == -16) {
			ebusy++;
		} else if (status == -11) {
			eagain++;
		} else if (status == -2) {
			enoent++;
		} else {
			other++;
		}
	}
	end = now();
	printf("PROBE stuck mode=%s secs=%g calls=%lu moved=%lu failed=%lu us_per_call=%.1f\n",
	       mode, secs, calls, moved, calls - moved, (end - start) * 1e6 / calls);
	printf("PROBE   status moved: %lu\nPROBE   status -EBUSY: %lu\n"
	       "PROBE   status -EAGAIN: %lu\nPROBE   status -ENOENT: %lu\n"
	       "PROBE   status other: %lu\n", moved, ebusy, eagain, enoent, other);
	return 0;
}
