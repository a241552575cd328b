#!/bin/busybox sh
# Guest-side driver of `make stress`: Debian's stress-ng (packed with its
# shared libraries by host/migbp/stress.py) with a timed mix of memory
# stressors, all at once. Packed as /selftests/stress, started by /init
# (migbp.tests=stress). Kernel command line: migbp.stress_secs=S; the
# stressors and their options: /selftests/stress.args (one line, written by
# host/migbp/stress.py).
# Output: "STRESS,..." lines (host/migbp/stress.py) around stress-ng's own:
#   STRESS,info,<text>   STRESS,vmstat,<counter>,<delta>   STRESS,rc,<exit>
#   STRESS,end,<seconds>
#   STRESS,task,<pid>,<comm>,<state>,<wchan>,<utime+stime ticks>  (halfway)
#   STRESS,stack,<pid>,<kernel stack frame>
arg() {
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^migbp\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
secs=$(arg stress_secs 300)
stressors=$(cat /selftests/stress.args)

# Tasks stuck in D state for a minute are reported (as make soak does).
echo 60 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo -1 > /proc/sys/kernel/hung_task_warnings 2>/dev/null
# Page-cache files on a real file system (ext2 on brd's /dev/ram0), so
# file-backed faults go through filemap_fault(); POSIX shm on /dev/shm.
# /init makes the ext2 (4 KiB blocks) and mounts it on /mnt/ext2.
tmp=/mnt/ext2/stress
mkdir -p /dev/shm
mount -t tmpfs shm /dev/shm
if grep -q '^/dev/ram0 /mnt/ext2 ext2 ' /proc/mounts && mkdir -p $tmp; then
	echo "STRESS,info,temp-path $tmp: ext2 on /dev/ram0 ($(df -k /mnt/ext2 | awk 'NR==2 {print $2}') KiB)"
else
	tmp=/tmp/stress
	mkdir -p $tmp
	echo "STRESS,error,no ext2 on /dev/ram0 mounted on /mnt/ext2 (CONFIG_BLK_DEV_RAM/EXT2_FS?): temp files in the initramfs"
fi
echo "STRESS,info,$(uname -r) secs=$secs"
echo "STRESS,info,thp $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
grep -E '^(MemTotal|MemFree|HugePages_Total|HugePages_Free)' /proc/meminfo | tr -s ' ' | sed 's/^/STRESS,info,/'
for n in /sys/devices/system/node/node*; do
	echo "STRESS,info,$(basename $n) $(grep MemTotal $n/meminfo | awk '{print $4, $5}')" \
		"movable blocks $(cat $n/memory*/valid_zones 2>/dev/null | grep -c '^Movable')"
done

# stress-ng 0.15's madvise stressor, run as root, picks MADV_HWPOISON at
# random for up to two of its own pages and is killed by SIGBUS ("MCE:
# Killing stress-ng-madvi") when it touches one of them again: its own
# random choice, not a kernel failure. Later stress-ng releases made page
# poisoning opt-in (--madvise-hwpoison); 0.15.06 has no such option, so
# memory_failure()'s injection filter does it: a page is poisoned only if
# its flags include KPF_NOPAGE (bit 20), which no page has, so
# MADV_HWPOISON poisons nothing. MADV_SOFT_OFFLINE, which migrates the
# page, does not go through the filter and still runs.
h=/sys/kernel/debug/hwpoison
if [ -w $h/corrupt-filter-enable ] &&
	echo $((1 << 20)) > $h/corrupt-filter-flags-mask &&
	echo $((1 << 20)) > $h/corrupt-filter-flags-value &&
	echo 1 > $h/corrupt-filter-enable; then
	echo "STRESS,info,hwpoison injection filtered: MADV_HWPOISON poisons nothing"
else
	echo "STRESS,error,no $h (CONFIG_HWPOISON_INJECT, debugfs?): MADV_HWPOISON poisons pages"
fi

vmstat_keys='pgmigrate_success pgmigrate_fail thp_migration_success thp_migration_fail compact_migrate_scanned compact_isolated pgfault pgmajfault thp_fault_alloc'
for k in $vmstat_keys; do eval "before_$k=$(sed -n "s/^$k //p" /proc/vmstat)"; done
t0=$(cut -d' ' -f1 /proc/uptime)
# Halfway through, where each stress-ng process is (state, wchan, cpu
# ticks, kernel stack when CONFIG_STACKTRACE gives /proc/<pid>/stack): a
# stressor that makes no progress shows where it sleeps.
snapshot() {
	sleep $((secs / 2))
	for d in /proc/[0-9]*; do
		read -r comm < $d/comm 2>/dev/null || continue
		case $comm in stress-ng*) ;; *) continue ;; esac
		set -- $(sed 's/^.*) //' $d/stat 2>/dev/null)
		echo "STRESS,task,${d#/proc/},$comm,$1,$(cat $d/wchan 2>/dev/null),$(( ${12:-0} + ${13:-0} ))"
		sed "s|^|STRESS,stack,${d#/proc/},|" $d/stack 2>/dev/null
	done
}
snapshot &
snap=$!
cd $tmp
# shellcheck disable=SC2086
/usr/bin/stress-ng $stressors --timeout "${secs}s" --verify --metrics-brief \
	--temp-path $tmp < /dev/null 2>&1
rc=$?
kill $snap 2>/dev/null
cd /
t1=$(cut -d' ' -f1 /proc/uptime)
for k in $vmstat_keys; do
	now=$(sed -n "s/^$k //p" /proc/vmstat)
	eval "b=\$before_$k"
	[ -n "$now" ] && echo "STRESS,vmstat,$k,$((now - ${b:-0}))"
done
grep -E '^(MemFree|HugePages_Free|HardwareCorrupted)' /proc/meminfo | tr -s ' ' | sed 's/^/STRESS,info,after /'
echo "STRESS,info,offline blocks after: $(grep -l offline /sys/devices/system/memory/memory*/state 2>/dev/null | wc -l)"
echo "STRESS,rc,$rc"
echo "STRESS,end,$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')"
exit $rc
