"""`moves`: per test over several boots, pass/fail and the page-move counts.

Reads serial console logs of `make run` boots (MOVES_LOGS=, a glob or a list
of paths) and, per (binary, test), adds up the results and the
`# migbp-moves:` counts of guest/selftests/move_pages_count.c (the
migration-strict / migration-count variants) and guest/selftests/refault.sh.
Prints a markdown table (docs/mainline.md). No build, no boot.
"""
import glob
import os

from . import tap
from .util import HarnessError

KEYS = ("calls", "moved", "failed", "hidden", "errors")


def collect(paths):
    """[(log, binary, test, status, counts or None)] in log order."""
    out = []
    for p in paths:
        text = open(p, errors="replace").read()
        for run in tap.split_runs(text):
            counts = tap.move_counts(run.lines)
            for t in tap.run_tests(run):
                out.append((p, run.name, t.name, t.status, counts.get(t.name)))
    return out


def aggregate(rows):
    """{(binary, test): {...}} in first-seen order."""
    agg = {}
    for log, binary, test, status, counts in rows:
        a = agg.setdefault((binary, test), dict(boots=0, passed=0, failed_runs=0, skipped=0,
                                                counted=0, firsts=[], hidden_known=False,
                                                **{k: 0 for k in KEYS}))
        a["boots"] += 1
        a[{"pass": "passed", "fail": "failed_runs", "skip": "skipped"}[status]] += 1
        if counts:
            a["counted"] += 1
            for k in KEYS:
                a[k] += counts.get(k, 0)
            a["hidden_known"] |= "hidden" in counts
            if counts.get("first_failure"):
                a["firsts"].append(counts["first_failure"])
    return agg


def ppm(failed, tried):
    return f"{failed * 1_000_000 // tried:,}" if tried else "-"


def table(agg):
    head = ["binary", "test", "runs", "pass", "fail", "skip", "move_pages() calls",
            "pages moved", "not moved: ret>0", "not moved: ret 0", "not-moved ppm",
            "first failure at call"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for (binary, test), a in agg.items():
        if a["counted"]:
            left = a["failed"] + a["hidden"]
            nums = [f"{a['calls']:,}", f"{a['moved']:,}",
                    f"{a['failed']:,}" if a["hidden_known"] else f"{a['failed']:,} (all)",
                    f"{a['hidden']:,}" if a["hidden_known"] else "-",
                    ppm(left, a["moved"] + left),
                    ", ".join(str(f) for f in a["firsts"]) or "-"]
        else:
            nums = ["-"] * 6
        lines.append("| " + " | ".join([binary, test, str(a["boots"]), str(a["passed"]),
                                        str(a["failed_runs"]), str(a["skipped"])] + nums) + " |")
    return "\n".join(lines)


def paths_from(spec):
    paths = []
    for part in spec.split():
        paths += sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
    missing = [p for p in paths if not os.path.exists(p)]
    if not paths or missing:
        raise HarnessError(f"MOVES_LOGS={spec!r}: no such console log(s) "
                           f"{' '.join(missing) or '(none matched)'}")
    return paths


def report(spec):
    paths = paths_from(spec)
    print(f"{len(paths)} console logs:")
    for p in paths:
        print(f"  {p}")
    print()
    print(table(aggregate(collect(paths))))
    return 0
