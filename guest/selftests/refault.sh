#!/bin/busybox sh
# migbp.tests=refault (mainline family, host/migbp/initramfs.py): the
# project's refault storm, guest/bench/refault.c (packed as
# /selftests/refault-bin), for one page of shared anon (readers that keep
# their pte, and readers that MADV_DONTNEED it after each read), of tmpfs
# and of a file on ext2 (/mnt/ext2 on /dev/ram0, made by /init; readers that
# keep their pte, and readers that drop it) under 1 and 3 readers, as TAP. A scenario is "not ok" when any page move failed
# (status not the target node after move_pages()): the strict reading, as
# migration-strict. Each run's CSV line is kept as a "# BENCH,refault,..."
# comment (bench.parse_console reads it) and its counts as a
# "# migbp-moves:" line (tap.move_counts puts them in the result's note).
# Kernel command line: migbp.refault_secs=S (length of each run, default 2,
# as make bench).
arg() {
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^migbp\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
secs=$(arg refault_secs 2)
B=/selftests/refault-bin
scenarios="shared-r:1 shared-r:3 shared-drop:1 shared-drop:3 tmpfs-r:1 tmpfs-r:3 ext2-r:1 ext2-r:3 ext2-drop:1 ext2-drop:3"

echo "TAP version 13"
echo "1..10"
n=0
for s in $scenarios; do
	n=$((n + 1))
	scen=${s%:*}
	T=${s#*:}
	name="refault.$scen.T$T"
	echo "#  RUN           $name ..."
	out=$("$B" "$scen" "$T" 1 "$secs" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	# scenario,T,pages,seconds,calls,moved,failed,failed_ppm,...
	csv=$(echo "$out" | sed -n 's/^BENCH,refault,//p' | tail -n 1)
	calls=$(echo "$csv" | cut -d, -f5)
	moved=$(echo "$csv" | cut -d, -f6)
	failed=$(echo "$csv" | cut -d, -f7)
	if [ "$rc" != 0 ] || [ -z "$failed" ]; then
		echo "not ok $n $name # exit $rc, no result"
		continue
	fi
	echo "# migbp-moves: calls=$calls moved=$moved failed=$failed"
	if [ "$failed" -gt 0 ]; then
		echo "not ok $n $name"
	else
		echo "ok $n $name"
	fi
done
