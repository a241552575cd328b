# Sourced by htrace.sh and shtrace.sh (not run by itself): kprobes around a
# guest/probe/streak run, in a KCONFIG=trace kernel.
#   kprobe_setup NAME BUFFER_KB  mount tracefs, cd into it, global clock, trace
#                                buffer size; a PROBE line and exit 1 when the
#                                kernel has no kprobe_events
#   kp DEFINITION                add a kprobe ("PROBE NOPROBE ..." when refused,
#                                e.g. an inlined function)
#   kprobe_run COMMAND...        trace the test's tasks (comm streak) while
#                                COMMAND runs
#   hits EVENT                   the kprobe_profile hit count of EVENT
#   values EVENT FIELD           "count FIELD=value" pairs of FIELD in EVENT's
#                                trace lines, on one line
kprobe_setup() {
	TR=/sys/kernel/tracing
	mkdir -p $TR
	mount -t tracefs nodev $TR 2>/dev/null
	[ -f $TR/kprobe_events ] || TR=/sys/kernel/debug/tracing
	[ -f $TR/kprobe_events ] || { echo "PROBE $1: no kprobe_events (not a KCONFIG=trace kernel)"; exit 1; }
	cd $TR || exit 1
	echo global > trace_clock
	echo "$2" > buffer_size_kb
}
kp() { echo "$1" >> kprobe_events 2>/dev/null || echo "PROBE NOPROBE $1"; }
kprobe_run() {
	for e in events/kprobes/*/; do echo 'comm == "streak"' > "$e/filter"; done
	echo 1 > events/kprobes/enable
	echo 1 > tracing_on
	"$@"
	echo 0 > tracing_on
}
hits() { awk -v e="$1" '$1 == e { print $2 }' kprobe_profile; }
values() { grep -o "$1:.*$2=-*[0-9]*" trace | grep -o "$2=-*[0-9]*" | sort | uniq -c | tr -s ' \n' ' '; }
