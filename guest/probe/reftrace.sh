#!/bin/sh
# reftrace.sh KIND T SECONDS: who holds the reference that makes a page
# move fail, by the page_ref tracepoints (CONFIG_DEBUG_PAGE_REF, in
# config/trace.config) with a stack trace of every reference taken or
# dropped while guest/probe/streak KIND T SECONDS runs (keep SECONDS small:
# every get_page()/put_page() of the guest is traced with its stack).
#   make probe KCONFIG=trace PROBE='reftrace.sh ext2drop 3 3' PREFIXES=14
# At every failed refcount freeze by migration (page_ref_freeze ret=0 with a
# migration function on its stack: the page had more references than
# migrate_page_move_mapping() expected) of page P by the mover M, as PROBE
# lines (mainline's __migrate_folio() also fails on a refcount check
# before it freezes, which leaves no event: there the counts are a
# sample):
#   how far over (count - expected);
#   "put after": the first reference on P dropped after the failure by a
#     task other than M, by the stack that dropped it, and how long after:
#     the holder of the extra reference letting it go;
#   "get before": the last reference on P taken before the failure by a
#     task other than M, by its stack;
#   all events on P 300 us around the first 3 failures;
#   both also totalled by kind of holder: fault-lookup (filemap_fault(),
#     shmem_fault()), fault-around, zap (MADV_DONTNEED's mmu_gather),
#     lru-pagevec (a per-CPU LRU pagevec, drained), other.
# A stack is named by its first 5 frames below the page_ref helpers.
[ $# -eq 3 ] || { echo "usage: reftrace.sh KIND T SECONDS"; exit 2; }
. "$(dirname "$0")/kprobes.sh"
kprobe_setup reftrace 12288
[ -d events/page_ref ] || { echo "PROBE reftrace: no page_ref events (not a CONFIG_DEBUG_PAGE_REF kernel)"; exit 1; }
echo > trace
for e in events/page_ref/*/; do
	echo stacktrace > "$e/trigger"
	echo 1 > "$e/enable"
done
echo 1 > tracing_on
/selftests/streak "$1" "$2" "$3"
echo 0 > tracing_on
echo 0 > events/page_ref/enable
echo "PROBE   trace lines: $(wc -l < trace)  overrun: $(grep -h overrun per_cpu/cpu*/stats | awk '{ s += $2 } END { print s }')"
# Pass 1 (the trace is read twice, tracing off): the stack of each event (a "<stack trace>" entry follows its event
# on the same CPU; other CPUs' entries may come between). Pass 2: events.
awk '
function frame(l) { sub(/^ *=> */, "", l); sub(/\+0x.*/, "", l); return l }
# what kind of holder a stack is (the totals lines)
function kind(sig) {
	if (sig ~ /zap_page_range|tlb_finish_mmu|unmap_page_range/) return "zap"
	if (sig ~ /filemap_map_pages/) return "fault-around"
	if (sig ~ /lru_add_drain|pagevec_lru_move_fn|__pagevec_lru_add/) return "lru-pagevec"
	if (sig ~ /filemap_fault|shmem_fault|shmem_getpage|find_lock_entry/) return "fault-lookup"
	return "other"
}
function skip(f) { return f ~ /^(trace_|__traceiter|__page_ref|perf_|event_trigger|ftrace|stack_trace|stacktrace|__ftrace|__trace)/ }
NR == FNR {
	if ($0 ~ /^#/) next
	if ($0 ~ /^ *=> /) {
		if (cur && !skip(f = frame($0)) && NF_[cur] < 5) { S[cur] = S[cur] (NF_[cur]++ ? "<" : "") f }
		next
	}
	cpu = $2; gsub(/[][]/, "", cpu)
	if ($0 ~ /<stack trace>/) { cur = LASTEV[cpu]; next }
	cur = 0
	if ($0 ~ / page_ref_/) LASTEV[cpu] = FNR
	# only pages that some migration tried to freeze are followed
	if ($0 ~ / page_ref_freeze: /) { pfn = $0; sub(/.*pfn=/, "", pfn); sub(/ .*/, "", pfn); FP[pfn] = 1 }
	next
}
$0 ~ / page_ref_/ {
	who = $1; pid = who; sub(/.*-/, "", pid)
	ts = $4; sub(/:$/, "", ts); ts += 0
	ev = $5; sub(/:$/, "", ev); sub(/^page_ref_/, "", ev)
	pfn = $0; sub(/.*pfn=/, "", pfn); sub(/ .*/, "", pfn)
	if (!(pfn in FP)) next
	cnt = $0; sub(/.* count=/, "", cnt); sub(/ .*/, "", cnt); cnt += 0
	val = $0; sub(/.* val=/, "", val); sub(/ .*/, "", val); val += 0
	ret = ""; if ($0 ~ / ret=/) { ret = $0; sub(/.* ret=/, "", ret); sub(/ .*/, "", ret); ret += 0 }
	sig = (FNR in S) ? S[FNR] : "?"
	n++; P[n] = pfn; T[n] = ts; W[n] = who; D[n] = ev " val=" val " count=" cnt (ret == "" ? "" : " ret=" ret) " " sig
	# a get: val > 0 (mod_unless only when it took one); a put: val < 0
	delta = (ev == "set" || ev == "freeze" || ev == "unfreeze") ? 0 : (ev == "mod_unless" && !ret) ? 0 : val
	if (delta > 0 && pid != MOVER[pfn]) { LASTGET[pfn] = sig; LASTGETT[pfn] = ts }
	if (delta < 0 && (pfn in WAIT) && pid != MOVER[pfn]) {
		age = (ts - WAIT[pfn]) * 1e6
		b = age < 10 ? "<10" : age < 100 ? "<100" : age < 1000 ? "<1000" : ">=1000"
		PUT[sig " (" who ", " b "us)"]++; PUTK[kind(sig)]++; delete WAIT[pfn]
	}
	# freezes by migration only (5.10 migrate_page_move_mapping(), mainline
	# __folio_migrate_mapping()): LRU code freezes pages too
	if (ev == "freeze" && sig ~ /migrat/) {
		MOVER[pfn] = pid
		if (ret == 0) {
			fails++; OVER[cnt - val]++
			if (pfn in WAIT) NOPUT++
			WAIT[pfn] = ts
			if (pfn in LASTGET) {
				age = (ts - LASTGETT[pfn]) * 1e6
				b = age < 10 ? "<10" : age < 100 ? "<100" : age < 1000 ? "<1000" : ">=1000"
				GET[LASTGET[pfn] " (" b "us before)"]++; GETK[kind(LASTGET[pfn])]++
			}
			if (shown < 3) { shown++; SHOWP[shown] = pfn; SHOWT[shown] = ts }
		} else delete WAIT[pfn]
	}
}
END {
	for (k in MOVER) M[MOVER[k]] = 1
	for (k in M) movers = movers " " k
	print "PROBE   ref events on moved pages: " n "  movers (pid):" movers "  failed freezes: " fails "  followed by another failure before any put by another task: " NOPUT + 0
	for (k in OVER) print "PROBE   ref over expected at a failed freeze: " k " " OVER[k]
	for (k in PUTK) print "PROBE   ref put after, by kind: " k " " PUTK[k]
	for (k in GETK) print "PROBE   ref get before, by kind: " k " " GETK[k]
	for (k in PUT) print "PROBE   ref put after: " PUT[k] " " k | "sort -k5 -rn | head -25"
	close("sort -k5 -rn | head -25")
	for (k in GET) print "PROBE   ref get before: " GET[k] " " k | "sort -k5 -rn | head -25"
	close("sort -k5 -rn | head -25")
	for (s = 1; s <= shown; s++) {
		printf "PROBE   ref failure %d: pfn %s at %.6f\n", s, SHOWP[s], SHOWT[s]
		for (i = 1; i <= n; i++)
			if (P[i] == SHOWP[s] && T[i] > SHOWT[s] - 0.0003 && T[i] < SHOWT[s] + 0.0003)
				printf "PROBE     %+.0fus %s %s\n", (T[i] - SHOWT[s]) * 1e6, W[i], D[i]
	}
}' trace trace
for e in events/page_ref/*/; do echo '!stacktrace' > "$e/trigger"; done
echo > trace
