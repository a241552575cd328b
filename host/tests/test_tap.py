import os

from conftest import DATA
from migbp import tap
from migbp.results import summary
from migbp.run import guest_rows
from migbp.qemu import Boot

HARNESS = """TAP version 13
1..3
# Starting 3 tests from 1 test cases.
#  RUN           hmm.open_close ...
#            OK  hmm.open_close
ok 1 hmm.open_close
#  RUN           hmm.anon_write_hugetlbfs ...
#      SKIP      Huge page could not be allocated
#            OK  hmm.anon_write_hugetlbfs
ok 2 # SKIP Huge page could not be allocated
#  RUN           hmm.migrate ...
# hmm-tests.c:900:migrate:Expected ret (-1) == 0 (0)
#            FAIL  hmm.migrate
not ok 3 hmm.migrate
# FAILED: 1 / 3 tests passed.
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
""".splitlines()


def statuses(t):
    return [(x.name, x.status) for x in t.tests]


def test_plain_harness_output():
    t = tap.parse_tap(HARNESS)
    assert statuses(t) == [("hmm.open_close", "pass"),
                           ("hmm.anon_write_hugetlbfs", "skip"),
                           ("hmm.migrate", "fail")]
    assert t.tests[1].note == "Huge page could not be allocated"
    assert t.totals == {"pass": 1, "fail": 1, "xfail": 0, "xpass": 0, "skip": 1, "error": 0}


def test_nested_runner_output():
    nested = ["TAP version 13", "1..1", "# selftests: vm: hmm-tests"]
    nested += ["# " + l for l in HARNESS]
    nested += ["not ok 1 selftests: vm: hmm-tests # exit=1"]
    t = tap.parse_tap(nested)
    assert statuses(t) == [("hmm.open_close", "pass"),
                           ("hmm.anon_write_hugetlbfs", "skip"),
                           ("hmm.migrate", "fail")]
    assert t.totals["fail"] == 1


def test_nested_wrapper_failure_without_failing_subtest():
    lines = ["1..1", "# 1..1", "# ok 1 a.b", "not ok 1 selftests: vm: x # TIMEOUT 45 seconds"]
    t = tap.parse_tap(lines)
    assert statuses(t) == [("a.b", "pass"), ("selftests: vm: x", "fail")]


def test_xfail_xpass_and_skip_all():
    t = tap.parse_tap(["1..2", "ok 1 a # XFAIL known", "ok 2 b # XPASS"])
    assert statuses(t) == [("a", "pass"), ("b", "fail")]
    assert tap.parse_tap(["1..0 # SKIP no hmm"]).skip_all == "no hmm"


def test_crash_mid_run_counts_missing_tests_as_failed():
    text = "\n".join(["MIGBP: BEGIN hmm-tests"] + HARNESS[:7] +
                     ["[   12.0] Kernel panic - not syncing: Fatal exception"])
    runs = tap.split_runs(text)
    assert len(runs) == 1 and not runs[0].finished
    tests = tap.run_tests(runs[0])
    assert [x.status for x in tests] == ["pass", "fail", "fail", "fail"]
    assert "did not finish" in tests[-1].note


def test_exit_status_and_timeout_kill():
    r = tap.Run("migration", ["1..1", "ok 1 x"], rc=1)
    assert tap.run_tests(r)[-1].note == "exit status 1"
    r = tap.Run("migration", ["1..2", "ok 1 x"], rc=137)
    assert [t.status for t in tap.run_tests(r)] == ["pass", "fail", "fail"]


def test_kernel_lines_interleaved_are_ignored():
    t = tap.parse_tap(["1..1", "[    3.100000] random: crng init done", "ok 1 a"])
    assert statuses(t) == [("a", "pass")]


def test_recorded_base_log_gives_21_passed_1_skipped():
    text = open(os.path.join(DATA, "base-hmm-tests.log")).read()
    boot = Boot(log="x.log", accel="tcg", seconds=4.0, text=text)
    rows = guest_rows("base", boot)
    hmm = [r for r in rows if r.binary == "hmm-tests"]
    assert summary(hmm) == "21 passed, 0 failed, 1 skipped"
    assert hmm[0].seconds == 1.6
