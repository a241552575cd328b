#!/bin/busybox sh
# Guest-side driver of `make bench`: runs the whole scenario list once.
# Packed as /selftests/bench and started by /init (migbp.tests=bench).
# Kernel command line: migbp.bench_quick=1  migbp.bench_secs=S (refault run length)
#                      migbp.bench_limit=S (offline time limit)
#                      migbp.bench_reps=N (rounds of the cost rows)
#                      migbp.bench_only=cost|gain (one half of the list)
#                      migbp.bench_readers=a,b,... (cost-only: the readers rows'
#                      scenarios, host/migbp/bench.py READER_ROWS)
# Output: "BENCH,cost,...", "BENCH,refault,..." and "BENCH,offline,..." CSV lines, then the
# series' vm/migration selftest with every line prefixed "BENCHST: " (its own
# counters per kernel); all parsed by host/migbp/bench.py.
arg() {
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^migbp\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
quick=$(arg bench_quick 0)
secs=$(arg bench_secs 2)
limit=$(arg bench_limit 120)
reps=$(arg bench_reps 1)
only=$(arg bench_only all)
readers=$(arg bench_readers "" | tr ',' ' ')
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
cost() {	# fault|lock|device CASE T PAGES
	$B/cost "$1" "$2" "$3" "$4" "$secs" || echo "BENCH,error,cost $1 $2 $3 $4 exited $?"
}

# The cost rows: paths the series changes, with nothing failing (cost.c).
# ext2 on a brd ramdisk: file faults through filemap_fault(), no device I/O
# once the files are in the page cache (tmpfs files take shmem_fault()).
# /init makes it (4 KiB blocks) and mounts it on /mnt/ext2.
if ! grep -q '^/dev/ram0 /mnt/ext2 ext2 ' /proc/mounts; then
	echo "BENCH,error,no ext2 on /dev/ram0 (CONFIG_BLK_DEV_RAM, CONFIG_EXT2_FS?)"
fi
PF=8192		# pages per process (32 MiB) in the page-fault rows
cost_round() {
	# the emulator's speed now: controls, they bound the run's noise
	cost control spin 1 0
	cost control spin 4 0
	if [ "$quick" = 1 ]; then
		cost fault pf1-anon 1 $PF
		cost fault pf2-tmpfs 1 $PF
		cost fault pf3-tmpfs 4 $PF
		cost fault pf3-ext2 1 $PF
		cost lock tmpfs-write 3 1
		cost lock ext2-write 3 1
		cost lock htlb-read 3 1
		refault private-r 0 64
		refault shared-r 0 64
		refault thp-r 0 1
		refault hugetlb-r 0 1
		cost device - 0 64
		cost device - 3 64
		return
	fi
	for T in 1 4; do
		cost fault pf1-anon $T $PF
		for fs in tmpfs ext2; do
			cost fault pf2-$fs $T $PF
			cost fault pf3-$fs $T $PF
		done
	done
	for T in 3 8; do
		cost lock tmpfs-write $T 1
		cost lock ext2-write $T 1
		cost lock htlb-read $T 1
	done
	# uncontended move_pages(): refault with no readers (T=0);
	# 8 huge pages of the 16 reserved fit on either node
	for p in 1 64 512; do
		refault private-r 0 $p
		refault shared-r 0 $p
	done
	for p in 1 8; do
		refault thp-r 0 $p
		refault hugetlb-r 0 $p
	done
	# device migration; T=3: threads of the mm spin on the other vCPUs,
	# so each TLB flush sends IPIs (one flush per range, with or without the series)
	for T in 0 3; do
		for p in 1 64 512; do
			cost device - $T $p
		done
	done
}

# The gains: refault storms and offlines under load.
gain_list() {
	if [ "$quick" = 1 ]; then
		for T in 1 3; do
			refault private-r $T 1
			refault shared-r $T 1
		done
		refault shared-drop 3 1
		refault thp-r 3 1
		refault tmpfs-r 3 1
		refault ext2-r 3 1
		refault ext2-drop 3 1
		refault htlb-shared-r 3 1
		refault device-r 3 1
		# ~2 min: 4 KiB-page offlines under touchers take minutes under TCG
		offline private 0
		offline private 3
		return
	fi
	for T in 1 3 8; do
		for p in 1 2 64; do
			refault private-r $T $p
			refault shared-r $T $p
		done
		refault private-w $T 1
		refault shared-w $T 1
		refault shared-drop $T 1
		refault thp-r $T 1
		refault hugetlb-r $T 1
		refault tmpfs-r $T 1
		refault tmpfs-r $T 64
		refault ext2-r $T 1
		refault ext2-r $T 64
		refault ext2-drop $T 1
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
}

if [ "$only" != gain ]; then
	# a short round first, not reported: QEMU translates the kernel paths of
	# every row once (TCG's translation cache starts cold), not in round 1
	s=$secs
	secs=0.2
	cost_round > /dev/null 2>&1
	secs=$s
	r=0
	while [ $r -lt "$reps" ]; do
		cost_round
		r=$((r + 1))
	done
fi
# A cost-only run still gives the cost section's "readers" rows (successful
# page moves per second under 1 and 3 readers, one page; host/migbp/bench.py
# cost_records()): the full list has them in gain_list.
readers_rows() {
	[ -n "$readers" ] || echo "BENCH,error,no migbp.bench_readers= on the command line"
	for T in 1 3; do
		for s in $readers; do
			refault $s $T 1
		done
	done
}
if [ "$only" = cost ]; then
	[ "$quick" = 1 ] || readers_rows
else
	gain_list
fi
grep -E '^(pgmigrate|thp_migration)' /proc/vmstat | sed 's/^/# /'
if [ "$only" != cost ] && [ -x $B/migration ]; then
	$B/migration < /dev/null 2>&1 | sed 's/^/BENCHST: /'
fi
exit 0
