"""`vmtests`: 5.10's own tools/testing/selftests/vm on base and patched (issue 21).

The binaries come from the base tree (v<BASE>, not the series: the same
static binaries run on both kernels), built the way their Makefile builds
them (its LDLIBS per binary) plus -static. The guest runs each case the way
run_vmtests does: guest/vmtests/vmtests.sh reads the case table written from
CASES below and prints `MIGBP: VMT BEGIN/END` around each case, so every
case (and every kselftest subtest inside it) is a row of the results table.

The kernel is vm.config + config/vmtests.config (KCONFIG=debug: + debug.config
too). The guest machine differs from `make run`'s in three ways, all for
tests that would otherwise not run: 6 GiB (3 GiB per node) with four 1 GiB
pages reserved at boot (thuge-gen), and a CPU with pdpe1gb (1 GiB pages) and
pku/xsave (protection_keys).
"""
import os
import re
from dataclasses import dataclass

from . import qemu, tap
from .results import from_boot
from .run import build_row, report_problems
from .tree import worktree
from .util import (BASE_TAG, GUEST, OUT, SRC, HarnessError, Timer, cpu_lock, first_error, info,
                   log_path, run)
from . import initramfs

SELFTESTS = "tools/testing/selftests/vm"
DRIVER = os.path.join(GUEST, "vmtests", "vmtests.sh")
MEM, NODE_MEM = "6G", ("3G", "3G")
CPU = ["-cpu", "qemu64,+xsave,+pku,+pdpe1gb"]
KERNEL_ARGS = "migbp.hugepages=0 hugepagesz=1G hugepages=4"


@dataclass(frozen=True)
class Binary:
    name: str
    source: str
    cflags: tuple = ()
    libs: tuple = ("-lrt",)        # the Makefile's LDLIBS


# 5.10's vm/Makefile TEST_GEN_FILES for x86_64 (migration is the series' own,
# run by `make run`; its Makefile adds it only with the series).
BINARIES = [Binary(n, n + ".c") for n in (
    "compaction_test", "gup_benchmark", "hugepage-mmap", "hugepage-shm", "map_hugetlb",
    "map_fixed_noreplace", "map_populate", "mlock2-tests", "mremap_dontunmap",
    "on-fault-limit", "thuge-gen", "transhuge-stress", "khugepaged", "va_128TBswitch",
    "virtual_address_range", "write_to_hugetlbfs")] + [
    Binary("hmm-tests", "hmm-tests.c", libs=("-lrt", "-lhugetlbfs", "-lpthread")),
    Binary("userfaultfd", "userfaultfd.c", libs=("-lrt", "-lpthread")),
    Binary("mlock-random-test", "mlock-random-test.c", libs=("-lrt", "-lcap")),
    Binary("protection_keys_32", "protection_keys.c", ("-m32", "-no-pie"),
           ("-lrt", "-ldl", "-lm")),
    Binary("protection_keys_64", "protection_keys.c", ("-m64", "-no-pie"), ("-lrt", "-ldl")),
]


@dataclass(frozen=True)
class Case:
    name: str              # the row's binary column
    cmd: str               # binary + arguments, as run_vmtests runs it
    timeout: int = 300     # seconds, then SIGKILL (SIGTERM for `forever`)
    flags: tuple = ()      # guest/vmtests/vmtests.sh: huge shmmax nobody gb forever
    skip_if: str = ""      # exit 0 but this output line means "did not test"

    @property
    def binary(self):
        return self.cmd.split()[0]


WTHF = "write_to_hugetlbfs -p huge/wthf -s 8388608 -o -w"
# run_vmtests' order and arguments, then the Makefile's binaries it does not run.
CASES = [
    Case("hugepage-mmap", "hugepage-mmap", flags=("huge",)),
    Case("hugepage-shm", "hugepage-shm", flags=("huge", "shmmax")),
    Case("map_hugetlb", "map_hugetlb", flags=("huge",)),
    Case("map_fixed_noreplace", "map_fixed_noreplace"),
    Case("gup_benchmark-U", "gup_benchmark -U"),
    Case("gup_benchmark-b", "gup_benchmark -b"),
    Case("userfaultfd-anon", "userfaultfd anon 128 32", 1200, ("huge",)),
    Case("userfaultfd-hugetlb", "userfaultfd hugetlb $half_ufd_size_MB 32 huge/ufd_test_file",
         1200, ("huge",)),
    Case("userfaultfd-shmem", "userfaultfd shmem 128 32", 1200, ("huge",)),
    Case("compaction_test", "compaction_test", 600),
    Case("on-fault-limit", "on-fault-limit", flags=("nobody",)),
    Case("map_populate", "map_populate"),
    Case("mlock-random-test", "mlock-random-test"),
    Case("mlock2-tests", "mlock2-tests"),
    Case("thuge-gen", "thuge-gen", flags=("gb",),
         skip_if=r"Not enough huge pages.*|No GB pages available.*|Please do echo.*"),
    Case("virtual_address_range", "virtual_address_range", 600),
    Case("va_128TBswitch", "va_128TBswitch"),
    Case("mremap_dontunmap", "mremap_dontunmap"),
    # run_vmtests' "HMM smoke test" is test_hmm.sh smoke = modprobe test_hmm
    # (built in here) + hmm-tests
    Case("hmm-tests", "hmm-tests", 600),
    # built by the Makefile, not run by run_vmtests
    Case("khugepaged", "khugepaged", 600),
    Case("transhuge-stress", "transhuge-stress 256", 60, ("forever",)),
    Case("write_to_hugetlbfs-file", WTHF + " -m 0", flags=("huge",)),
    Case("write_to_hugetlbfs-map_hugetlb", WTHF + " -m 1", flags=("huge",)),
    Case("write_to_hugetlbfs-shm", WTHF + " -m 2", flags=("huge", "shmmax")),
    Case("protection_keys_64", "protection_keys_64", 600, skip_if=r"has pkeys: 0"),
    Case("protection_keys_32", "protection_keys_32", 600, skip_if=r"has pkeys: 0"),
]
# run_vmtests steps with no case here, and why (docs/vmtests.md repeats them)
NOT_RUN = {
    "test_vmalloc.sh smoke": "needs the test_vmalloc module: the harness kernels have no "
                             "module support (tinyconfig), and it does not touch user memory",
    "migration": "the series' own selftest, not 5.10's: `make run` / `make check` run it",
}


def select(tests=None, cases=CASES):
    """TESTS=a,b: cases by case name or binary name; all by default."""
    if not tests:
        return list(cases)
    want = [t for t in tests.replace(",", " ").split() if t]
    names = {c.name for c in cases} | {c.binary for c in cases}
    unknown = [t for t in want if t not in names]
    if unknown:
        raise HarnessError(f"unknown vmtests case(s) {', '.join(unknown)}; "
                           f"cases: {', '.join(c.name for c in cases)}")
    return [c for c in cases if c.name in want or c.binary in want]


def case_table(cases):
    """The file vmtests.sh reads: name TAB timeout TAB flags TAB command."""
    return "".join(f"{c.name}\t{c.timeout}\t{','.join(c.flags) or '-'}\t{c.cmd}\n"
                   for c in cases)


# ---------------------------------------------------------------- build

def source():
    """The base tree (5.10's own selftests), a worktree at the base tag."""
    return worktree(os.path.join(SRC, "base"), BASE_TAG)


def build_binaries(binaries, src, outdir, log):
    """{name: path} of what built, {name: first error line} of what did not."""
    hdr = os.path.join(outdir, "hdr")
    with cpu_lock():
        run(["make", "-C", src, f"O={os.path.join(outdir, 'hdr-obj')}",
             f"INSTALL_HDR_PATH={hdr}", "headers_install"], log=log,
            what="make headers_install")
    built, failed = {}, {}
    for b in binaries:
        out = os.path.join(outdir, b.name)
        cmd = (["gcc", "-static", "-Wall", "-I", os.path.join(hdr, "include")] + list(b.cflags)
               + ["-o", out, os.path.join(src, SELFTESTS, b.source)] + list(b.libs))
        rc, text = run(cmd, log=log, check=False, what=f"compiling {b.name}")
        if rc == 0:
            built[b.name] = out
        else:
            failed[b.name] = first_error(text)
    return built, failed


# ---------------------------------------------------------------- parsing

CASE_BEGIN = re.compile(r"MIGBP: VMT BEGIN (\S+)")
CASE_END = re.compile(r"MIGBP: VMT END (\S+) rc=(-?\d+)(?: secs=([\d.]+))?")


def split_cases(lines):
    """tap.Run per `MIGBP: VMT BEGIN/END` block, in order."""
    runs, cur = [], None
    for line in lines:
        b, e = CASE_BEGIN.search(line), CASE_END.search(line)
        if b:
            cur = tap.Run(b.group(1))
            runs.append(cur)
        elif e and cur is not None:
            cur.rc = int(e.group(2))
            cur.secs = float(e.group(3)) if e.group(3) else None
            cur = None
        elif cur is not None:
            cur.lines.append(line)
    return runs


def last_words(lines):
    """The last line of a case's own output (not kernel messages), for a note."""
    for line in reversed(lines):
        s = line.strip()
        if s and not tap.KERNEL.match(s) and not s.startswith("MIGBP:"):
            return s[:120]
    return ""


def case_tests(case, r):
    """tap.Test rows of one case's run: its TAP if any, else its exit status."""
    if r is None:
        return [tap.Test(case.name, "fail", "not run: the guest stopped before it")]
    tests = tap.run_tests(r)
    text = [l for l in r.lines if not tap.KERNEL.match(l)]
    if case.skip_if and r.rc == 0:
        for line in text:
            m = re.search(case.skip_if, line)
            if m:
                return [tap.Test(case.name, "skip", m.group(0).strip())]
    why = last_words(r.lines)
    for t in tests:
        if t.status == "fail" and t.name == r.name and why and why not in t.note:
            t.note = f"{t.note}: {why}"
    return tests


def rows_of_boot(kernel, boot, cases, unbuilt=None):
    """Result rows: the boot, then each case (cases that did not build skip)."""
    unbuilt = unbuilt or {}
    outer = [r for r in tap.split_runs(boot.text) if r.name == "vmtests"]
    runs = {r.name: r for r in split_cases(outer[0].lines)} if outer else {}
    pairs = []
    for c in cases:
        if c.binary in unbuilt:
            r = tap.Run(c.name)
            pairs.append((r, [tap.Test(c.name, "skip",
                                       f"does not build here: {unbuilt[c.binary]}"[:120])]))
            continue
        r = runs.get(c.name) or tap.Run(c.name)
        pairs.append((r, case_tests(c, runs.get(c.name))))
    return from_boot(kernel, boot, pairs)


# ---------------------------------------------------------------- run

def guest_command(bz, initrd, cases, accel):
    test_timeout = sum(c.timeout for c in cases) + 300
    append = qemu.cmdline(["vmtests"], test_timeout=test_timeout, extra=KERNEL_ARGS)
    return qemu.command(bz, initrd, append, accel, mem=MEM, node_mem=NODE_MEM, extra=CPU)


def vmtests(kernels, tests=None, kconfig="vm", timeout=None):
    """Rows for each kernel; one hold of the cpu lock for builds and boots."""
    cases = select(tests)
    kind = "vmtests" if kconfig == "vm" else f"vmtests-{kconfig}"
    accel = qemu.probe_kvm()
    if accel not in ("tcg", "kvm"):
        raise HarnessError(f"ACCEL={accel}: vmtests uses tcg (default) or kvm")
    timeout = max(timeout or 0, sum(c.timeout for c in cases) + 600)
    log = log_path("vmtests-build")
    outdir = os.path.join(OUT, "vmtests")
    os.makedirs(outdir, exist_ok=True)
    rows = []
    with cpu_lock():
        with Timer(f"selftests/vm of {BASE_TAG} (static) + initramfs"):
            need = [b for b in BINARIES if b.name in {c.binary for c in cases}]
            built, failed = build_binaries(need, source(), outdir, log)
            for name, why in failed.items():
                info(f"{name} does not build: {why} (log {log})")
            table = os.path.join(outdir, "vmtests.cases")
            runnable = [c for c in cases if c.binary in built]
            with open(table, "w") as f:
                f.write(case_table(runnable))
            initrd = initramfs.pack(dict(built, vmtests=DRIVER, **{"vmtests.cases": table}),
                                    out=os.path.join(outdir, "initramfs.cpio.gz"))
        for k in kernels:
            name, bz, row = build_row(k, kind)
            rows.append(row)
            if not bz:
                continue
            with Timer(f"boot {name} + {len(runnable)} vmtests cases"):
                b = qemu.boot(guest_command(bz, initrd, runnable, accel), log_path(name),
                              timeout, accel)
            report_problems(name, b)
            rows += rows_of_boot(name, b, cases, failed)
    return rows
