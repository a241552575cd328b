"""Parse the guest console: MIGBP run markers and kselftest TAP inside them.

Handles plain kselftest_harness output (`#  RUN  f.t ...` then `ok N f.t`,
5.10's nameless `ok N # SKIP reason`), TAP nested one level by the kselftest
runner (`# ok N name` lines before the wrapper's `ok 1 selftests: vm: x`),
`# XFAIL`, `1..0 # SKIP`, `# Totals:` and runs that stop early (tests of the
plan that never reported count as failed).

A failing test's note says why, from the diagnostics printed before its
result line (why_failed()): its first failed assertion, else how the harness
ended it (timeout, signal), else the test's own last diagnostic.
"""
import re
from dataclasses import dataclass, field

RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(.*)$")
PLAN = re.compile(r"^1\.\.(\d+)(.*)$")
RUN_LINE = re.compile(r"^#?\s*RUN\s+(\S+)\s*\.\.\.")
TOTALS = re.compile(r"^#?\s*Totals:\s*(.*)$")
KERNEL = re.compile(r"^\[\s*\d+\.\d+\]")
BEGIN = re.compile(r"MIGBP: BEGIN (\S+)")
END = re.compile(r"MIGBP: END (\S+) rc=(-?\d+)(?: secs=([\d.]+))?")
# guest/selftests/move_pages_count.c, once per test of the counted variants
MOVES = re.compile(r"migbp-moves:((?:\s+\w+=\d+)+)")
SYSCTL = re.compile(r"MIGBP: SYSCTL(.*)$")
# kselftest_harness's EXPECT/ASSERT/TH_LOG lines: `file.c:123:test:Expected ...`
ASSERTION = re.compile(r"^\S+\.\w+:\d+:\S+:")
# how kselftest_harness says it ended a test other than by its verdict
ENDED = re.compile(r"Test terminated|Test ended in some other way|unable to (un)?install")
# the harness's own framing, and the machine-read lines that run_tests() turns
# into notes itself (move counts) or that say nothing alone (BENCH csv)
FRAMING = re.compile(r"^(RUN|OK|FAIL|SKIP)\s|^Starting \d+ tests|^(PASSED|FAILED): \d+ / \d+"
                     r"|^Totals:|^Planned tests|: Test failed at step #\d+$|migbp-moves:|^BENCH,")


@dataclass
class Test:
    name: str
    status: str          # pass | fail | skip
    note: str = ""       # xfail, skip reason, "no result", ...
    num: int = 0


@dataclass
class Tap:
    tests: list = field(default_factory=list)
    plan: int = None
    skip_all: str = None
    totals: dict = None


@dataclass
class Run:
    name: str
    lines: list = field(default_factory=list)
    rc: int = None
    secs: float = None
    sysctls: list = field(default_factory=list)   # [{name: value}] before, after

    @property
    def finished(self):
        return self.rc is not None


def _status(ok, rest):
    """(name, status, note) from the text after 'ok N'."""
    name, _, directive = rest.partition("#")
    name, directive = name.strip(" -"), directive.strip()
    word = directive.split(" ", 1)[0].upper() if directive else ""
    if word == "SKIP":
        return name, "skip", directive[4:].strip()
    if word in ("XFAIL", "TODO"):
        return name, "pass", "xfail"
    if word == "XPASS":
        return name, "fail", "xpass"
    return name, ("pass" if ok else "fail"), directive


def why_failed(diagnostics):
    """Why a test failed, from the `#` lines printed before its result line:
    the first failed assertion, else how the harness ended it, else the
    test's own last diagnostic ("" if there is none)."""
    lines = [l.strip() for l in diagnostics if l.strip()]
    for pattern in (ASSERTION, ENDED):
        hit = next((l for l in lines if pattern.search(l)), None)
        if hit:     # __FILE__ may be a long absolute path: keep its name
            return re.sub(r"^\S*/(?=\S+\.\w+:\d+:)", "", hit)
    own = [l for l in lines if not FRAMING.search(l)]
    return own[-1] if own else ""


def parse_tap(lines):
    tap, pending, last_run, top = Tap(), [], None, set()
    for raw in lines:
        line = raw.rstrip("\r\n")
        if KERNEL.match(line):
            continue
        if line.startswith("#"):
            pending.append(line[2:] if line.startswith("# ") else line[1:])
            m = RUN_LINE.match(line[1:].strip()) or RUN_LINE.match(line)
            if m:
                last_run = m.group(1)
            t = TOTALS.match(line[1:].strip())
            if t:
                tap.totals = dict((k, int(v)) for k, v in re.findall(r"(\w+):(\d+)", t.group(1)))
            continue
        m = PLAN.match(line.strip())
        if m:
            tap.plan = int(m.group(1))
            if tap.plan == 0 and "SKIP" in m.group(2):
                tap.skip_all = m.group(2).split("SKIP", 1)[1].strip() or "skipped"
            continue
        m = RESULT.match(line.strip())
        if not m:
            continue
        num = int(m.group(2)) if m.group(2) else len(tap.tests) + 1
        name, status, note = _status(m.group(1) == "ok", m.group(3))
        top.add(num)
        diagnostics, pending = pending, []
        sub = parse_tap(diagnostics) if diagnostics else Tap()
        if sub.tests or sub.plan:
            # The nested results are the real tests; the wrapper only adds a
            # failure of its own when none of them explains it.
            tap.tests += sub.tests
            if status == "fail" and not any(t.status == "fail" for t in sub.tests):
                tap.tests.append(Test(name or f"test {num}", "fail", note, num))
            if sub.totals:
                tap.totals = sub.totals
            continue
        if not name:     # 5.10: `ok N # SKIP reason` -> name from the RUN line
            name = last_run or f"test {num}"
        if status == "fail" and not note:
            note = why_failed(diagnostics)
        tap.tests.append(Test(name, status, note, num))
        last_run = None
    if pending:
        sub = parse_tap(pending)
        if sub.tests or sub.plan:   # nested output whose wrapper never reported
            tap.tests += sub.tests
            if sub.totals:
                tap.totals = sub.totals
    tap.tests += _missing(tap.plan, top)
    return tap


def _missing(plan, seen):
    if not plan:
        return []
    return [Test(f"test #{n}", "fail", "no result (crashed or hung?)", n)
            for n in range(1, plan + 1) if n not in seen]


def split_runs(text):
    """MIGBP: BEGIN/END blocks of a console log, in order."""
    runs, cur = [], None
    for line in text.splitlines():
        b, e = BEGIN.search(line), END.search(line)
        if b:
            cur = Run(b.group(1))
            runs.append(cur)
        elif e and cur is not None:
            cur.rc = int(e.group(2))
            cur.secs = float(e.group(3)) if e.group(3) else None
            cur = None
        elif cur is not None and SYSCTL.search(line):
            cur.sysctls.append(dict(kv.split("=", 1) for kv in
                                    SYSCTL.search(line).group(1).split() if "=" in kv))
        elif cur is not None:
            cur.lines.append(line)
    return runs


def move_counts(lines):
    """{test: {calls, moved, failed, hidden, errors, first_failure}} from the
    counting wrapper's `# migbp-moves: k=v ...` lines, each belonging to the
    test of the `RUN` line before it."""
    counts, test = {}, None
    for line in lines:
        if KERNEL.match(line):
            continue
        body = line.lstrip("# ").strip()
        m = RUN_LINE.match(body)
        if m:
            test = m.group(1)
            continue
        m = MOVES.search(line)
        if m and test:
            counts[test] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
    return counts


def format_moves(c):
    """One short note: moved/calls, failed (returned > 0), hidden (returned 0
    but the page did not move), and the call that first left a page behind."""
    text = f"{c.get('moved', 0)}/{c.get('calls', 0)} moved, {c.get('failed', 0)} failed"
    if "hidden" in c:        # refault.sh counts every page left behind as failed
        text += f", {c['hidden']} hidden"
    if c.get("errors"):
        text += f", {c['errors']} errors"
    if c.get("first_failure"):
        text += f", first at call {c['first_failure']}"
    return text


def run_tests(run):
    """Tests of one binary run, with failures for crashes and bad exit codes."""
    tap = parse_tap(run.lines)
    tests = list(tap.tests)
    moves = move_counts(run.lines)
    for t in tests:
        if t.name in moves:
            t.note = "; ".join(x for x in (format_moves(moves[t.name]), t.note) if x)
    if tap.skip_all:
        return [Test(run.name, "skip", tap.skip_all)]
    if not run.finished:
        tests.append(Test(run.name, "fail", "did not finish (crash, hang or timeout)"))
    elif run.rc == 137:
        tests.append(Test(run.name, "fail", "killed by the per-test timeout"))
    elif run.rc == 4 and not tests:
        tests.append(Test(run.name, "skip", "exit 4 (KSFT_SKIP)"))
    elif run.rc != 0 and not any(t.status == "fail" for t in tests):
        tests.append(Test(run.name, "fail", f"exit status {run.rc}"))
    elif not tests:
        tests.append(Test(run.name, "pass", "no TAP output, exit 0"))
    if len(run.sysctls) == 2 and run.sysctls[0] != run.sysctls[1]:
        before, after = run.sysctls
        changed = [f"{k} {before.get(k)} -> {after.get(k)}"
                   for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        tests.append(Test(f"{run.name} sysctls restored", "fail", ", ".join(changed)))
    return tests
