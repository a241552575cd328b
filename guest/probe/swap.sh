#!/bin/sh
# swap.sh COMMAND...: run COMMAND (e.g. "streak shmswap 3 10") with 64 MiB
# of swap on zram0 (CONFIG_ZRAM, CONFIG_SWAP: config/vm.config), then take
# the swap away again. Prints "PROBE swap ..." with what swapon said.
#   make probe PROBE='swap.sh streak shmswap 3 10'
z=/sys/block/zram0
if [ ! -e $z/disksize ]; then
	echo "PROBE swap: no $z (CONFIG_ZRAM?)"
	exit 1
fi
grep -q '^/dev/zram0 ' /proc/swaps || {
	echo 64M > $z/disksize 2>/dev/null
	[ -b /dev/zram0 ] || mknod /dev/zram0 b "$(cut -d: -f1 $z/dev)" "$(cut -d: -f2 $z/dev)"
	mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 || {
		echo "PROBE swap: mkswap/swapon /dev/zram0 failed"
		exit 1
	}
}
echo "PROBE swap: $(tail -n +2 /proc/swaps | tr -s ' ')"
cmd=$1
shift
"/selftests/$cmd" "$@"
rc=$?
swapoff /dev/zram0
exit $rc
