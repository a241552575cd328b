import os

from conftest import DATA
from migbp import stress


def host_run():
    return open(os.path.join(DATA, "stress-ng-host-metrics.txt")).read()


def test_metrics_and_dispatch_of_a_recorded_run():
    d = stress.parse_console(host_run())
    assert d["dispatched"] == ["vm", "mremap", "userfaultfd", "memhotplug", "numa"]
    assert d["metrics"]["vm"] == (13812, 3.54, 0.62, 0.26)
    assert d["metrics"]["numa"][0] == 7
    assert "miscellaneous" not in d["metrics"] and "stressor" not in d["metrics"]
    for s in d["dispatched"]:
        assert stress.stressor_status(s, d)[0] == "pass"


def guest_log(extra=""):
    # a stress-ng run inside the guest console: printks interleave
    return ("MIGBP: BEGIN stress\nSTRESS,info,5.10.262 secs=60\n" + host_run()
            + extra + "STRESS,vmstat,pgmigrate_success,1234\n"
            "[   70.100000] Memory failure: 0x12345: recovery action for dirty LRU page: Recovered\n"
            "STRESS,vmstat,thp_migration_fail,0\nSTRESS,rc,0\nSTRESS,end,61.2\n"
            "MIGBP: END stress rc=0 secs=61.5\nMIGBP: DONE\n")


def test_clean_guest_run_passes_every_row():
    v, rows = stress.verdict("patched", guest_log(), ["vm", "numa", "memhotplug"], seconds=80)
    assert all(r.status == "pass" for r in rows), [(r.test, r.note) for r in rows]
    assert v["vmstat"] == {"pgmigrate_success": 1234, "thp_migration_fail": 0}
    assert v["rc"] == 0 and v["finished"] and v["splats"] == 0


def test_fail_skip_untrusted_missing_and_splat():
    extra = ("stress-ng: fail:  [301] vm: detected 12 bit errors while stressing memory\n"
             "stress-ng: info:  [302] userfaultfd stressor will be skipped, "
             "userfaultfd() system call not supported\n"
             "stress-ng: warn:  [303] mremap: WARNING: bogo-ops counter in non-ready state, "
             "metrics are untrustworthy (process may have been terminated prematurely)\n"
             "[   65.000001] BUG: KASAN: use-after-free in migrate_page_move_mapping+0x1/0x2\n")
    text = guest_log(extra).replace("stress-ng: metrc: [17413] userfaultfd      132778",
                                    "stress-ng: metrc: [17413] userfaultfd           0")
    v, rows = stress.verdict("base", text, ["vm", "userfaultfd", "mremap", "pagemove", "numa"])
    st = {r.test: (r.status, r.note) for r in rows}
    assert st["vm"][0] == "fail" and "12 bit errors" in st["vm"][1]
    assert st["userfaultfd"][0] == "skip" and "skipped" in st["userfaultfd"][1]
    assert st["mremap"][0] == "fail" and "untrustworthy" in st["mremap"][1]
    assert st["pagemove"] == ("fail", "no metrics line (did not run, or stress-ng did not finish)")
    assert st["numa"][0] == "pass"
    assert st["kernel splats = 0"][0] == "fail" and v["splats"] == 1


def test_crashed_guest_and_bad_exit_status():
    text = "MIGBP: BEGIN stress\n" + host_run() + "STRESS,rc,2\n"
    v, rows = stress.verdict("base", text, ["vm"], timed_out=True)
    st = {r.test: (r.status, r.note) for r in rows}
    assert st["ran to the end"] == ("fail", "guest timed out")
    assert st["stress-ng exit status 0"] == ("fail", "exit 2")


def test_args_and_doc_markers():
    args = stress.stress_args([("vm", ["--vm-bytes", "64M"]), ("numa", [])])
    assert args == "--vm 1 --vm-bytes 64M --numa 1"
    old = "# Soak\n<!-- soak:begin x -->\nS\n<!-- soak:end -->\n\n## How to read it\n"
    new = stress.splice_doc(old, "T1")
    assert new.startswith(old) and stress.BEGIN in new and "T1" in new
    again = stress.splice_doc(new, "T2")
    assert "T2" in again and "T1" not in again and again.count(stress.BEGIN) == 1
    assert "<!-- soak:begin x -->\nS\n<!-- soak:end -->" in again     # soak's block untouched


def test_halfway_snapshot_names_where_a_failed_stressor_sleeps():
    extra = ("STRESS,task,210,stress-ng-mmap,S,do_wait,3\n"
             "STRESS,task,211,stress-ng-mmap,D,io_schedule,30\n"
             "STRESS,stack,211,[<0>] io_schedule+0x12/0x40\n"
             "STRESS,stack,211,[<0>] __lock_page+0x1/0x2\n"
             "STRESS,task,212,stress-ng-vm,R,0,5000\n"
             "STRESS,task,213,stress-ng-memho,D,offline_pages,12\n")
    text = guest_log(extra).replace("stress-ng: metrc: [17413] vm                13812",
                                    "stress-ng: metrc: [17413] vm                    0")
    v, _ = stress.verdict("base", text, ["vm", "mmap"])
    got = {p: (c, st, w, cpu, fr) for p, c, st, w, cpu, fr in v["stuck"]}
    # mmap failed (no metrics), vm failed (0 ops): their processes; memhotplug only for D
    assert got["211"] == ("stress-ng-mmap", "D", "io_schedule", 0.3,
                          ["io_schedule+0x12/0x40", "__lock_page+0x1/0x2"])
    assert got["210"][1] == "S" and got["212"][3] == 50.0 and got["213"][1] == "D"
    text = stress.report([v], dict(date="d", cmd="c", stamp="s", stress_ng="0.15", duration=60,
                                   args="a", accel="tcg", qemu="q", boot_secs=[("base", 70)],
                                   kconfig="debug", series=[], stressors=["vm", "mmap"]))
    assert "halfway: pid 211 `stress-ng-mmap` state D, wchan `io_schedule`, 0.30 s cpu; " \
           "stack `io_schedule+0x12/0x40 < __lock_page+0x1/0x2`" in text


def test_stressors_selects_a_subset_of_the_mix():
    assert stress.select("") == stress.MIX
    assert [s for s, _ in stress.select("mmap, vm")] == ["vm", "mmap"]     # MIX order
    try:
        stress.select("mmap,nosuch")
    except stress.HarnessError as e:
        assert "nosuch" in str(e) and "mmap" in str(e)
    else:
        raise AssertionError("unknown stressor accepted")


def test_a_guest_set_up_error_fails_the_run():
    text = guest_log("STRESS,error,no ext2 on /dev/ram0 mounted on /mnt/ext2 (x): temp files\n")
    _, rows = stress.verdict("base", text, ["vm"])
    st = {r.test: (r.status, r.note) for r in rows}
    assert st["guest set up"][0] == "fail" and "no ext2" in st["guest set up"][1]
    _, rows = stress.verdict("base", guest_log(), ["vm"])
    assert {r.test: r.status for r in rows}["guest set up"] == "pass"
