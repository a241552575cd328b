#!/bin/busybox sh
# Guest-side driver of `make bench`: runs the whole scenario list once.
# Packed as /selftests/bench and started by /init (migbp.tests=bench).
# Kernel command line: migbp.bench_quick=1  migbp.bench_secs=S (refault run length)
#                      migbp.bench_limit=S (offline time limit)
# Output: "BENCH,refault,..." and "BENCH,offline,..." CSV lines, then the
# series' vm/migration selftest with every line prefixed "BENCHST: " (its own
# counters per kernel); all parsed by host/migbp/bench.py.
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
offline() {	# private|private-4k|shared|cpu-hog|ipi-hog|shared-ipi-hog T [MIB]
	$B/offline "$1" "$2" "$limit" $3 || echo "BENCH,error,offline $1 $2 $3 exited $?"
}

if [ "$quick" = 1 ]; then
	for T in 1 3; do
		refault private-r $T 1
		refault shared-r $T 1
	done
	refault thp-r 3 1
	refault tmpfs-r 3 1
	refault htlb-shared-r 3 1
	refault device-r 3 1
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
		refault tmpfs-r $T 1
		refault tmpfs-r $T 64
		refault htlb-shared-r $T 1
		refault device-r $T 1
		refault device-r $T 64
	done
	for T in 0 3; do
		offline private $T
		offline shared $T
	done
	offline cpu-hog 3
	offline ipi-hog 3
	# shared pages: 3 readers vs 3 processes that only map the region
	# (16 MiB, so the pair costs ~1 min per boot, not ~5)
	offline shared 3 16
	offline shared-ipi-hog 3 16
	# private-4k 3 (the "73.5 s" case) runs past 400 s under TCG:
	# only with migbp.bench_4k=1 (BENCH_4K=1 make bench)
	[ "$(arg bench_4k 0)" = 1 ] && offline private-4k 3
fi
grep -E '^(pgmigrate|thp_migration)' /proc/vmstat | sed 's/^/# /'
if [ -x $B/migration ]; then
	$B/migration < /dev/null 2>&1 | sed 's/^/BENCHST: /'
fi
exit 0
