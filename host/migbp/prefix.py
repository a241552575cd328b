"""`prefix`: the series one patch at a time, so each patch's effect shows.

Builds a kernel at every prefix of the series (p0 = the base tag, pK = the
first K patches of build/linux), each in its own build/out/prefix-K (one
worktree build/src/prefix, so ccache shares every unchanged object), then
boots them round-robin BOOTS times (p0 p1 ... pN, p0 p1 ... pN, ...) with
the same initramfs and tabulates, per test and prefix, how many boots
passed and, for tests that print move counters, the failed moves.

The report goes to build/prefix/<stamp>/prefix.md (and prefix.json);
PREFIXES=0,3,6 restricts the prefixes, TESTS= picks the selftests.
"""
import json
import os
import re
import shutil
import time

from . import initramfs, kbuild, qemu, tap, tree
from .results import Result
from .util import BASE_TAG, BUILD, LINUX, OUT, SRC, HarnessError, Timer, cpu_lock, info, log_path

PREFIX_OUT = os.path.join(BUILD, "prefix")
COUNTS = re.compile(r"^#?\s*(\w+): (\d+) rounds, (\d+) pages moved, (\d+) failed to move")


def commits(repo=LINUX):
    return tree.git(["rev-list", "--reverse", f"{BASE_TAG}..HEAD"], repo).split()


def choose(n, spec=None):
    """Prefix numbers 0..n, or those PREFIXES= names ("0,3,6" or "0-2,7")."""
    if not spec:
        return list(range(n + 1))
    out = []
    for part in spec.replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        try:
            out += list(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise HarnessError(f"PREFIXES={spec}: use numbers, e.g. 0,3,6 or 0-7")
    bad = [k for k in out if k < 0 or k > n]
    if bad:
        raise HarnessError(f"PREFIXES={spec}: the series has {n} patches (0 = base)")
    return sorted(set(out))


def build_prefixes(ks, outdir, repo=LINUX):
    """bzImage of every prefix in ks, copied into outdir; {k: path}."""
    cs = commits(repo)
    wt = os.path.join(SRC, "prefix")
    bz = {}
    for k in ks:
        rev = BASE_TAG if k == 0 else cs[k - 1]
        subject = "base" if k == 0 else tree.git(["log", "-1", "--format=%s", rev], repo).strip()
        with Timer(f"build p{k} ({subject[:60]})"):
            tree.worktree(wt, rev, repo)
            built = kbuild.build(f"p{k}", "vm", src=wt, out=os.path.join(OUT, f"prefix-{k}"))
        bz[k] = os.path.join(outdir, f"bzImage-p{k}")
        shutil.copyfile(built, bz[k])
    return bz


def counters(lines):
    """{test: (moved, failed)} from a selftest's '# test: R rounds, M pages moved,
    F failed to move' lines (the first such line of each test)."""
    out = {}
    for line in lines:
        m = COUNTS.match(line.strip())
        if m and m.group(1) not in out:
            out[m.group(1)] = (int(m.group(3)), int(m.group(4)))
    return out


def boot_records(k, boot, n):
    """[(test, status, moved, failed)] of one boot of prefix k."""
    recs = []
    if not boot.ok:
        recs.append(("boot", "fail", 0, 0))
    for run in tap.split_runs(boot.text):
        c = counters(run.lines)
        for t in tap.run_tests(run):
            name = t.name.split(".")[-1]
            moved, failed = c.get(name, (0, 0))
            recs.append((name, t.status, moved, failed))
    return recs


def table(results, ks, labels):
    """Markdown: per test, per prefix 'passed/boots' and failed/total moves."""
    tests = []
    for k in ks:
        for recs in results.get(k, []):
            for name, *_ in recs:
                if name not in tests:
                    tests.append(name)
    head = ["test"] + [f"p{k}" for k in ks]
    rows = []
    for name in tests:
        cells = [name]
        for k in ks:
            boots = [[r for r in recs if r[0] == name] for recs in results.get(k, [])]
            boots = [b[0] for b in boots if b]
            if not boots:
                cells.append("-")
                continue
            ok = sum(1 for b in boots if b[1] == "pass")
            skip = sum(1 for b in boots if b[1] == "skip")
            moved = sum(b[2] for b in boots)
            failed = sum(b[3] for b in boots)
            cell = f"{ok}/{len(boots)}" + (f" ({skip} skip)" if skip else "")
            if moved + failed:
                cell += f", {failed}/{moved + failed} failed"
            cells.append(cell)
        rows.append(cells)
    legend = [f"- p{k}: {labels[k]}" for k in ks]
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join(legend + ["", fmt(head), fmt(["-" * w for w in widths])]
                     + [fmt(r) for r in rows])


def prefix(tests=None, boots=3, spec=None, timeout=qemu.DEFAULT_TIMEOUT):
    # one hold of the cpu lock for all builds and boots: the round-robin
    # boots are only comparable if nobody else's build runs between them
    with cpu_lock():
        return _prefix(tests, boots, spec, timeout)


def _prefix(tests, boots, spec, timeout):
    cs = commits()
    ks = choose(len(cs), spec)
    labels = {0: f"{BASE_TAG} (base)"}
    for i, c in enumerate(cs, 1):
        labels[i] = f"+ {tree.git(['log', '-1', '--format=%s', c]).strip()}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(PREFIX_OUT, stamp)
    os.makedirs(outdir, exist_ok=True)
    names = initramfs.available_tests() if not tests else \
        [t for t in tests.replace(",", " ").split() if t]
    with Timer("guest userspace (selftests + initramfs)"):
        initrd = initramfs.pack(initramfs.build_tests(names),
                                out=os.path.join(outdir, "initramfs.cpio.gz"))
    bz = build_prefixes(ks, outdir)
    results = {k: [] for k in ks}
    rows = []
    for i in range(boots):
        for k in ks:
            with Timer(f"prefix boot {i + 1}/{boots} p{k}"):
                b = qemu.run_guest(f"prefix-p{k}-{i + 1}", bz[k], initrd, names, timeout)
            recs = boot_records(k, b, len(cs))
            results[k].append(recs)
            for name, status, moved, failed in recs:
                note = f"{failed}/{moved + failed} moves failed" if moved + failed else ""
                rows.append(Result(f"p{k}", name, f"boot {i + 1}", status, note=note))
            with open(os.path.join(outdir, "prefix.json"), "w") as f:
                json.dump({"labels": labels, "results": results, "tests": names}, f, indent=1)
    md = table(results, ks, labels)
    with open(os.path.join(outdir, "prefix.md"), "w") as f:
        f.write(f"`make prefix TESTS={','.join(names)} BOOTS={boots}` "
                f"({time.strftime('%Y-%m-%d %H:%M')}), TCG, {len(ks)} kernels\n\n{md}\n")
    print("\n" + md + f"\n\n(report: {os.path.relpath(outdir, BUILD)}/prefix.md)")
    return rows
