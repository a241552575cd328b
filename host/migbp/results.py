"""Result rows, the per-kernel table, the test x kernel matrix, the summary line;
markdown tables for the docs reports."""
from dataclasses import dataclass


@dataclass
class Result:
    kernel: str          # base | patched | series | host ...
    binary: str          # test binary or check group
    test: str
    status: str          # pass | fail | skip
    seconds: float = None
    note: str = ""


MARK = {"pass": "ok", "fail": "FAIL", "skip": "skip"}


def from_boot(kernel, boot, runs_tests):
    """Rows for one guest boot: a 'boot' row, then each binary's tests."""
    rows = [Result(kernel, "boot", f"boot ({boot.accel})",
                   "pass" if boot.ok else "fail", round(boot.seconds, 1),
                   "; ".join(p[0] for p in boot.problems))]
    for run, tests in runs_tests:
        for i, t in enumerate(tests):
            rows.append(Result(kernel, run.name, t.name, t.status,
                               run.secs if i == 0 else None, t.note))
    return rows


def _fmt(cols, widths):
    return "  ".join(str(c).ljust(w) for c, w in zip(cols, widths)).rstrip()


def table(rows):
    head = ("kernel", "binary", "test", "result", "secs", "note")
    body = [(r.kernel, r.binary, r.test, MARK[r.status],
             "" if r.seconds is None else f"{r.seconds:g}", r.note[:70]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)] if body else [6] * 6
    return "\n".join([_fmt(head, widths), _fmt(["-" * w for w in widths], widths)]
                     + [_fmt(b, widths) for b in body])


def matrix(rows, kernels):
    """test x kernel side by side; '<<' marks rows whose results differ."""
    keys, cells = [], {}
    for r in rows:
        k = (r.binary, r.test)
        if k not in cells:
            keys.append(k)
            cells[k] = {}
        cells[k][r.kernel] = MARK[r.status]
    head = ("binary", "test") + tuple(kernels) + ("",)
    body = []
    for k in keys:
        vals = [cells[k].get(kn, "-") for kn in kernels]
        body.append(k + tuple(vals) + ("<< differs" if len(set(vals)) > 1 else "",))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    return "\n".join([_fmt(head, widths), _fmt(["-" * w for w in widths], widths)]
                     + [_fmt(b, widths) for b in body])


def md_table(head, body):
    """A markdown table: head is the header cells, body a list of rows."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def counts(rows):
    return {s: sum(r.status == s for r in rows) for s in ("pass", "fail", "skip")}


def summary(rows):
    c = counts(rows)
    return f"{c['pass']} passed, {c['fail']} failed, {c['skip']} skipped"


def failures(rows):
    return [r for r in rows if r.status == "fail"]
