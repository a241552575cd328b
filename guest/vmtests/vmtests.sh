#!/bin/busybox sh
# Guest-side driver of `make vmtests`: 5.10's tools/testing/selftests/vm, each
# binary run the way its run_vmtests runs it (arguments, hugepage pool,
# hugetlbfs mount, shmmax, user), one case at a time. Packed as
# /selftests/vmtests and started by /init (migbp.tests=vmtests); the cases
# come from /selftests/vmtests.cases, written by host/migbp/vmtests.py:
#   <name> TAB <timeout s> TAB <flags,...|-> TAB <command line>
# flags: huge     run_vmtests' hugepage pool (enough free 2 MiB pages for
#                 256 MiB and the userfaultfd hugetlb test) + hugetlbfs on ./huge
#        shmmax   kernel.shmmax/shmall raised as run_vmtests does (hugepage-shm)
#        nobody   run as uid 65534 (run_vmtests: sudo -u nobody)
#        gb       thuge-gen: 4 free pages of every huge page size (the 1 GiB
#                 ones come from hugepagesz=1G hugepages=4 on the kernel
#                 command line), shmmax 4 GiB
#        forever  a stress loop that never ends by itself: stopped with SIGTERM
#                 at the timeout; that stop is its pass (rc 0)
# Output: MIGBP: VMT BEGIN <name> / its output / MIGBP: VMT END <name> rc=<rc>
# secs=<s> (rc 137: killed at the timeout), then MIGBP: VMT SUMMARY.
cases=/selftests/vmtests.cases
work=/tmp/vmt
mkdir -p $work /etc
# on-fault-limit runs as nobody (busybox su needs the user to exist)
grep -q '^nobody:' /etc/passwd 2>/dev/null || {
	echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >> /etc/passwd
	printf 'root:x:0:\nnogroup:x:65534:\n' > /etc/group
}
# POSIX shm for the tests that use shm_open
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm 2>/dev/null
# Swap, as the machines that run these tests have: khugepaged's swap-out
# cases need MADV_PAGEOUT to find a swap device (zram0: CONFIG_ZRAM).
zram=/sys/block/zram0
if [ -e $zram/disksize ] && echo 256M > $zram/disksize &&
	{ [ -b /dev/zram0 ] || mknod /dev/zram0 b $(tr ':' ' ' < $zram/dev); } &&
	mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; then
	echo "# vmtests: swap on zram0, $(sed -n 's/^SwapTotal: *//p' /proc/meminfo)"
else
	echo "# vmtests: no swap (no zram0 or mkswap/swapon failed)"
fi

meminfo() { sed -n "s/^$1: *\([0-9]*\).*/\1/p" /proc/meminfo; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

nr_cpus=$(nproc)
hpgsize_KB=$(meminfo Hugepagesize)
hpgsize_MB=$((hpgsize_KB / 1024))
# run_vmtests: 256 MiB of hugepages for the simple tests, 2 * nr_cpus huge
# pages for userfaultfd hugetlb; half_ufd_size_MB is that test's argument
half_ufd_size_MB=$((((nr_cpus * hpgsize_MB + 127) / 128) * 128))
needmem_KB=$((half_ufd_size_MB * 2 * 1024))
export half_ufd_size_MB
echo "# vmtests: cpus=$nr_cpus hugepagesize=${hpgsize_KB}kB half_ufd_size_MB=$half_ufd_size_MB" \
	"1G pages free=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages 2>/dev/null || echo none)" \
	"flags: $(grep -o -w -E 'pku|ospke|pdpe1gb|xsave' /proc/cpuinfo | sort -u | tr '\n' ' ')"

huge_setup() {	# run_vmtests' loop: raise nr_hugepages until enough are free
	saved_nr=$(cat /proc/sys/vm/nr_hugepages)
	needpgs=$((needmem_KB / hpgsize_KB))
	freepgs=$(meminfo HugePages_Free)
	tries=2
	while [ $tries -gt 0 ] && [ "$freepgs" -lt $needpgs ]; do
		echo 3 > /proc/sys/vm/drop_caches
		echo $((needpgs - freepgs + $(cat /proc/sys/vm/nr_hugepages))) > /proc/sys/vm/nr_hugepages
		freepgs=$(meminfo HugePages_Free)
		tries=$((tries - 1))
	done
	mkdir -p $work/huge
	mount -t hugetlbfs none $work/huge
	if [ "$freepgs" -lt $needpgs ]; then
		printf "Not enough huge pages available (%d < %d)\n" "$freepgs" $needpgs
		return 1
	fi
}
huge_teardown() {
	rm -f $work/huge/* 2>/dev/null
	umount $work/huge 2>/dev/null
	echo "$saved_nr" > /proc/sys/vm/nr_hugepages
}
shm_setup() {
	shmmax=$(cat /proc/sys/kernel/shmmax)
	shmall=$(cat /proc/sys/kernel/shmall)
	echo "$1" > /proc/sys/kernel/shmmax
	echo "$2" > /proc/sys/kernel/shmall
}
shm_teardown() {
	echo "$shmmax" > /proc/sys/kernel/shmmax
	echo "$shmall" > /proc/sys/kernel/shmall
}
gb_setup() {	# thuge-gen wants NUM_PAGES (4) free pages of each size
	saved_nr=$(cat /proc/sys/vm/nr_hugepages)
	echo $((saved_nr + 4)) > /proc/sys/vm/nr_hugepages
	# the boot may have reserved fewer 1 GiB pages: try the rest at run time
	gb=/sys/kernel/mm/hugepages/hugepages-1048576kB
	if [ -d $gb ]; then
		saved_gb=$(cat $gb/nr_hugepages)
		[ "$saved_gb" -lt 4 ] && echo 4 > $gb/nr_hugepages
		echo "# 1 GiB pages: $saved_gb at boot, $(cat $gb/free_hugepages) free now"
	fi
	shm_setup $((4 << 30)) $((4 << 30 >> 12))
}
gb_teardown() {
	[ -d "$gb" ] && echo "$saved_gb" > $gb/nr_hugepages
	shm_teardown
	echo "$saved_nr" > /proc/sys/vm/nr_hugepages
}

n=0
tab=$(printf '\t')
while IFS="$tab" read -r name tmo flags cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	echo "MIGBP: VMT BEGIN $name"
	t0=$(uptime_s)
	cd $work
	rc=0
	case ",$flags," in *,huge,*) huge_setup || rc=1 ;; esac
	case ",$flags," in *,shmmax,*) shm_setup 268435456 4194304 ;; esac
	case ",$flags," in *,gb,*) gb_setup ;; esac
	if [ $rc = 0 ]; then
		bin=/selftests/${cmd%% *}
		args=$(eval echo "\"${cmd#"${cmd%% *}"}\"")     # $half_ufd_size_MB
		sig=KILL
		case ",$flags," in *,forever,*) sig=TERM ;; esac
		case ",$flags," in
		*,nobody,*)
			chmod 755 $work
			timeout -s $sig "$tmo" su -s /bin/sh nobody -c "$bin $args" < /dev/null 2>&1 ;;
		*)
			# shellcheck disable=SC2086
			timeout -s $sig "$tmo" $bin $args < /dev/null 2>&1 ;;
		esac
		rc=$?
		case ",$flags," in *,forever,*)
			if [ $rc = 143 ]; then
				echo "# stopped by SIGTERM after ${tmo}s as planned (no error until then)"
				rc=0
			fi ;;
		esac
	fi
	case ",$flags," in *,gb,*) gb_teardown ;; esac
	case ",$flags," in *,shmmax,*) shm_teardown ;; esac
	case ",$flags," in *,huge,*) huge_teardown ;; esac
	cd /
	t1=$(uptime_s)
	echo "MIGBP: VMT END $name rc=$rc secs=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')"
done < $cases
echo "MIGBP: VMT SUMMARY cases=$n"
exit 0
