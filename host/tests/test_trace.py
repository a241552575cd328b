import base64
import gzip
import os

from conftest import DATA
from migbp import kconfig, trace

FULL = open(os.path.join(DATA, "trace-base-full.txt")).read()

KPROBE = ("         refault-105     [000] ....     7.488439: shmem_fault: "
          "(shmem_fault+0x0/0x1bb) pte=0x0 pgoff=0x0")
KRETPROBE = ("         refault-103     [002] d...     7.489252: mpmm_ret: "
             "(migrate_page+0x32/0x5b <- migrate_page_move_mapping) ret=-11")
TLB = ("         refault-105     [000] d.h.     7.487270: tlb_flush: pages:1 "
       "reason:remote shootdown (1)")

# Recorded: the "stacks" run on 5.10.223 (kprobes with stacktrace triggers,
# no kretprobe on the readers' path).
STACKS = open(os.path.join(DATA, "trace-base-stacks.txt")).read()
# A made-up frame list in the same format, for the frame filtering.
SYNTH = """\
         refault-91      [000] d.Z.     5.000200: lock_page: (__lock_page+0x0/0x34) page=0xffffea0000062400 ref=3
         refault-91      [000] d.Z.     5.000201: <stack trace>
 => kprobe_trace_func
 => asm_exc_int3
 => __lock_page
 => find_lock_entry
 => shmem_getpage_gfp.constprop.0
         refault-92      [001] d.Z.     5.000400: pawl: (put_and_wait_on_page_locked+0x0/0x37) page=0xffffea0000062400
         refault-92      [001] d.Z.     5.000401: <stack trace>
 => asm_exc_int3
 => put_and_wait_on_page_locked
 => do_swap_page
"""


def test_parse_line_kprobe_kretprobe_tlb_and_junk():
    e = trace.parse_line(KPROBE)
    assert (e.comm, e.pid, e.cpu, e.name) == ("refault", 105, 0, "shmem_fault")
    assert e.ts == 7.488439 and e.args == {"pte": 0, "pgoff": 0}
    r = trace.parse_line(KRETPROBE)
    assert r.name == "mpmm_ret" and r.args["ret"] == -11 and r.caller == "migrate_page"
    t = trace.parse_line(TLB)
    assert t.name == "tlb_flush" and t.args["reason"] == trace.TLB_REMOTE_SHOOTDOWN
    s = trace.parse_line("         refault-91      [000] d.Z.     5.000201: <stack trace>")
    assert s.name == "<stack trace>"
    assert trace.parse_line("#           TASK-PID     CPU#  ||||   TIMESTAMP  FUNCTION") is None
    assert trace.parse_line(" => __lock_page") is None
    m = trace.parse_line("           trace-83      [003] ....     7.441931: tracing_mark_write: "
                         "TRACE: MARK start full")
    assert (m.comm, m.name) == ("trace", "tracing_mark_write")


def test_stack_frames_attach_to_their_event_without_the_kprobe_frames():
    ev = trace.parse(SYNTH)
    assert ev[0].stack == ["__lock_page", "find_lock_entry", "shmem_getpage_gfp.constprop.0"]
    assert ev[1].stack == ["put_and_wait_on_page_locked", "do_swap_page"]
    assert len(ev) == 2
    lock = [e for e in trace.parse(STACKS) if e.name == "lock_page"][0]
    assert lock.stack == ["__lock_page", "find_lock_entry", "shmem_getpage_gfp.constprop.0",
                          "shmem_fault", "__do_fault", "handle_mm_fault", "do_user_addr_fault",
                          "exc_page_fault", "asm_exc_page_fault"]


def test_stacks_of_sleepers_before_a_failed_check():
    every, at_failure = trace.stacks(trace.parse(STACKS))
    assert list(at_failure.values()) == [1]
    st = list(at_failure)[0]
    assert st[:4] == ("__lock_page", "find_lock_entry", "shmem_getpage_gfp.constprop.0",
                      "shmem_fault")
    assert sum(every["lock_page"].values()) == 1
    # the excerpt ends before the stack of the fourth wait
    assert every["pawl"] == {("put_and_wait_on_page_locked", "do_swap_page", "handle_mm_fault",
                              "do_user_addr_fault", "exc_page_fault", "asm_exc_page_fault"): 3,
                             (): 1}


def console_with(blocks, truncate=None):
    lines = ["[    1.0] booting", "MIGBP: BEGIN trace", "TRACE: kernel 5.10.223 secs=3 T=3",
             "TRACE: control BENCH,refault,shared-r,3,1,3.00,246,75,171,695121,75,171,0,0,900,"]
    for name, text in blocks:
        b64 = base64.b64encode(gzip.compress(text.encode())).decode()
        lines.append(f"TRACE: BEGIN {name}.gz.b64")
        chunks = [b64[i:i + 76] for i in range(0, len(b64), 76)]
        if name == truncate:
            lines += chunks[:1]
            break
        lines += chunks[:1] + ["[    9.123456] a printk in the middle"] + chunks[1:]
        lines.append("TRACE: END")
    return "\n".join(lines + ["MIGBP: DONE"])


def test_extract_two_runs_and_the_notes():
    traces, notes = trace.extract(console_with([("full", FULL), ("stacks", STACKS)]))
    assert traces == {"full": FULL, "stacks": STACKS}
    assert notes[0] == "TRACE: kernel 5.10.223 secs=3 T=3"
    rows = trace.refault_rows(notes)
    assert rows["control"]["failed"] == 171 and rows["control"]["calls"] == 246


def test_extract_reports_a_truncated_trace():
    traces, notes = trace.extract(console_with([("full", FULL)], truncate="full"))
    assert traces == {}
    assert "TRACE: ERROR the full trace is truncated" in notes


def test_summary_of_a_recorded_base_round():
    """One successful and one failed move_pages() round recorded on 5.10.223."""
    s = trace.summarize(trace.parse(FULL))
    assert s["migrators"] == [103] and s["readers"] == [104, 105, 106]
    assert (s["checks"], s["succeeded"], s["failed"], s["failed_eagain"]) == (11, 1, 10, 10)
    assert s["mm_migrate_pages"] == (1, 1)
    assert s["ref_at_success"] == {2: 1} and s["ref_at_failure"] == {3: 9, 4: 1}
    assert s["failed_with_shmem_sleeper"] == 9 and s["failed_with_shmem_reader"] == 10
    assert s["failed_by_sleepers"] == 9 and s["failed_by_shmem"] == 10
    assert s["failed_states"]["lock_page"] == 10
    # every fault that found the pte none did so inside try_to_unmap_one() on its
    # mm, after the shootdown IPI, and went shmem_fault -> __lock_page
    assert s["mig_fault_kinds"] == {"migration-entry": 13, "none": 4, "present": 1}
    assert s["none_in_ttu"] == s["none_after_shootdown"] == s["none_pte_zero"] == 4
    assert s["none_lock_page"] == 4 and s["none_pte_nonzero"] == 0
    assert s["misc"]["reader __lock_page returned to find_lock_entry"] == 3


def test_first_failure_excerpt_and_report_text():
    ev = trace.parse(FULL)
    s = trace.summarize(ev)
    ex = trace.excerpt(ev, s["first_failure"], limit=10)
    assert "migrate:" in ex[0] and "ret=-11" in ex[-1] and ex[5].startswith("... ")
    text = trace.format_summary("base", s, {}, trace.stacks(trace.parse(STACKS)), ex)
    assert text.startswith("== base")
    assert "10 failed (10 -EAGAIN)" in text
    assert "__lock_page < find_lock_entry < shmem_getpage_gfp" in text


def test_trace_flavour_stacks_on_vm_config():
    paths = kconfig.fragments("trace", "5.10")   # the family make trace was built for
    assert [os.path.basename(p) for p in paths] == ["vm.config", "trace.config"]
    assert kconfig.parse(paths[1])["CONFIG_KPROBE_EVENTS"] == "y"
