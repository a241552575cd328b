#!/bin/busybox sh
# Guest-side driver of `make soak`: kernel knobs, then guest/soak/soak.c.
# Packed as /selftests/soak and started by /init (migbp.tests=soak).
# Kernel command line: migbp.soak_secs=S (run length)  migbp.soak_offline_limit=S
# Output: "SOAK,..." lines (host/migbp/soak.py).
arg() {
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^migbp\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
secs=$(arg soak_secs 600)
limit=$(arg soak_offline_limit 20)

# Report tasks stuck in D state for a minute (default 120 s, 10 reports).
echo 60 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo -1 > /proc/sys/kernel/hung_task_warnings 2>/dev/null
echo "SOAK,info,$(uname -r) secs=$secs offline_limit=$limit" \
	"hung_task_timeout_secs=$(cat /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null || echo none)"
echo "SOAK,info,thp $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
grep -E '^(MemTotal|MemFree|HugePages_Total|HugePages_Free)' /proc/meminfo |
	tr -s ' ' | sed 's/^/SOAK,info,/'
for n in /sys/devices/system/node/node*; do
	echo "SOAK,info,$(basename $n) $(grep MemTotal $n/meminfo | awk '{print $4, $5}')"
done
/selftests/soak-bin "$secs" "$limit"
rc=$?
grep -E '^(MemFree|HugePages_Free)' /proc/meminfo | tr -s ' ' | sed 's/^/SOAK,info,after /'
exit $rc
