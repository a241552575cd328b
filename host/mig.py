#!/usr/bin/env python3
"""Single entry point of the harness (like kunit.py): python3 host/mig.py <cmd>.

  deps     install missing Debian packages (root)
  tree     build/linux = v<BASE> + patches/series (refuses to drop unexported work)
  export   build/linux commits -> patches/ + series + cover letter
  run      build kernel(s), boot under QEMU, run selftests, print results
  all      tree + run (what plain `make` does)
  check    unit + tree + series checks + patched build/boot/tests (CI)
  unit     the harness's own pytest suite
  prefix   every prefix of the series (p0 = base .. pN), BOOTS boots each, TESTS
  probe    guest/probe programs (PROBE='streak shared 3 10; ...') on PREFIXES, BOOTS
  bench    base vs patched benchmark, gains and costs -> docs/benchmarks.md (QUICK=1: smoke, BOOTS=N)
  trace    ftrace a shared-anon refault storm on base/patched (issue 10) -> build/trace/
  coverage gcov build of the patched kernel + selftests -> docs/coverage.md
  soak     base and patched debug kernels under a migration mix for DURATION s -> docs/soak.md
  moves    per test over boots: results + page-move counts from console logs (MOVES_LOGS=)
  stress   stress-ng memory stressors at once on base and patched debug kernels for DURATION s -> docs/soak.md
  vmtests  5.10's own selftests/vm (run_vmtests' cases + the rest of its Makefile) on base and patched
  clean    remove build outputs (never build/linux)
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from migbp import (bench, checks, coverage, deps, export, moves, prefix, probe, results,  # noqa: E402
                   run, soak, stress, trace, tree, vmtests)
from migbp.results import Result  # noqa: E402
from migbp.util import (BASE_TAG, BUILD, LOGS, OUT, ROOT, SRC, HarnessError, Timer, die,  # noqa: E402
                        free_text, info, is_disk_full, log_path)

KERNELS = {"base": ["base"], "patched": ["patched"], "both": ["base", "patched"]}


def finish(rows, kernels=None):
    """Print the table (and the side-by-side matrix), end with the summary line."""
    print()
    print(results.table(rows))
    if kernels and len(kernels) > 1:
        print()
        print(results.matrix([r for r in rows if r.kernel in kernels], kernels))
    bad = results.failures(rows)
    if bad:
        print("\nfailures:")
        for r in bad:
            print(f"  {r.kernel} {r.binary} {r.test}: {r.note}")
    print(f"logs: {LOGS}")
    print(results.summary(rows), flush=True)
    return 1 if bad else 0


def cmd_tree(a):
    with Timer("tree"):
        tree.ensure_tree(force=a.force, log=log_path("tree"))
    return 0


def cmd_export(a):
    export.export(log=log_path("export"))
    return 0


def kernels_of(a):
    if a.kernel not in KERNELS:
        raise HarnessError(f"KERNEL={a.kernel}: use base, patched or both")
    return KERNELS[a.kernel]


def cmd_run(a):
    ks = kernels_of(a)
    rows = run.run_kernels(ks, a.tests, a.kconfig, a.timeout)
    names = [k if a.kconfig == "vm" else f"{k}-{a.kconfig}" for k in ks]
    return finish(rows, names)


def cmd_all(a):
    cmd_tree(a)
    return cmd_run(a)


def unit_rows():
    with Timer("unit tests (pytest host/tests)"):
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            os.path.join(ROOT, "host", "tests")], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(p.stdout, end="")
    last = (p.stdout.strip().splitlines() or ["no output"])[-1].strip("= ")
    return [Result("host", "unit", "pytest host/tests",
                   "pass" if p.returncode == 0 else "fail", note=last)]


def cmd_unit(a):
    return 0 if unit_rows()[0].status == "pass" else 1


def cmd_check(a):
    rows = unit_rows()
    with Timer(f"tree (git am of the series onto {BASE_TAG})"):
        rows.append(checks.guarded(f"git am onto {BASE_TAG}",
                                   lambda: (tree.ensure_tree(force=a.force, log=log_path("tree"))
                                            and ("pass", f"{len(tree.read_series())} patches"))))
    if rows[-1].status == "fail":
        print(f"error: {rows[-1].note}", flush=True)
        return finish(rows)
    with Timer("checkpatch --strict"):
        rows += checks.checkpatch()
    with Timer("quilt push -a"):
        rows.append(checks.quilt())
    with Timer("Debian's patches + the series (quilt), Debian's amd64 config"):
        rows.append(checks.debian_quilt())
        rows.append(checks.debian_config_build())
    rows += run.run_kernels(["patched"], a.tests, "vm", a.timeout)
    if a.debug:
        # Under KASAN + lockdep + TCG, 5.10's hmm-tests can exceed the fixed
        # 30 s kselftest timeout of a test (migrate_multiple did, on a slow
        # host): a timing failure, not a kernel one. The debug kernel is there
        # to catch splats; vm/migration drives the same device-private paths
        # through test_hmm with its own generous timeouts, so it runs alone
        # there unless TESTS says otherwise. hmm-tests run on the vm kernel.
        rows += run.run_kernels(["patched"], a.tests or "migration", "debug", a.timeout)
    with Timer("bisectability (build at each commit)"):
        rows += checks.bisect()
    with Timer("sparse base vs patched"):
        rows.append(checks.sparse())
    with Timer("cross builds (ppc64le uvmem, x86 nouveau)"):
        rows += checks.cross_builds()
    return finish(rows)


def cmd_bench(a):
    env = os.environ.get
    if env("BENCH_REPORT"):
        return bench.rereport(env("BENCH_REPORT"))
    return bench.bench(quick=env("QUICK") == "1", boots=int(env("BOOTS") or 0) or None,
                       secs=float(env("BENCH_SECS") or 0) or None,
                       limit=int(env("BENCH_LIMIT") or 0) or None,
                       timeout=int(env("BOOT_TIMEOUT") or 0) or None,
                       rev=env("BENCH_REV") or None,
                       reps=int(env("BENCH_REPS") or 0) or None,
                       only=env("BENCH_ONLY") or None)


def cmd_prefix(a):
    env = os.environ.get
    rows = prefix.prefix(a.tests, boots=int(env("BOOTS") or 3), spec=env("PREFIXES"),
                         timeout=a.timeout)
    return finish(rows)


def cmd_probe(a):
    env = os.environ.get
    return probe.probe(env("PROBE") or "", spec=env("PREFIXES"), boots=int(env("BOOTS") or 1),
                       timeout=a.timeout, kind=env("KCONFIG") or "vm")


def cmd_trace(a):
    env = os.environ.get
    if env("TRACE_REPORT"):
        return trace.rereport(env("TRACE_REPORT"))
    return trace.trace(kernels_of(a), secs=float(env("TRACE_SECS") or 3),
                       readers=int(env("TRACE_T") or 3), timeout=min(a.timeout, 600))


def cmd_coverage(a):
    return coverage.coverage(a.tests, a.timeout, console_log=os.environ.get("COVERAGE_LOG"))


def duration_env(default):
    """DURATION= in seconds (soak, stress), or default."""
    value = os.environ.get("DURATION")
    try:
        return int(value or default)
    except ValueError:
        raise HarnessError(f"DURATION={value}: seconds, e.g. DURATION={default}")


def cmd_soak(a):
    env = os.environ.get
    duration = duration_env(soak.DEFAULT_DURATION)
    # debug unless KCONFIG says otherwise; BOOT_TIMEOUT is the margin over DURATION
    rows = soak.soak(duration, env("KCONFIG") or "debug", int(env("BOOT_TIMEOUT") or 0) or None)
    return finish(rows)


def cmd_moves(a):
    spec = os.environ.get("MOVES_LOGS")
    if not spec:
        raise HarnessError("MOVES_LOGS=: console logs of `make run` boots, e.g. "
                           "MOVES_LOGS='build/logs/base-2026*.log'")
    return moves.report(spec)


def cmd_vmtests(a):
    # base and patched unless KERNEL says one; KCONFIG=debug adds debug.config
    kernel = os.environ.get("KERNEL") or "both"
    if kernel not in KERNELS:
        raise HarnessError(f"KERNEL={kernel}: use base, patched or both")
    ks = KERNELS[kernel]
    if os.environ.get("VMTESTS_LOGS"):      # report again from kept console logs, no boot
        logs = os.environ["VMTESTS_LOGS"].split(",")
        if len(logs) != len(ks):
            raise HarnessError(f"VMTESTS_LOGS: one console log per kernel ({', '.join(ks)})")
        rows = vmtests.rereport(logs, ks, a.kconfig)
    else:
        rows = vmtests.vmtests(ks, a.tests, a.kconfig, int(os.environ.get("BOOT_TIMEOUT") or 0))
    suffix = "vmtests" if a.kconfig == "vm" else f"vmtests-{a.kconfig}"
    return finish(rows, [f"{k}-{suffix}" for k in ks])


def cmd_stress(a):
    env = os.environ.get
    duration = duration_env(stress.DEFAULT_DURATION)
    kernel = env("KERNEL") or "both"
    if kernel not in KERNELS:
        raise HarnessError(f"KERNEL={kernel}: use base, patched or both")
    # debug unless KCONFIG says otherwise; BOOT_TIMEOUT is the margin over DURATION
    rows = stress.stress(duration, env("KCONFIG") or "debug", int(env("BOOT_TIMEOUT") or 0) or None,
                         KERNELS[kernel], stress.select(env("STRESSORS")))
    return finish(rows)


def cmd_deps(a):
    got = deps.ensure()
    info(f"installed {' '.join(got)}" if got else "all dependencies present")
    return 0


def cmd_clean(a):
    for d in (OUT, os.path.join(BUILD, "quilt")):
        shutil.rmtree(d, ignore_errors=True)
    for wt in ("base", "bisect"):
        if os.path.exists(os.path.join(SRC, wt)):
            subprocess.run(["git", "-C", os.path.join(BUILD, "linux"), "worktree", "remove",
                            "--force", os.path.join(SRC, wt)])
    info("removed build/out, build/quilt and the worktrees; kept build/linux and build/logs")
    return 0


def parser():
    p = argparse.ArgumentParser(prog="mig.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn in [("deps", cmd_deps), ("tree", cmd_tree), ("export", cmd_export),
                     ("run", cmd_run), ("all", cmd_all), ("check", cmd_check),
                     ("unit", cmd_unit), ("bench", cmd_bench), ("prefix", cmd_prefix), ("probe", cmd_probe), ("soak", cmd_soak),
                     ("vmtests", cmd_vmtests), ("stress", cmd_stress),
                     ("trace", cmd_trace), ("coverage", cmd_coverage),
                     ("moves", cmd_moves), ("clean", cmd_clean)]:
        s = sub.add_parser(name)
        s.set_defaults(fn=fn)
        s.add_argument("--force", action="store_true", default=bool(os.environ.get("FORCE")),
                       help="tree: discard unexported work in build/linux (backup ref kept)")
        s.add_argument("--kernel", default=os.environ.get("KERNEL") or "patched")
        s.add_argument("--tests", default=os.environ.get("TESTS") or None)
        s.add_argument("--kconfig", default=os.environ.get("KCONFIG") or "vm",
                       choices=["vm", "debug"])
        s.add_argument("--timeout", type=int, default=int(os.environ.get("BOOT_TIMEOUT") or 900))
        s.add_argument("--debug", action="store_true", default=(os.environ.get("DEBUG") or "1") == "1",
                       help="check: also build and run the debug (KASAN, lockdep) kernel")
    return p


# Commands that run external tools: every tool is installed (deps.ensure(), a
# no-op when all are there) before their first step, fetching and unpacking
# included.
TOOLS_FIRST = {"tree", "run", "all", "check", "unit", "bench", "prefix", "probe", "trace", "coverage", "soak",
               "vmtests", "stress"}
# Commands that build from build/linux (or its worktrees): on a fresh clone
# they make the tree first, as `make tree` would (`make mainline` is `run`).
TREE_FIRST = {"run", "bench", "prefix", "probe", "trace", "coverage", "soak", "vmtests", "stress"}


def main(argv=None):
    a = parser().parse_args(argv)
    try:
        if a.cmd in TOOLS_FIRST:
            deps.ensure()
        if a.cmd in TREE_FIRST:
            tree.ensure_present(log=log_path("tree"))
        return a.fn(a)
    except HarnessError as e:
        return die(e)
    except KeyboardInterrupt:
        return die("interrupted")
    except OSError as e:
        if is_disk_full(e):     # e.g. a log or initramfs write in Python
            return die(f"disk full: {e.filename or ''} ({free_text()})")
        raise


if __name__ == "__main__":
    sys.exit(main())
