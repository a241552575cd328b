#!/bin/sh
# shtrace.sh KIND T SECONDS: what moves of one shmem page run into under
# readers (guest/probe/streak KIND, e.g. shmdrop: readers that fault from a
# none pte of their own). Needs a KCONFIG=trace kernel (5.10):
#   make probe KCONFIG=trace PROBE='shtrace.sh shmdrop 3 8' PREFIXES=12,13
# Prints, as PROBE lines (host/migbp/probe.py keeps them):
#   the streak result (moves, failed moves, status histogram);
#   move_mapping ret: migrate_page_move_mapping() results (-11: the
#     refcount freeze failed, someone held a reference the migration did not
#     expect; each failed move tries 10 times, migrate_pages()' passes);
#   move_mapping ref: the page's refcount as migrate_page_move_mapping() is
#     entered (a one-page shmem move expects 2: the page cache's and the
#     isolation's);
#   counts of the readers' shmem_fault(), filemap_fault() (ext2drop),
#     __lock_page() (a sleep on a page
#     lock holding a reference), put_and_wait_on_page_locked() (a sleep
#     without one, after holding one), filemap_wait_locked_page() (one
#     that never held one), zap_page_range() (their MADV_DONTNEED),
#     mark_page_accessed(), lru_add_drain_all() and __activate_page() (a
#     page leaving a per-CPU activate pagevec, which held a reference);
#   at every failed freeze, the last traced event of every other task of
#     the test and its age (who was where when the reference was there);
#     which other tasks were inside zap_page_range() (their mmu_gather
#     holds the zapped page until the TLB flush) or filemap_map_pages()
#     (a speculative reference) at that moment, for how long, and whether
#     switched out there (sched_switch prev_state: R = preempted).
# "NOPROBE" names a probe the kernel has no symbol for (inlined).
[ $# -eq 3 ] || { echo "usage: shtrace.sh KIND T SECONDS"; exit 2; }
. "$(dirname "$0")/kprobes.sh"
kprobe_setup shtrace 32768
echo > trace
# struct page: _refcount at byte 52 on x86_64 (flags, 5 words, _mapcount)
kp 'p:kprobes/mm_in migrate_page_move_mapping ref=+52(%dx):s32'
kp 'r:kprobes/mm_ret migrate_page_move_mapping ret=$retval:s32'
kp 'p:kprobes/shmem_fault shmem_fault'
kp 'p:kprobes/filemap_fault filemap_fault'
kp 'p:kprobes/lock_page __lock_page'
kp 'p:kprobes/put_wait put_and_wait_on_page_locked'
kp 'p:kprobes/noref_wait filemap_wait_locked_page'
kp 'p:kprobes/zap zap_page_range'
# r64: room for 64 tasks inside at once, so that no return is missed (the
# default, 10 here, is not enough when tasks sleep in there)
kp 'r64:kprobes/zap_done zap_page_range'
kp 'p:kprobes/accessed mark_page_accessed'
kp 'p:kprobes/drain_all lru_add_drain_all'
# a drained activate pagevec entry: mark_page_accessed() had queued the page
# there with a reference (activate_page() itself is inlined)
kp 'p:kprobes/activate __activate_page'
kp 'p:kprobes/fault_around filemap_map_pages'
kp 'r64:kprobes/fa_done filemap_map_pages'
# switch-outs of the test's tasks: a holder off its CPU inside a window
echo 'prev_comm == "streak" || next_comm == "streak"' > events/sched/sched_switch/filter
echo 1 > events/sched/sched_switch/enable
kprobe_run /selftests/streak "$1" "$2" "$3"
echo "PROBE   move_mapping ret: $(values mm_ret ret)"
echo "PROBE   move_mapping ref: $(values mm_in ref)"
echo "PROBE   shmem_fault: $(hits shmem_fault)  filemap_fault: $(hits filemap_fault)  __lock_page: $(hits lock_page)  put_and_wait: $(hits put_wait)  noref_wait: $(hits noref_wait)  fault_around: $(hits fault_around)"
echo "PROBE   zap_page_range: $(hits zap)  mark_page_accessed: $(hits accessed)  lru_add_drain_all: $(hits drain_all)  __activate_page: $(hits activate)"
echo "PROBE   trace lines: $(grep -vc '^#' trace)"
echo "PROBE   missed (kprobe_profile): $(awk '$3 > 0 { printf "%s %s  ", $1, $3 }' kprobe_profile)"
# At every failed freeze: where each other task of the test was, by its last
# traced event (zap or accessed = inside zap_page_range(), holding the pages
# it zapped in its mmu_gather until the TLB flush; zap_done = back from it;
# put_wait = asleep without a reference; noref_wait = queueing or asleep,
# never held one;
# lock_page = asleep on a page lock with one), and for how long it had been
# there (us, bucketed); then the other tasks' events in the 200 us before
# the first 3 failures.
grep -v '^#' trace | awk '
	{ pid = $1; sub(/.*-/, "", pid); ts = $4; sub(/:$/, "", ts); ts += 0; ev = $5; sub(/:$/, "", ev)
	  n++; P[n] = pid; T[n] = ts; E[n] = ev }
	ev == "mm_ret" && $0 ~ /ret=-11/ {
		fails++
		for (q in LAST) if (q != pid) {
			age = (ts - LT[q]) * 1e6
			b = age < 10 ? "<10" : age < 100 ? "<100" : age < 1000 ? "<1000" : ">=1000"
			H[LAST[q] " " b]++
		}
		if (shown < 3) {
			shown++; printf "PROBE   failure %d at %.6f (pid %s):\n", shown, ts, pid
			for (i = n - 1; i > 0 && T[i] > ts - 0.0002; i--)
				if (P[i] != pid) print "PROBE     -" sprintf("%.0f", (ts - T[i]) * 1e6) "us pid " P[i] " " E[i]
		}
	}
	ev == "mm_ret" && $0 ~ /ret=-11/ {
		# who could hold the extra reference: the other tasks inside
		# zap_page_range() (pages in their mmu_gather) or inside
		# filemap_map_pages() (a speculative reference), and whether
		# they were off their CPU there (switched out, prev_state)
		nz = nf = 0
		for (q in IN) if (q != pid && IN[q] != "") {
			if (IN[q] == "zap") nz++; else nf++
			if (OFF[q] != "") OFFN[IN[q] " " OFF[q]]++
			age = (ts - IT[q]) * 1e6
			b = age < 10 ? "<10" : age < 100 ? "<100" : age < 1000 ? "<1000" : ">=1000"
			IA[IN[q] " " b]++
		}
		INSIDE[nz + nf == 0 ? "nobody" : "zap " nz ", fault_around " nf]++
	}
	ev == "zap" { IN[pid] = "zap"; IT[pid] = ts }
	ev == "fault_around" { IN[pid] = "fault_around"; IT[pid] = ts }
	ev == "zap_done" || ev == "fa_done" { IN[pid] = "" }
	ev == "sched_switch" {
		if ($0 ~ /prev_comm=streak /) {
			q = $0; sub(/.*prev_pid=/, "", q); sub(/ .*/, "", q)
			st = $0; sub(/.*prev_state=/, "", st); sub(/ .*/, "", st); OFF[q] = st
		}
		if ($0 ~ /next_comm=streak /) {
			q = $0; sub(/.*next_pid=/, "", q); sub(/ .*/, "", q); OFF[q] = ""
		}
		next
	}
	{ OFF[pid] = ""; LAST[pid] = ev; LT[pid] = ts }
	END { print "PROBE   failed freezes: " fails
	      for (k in H) print "PROBE   at a failed freeze, another task last in: " k "us " H[k]
	      for (k in INSIDE) print "PROBE   at a failed freeze, inside a window: " k " " INSIDE[k]
	      for (k in IA) print "PROBE   time inside the window at a failed freeze: " k "us " IA[k]
	      for (k in OFFN) print "PROBE   inside a window and off CPU (prev_state): " k " " OFFN[k] }'
echo 0 > events/sched/sched_switch/enable
echo 0 > events/kprobes/enable
echo > kprobe_events
