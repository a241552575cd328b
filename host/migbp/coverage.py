"""`coverage`: which lines the series changes run under the selftests (gcov).

Build the patched kernel with vm.config + gcov.config, profiling only the
objects in PROFILED (GCOV_PROFILE_<obj>=y on the make command line: the
kernel tree carries only the series). Boot it with the selftests and
migbp.gcov=1: guest/init then prints the gcda files of
/sys/kernel/debug/gcov as a base64 tar.gz between MIGBP: GCOV markers.
Here they go next to the .gcno files of the build, gcov (the gcc that built
the kernel) turns them into line counts, and the added lines of
`git diff v<BASE>..HEAD -U0` are looked up in them.
"""
import base64
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from functools import partial

from . import initramfs, kbuild, kconfig, qemu, results, run as runmod, tap, util
from .util import (BASE_TAG, BUILD, GUEST, LINUX, OUT, ROOT, HarnessError, Timer, cpu_lock,
                   info, log_path, run)

PROFILED = ["mm/migrate.o", "mm/filemap.o", "mm/memory.o", "mm/hugetlb.o",
            "mm/huge_memory.o", "mm/shmem.o", "lib/test_hmm.o"]
KIND = "gcov"
DOC = os.path.join(ROOT, "docs", "coverage.md")
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"
GOAL = 90.0


def out_dir():
    return kbuild.out_dir("patched", KIND)


def make_args(objs=PROFILED):
    """GCOV_PROFILE_<name>.o=y and CFLAGS_<name>.o for make's command line.

    kbuild looks the variables up by basename only, in every directory: a
    plain GCOV_PROFILE_memory.o=y also profiles arch/x86/boot/memory.o,
    which is linked without the gcov runtime (undefined __gcov_init). So the
    values are left for make to expand per directory, set only in the
    object's own ($(obj) is the directory kbuild is building).

    -fno-early-inlining: gcc inlines small functions *before* it adds the
    gcov counters, and then counts their lines in the caller, not where
    they are: __migration_entry_wait() ran thousands of times inlined into
    migration_entry_wait() and still showed 0. Inlining after the counters
    are in (the normal IPA inliner, always_inline) keeps the counts right.
    """
    dirs = {}
    for o in objs:
        dirs.setdefault(os.path.basename(o), []).append(os.path.dirname(o))
    args = []
    for name, d in dirs.items():
        where = f"$(filter {' '.join(d)},$(obj))"
        args += [f"GCOV_PROFILE_{name}=$(if {where},y)",
                 f"CFLAGS_{name}=$(if {where},-fno-early-inlining)"]
    return args


def build(log=None):
    """Configure vm + gcov, build bzImage with the profiled objects."""
    out = out_dir()
    log = log or log_path("build-patched-gcov")
    info(f"building patched (vm + gcov, {len(PROFILED)} objects profiled) in "
         f"{os.path.relpath(out, BUILD)}; log {log}")
    with cpu_lock():
        kconfig.configure(LINUX, out, kconfig.fragments("vm") + kconfig.fragments(KIND),
                          log=log, env=kbuild.env())
        kbuild.make(LINUX, out, ["bzImage"], args=make_args(), log=log,
                    what="build of the gcov kernel")
    missing = [o for o in PROFILED
               if not os.path.exists(os.path.join(out, o[:-2] + ".gcno"))]
    if missing:
        raise HarnessError(f"no .gcno for {', '.join(missing)}: not built or not profiled", log)
    return os.path.join(out, "arch/x86/boot/bzImage")


# ------------------------------------------------------- guest -> host data

GCOV_BEGIN = re.compile(r"MIGBP: GCOV BEGIN files=(\d+) bytes=(\d+) md5=([0-9a-f]{32})")
GCOV_END = "MIGBP: GCOV END"
B64_LINE = re.compile(r"^[A-Za-z0-9+/=]+$")


def extract(text):
    """The tar.gz guest/init printed between the GCOV markers, checked.

    Lines that are not base64 (a printk between two lines) are skipped;
    a printk inside a line shows up as a size or md5 mismatch.
    """
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if GCOV_BEGIN.search(l)), None)
    if start is None:
        raise HarnessError("no 'MIGBP: GCOV BEGIN' in the console log (gcov dump did not run)")
    nfiles, size, md5 = GCOV_BEGIN.search(lines[start]).groups()
    body = []
    for l in lines[start + 1:]:
        l = l.strip()
        if l.startswith(GCOV_END):
            break
        if B64_LINE.match(l):
            body.append(l)
    else:
        raise HarnessError("'MIGBP: GCOV END' missing: the gcov dump was cut short")
    try:
        data = base64.b64decode("".join(body), validate=True)
    except ValueError as e:
        raise HarnessError(f"gcov dump corrupted on the console (not base64: {e})")
    if len(data) != int(size) or hashlib.md5(data).hexdigest() != md5:
        raise HarnessError(f"gcov dump corrupted on the console: {len(data)} bytes, "
                           f"md5 {hashlib.md5(data).hexdigest()}; the guest sent {size}, {md5}")
    return data, int(nfiles)


def unpack(tgz, out):
    """Write the .gcda files of the build in `out` next to their .gcno.

    In debugfs they sit under the absolute path of the build directory;
    files of any other tree are ignored. Returns the paths written.
    """
    prefix = os.path.abspath(out).strip("/") + "/"
    for dirpath, _, names in os.walk(out):           # no stale counts from a previous run
        for n in names:
            if n.endswith(".gcda"):
                os.unlink(os.path.join(dirpath, n))
    written = []
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        for m in tar.getmembers():
            name = os.path.normpath(m.name).lstrip("/")
            if not (m.isfile() and name.endswith(".gcda") and name.startswith(prefix)):
                continue
            rel = name[len(prefix):]
            if rel.startswith("..") or os.path.isabs(rel):
                continue
            dst = os.path.join(out, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(tar.extractfile(m).read())
            written.append(dst)
    return written


# ------------------------------------------------------------------- gcov

def run_gcov(out, obj, log=None):
    """gcov's JSON for one object (its .gcno + .gcda in `out`)."""
    gcda = os.path.join(out, obj[:-2] + ".gcda")
    if not os.path.exists(gcda):
        raise HarnessError(f"no {os.path.relpath(gcda, BUILD)}: the guest sent no counts "
                           f"for {obj}")
    _, text = run(["gcov", "--json-format", "--stdout", gcda], cwd=out, log=None,
                  what=f"gcov {obj}")
    if log:
        with open(log, "a") as f:
            f.write(f"$ gcov --json-format --stdout {gcda}\n({len(text)} bytes of JSON)\n")
    start = text.find("{")
    if start < 0:
        raise HarnessError(f"gcov printed no JSON for {obj}", log)
    return json.loads(text[start:])


def source_path(name, cwd, src=LINUX):
    """A gcov 'file' as a path relative to the kernel source, or None."""
    path = os.path.normpath(os.path.join(cwd, name))
    src = os.path.abspath(src)
    return os.path.relpath(path, src) if path.startswith(src + "/") else None


def line_counts(docs, src=LINUX):
    """{source file: {line: [count, function]}} summed over all objects.

    A header line compiled into several objects counts in each of them.
    The function is the innermost one whose lines hold the line; gcov's
    per-line function_name can name a callee inlined before profiling.
    """
    counts, funcs = {}, {}
    for doc in docs:
        cwd = doc.get("current_working_directory", "")
        for f in doc.get("files", []):
            rel = source_path(f["file"], cwd, src)
            if rel is None:
                continue
            lines = counts.setdefault(rel, {})
            for l in f.get("lines", []):
                c = lines.setdefault(l["line_number"], [0, None])
                c[0] += l["count"]
                c[1] = c[1] or l.get("function_name")
            funcs.setdefault(rel, set()).update(
                (fn["start_line"], fn["end_line"], fn.get("demangled_name") or fn["name"])
                for fn in f.get("functions", []))
    for rel, lines in counts.items():
        for n, c in lines.items():
            inside = [(e - b, name) for b, e, name in funcs.get(rel, ()) if b <= n <= e]
            if inside:
                c[1] = min(inside)[1]
    return counts


# ----------------------------------------------------------------- hunks

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


@dataclass
class Hunk:
    file: str
    start: int
    lines: list                 # line numbers added or changed (new side)
    context: str = ""           # the function git names in the @@ line


def hunks(diff):
    """Hunks of `git diff -U0`; a pure deletion has no lines."""
    out, path = [], None
    for l in diff.splitlines():
        if l.startswith("+++ "):
            path = None if l[4:] == "/dev/null" else l[4:].split("/", 1)[1]
        elif l.startswith("@@") and path:
            m = HUNK.match(l)
            if not m:
                raise HarnessError(f"cannot parse diff hunk header: {l}")
            start, n = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
            out.append(Hunk(path, start, list(range(start, start + n)), m.group(3).strip()))
    return out


def series_diff(files, src=LINUX, base=BASE_TAG):
    _, text = run(["git", "-C", src, "diff", "-U0", "--no-color", f"{base}..HEAD", "--"]
                  + list(files), what="git diff of the series")
    return text


def sources(objs=PROFILED):
    return [o[:-2] + ".c" for o in objs]


# ---------------------------------------------------------------- report

DIFF_PATHS = ["mm", "lib", "include"]

# Why a changed line may never run, by (file, function, stripped source
# text): line numbers move when the series changes, these rarely do.
RACE = "a race no test provokes reliably; no allocation is involved, so fault injection " \
       "(FAILSLAB, fail_page_alloc) cannot force it"
REASONS = {
    ("mm/migrate.c", "migrate_vma_collect_pmd", "put_page(page);"):
        "trylock_page() failed: someone else (reclaim, another migration, a task in "
        "lock_page()) held the page lock just when migrate_vma collected the page; " + RACE,
    ("mm/migrate.c", "migrate_vma_unmap", "migrate->src[i] &= ~MIGRATE_PFN_MIGRATE;"):
        "isolate_lru_page() failed: the page was off the LRU (isolated by a concurrent "
        "compaction, migration or reclaim) during migrate_vma_unmap(); " + RACE,
    ("mm/migrate.c", "migrate_vma_unmap", "migrate->cpages--;"): "same as the line above",
    ("mm/filemap.c", "filemap_fault", "goto out_retry;"):
        "the page was locked, the pte still none (not a migration) and "
        "lock_page_maybe_drop_mmap() dropped the mmap_lock to sleep: the old code's retry, "
        "re-indented by the patch; needs truncation or I/O holding the page lock, which the "
        "tests do not do",
    ("mm/hugetlb.c", "hugetlb_fault_without_i_mmap", "return false;"):
        "the pte under the page table lock was none (or a write met a read-only pte): a first "
        "touch in an mm that already has the page table; the tests' hugetlb readers inherit "
        "their ptes at fork, only read, and migration never leaves the pte none once its "
        "lock is dropped",
    ("mm/hugetlb.c", "hugetlb_fault_without_i_mmap", "entry = huge_pte_mkdirty(entry);"):
        "a write fault that found a present writable pte under the lock: the selftests' "
        "shared hugetlb users only read (the soak's htlb-shared worker writes)",
    ("mm/migrate.c", "migrate_vma_unmap", "restore++;"): "same as the line above",
    ("mm/migrate.c", "migrate_vma_unmap", "try_to_unmap(page, flags);"):
        "a page still mapped in another process when it is migrated to device memory; "
        "coverage-extra device_shared_with_child does that (fork, then migrate)",
    ("mm/migrate.c", "do_pages_move", "if (err > 0)"):
        "move_pages() batch with an unmovable page, flushed because the next page is already "
        "on its target node; coverage-extra batch_flush does that (vmsplice pin)",
    ("mm/migrate.c", "do_pages_move", "err--;"): "same as the line above",
    ("mm/migrate.c", "__migration_entry_wait",
     "void __migration_entry_wait(struct mm_struct *mm, pte_t *ptep, spinlock_t *ptl)"):
        "early inlining: the body runs inlined into migration_entry_wait(), the out-of-line "
        "copy has no caller left (hugetlb now calls __migration_entry_wait_huge())",
    ("mm/migrate.c", "__migration_entry_wait", "migration_entry_wait_pte(ptep, ptl, true);"):
        "same as the line above",
    ("mm/hugetlb.c", "follow_huge_pmd_pte", "__migration_entry_wait_huge(ptep, ptl);"):
        "follow_page() (move_pages(), not GUP: that goes through follow_hugetlb_page()) "
        "finding a hugetlb page under migration; coverage-extra hugetlb_two_movers races two "
        "move_pages() on one huge page for 3 s, so this may or may not run",
    ("mm/shmem.c", "shmem_fault_wait_page_unlocked", "put_page(page);"):
        "the page was unlocked between the lockless PG_locked look and find_get_entry(), "
        "a window of a few instructions; " + RACE,
    ("mm/shmem.c", "shmem_fault_wait_page_unlocked", "return false;"):
        "the return after that put_page() (the other returns ran)",
}


@dataclass
class Row:
    hunk: Hunk
    functions: list
    lines: list                                  # executable changed lines
    missed: list = field(default_factory=list)   # of those, never run
    where: dict = field(default_factory=dict)    # line -> function

    @property
    def executed(self):
        return len(self.lines) - len(self.missed)


def rows_of(hs, counts):
    """One Row per hunk with executable lines; and the files with no gcov data."""
    rows, unprofiled = [], []
    for h in hs:
        known = counts.get(h.file)
        if known is None:
            if h.file not in unprofiled:
                unprofiled.append(h.file)
            continue
        lines = [n for n in h.lines if n in known]
        if not lines:
            continue
        funcs = []
        for n in lines:
            fn = known[n][1] or h.context
            if fn and fn not in funcs:
                funcs.append(fn)
        rows.append(Row(h, funcs or [h.context], lines, [n for n in lines if known[n][0] == 0],
                        {n: known[n][1] or h.context for n in lines}))
    return rows, unprofiled


def pct(a, b):
    return 100.0 * a / b if b else 100.0


def ranges(nums):
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)


def report(rows, unprofiled, text_of, meta=None):
    """Markdown: totals, per-file summary, per-hunk tables, never-run lines."""
    meta = meta or {}
    total = sum(len(r.lines) for r in rows)
    ran = sum(r.executed for r in rows)
    files = []
    for r in rows:
        if r.hunk.file not in files:
            files.append(r.hunk.file)
    out = []
    if meta:
        out += [f"Generated {meta.get('date', '?')} by `make coverage` on build/linux "
                f"{meta.get('rev', '?')} ({meta.get('tests', '?')}; {meta.get('gcc', 'gcc')}).", ""]
    out += [f"**Overall: {ran} of {total} changed executable lines ran "
            f"({pct(ran, total):.1f}%; goal {GOAL:.0f}%).**", "",
            "| file | hunks | changed lines | executed | % |", "| --- | --- | --- | --- | --- |"]
    for f in files:
        fr = [r for r in rows if r.hunk.file == f]
        t, e = sum(len(r.lines) for r in fr), sum(r.executed for r in fr)
        out.append(f"| {f} | {len(fr)} | {t} | {e} | {pct(e, t):.1f} |")
    if unprofiled:
        out += ["", "Changed but in no profiled object (no gcov data): "
                + ", ".join(unprofiled) + "."]
    for f in files:
        out += ["", f"### {f}", "", "| hunk (new lines) | function | changed | executed | never run |",
                "| --- | --- | --- | --- | --- |"]
        for r in (r for r in rows if r.hunk.file == f):
            h = r.hunk
            span = f"+{h.start}" + (f",{len(h.lines)}" if len(h.lines) != 1 else "")
            out.append(f"| {span} | {', '.join(f'`{x}`' for x in r.functions)} | {len(r.lines)} "
                       f"| {r.executed} | {ranges(r.missed) or '-'} |")
    missed = [(r.hunk.file, n, r.where.get(n, r.functions[0])) for r in rows for n in r.missed]
    if missed:
        out += ["", "### Changed lines that never ran", "",
                "| file:line | function | source | why |", "| --- | --- | --- | --- |"]
        for f, n, fn in missed:
            src = text_of(f, n).strip()
            why = REASONS.get((f, fn, src), "not explained yet")
            out.append(f"| {f}:{n} | `{fn}` | `{src.replace('|', '&#124;')}` | {why} |")
    return "\n".join(out), ran, total


splice_doc = partial(util.splice_doc, begin=BEGIN, end=END,
                     head="# Coverage of the lines the series changes\n\n")


def text_reader(src=LINUX):
    cache = {}

    def text_of(path, n):
        if path not in cache:
            cache[path] = open(os.path.join(src, path), errors="replace").read().splitlines()
        lines = cache[path]
        return lines[n - 1] if 0 < n <= len(lines) else ""
    return text_of


# ------------------------------------------------------------------- run

EXTRA = os.path.join(GUEST, "coverage", "extra.c")
EXTRA_TEST = "coverage-extra"


def build_extra(src=LINUX, log=None):
    """guest/coverage/extra.c: paths the selftests do not reach (see its comment)."""
    out = os.path.join(OUT, "selftests", EXTRA_TEST)
    run(["gcc", "-static", "-O2", "-Wall", "-I", os.path.join(OUT, "hdr", "include"),
         "-I", os.path.join(src, "lib"), "-o", out, EXTRA, "-lpthread"], log=log,
        what=f"compiling {os.path.relpath(EXTRA, ROOT)}")
    return out


def gcc_version():
    _, v = run(["gcc", "-dumpfullversion"], what="gcc -dumpfullversion")
    return f"gcc {v.strip()}"


def analyse(out, src=LINUX, log=None):
    """(rows, unprofiled files) from the .gcno/.gcda in `out` and the series diff."""
    docs = [run_gcov(out, o, log) for o in PROFILED]
    counts = line_counts(docs, src)
    hs = hunks(series_diff(DIFF_PATHS, src))
    rows, unprofiled = rows_of(hs, counts)
    if not rows:
        raise HarnessError("no changed line of the series is in the gcov data", log)
    return rows, unprofiled


def boot_and_dump(tests, timeout, log):
    """Build + boot under one hold of the cpu lock (one wait, ~1 min warm)."""
    with cpu_lock():
        with Timer("guest userspace (selftests + initramfs)"):
            bins = initramfs.build_tests(tests)
            bins[EXTRA_TEST] = build_extra(log=log)
            tests = tests + [EXTRA_TEST]
            initrd = initramfs.pack(bins, out=os.path.join(OUT, "initramfs-gcov.cpio.gz"))
        with Timer("build patched-gcov kernel"):
            bz = build()
        with Timer(f"boot patched-gcov + {', '.join(tests)} + gcov dump"):
            return qemu.run_guest("patched-gcov", bz, initrd, tests, timeout,
                                  extra="migbp.gcov=1")


def recorded_boot(console_log):
    """COVERAGE_LOG=<console log>: redo the report from an earlier boot of this build."""
    text = open(console_log, errors="replace").read()
    b = qemu.Boot(log=console_log, accel="recorded", text=text)
    b.problems = qemu.scan(text)
    return b


def coverage(tests=None, timeout=qemu.DEFAULT_TIMEOUT, write_doc=True, console_log=None):
    if not os.path.isdir(os.path.join(LINUX, ".git")):
        raise HarnessError("no build/linux: run `make tree` first")
    tests = runmod.tests_to_run(tests)
    log = log_path("coverage")
    b = recorded_boot(console_log) if console_log else boot_and_dump(tests, timeout, log)
    tests = [r.name for r in tap.split_runs(b.text)]
    runmod.report_problems("patched-gcov", b)
    rows = runmod.guest_rows("patched-gcov", b)
    print(results.table(rows), flush=True)
    if b.problems:
        raise HarnessError(f"the gcov guest did not finish cleanly: {b.problems[0][0]}", b.log)
    with Timer("gcov on the host"):
        data, nfiles = extract(b.text)
        got = unpack(data, out_dir())
        info(f"gcov dump: {len(data)} bytes, {nfiles} gcda files in the guest, "
             f"{len(got)} of this build")
        rows_c, unprofiled = analyse(out_dir(), log=log)
    rev = subprocess.run(["git", "-C", LINUX, "rev-parse", "--short", "HEAD"],
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    when = os.path.getmtime(b.log) if console_log else time.time()
    meta = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when)), rev=rev,
                tests=", ".join(tests), gcc=gcc_version())
    text, ran, total = report(rows_c, unprofiled, text_reader(), meta)
    print()
    print(text, flush=True)
    if write_doc:
        old = open(DOC).read() if os.path.exists(DOC) else ""
        with open(DOC, "w") as f:
            f.write(splice_doc(old, text))
        info(f"wrote {os.path.relpath(DOC, ROOT)}")
    failed = [r for r in rows if r.status == "fail"]
    info(f"coverage of the changed lines: {ran}/{total} = {pct(ran, total):.1f}% "
         f"(goal {GOAL:.0f}%); selftests: {len(failed)} failed")
    return 1 if failed else 0
