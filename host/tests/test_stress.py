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
