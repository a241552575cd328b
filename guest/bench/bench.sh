#!/bin/busybox sh
# Guest-side driver of `make bench`: runs the whole scenario list once.
# Packed as /selftests/bench and started by /init (migbp.tests=bench).
# Kernel command line: migbp.bench_quick=1  migbp.bench_secs=S (refault run length)
#                      migbp.bench_limit=S (offline time limit)
# Output: "BENCH,refault,..." and "BENCH,offline,..." CSV lines (host/migbp/bench.py).
arg() {
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^migbp\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
quick=$(arg bench_quick 0)
secs=$(arg bench_secs 2)
limit=$(arg bench_limit 120)
B=/selftests

echo "# bench: quick=$quick secs=$secs limit=$limit $(uname -r)"
grep -E '^(MemTotal|HugePages_Total|HugePages_Free)' /proc/meminfo | sed 's/^/# /'
for n in /sys/devices/system/node/node*; do
	echo "# $(basename $n): $(grep MemTotal $n/meminfo | awk '{print $4, $5}')"
done
echo "# thp enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"

refault() {	# scenario T pages
	$B/refault "$1" "$2" "$3" "$secs" || echo "BENCH,error,refault $1 $2 $3 exited $?"
}
offline() {	# private|private-4k|shared|cpu-hog|ipi-hog T
	$B/offline "$1" "$2" "$limit" || echo "BENCH,error,offline $1 $2 exited $?"
}

if [ "$quick" = 1 ]; then
	for T in 1 3; do
		refault private-r $T 1
		refault shared-r $T 1
	done
	refault thp-r 3 1
	# ~2 min: 4 KiB-page offlines under touchers take minutes under TCG
	offline private 0
	offline private 3
else
	for T in 1 3 8; do
		for p in 1 2 64; do
			refault private-r $T $p
			refault shared-r $T $p
		done
		refault private-w $T 1
		refault shared-w $T 1
		refault thp-r $T 1
		refault hugetlb-r $T 1
	done
	for T in 0 3; do
		offline private $T
		offline shared $T
	done
	offline private-4k 3
	offline cpu-hog 3
	offline ipi-hog 3
fi
grep -E '^(pgmigrate|thp_migration)' /proc/vmstat | sed 's/^/# /'
exit 0
