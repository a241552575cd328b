"""`trace`: ftrace evidence for issue 10 (shared-anon one-page migration failures).

Builds base and/or patched with config/vm.config + config/trace.config, boots
each with guest/trace/shmem-fault.sh, which puts kprobe events on the fault
and migration paths around one `refault shared-r T 1 SECS` run and dumps the
trace on the console (gzip + base64 between markers). The host extracts it
into build/trace/<stamp>/<kernel>.trace and summarizes it:

- failed migrate_page_move_mapping() calls, the refcount seen at each, and
  which readers were asleep at that moment in __lock_page() (holding the
  reference find_lock_entry() took) or waiting without a reference
  (put_and_wait_on_page_locked(), migration_entry_wait_on_locked());
- the stacks of those sleepers;
- each reader fault classified by what it found: a none pte (fault-around /
  shmem_fault()), a migration entry (do_swap_page()), or a present pte;
  and for the none ones, whether they started inside try_to_unmap_one() on
  their own mm and after a TLB-shootdown IPI hit the reader.
"""
import base64
import binascii
import collections
import gzip
import os
import re
import shutil
import time
from dataclasses import dataclass, field

from . import bench, initramfs, kbuild, qemu
from .util import BUILD, GUEST, HarnessError, Timer, info, log_path

TRACE_SRC = os.path.join(GUEST, "trace", "shmem-fault.sh")
TRACE_OUT = os.path.join(BUILD, "trace")
BEGIN = re.compile(r"TRACE: BEGIN (\w+)\.gz\.b64")
END = "TRACE: END"
EAGAIN = -11
# A shmem page under migration: 1 reference from isolation + 1 from the page
# cache (expected_page_refs(): no PagePrivate, not THP, not device private).
EXPECTED_REFS = 2
TLB_REMOTE_SHOOTDOWN = 1
# frames of the kprobe int3 handler above the probed function in a stack trace
KPROBE_FRAMES = {"kprobe_trace_func", "kprobe_dispatcher", "aggr_pre_handler",
                 "kprobe_int3_handler", "do_int3", "exc_int3", "asm_exc_int3"}

# "  refault-83   [002] d..1   123.456789: fault: (handle_mm_fault+0x0/0x1b0) mm=0x.."
LINE = re.compile(r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]"
                  r"(?:\s+[\w.]{4,5})?\s+(?P<ts>\d+\.\d+):\s+(?P<name><stack trace>|[\w ]+?(?=:))"
                  r":?\s?(?P<rest>.*)$")
ARG = re.compile(r"(\w+)=(\S+)")
# kretprobe: "(find_lock_entry+0x7f/0x120 <- __lock_page)"
RET = re.compile(r"^\((?P<caller>[^ )]+) <- (?P<func>[^ )]+)\)")
TLB_REASON = re.compile(r"reason:.*\((\d+)\)")


@dataclass
class Event:
    comm: str
    pid: int
    cpu: int
    ts: float
    name: str
    args: dict
    text: str
    stack: list = field(default_factory=list)
    caller: str = ""            # kretprobe events: the function returned to


def num(v):
    try:
        return int(v, 0)
    except ValueError:
        return v


def parse_line(line):
    """An Event for one line of `trace`, or None (headers, stack frames, junk)."""
    m = LINE.match(line)
    if not m:
        return None
    rest = m.group("rest")
    ev = Event(m.group("comm"), int(m.group("pid")), int(m.group("cpu")), float(m.group("ts")),
               m.group("name"), {k: num(v) for k, v in ARG.findall(rest)}, line.rstrip())
    r = RET.match(rest)
    if r:
        ev.caller = r.group("caller").split("+")[0]
    if ev.name == "tlb_flush":
        t = TLB_REASON.search(rest)
        ev.args["reason"] = int(t.group(1)) if t else -1
    return ev


def parse(text):
    """Events of a `trace` file in order; "<stack trace>" frames are attached to
    the preceding event of the same pid (the one whose trigger produced them)."""
    events, last = [], {}
    stack = None
    for line in text.splitlines():
        if line.startswith(" => "):
            if stack is not None:
                frame = line[4:].strip().split("+")[0]
                if frame in KPROBE_FRAMES:
                    stack.clear()       # the probe's own frames, on top
                else:
                    stack.append(frame)
            continue
        ev = parse_line(line)
        stack = None
        if ev is None:
            continue
        if ev.name == "<stack trace>":
            owner = last.get(ev.pid)
            stack = owner.stack if owner is not None else []
            continue
        events.append(ev)
        last[ev.pid] = ev
    return events


def extract(console):
    """({run: trace text}, [TRACE: lines]) from a console log; a corrupt block is
    left out and reported in the notes."""
    notes, traces, b64, name = [], {}, [], None
    for line in console.splitlines():
        m = BEGIN.search(line)
        if m:
            name, b64 = m.group(1), []
            continue
        if name is not None:
            if END in line:
                try:
                    traces[name] = gzip.decompress(base64.b64decode("".join(b64))).decode(
                        "utf-8", "replace")
                except (binascii.Error, OSError, EOFError) as e:
                    notes.append(f"TRACE: ERROR cannot decode the {name} trace: {e}")
                name = None
                continue
            s = line.strip()
            if re.fullmatch(r"[A-Za-z0-9+/=]+", s):
                b64.append(s)
            continue
        i = line.find("TRACE: ")
        if i >= 0:
            notes.append(line[i:].strip())
    if name is not None:
        notes.append(f"TRACE: ERROR the {name} trace is truncated")
    return traces, notes


def refault_rows(notes):
    """{'control': row, 'traced-full': row, ...} from "TRACE: <run> BENCH,..." lines."""
    out = {}
    for n in notes:
        m = re.match(r"TRACE: (control|traced-\w+) (BENCH,.*)$", n)
        if m:
            rows, _ = bench.parse_console(m.group(2))
            if rows["refault"]:
                out[m.group(1)] = rows["refault"][0]
    return out


# ---------------------------------------------------------------- correlation

@dataclass
class Fault:
    """One reader fault on the migrated page (handle_mm_fault entry) and what it ran into."""
    pid: int
    ts: float
    mm: int
    kind: str = "present"       # none | migration-entry | present (nothing else seen)
    pte: object = None          # vmf->orig_pte seen by shmem_fault/do_swap_page
    in_migration: bool = False  # between migrate_pages() and mm_migrate_pages
    ttu_start: float = None     # try_to_unmap_one() on this mm running at the fault
    ttu_end: float = None       # ... and when it returned (migration entry written)
    shootdown: float = None     # last TLB-shootdown IPI on this reader since ttu_start
    shmem_fault: bool = False
    lock_page: bool = False     # slept (or tried to) in __lock_page()
    wait_noref: bool = False    # put_and_wait_on_page_locked / migration_entry_wait_on_locked


# What a reader was doing at a migrate_page_move_mapping() call:
#   lock_page  asleep in __lock_page() on the page: holds find_lock_entry()'s ref
#   noref_wait in put_and_wait_on_page_locked()/migration_entry_wait_on_locked():
#              the ref (if any) is dropped once queued
#   shmem_fault  otherwise inside shmem_fault(): from find_get_entry() on it
#              holds a ref
#   other      none of these
STATES = ("lock_page", "shmem_fault", "noref_wait", "other")


@dataclass
class Check:
    """One migrate_page_move_mapping() call: refcount at entry, result, readers."""
    ts: float
    page: int
    ref: int
    mapcount: int
    extra: int
    ret: object = None
    readers: dict = field(default_factory=dict)   # pid -> state (STATES)
    stacks: list = field(default_factory=list)    # stacks of the lock_page sleepers
    first: int = 0              # index of the round's first event (for excerpts)
    last: int = 0

    @property
    def expected(self):
        return EXPECTED_REFS + self.extra

    @property
    def extra_refs(self):
        return self.ref - self.expected

    def count(self, state):
        return sum(1 for v in self.readers.values() if v == state)


def correlate(events):
    """Walk the events in timestamp order; returns (faults, checks, migrator pids, misc)."""
    migrators = {e.pid for e in events if e.name in ("migrate", "ttu", "mpmm")}
    # the migrated page's user address (the same in every forked reader)
    targets = {e.args.get("addr") for e in events if e.name == "ttu"}
    faults, checks = [], []
    cur = {}                 # pid -> its current Fault
    in_sf = collections.Counter()     # pid -> shmem_fault depth
    lock = {}                # pid -> (page, stack) while in __lock_page
    noref = {}               # pid -> probe name while waiting without a reference
    ttu = None               # (mm, entry ts, [faults on that mm meanwhile])
    shot = {}                # reader pid -> ts of the last TLB-shootdown IPI it took
    readers = set()
    in_mig, round_first, check = False, 0, None
    misc = collections.Counter()
    for i, e in enumerate(events):
        n, pid = e.name, e.pid
        if pid in migrators:
            if n == "migrate":
                in_mig, round_first = True, i
            elif n == "mm_migrate_pages":
                in_mig = False
                misc["nr_succeeded"] += e.args.get("nr_succeeded", 0)
                misc["nr_failed"] += e.args.get("nr_failed", 0)
            elif n == "ttu":
                ttu = (e.args.get("mm"), e.ts, [])
            elif n == "ttu_ret" and ttu:
                for f in ttu[2]:
                    f.ttu_end = e.ts
                ttu = None
            elif n == "mpmm":
                check = Check(e.ts, e.args.get("page"), e.args.get("ref"),
                              e.args.get("mapcount"), e.args.get("extra", 0), first=round_first)
                for p in sorted(readers):
                    if p in lock and lock[p][0] == check.page:
                        check.readers[p] = "lock_page"
                        check.stacks.append(lock[p][1])
                    elif p in noref:
                        check.readers[p] = "noref_wait"
                    elif in_sf[p]:
                        check.readers[p] = "shmem_fault"
                    else:
                        check.readers[p] = "other"
            elif n == "mpmm_ret" and check is not None:
                check.ret, check.last = e.args.get("ret"), i
                checks.append(check)
                check = None
            elif n == "lock_page":
                misc["migrator lock_page"] += 1
            continue
        if e.comm != "refault":
            continue
        readers.add(pid)
        if n == "fault":
            if targets and e.args.get("addr", 0) & ~0xfff not in targets:
                misc["reader faults elsewhere"] += 1
                cur.pop(pid, None)
                continue
            mm = e.args.get("mm")
            f = Fault(pid, e.ts, mm, in_migration=in_mig)
            if ttu and ttu[0] == mm:
                f.ttu_start = ttu[1]
                if shot.get(pid, -1.0) >= ttu[1]:
                    f.shootdown = shot[pid]
                ttu[2].append(f)
            cur[pid] = f
            faults.append(f)
        elif n == "tlb_flush":
            if e.args.get("reason") == TLB_REMOTE_SHOOTDOWN:
                shot[pid] = e.ts
        elif n in ("fault_around", "shmem_fault", "swap_fault") and pid in cur:
            f = cur[pid]
            if n == "swap_fault":
                f.kind, f.pte = "migration-entry", e.args.get("pte")
            elif n == "shmem_fault":
                f.shmem_fault, f.pte = True, e.args.get("pte")
                if f.kind == "present":
                    f.kind = "none"
            elif f.kind == "present":
                f.kind = "none"
        if n == "shmem_fault":
            in_sf[pid] += 1
        elif n == "shmem_fault_ret":
            in_sf[pid] = max(0, in_sf[pid] - 1)
        elif n == "lock_page":
            lock[pid] = (e.args.get("page"), tuple(e.stack))
            if pid in cur:
                cur[pid].lock_page = True
        elif n == "lock_page_ret":
            lock.pop(pid, None)
            misc[f"reader __lock_page returned to {e.caller}"] += 1
        elif n in ("pawl", "mewl"):
            noref[pid] = n
            if pid in cur:
                cur[pid].wait_noref = True
        elif n in ("pawl_ret", "mewl_ret"):
            noref.pop(pid, None)
            misc[f"reader {'put_and_wait_on_page_locked' if n == 'pawl_ret' else n[:-4]} "
                 f"returned to {e.caller}"] += 1
    return faults, checks, migrators, misc


def median_ms(xs):
    xs = sorted(xs)
    return round(1000 * xs[len(xs) // 2], 2) if xs else None


def summarize(events):
    """Counts of the "full" run for the report (numbers, Counters, a few lists)."""
    faults, checks, migrators, misc = correlate(events)
    failed = [c for c in checks if c.ret not in (0, None)]
    ok = [c for c in checks if c.ret == 0]
    state_tot = {st: sum(c.count(st) for c in failed) for st in STATES}
    s = {"events": len(events), "migrators": sorted(migrators),
         "readers": sorted({f.pid for f in faults}),
         "checks": len(checks), "failed": len(failed), "succeeded": len(ok),
         "failed_eagain": sum(1 for c in failed if c.ret == EAGAIN),
         "failed_with_shmem_sleeper": sum(1 for c in failed if c.count("lock_page")),
         "failed_with_shmem_reader": sum(1 for c in failed
                                         if c.count("lock_page") + c.count("shmem_fault")),
         "failed_by_sleepers": sum(1 for c in failed if c.extra_refs == c.count("lock_page")),
         "failed_by_shmem": sum(1 for c in failed if 0 < c.extra_refs
                                <= c.count("lock_page") + c.count("shmem_fault")),
         "failed_extra_refs": sum(max(0, c.extra_refs) for c in failed),
         "failed_states": state_tot,
         "ok_states": {st: sum(c.count(st) for c in ok) for st in STATES},
         "ref_at_failure": collections.Counter(c.ref for c in failed),
         "ref_at_success": collections.Counter(c.ref for c in ok),
         "mapcount_at_failure": collections.Counter(c.mapcount for c in failed),
         "unexplained": collections.Counter(
             tuple(sorted(c.readers.values())) for c in failed
             if c.extra_refs > c.count("lock_page") + c.count("shmem_fault")),
         "mm_migrate_pages": (misc["nr_succeeded"], misc["nr_failed"]),
         "misc": misc}
    mig = [f for f in faults if f.in_migration]
    none = [f for f in mig if f.kind == "none"]
    ment = [f for f in mig if f.kind == "migration-entry"]
    s.update(faults=len(faults), fault_kinds=collections.Counter(f.kind for f in faults),
             mig_faults=len(mig), mig_fault_kinds=collections.Counter(f.kind for f in mig),
             none_in_ttu=sum(1 for f in none if f.ttu_start is not None),
             none_after_shootdown=sum(1 for f in none if f.shootdown is not None),
             none_pte_zero=sum(1 for f in none if f.shmem_fault and f.pte == 0),
             none_pte_nonzero=sum(1 for f in none if f.shmem_fault and f.pte not in (0, None)),
             none_shmem_fault=sum(1 for f in none if f.shmem_fault),
             none_lock_page=sum(1 for f in none if f.lock_page),
             none_wait_noref=sum(1 for f in none if f.wait_noref),
             none_ms_before_ttu_end=median_ms([f.ttu_end - f.ts for f in none
                                               if f.ttu_end is not None]),
             none_ms_after_shootdown=median_ms([f.ts - f.shootdown for f in none
                                                if f.shootdown is not None]),
             ment_in_ttu=sum(1 for f in ment if f.ttu_start is not None),
             first_failure=(failed[0].first, failed[0].last) if failed else None)
    return s


def stacks(events):
    """Stacks of the readers' waits in the "stacks" run: {probe: Counter(stack)},
    and the stacks of the __lock_page() calls made in a round before a failed check."""
    migrators = {e.pid for e in events if e.name in ("migrate", "mpmm")}
    every = collections.defaultdict(collections.Counter)
    at_failure = collections.Counter()
    pending = []
    for e in events:
        if e.pid in migrators:
            if e.name == "migrate":
                pending = []
            elif e.name == "mpmm_ret" and e.args.get("ret") not in (0, None):
                at_failure.update(pending)
                pending = []
            continue
        if e.name in ("lock_page", "pawl", "mewl") and e.comm == "refault":
            st = tuple(e.stack)
            every[e.name][st] += 1
            if e.name == "lock_page":
                pending.append(st)
    return every, at_failure


def pct(a, b):
    return f"{100.0 * a / b:.0f}%" if b else "-"


def fmt_stack(st, n=8):
    return " < ".join(st[:n]) + (" < ..." if len(st) > n else "") if st else "(no stack)"


def format_summary(kernel, s, rows=None, stk=None, excerpt=None):
    """Plain-text report of one kernel: the full run's summary, the stacks run's stacks."""
    rows = rows or {}
    out = [f"== {kernel}"]
    for k in ("control", "traced-full", "traced-stacks"):
        r = rows.get(k)
        if r:
            out.append(f"refault {k}: {r['calls']} move_pages calls, {r['failed']} failed moves "
                       f"({r['failed_ppm']:,} ppm), pgmigrate_fail {r['pgmigrate_fail']}")
    f, fs = s["failed"], s["failed_states"]
    out += [f"full run: {s['events']} events, migrating pid {s['migrators']}, "
            f"readers {s['readers']}",
            f"migrate_page_move_mapping: {s['checks']} calls, {s['succeeded']} ok, "
            f"{f} failed ({s['failed_eagain']} -EAGAIN); mm_migrate_pages "
            f"succeeded/failed {s['mm_migrate_pages'][0]}/{s['mm_migrate_pages'][1]}",
            f"  refcount at entry (expected {EXPECTED_REFS}): failed "
            f"{dict(sorted(s['ref_at_failure'].items()))}, ok "
            f"{dict(sorted(s['ref_at_success'].items()))}; _mapcount at failed "
            f"{dict(sorted(s['mapcount_at_failure'].items()))} (-1 = unmapped)",
            f"  failed with >= 1 reader asleep in __lock_page (shmem_fault->find_lock_entry): "
            f"{s['failed_with_shmem_sleeper']}/{f} ({pct(s['failed_with_shmem_sleeper'], f)}); "
            f"with >= 1 reader in shmem_fault at all: {s['failed_with_shmem_reader']}/{f}",
            f"  extra refs at failed calls: {s['failed_extra_refs']}; readers at those calls: "
            + ", ".join(f"{st} {fs[st]}" for st in STATES),
            f"  failed calls whose extra refs == readers in __lock_page: {s['failed_by_sleepers']}"
            f"/{f}; <= readers in __lock_page or shmem_fault: {s['failed_by_shmem']}/{f}",
            "  readers at ok calls: " + ", ".join(f"{st} {s['ok_states'][st]}" for st in STATES)]
    if s["unexplained"]:
        out.append("  failed calls with more extra refs than shmem_fault readers, by reader "
                   "states: " + "; ".join(f"{'+'.join(k) or '-'} x{v}"
                                          for k, v in s["unexplained"].most_common(4)))
    out += [f"reader faults on the page: {s['faults']} {dict(s['fault_kinds'])}; during a "
            f"migration {s['mig_faults']} {dict(s['mig_fault_kinds'])}",
            f"  pte none: {s['mig_fault_kinds'].get('none', 0)}; started while "
            f"try_to_unmap_one() ran on the reader's mm: {s['none_in_ttu']}, of which after a "
            f"TLB-shootdown IPI on the reader: {s['none_after_shootdown']} (median "
            f"{s['none_ms_after_shootdown']} ms after the IPI, {s['none_ms_before_ttu_end']} ms "
            f"before try_to_unmap_one() returned)",
            f"  reached shmem_fault {s['none_shmem_fault']} (orig_pte 0: {s['none_pte_zero']}, "
            f"non-zero: {s['none_pte_nonzero']}), then __lock_page {s['none_lock_page']}, "
            f"waited without a ref {s['none_wait_noref']}",
            f"  migration entry: {s['mig_fault_kinds'].get('migration-entry', 0)}; started "
            f"while try_to_unmap_one() ran on the reader's mm: {s['ment_in_ttu']}"]
    out.append(f"  the migrating task slept in __lock_page {s['misc']['migrator lock_page']} "
               f"times; reader faults elsewhere {s['misc']['reader faults elsewhere']}")
    rets = {k: v for k, v in s["misc"].items() if "returned to" in k}
    if rets:
        out.append("  " + ", ".join(f"{k} {v}" for k, v in sorted(rets.items())))
    if stk:
        every, at_failure = stk
        if at_failure:
            out.append("stacks run: readers' __lock_page calls in a round before a failed check:")
            out += [f"  {n}x {fmt_stack(st)}" for st, n in at_failure.most_common(3)]
        for probe, c in sorted(every.items()):
            out.append(f"stacks run: every reader {probe} ({sum(c.values())}):")
            out += [f"  {n}x {fmt_stack(st)}" for st, n in c.most_common(3)]
    if excerpt:
        out += ["full run, the round of the first failed check (trimmed):"] + \
            [f"  {l}" for l in excerpt]
    return "\n".join(out)


def excerpt(events, span, limit=40):
    """Trace lines of the round of the first failure, up to its failing check."""
    if not span:
        return []
    lo, hi = span
    keep = [events[i].text for i in range(lo, hi + 1)]
    if len(keep) > limit:
        keep = keep[:limit // 2] + [f"... {len(keep) - limit} lines ..."] + keep[-limit // 2:]
    return keep


# ---------------------------------------------------------------- driver

def build_guest(outdir, log):
    b = bench.compile_prog("refault", log)
    return initramfs.pack({"trace": TRACE_SRC, "refault": b},
                          out=os.path.join(outdir, "initramfs.cpio.gz"))


def report_kernel(outdir, k, console):
    """Summary of one kernel's boot (writes <k>-<run>.trace); None without a full trace."""
    traces, notes = extract(console)
    for n in notes:
        if n.startswith(("TRACE: ERROR", "TRACE: NOPROBE", "TRACE: stats")):
            info(f"{k}: {n}")
    if "full" not in traces:
        return None
    for name, text in traces.items():
        with open(os.path.join(outdir, f"{k}-{name}.trace"), "w") as f:
            f.write(text)
    events = parse(traces["full"])
    s = summarize(events)
    stk = stacks(parse(traces["stacks"])) if "stacks" in traces else None
    return format_summary(k, s, refault_rows(notes), stk, excerpt(events, s["first_failure"]))


def rereport(outdir):
    """TRACE_REPORT=build/trace/<stamp>: summarize the saved console logs again."""
    reports = []
    for k in ("base", "patched"):
        p = os.path.join(outdir, f"{k}-console.log")
        if os.path.exists(p):
            rep = report_kernel(outdir, k, open(p, errors="replace").read())
            if rep:
                reports.append(rep)
    if not reports:
        raise HarnessError(f"no <kernel>-console.log with a trace in {outdir}")
    text = "\n\n".join(reports) + "\n"
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    return 0


def trace(kernels, secs=3, readers=3, timeout=600):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(TRACE_OUT, stamp)
    os.makedirs(outdir, exist_ok=True)
    log = log_path("trace-build")
    with Timer("guest trace script + refault + initramfs"):
        initrd = build_guest(outdir, log)
    reports, bad = [], []
    for k in kernels:
        with Timer(f"build {k} kernel (trace config)"):
            bz = kbuild.build(k, "trace")
        append = qemu.cmdline(["trace"], test_timeout=timeout,
                              extra=f"migbp.trace_secs={secs} migbp.trace_T={readers}")
        with Timer(f"boot {k}-trace"):
            b = qemu.boot(qemu.command(bz, initrd, append, qemu.probe_kvm()),
                          log_path(f"trace-{k}"), timeout, qemu.probe_kvm())
        shutil.copyfile(b.log, os.path.join(outdir, f"{k}-console.log"))
        rep = report_kernel(outdir, k, b.text)
        if not b.ok or rep is None:
            bad.append(f"{k}: {'; '.join(p for p, _ in b.problems) or 'no trace'} "
                       f"(log {b.log})")
        if rep:
            reports.append(rep)
            print("\n" + rep + "\n", flush=True)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write("\n\n".join(reports) + "\n")
    info(f"traces and summary: {outdir}")
    if bad:
        raise HarnessError("trace: " + "; ".join(bad))
    return 0
