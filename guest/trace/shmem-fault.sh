#!/bin/busybox sh
# Guest side of `make trace` (issue 10): ftrace a one-page shared-anon
# refault storm (guest/bench/refault shared-r T 1 SECS) to see why readers
# fault with their pte none and who holds the extra page references when
# migrate_page_move_mapping() fails. Packed as /selftests/trace, started by
# /init (migbp.tests=trace); the refault binary is /selftests/refault.
# Kernel command line: migbp.trace_secs=S  migbp.trace_T=N
# Two traced runs: "full" (entry and return of each step, for timing and
# state) and "stacks" (stack traces of the readers' waits). Output: "TRACE: ..."
# lines and each raw trace, gzip'ed and base64'ed between
# "TRACE: BEGIN <run>.gz.b64" and "TRACE: END" (host side: host/migbp/trace.py).
arg() {
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^migbp\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
secs=$(arg trace_secs 3)
T=$(arg trace_T 3)
B=/selftests
TR=/sys/kernel/tracing
mkdir -p $TR
mount -t tracefs nodev $TR 2>/dev/null
[ -f $TR/kprobe_events ] || TR=/sys/kernel/debug/tracing
if [ ! -f $TR/kprobe_events ]; then
	echo "TRACE: ERROR no kprobe_events (CONFIG_KPROBE_EVENTS off?)"
	exit 1
fi
echo "TRACE: kernel $(uname -r) secs=$secs T=$T"

# Control: the same run without any probe, so the effect of tracing on the
# failure rate shows.
echo "TRACE: control $($B/refault shared-r "$T" 1 "$secs")"

cd $TR
echo global > trace_clock	# one clock for all CPUs: events are correlated across them
echo 8192 > buffer_size_kb

kp() {	# kp 'PROBE': add a kprobe event; a missing symbol is reported, not fatal
	echo "$1" >> kprobe_events 2>/dev/null || echo "TRACE: NOPROBE $1"
}

# Offsets (x86_64, 5.10): struct vm_fault .pgoff +16 .orig_pte +48;
# vm_area_struct .vm_mm +64; struct page ._mapcount +48 ._refcount +52.
probes_full() {	# timing and state: entry and return of every step
	# Readers
	kp 'p:kprobes/fault handle_mm_fault mm=+64(%di):x64 addr=%si:x64 flags=%dx:x32'
	kp 'p:kprobes/fault_around filemap_map_pages'
	kp 'p:kprobes/shmem_fault shmem_fault pte=+48(%di):x64 pgoff=+16(%di):x64'
	kp 'r32:kprobes/shmem_fault_ret shmem_fault ret=$retval:x32'
	kp 'p:kprobes/swap_fault do_swap_page pte=+48(%di):x64'
	kp 'p:kprobes/mig_wait migration_entry_wait'
	kp 'p:kprobes/lock_page __lock_page page=%di:x64 ref=+52(%di):s32'
	kp 'r32:kprobes/lock_page_ret __lock_page'
	kp 'p:kprobes/pawl put_and_wait_on_page_locked page=%di:x64'
	kp 'r32:kprobes/pawl_ret put_and_wait_on_page_locked'
	kp 'p:kprobes/mewl migration_entry_wait_on_locked'		# patched only
	kp 'r32:kprobes/mewl_ret migration_entry_wait_on_locked'	# patched only
	# Migration
	kp 'p:kprobes/migrate migrate_pages'
	kp 'p:kprobes/ttu try_to_unmap_one page=%di:x64 mm=+64(%si):x64 addr=%dx:x64'
	kp 'r:kprobes/ttu_ret try_to_unmap_one ret=$retval:u8'
	kp 'p:kprobes/mpmm migrate_page_move_mapping page=%dx:x64 extra=%cx:s32 ref=+52(%dx):s32 mapcount=+48(%dx):s32'
	kp 'r:kprobes/mpmm_ret migrate_page_move_mapping ret=$retval:s32'
	kp 'p:kprobes/rmp remove_migration_ptes old=%di:x64 new=%si:x64'
	echo '(reason == 1 || reason == 4) && comm == "refault"' > events/tlb/tlb_flush/filter
	echo 1 > events/tlb/tlb_flush/enable
}

# 5.10's ORC unwinder cannot walk through a kretprobe'd frame (its return
# address is the trampoline), so the stacks come from a second run with
# kretprobes on the migrating task only. (Turning kprobe optimization off was
# added after the recorded run in docs/shmem-fault-trace.md.)
probes_stacks() {
	# an optimized (jump) kprobe's handler cannot be unwound past either
	echo 0 > /proc/sys/debug/kprobes-optimization 2>/dev/null
	kp 'p:kprobes/migrate migrate_pages'
	kp 'p:kprobes/shmem_fault shmem_fault pte=+48(%di):x64 pgoff=+16(%di):x64'
	kp 'p:kprobes/lock_page __lock_page page=%di:x64 ref=+52(%di):s32'
	kp 'p:kprobes/pawl put_and_wait_on_page_locked page=%di:x64'
	kp 'p:kprobes/mewl migration_entry_wait_on_locked'		# patched only
	kp 'p:kprobes/mpmm migrate_page_move_mapping page=%dx:x64 extra=%cx:s32 ref=+52(%dx):s32 mapcount=+48(%dx):s32'
	kp 'r:kprobes/mpmm_ret migrate_page_move_mapping ret=$retval:s32'
	for e in lock_page pawl mewl; do
		[ -d events/kprobes/$e ] &&
			echo 'stacktrace if comm == "refault"' > events/kprobes/$e/trigger
	done
}

traced() {	# traced full|stacks
	echo 0 > tracing_on
	echo > trace
	probes_$1
	for e in events/kprobes/*/; do
		echo 'comm == "refault"' > "$e/filter"
	done
	echo 1 > events/kprobes/enable
	echo 1 > events/migrate/mm_migrate_pages/enable

	echo 1 > tracing_on
	echo "TRACE: MARK start $1" > trace_marker
	echo "TRACE: traced-$1 $($B/refault shared-r "$T" 1 "$secs")"
	echo "TRACE: MARK end $1" > trace_marker
	echo 0 > tracing_on

	for c in per_cpu/cpu*; do
		echo "TRACE: stats $1 ${c#per_cpu/} $(grep -E '^(overrun|entries|dropped events)' $c/stats | tr '\n' ' ')"
	done
	sed "s/^/TRACE: profile $1 /" kprobe_profile
	echo "TRACE: BEGIN $1.gz.b64"
	gzip -c trace | base64
	echo "TRACE: END"

	echo 0 > events/enable
	for e in events/kprobes/*/; do
		echo '!stacktrace' > "$e/trigger" 2>/dev/null
	done
	echo > kprobe_events || echo "TRACE: ERROR cannot remove the kprobe events"
	echo > events/tlb/tlb_flush/filter
}

traced full
traced stacks
exit 0
