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
import time
from dataclasses import dataclass, field

from . import bench, initramfs, kbuild, qemu
from .util import BUILD, GUEST, OUT, HarnessError, Timer, info, log_path, run

TRACE_SRC = os.path.join(GUEST, "trace", "shmem-fault.sh")
TRACE_OUT = os.path.join(BUILD, "trace")
BEGIN = "TRACE: BEGIN trace.gz.b64"
END = "TRACE: END"
EAGAIN = -11
# A shmem page under migration: 1 reference from isolation + 1 from the page
# cache (expected_page_refs(): no PagePrivate, not THP, not device private).
EXPECTED_REFS = 2
TLB_REMOTE_SHOOTDOWN = 1

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
                stack.append(line[4:].strip().split("+")[0])
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
    """(trace text, [TRACE: lines]) from a console log; trace is "" if absent/corrupt."""
    notes, b64, inside = [], [], False
    for line in console.splitlines():
        if BEGIN in line:
            inside, b64 = True, []
            continue
        if inside:
            if END in line:
                inside = False
                continue
            s = line.strip()
            if re.fullmatch(r"[A-Za-z0-9+/=]+", s):
                b64.append(s)
            continue
        i = line.find("TRACE: ")
        if i >= 0:
            notes.append(line[i:].strip())
    if not b64:
        return "", notes
    try:
        return gzip.decompress(base64.b64decode("".join(b64))).decode("utf-8", "replace"), notes
    except (binascii.Error, OSError, EOFError) as e:
        notes.append(f"TRACE: ERROR cannot decode the trace: {e}")
        return "", notes


def refault_rows(notes):
    """{'control': row, 'traced': row} from the "TRACE: control/traced BENCH,..." lines."""
    out = {}
    for n in notes:
        m = re.match(r"TRACE: (control|traced) (BENCH,.*)$", n)
        if m:
            rows, _ = bench.parse_console(m.group(2))
            if rows["refault"]:
                out[m.group(1)] = rows["refault"][0]
    return out


# ---------------------------------------------------------------- correlation

@dataclass
class Fault:
    """One reader fault (handle_mm_fault entry) and what it ran into."""
    pid: int
    ts: float
    mm: int
    kind: str = "present"       # none | migration-entry | present (nothing else seen)
    pte: object = None          # vmf->orig_pte seen by shmem_fault/do_swap_page
    in_migration: bool = False  # between migrate_pages() and mm_migrate_pages
    in_ttu: bool = False        # while try_to_unmap_one() ran on this mm
    shootdown: bool = False     # a TLB-shootdown IPI hit this reader during that ttu
    shmem_fault: bool = False
    lock_page: bool = False     # slept (or tried to) in __lock_page()
    wait_noref: bool = False    # put_and_wait_on_page_locked / migration_entry_wait_on_locked


@dataclass
class Check:
    """One migrate_page_move_mapping() call: refcount at entry, result, holders."""
    ts: float
    page: int
    ref: int
    mapcount: int
    extra: int
    ret: object = None
    lock_sleepers: list = field(default_factory=list)     # (pid, in shmem_fault, stack)
    noref_waiters: list = field(default_factory=list)     # (pid, probe)
    first: int = 0              # index of the round's first event (for excerpts)
    last: int = 0

    @property
    def expected(self):
        return EXPECTED_REFS + self.extra

    @property
    def extra_refs(self):
        return self.ref - self.expected

    @property
    def shmem_sleepers(self):
        return sum(1 for _, in_sf, _ in self.lock_sleepers if in_sf)


def correlate(events):
    """Walk the events in timestamp order; returns (faults, checks, migrator pids, misc)."""
    migrators = {e.pid for e in events if e.name in ("migrate", "ttu", "mpmm")}
    # the migrated page's user address (the same in every forked reader)
    targets = {e.args.get("addr") for e in events if e.name == "ttu"}
    faults, checks = [], []
    cur = {}                 # pid -> its current Fault
    in_sf = collections.Counter()     # pid -> shmem_fault depth
    lock = {}                # pid -> (page, in shmem_fault, stack) while in __lock_page
    noref = {}               # pid -> probe name while waiting without a reference
    ttu_open = {}            # mm -> entry ts
    shot = {}                # reader pid -> ts of the last TLB-shootdown IPI it took
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
                ttu_open[e.args.get("mm")] = e.ts
            elif n == "ttu_ret":
                ttu_open.clear()
            elif n == "mpmm":
                check = Check(e.ts, e.args.get("page"), e.args.get("ref"),
                              e.args.get("mapcount"), e.args.get("extra", 0), first=round_first)
                for p, (page, sf, st) in lock.items():
                    if page == check.page and p not in migrators:
                        check.lock_sleepers.append((p, sf, st))
                check.noref_waiters = sorted(noref.items())
            elif n == "mpmm_ret" and check is not None:
                check.ret, check.last = e.args.get("ret"), i
                checks.append(check)
                check = None
            elif n == "lock_page":
                misc["migrator_lock_page"] += 1
            continue
        # readers
        if n == "fault":
            if targets and e.args.get("addr", 0) & ~0xfff not in targets:
                misc["reader faults elsewhere"] += 1
                cur.pop(pid, None)
                continue
            mm = e.args.get("mm")
            f = Fault(pid, e.ts, mm, in_migration=in_mig, in_ttu=mm in ttu_open,
                      shootdown=mm in ttu_open and shot.get(pid, -1.0) >= ttu_open[mm])
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
            lock[pid] = (e.args.get("page"), in_sf[pid] > 0, tuple(e.stack))
            if pid in cur:
                cur[pid].lock_page = True
        elif n == "lock_page_ret":
            lock.pop(pid, None)
            misc[f"lock_page returns to {e.caller}"] += 1
        elif n in ("pawl", "mewl"):
            noref[pid] = n
            if pid in cur:
                cur[pid].wait_noref = True
        elif n in ("pawl_ret", "mewl_ret"):
            noref.pop(pid, None)
    return faults, checks, migrators, misc


def summarize(events):
    """Counts for the report (a dict of plain numbers, lists and Counters)."""
    faults, checks, migrators, misc = correlate(events)
    failed = [c for c in checks if c.ret not in (0, None)]
    ok = [c for c in checks if c.ret == 0]
    s = {"events": len(events), "migrators": sorted(migrators),
         "readers": sorted({f.pid for f in faults}),
         "checks": len(checks), "failed": len(failed), "succeeded": len(ok),
         "failed_eagain": sum(1 for c in failed if c.ret == EAGAIN),
         "failed_with_shmem_sleeper": sum(1 for c in failed if c.shmem_sleepers),
         "failed_fully_explained": sum(1 for c in failed
                                       if c.extra_refs == len(c.lock_sleepers)),
         "failed_extra_refs": sum(max(0, c.extra_refs) for c in failed),
         "failed_refs_by_sleepers": sum(len(c.lock_sleepers) for c in failed),
         "ref_at_failure": collections.Counter(c.ref for c in failed),
         "ref_at_success": collections.Counter(c.ref for c in ok),
         "mapcount_at_failure": collections.Counter(c.mapcount for c in failed),
         "sleepers_at_failure": collections.Counter(len(c.lock_sleepers) for c in failed),
         "noref_waiters_at_success": sum(len(c.noref_waiters) for c in ok),
         "noref_waiters_at_failure": sum(len(c.noref_waiters) for c in failed),
         "lock_sleepers_at_success": sum(len(c.lock_sleepers) for c in ok),
         "holder_stacks": collections.Counter(st for c in failed
                                              for _, _, st in c.lock_sleepers),
         "mm_migrate_pages": (misc["nr_succeeded"], misc["nr_failed"]),
         "misc": misc}
    kinds = collections.Counter(f.kind for f in faults)
    mig = [f for f in faults if f.in_migration]
    none = [f for f in mig if f.kind == "none"]
    s.update(faults=len(faults), fault_kinds=kinds,
             mig_faults=len(mig), mig_fault_kinds=collections.Counter(f.kind for f in mig),
             none_in_ttu=sum(1 for f in none if f.in_ttu),
             none_after_shootdown=sum(1 for f in none if f.in_ttu and f.shootdown),
             none_pte_zero=sum(1 for f in none if f.shmem_fault and f.pte == 0),
             none_pte_nonzero=sum(1 for f in none if f.shmem_fault and f.pte not in (0, None)),
             none_shmem_fault=sum(1 for f in none if f.shmem_fault),
             none_lock_page=sum(1 for f in none if f.lock_page),
             none_wait_noref=sum(1 for f in none if f.wait_noref),
             migentry_in_ttu=sum(1 for f in mig if f.kind == "migration-entry" and f.in_ttu),
             first_failure=(failed[0].first, failed[0].last) if failed else None)
    return s


def pct(a, b):
    return f"{100.0 * a / b:.0f}%" if b else "-"


def format_summary(kernel, s, rows=None, excerpt=None):
    """Plain-text report of one kernel's trace."""
    rows = rows or {}
    out = [f"== {kernel}"]
    for k in ("control", "traced"):
        r = rows.get(k)
        if r:
            out.append(f"refault {k}: {r['calls']} move_pages calls, {r['failed']} failed moves "
                       f"({r['failed_ppm']:,} ppm), pgmigrate_fail {r['pgmigrate_fail']}")
    f = s["failed"]
    out += [f"events {s['events']}, migrator pid(s) {s['migrators']}, readers {s['readers']}",
            f"migrate_page_move_mapping: {s['checks']} calls, {s['succeeded']} ok, "
            f"{f} failed ({s['failed_eagain']} -EAGAIN); mm_migrate_pages "
            f"succeeded/failed {s['mm_migrate_pages'][0]}/{s['mm_migrate_pages'][1]}",
            f"  refcount at entry of failed calls (expected {EXPECTED_REFS}): "
            f"{dict(sorted(s['ref_at_failure'].items()))}; of ok calls "
            f"{dict(sorted(s['ref_at_success'].items()))}; _mapcount (-1 = unmapped) at failure "
            f"{dict(sorted(s['mapcount_at_failure'].items()))}",
            f"  failed with >= 1 reader asleep in __lock_page from shmem_fault: "
            f"{s['failed_with_shmem_sleeper']}/{f} ({pct(s['failed_with_shmem_sleeper'], f)})",
            f"  extra refs at failures {s['failed_extra_refs']}, of which held by readers in "
            f"__lock_page {s['failed_refs_by_sleepers']}; failures fully explained "
            f"(extra refs == sleepers) {s['failed_fully_explained']}/{f}",
            f"  readers in __lock_page per failure: "
            f"{dict(sorted(s['sleepers_at_failure'].items()))}; at ok calls: "
            f"{s['lock_sleepers_at_success']}",
            f"  readers waiting without a ref: at failures {s['noref_waiters_at_failure']}, "
            f"at ok calls {s['noref_waiters_at_success']}",
            f"reader faults: {s['faults']} {dict(s['fault_kinds'])}; during a migration "
            f"{s['mig_faults']} {dict(s['mig_fault_kinds'])}",
            f"  pte-none faults during a migration: {s['mig_fault_kinds'].get('none', 0)}, "
            f"started inside try_to_unmap_one() on their mm {s['none_in_ttu']}, of which after "
            f"a TLB-shootdown IPI hit the reader {s['none_after_shootdown']}",
            f"  reached shmem_fault {s['none_shmem_fault']} (orig_pte 0: {s['none_pte_zero']}, "
            f"non-zero: {s['none_pte_nonzero']}), slept in __lock_page {s['none_lock_page']}, "
            f"waited without a ref {s['none_wait_noref']}",
            f"  migration-entry faults that started inside try_to_unmap_one(): "
            f"{s['migentry_in_ttu']}"]
    rets = {k: v for k, v in s["misc"].items() if k.startswith("lock_page returns")}
    if rets:
        out.append("  " + ", ".join(f"{k} {v}" for k, v in sorted(rets.items())))
    if s["holder_stacks"]:
        out.append("stacks of readers asleep in __lock_page at failures (count, innermost first):")
        for st, n in s["holder_stacks"].most_common(3):
            out.append(f"  {n}x " + (" < ".join(st[:9]) if st else "(no stack)"))
    if excerpt:
        out += ["first failure (trimmed):"] + [f"  {l}" for l in excerpt]
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
    b = os.path.join(OUT, "bench", "refault")
    os.makedirs(os.path.dirname(b), exist_ok=True)
    run(["gcc", "-static", "-O2", "-Wall", "-o", b,
         os.path.join(bench.BENCH_SRC, "refault.c"), "-lnuma", "-lpthread"],
        log=log, what="compiling guest/bench/refault.c")
    return initramfs.pack({"trace": TRACE_SRC, "refault": b},
                          out=os.path.join(outdir, "initramfs.cpio.gz"))


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
        text, notes = extract(b.text)
        for n in notes:
            if n.startswith(("TRACE: ERROR", "TRACE: NOPROBE", "TRACE: stats")):
                info(f"{k}: {n}")
        if not b.ok or not text:
            bad.append(f"{k}: {'; '.join(p for p, _ in b.problems) or 'no trace'} "
                       f"(log {b.log})")
            continue
        with open(os.path.join(outdir, f"{k}.trace"), "w") as f:
            f.write(text)
        events = parse(text)
        s = summarize(events)
        rep = format_summary(k, s, refault_rows(notes), excerpt(events, s["first_failure"]))
        reports.append(rep)
        print("\n" + rep + "\n", flush=True)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write("\n\n".join(reports) + "\n")
    info(f"traces and summary: {outdir}")
    if bad:
        raise HarnessError("trace: " + "; ".join(bad))
    return 0
