// SPDX-License-Identifier: GPL-2.0
/*
 * Counts what happened to every page move of upstream's migration selftest,
 * without changing what the test does. Linked into the harness's variants
 * of tools/testing/selftests/mm/migration.c (host/migbp/initramfs.py:
 * migration-strict, migration-count), whose migrate() is renamed
 * migrate_upstream() in the copy that is compiled:
 *
 * - gcc -Wl,--wrap=move_pages sends the test's move_pages() calls to
 *   __wrap_move_pages() below; libnuma's move_pages() is __real_move_pages().
 *   Each status entry is pre-filled with a sentinel and a page counts as
 *   moved only if its status is then the node it was sent to: move_pages()'s
 *   return value alone is not trusted (5.10 returns 0 for a page left behind
 *   in some cases; mainline returns 0 with an errno in status when a folio
 *   could not be isolated, which upstream's migrate() takes for a success).
 * - migrate() calls migrate_upstream() and then prints one line per test:
 *
 *   # migbp-moves: calls=C moved=M failed=F hidden=H errors=E first_failure=N
 *
 *   calls         move_pages() calls that moved pages (nodes != NULL)
 *   moved         pages whose status was the target node
 *   failed        pages not moved by calls that returned > 0
 *   hidden        pages not moved by calls that returned 0 (status left at the
 *                 sentinel, or an errno such as -EBUSY)
 *   errors        calls that returned < 0
 *   first_failure number of the first call that left a page behind or
 *                 failed (0: none)
 *
 * After a hidden failure upstream's migrate() swaps the nodes as if the page
 * had moved, so its next call finds the page already on the target node,
 * which counts as moved: hidden is exact, moved may be high by as much.
 *
 * Parsed by host/migbp/tap.py (move_counts) into the result rows' notes.
 */
#include <stdio.h>
#include <stdint.h>
#include <numaif.h>

#include "move_pages_count.h"

#define SENTINEL (-4242)

static unsigned long calls, moved, failed, hidden, errors, first_failure;

long __real_move_pages(int pid, unsigned long count, void **pages,
		       const int *nodes, int *status, int flags);

long __wrap_move_pages(int pid, unsigned long count, void **pages,
		       const int *nodes, int *status, int flags)
{
	unsigned long i, left = 0;
	long ret;

	if (!nodes)		/* a query of where the pages are: not a move */
		return __real_move_pages(pid, count, pages, nodes, status, flags);
	for (i = 0; i < count; i++)
		status[i] = SENTINEL;
	ret = __real_move_pages(pid, count, pages, nodes, status, flags);
	calls++;
	for (i = 0; i < count; i++) {
		if (status[i] == nodes[i])
			moved++;
		else
			left++;
	}
	if (ret < 0)
		errors++;
	else if (ret > 0)
		failed += left;
	else
		hidden += left;
	if ((left || ret < 0) && !first_failure)
		first_failure = calls;
	return ret;
}

int migrate(uint64_t *ptr, int n1, int n2)
{
	int ret;

	calls = moved = failed = hidden = errors = first_failure = 0;
	ret = migrate_upstream(ptr, n1, n2);
	printf("# migbp-moves: calls=%lu moved=%lu failed=%lu hidden=%lu errors=%lu "
	       "first_failure=%lu\n", calls, moved, failed, hidden, errors, first_failure);
	fflush(stdout);
	return ret;
}
