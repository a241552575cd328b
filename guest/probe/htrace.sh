#!/bin/sh
# htrace.sh T SECONDS: why shared hugetlb moves fail. Counts, with kprobes,
# what unmap_and_move_huge_page() runs into while guest/probe/streak moves
# one shared hugetlb page (memfd, MFD_HUGETLB) between nodes 0 and 1 under T
# forked readers. Needs a KCONFIG=trace kernel:
#   make probe KCONFIG=trace PROBE='htrace.sh 2 8' PREFIXES=0,11
# Prints, as PROBE lines (host/migbp/probe.py keeps them):
#   the streak result (moves, failed moves, status histogram);
#   lock_write NULL: hugetlb_page_mapping_lock_write() failed its trylock of
#     i_mmap_rwsem (each failed move tries 10 times: the passes of
#     migrate_pages());
#   move_mapping ret: migrate_huge_page_move_mapping() results (-11: the
#     refcount freeze failed: someone held a reference);
#   hugetlb_fault / migration wait: faults by the readers, and how many of
#     them waited on a migration entry; the rest went on to i_mmap_rwsem;
#   rwsem read slowpath: times a task of the test blocked on an rwsem for
#     read (the readers on i_mmap_rwsem held for write by migration);
#   __lock_page / wait_on_page_bit: sleeps on a page lock (with and without
#     a reference).
# Each probe is counted in kprobe_profile; "NOPROBE" names one the kernel
# has no symbol for (inlined).
[ $# -eq 2 ] || { echo "usage: htrace.sh T SECONDS"; exit 2; }
. "$(dirname "$0")/kprobes.sh"
kprobe_setup htrace 16384
kp 'r:kprobes/lock_write hugetlb_page_mapping_lock_write ret=$retval:x64'
kp 'r:kprobes/move_mapping migrate_huge_page_move_mapping ret=$retval:s32'
kp 'p:kprobes/hugetlb_fault hugetlb_fault'
kp 'p:kprobes/migration_wait __migration_entry_wait_huge'
kp 'p:kprobes/rwsem_read rwsem_down_read_slowpath'
kp 'p:kprobes/lock_page __lock_page'
kp 'p:kprobes/wait_page wait_on_page_bit'
kprobe_run /selftests/streak htlb "$1" "$2"
echo "PROBE   lock_write calls: $(hits lock_write)  NULL: $(grep -c 'lock_write:.*ret=0x0$' trace)"
echo "PROBE   move_mapping ret: $(values move_mapping ret)"
echo "PROBE   hugetlb_fault: $(hits hugetlb_fault)  migration wait: $(hits migration_wait)"
echo "PROBE   rwsem read slowpath: $(hits rwsem_read)  __lock_page: $(hits lock_page)  wait_on_page_bit: $(hits wait_page)"
