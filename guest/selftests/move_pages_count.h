/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included (gcc -include) into the harness's copies of upstream's
 * selftests/mm/migration.c whose migrate() is renamed migrate_upstream():
 * the tests then call migrate() of move_pages_count.c. See there.
 */
#include <stdint.h>

int migrate(uint64_t *ptr, int n1, int n2);
int migrate_upstream(uint64_t *ptr, int n1, int n2);
