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


STRICT = """TAP version 13
1..2
# Starting 2 tests from 1 test cases.
#  RUN           migration.private_anon ...
# migbp-moves: calls=9120 moved=9120 failed=0 hidden=0 errors=0 first_failure=0
#            OK  migration.private_anon
ok 1 migration.private_anon
#  RUN           migration.shared_anon ...
Didn't migrate 1 pages
# migbp-moves: calls=412 moved=411 failed=1 hidden=0 errors=0 first_failure=412
# migration.c:199:shared_anon:Expected err (-2) == 0 (0)
# shared_anon: Test terminated by assertion
#          FAIL  migration.shared_anon
not ok 2 migration.shared_anon
# FAILED: 1 / 2 tests passed.
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0
""".splitlines()


def test_move_counts_go_to_their_test():
    c = tap.move_counts(STRICT)
    assert c["migration.private_anon"]["calls"] == 9120
    assert c["migration.shared_anon"] == {"calls": 412, "moved": 411, "failed": 1,
                                          "hidden": 0, "errors": 0, "first_failure": 412}
    r = tap.Run("migration-strict", STRICT + ["[   12.5] random kernel line"], rc=1)
    tests = tap.run_tests(r)
    assert [(t.name, t.status) for t in tests] == [("migration.private_anon", "pass"),
                                                   ("migration.shared_anon", "fail")]
    assert tests[0].note == "9120/9120 moved, 0 failed, 0 hidden"
    assert tests[1].note == ("411/412 moved, 1 failed, 0 hidden, first at call 412; "
                             "migration.c:199:shared_anon:Expected err (-2) == 0 (0)")


def test_move_counts_ignore_lines_without_a_test():
    assert tap.move_counts(["# migbp-moves: calls=1 moved=1"]) == {}
    assert tap.format_moves({"calls": 3, "moved": 1, "hidden": 1, "errors": 1,
                             "first_failure": 2}) == \
        "1/3 moved, 0 failed, 1 hidden, 1 errors, first at call 2"


def test_recorded_mainline_variants_and_refault():
    """7.2.8 base, TESTS=migration-strict,migration-count,refault (one real boot)."""
    text = open(os.path.join(DATA, "mainline-base-variants.log"), errors="replace").read()
    b = Boot(log="x", accel="tcg", text=text)
    rows = guest_rows("base", b)
    assert summary(rows) == "16 passed, 1 failed, 0 skipped"
    by = {(r.binary, r.test): r for r in rows}
    strict = by[("migration-strict", "migration.shared_anon_htlb")]
    assert strict.status == "fail"
    assert strict.note == ("0/1 moved, 1 failed, 0 hidden, first at call 1; "
                           "migration-strict.c:360:shared_anon_htlb:Expected err (-2) == 0 (0)")
    assert by[("migration-count", "migration.shared_anon_htlb")].note == \
        "241/500 moved, 259 failed, 0 hidden, first at call 3"
    assert by[("refault", "refault.shared-r.T3")].status == "pass"
    assert by[("refault", "refault.shared-r.T3")].note == "182/182 moved, 0 failed"
    assert [r.test for r in rows if r.binary == "refault"] == [
        "refault.shared-r.T1", "refault.shared-r.T3", "refault.tmpfs-r.T1", "refault.tmpfs-r.T3"]


def test_refault_driver_failure_and_no_result():
    lines = ["1..2", "#  RUN           refault.shared-r.T1 ...",
             "# BENCH,refault,shared-r,1,1,2.00,10,7,3,300000,7,3,0,0,9,bad=0",
             "# migbp-moves: calls=10 moved=7 failed=3",
             "not ok 1 refault.shared-r.T1",
             "#  RUN           refault.shared-r.T3 ...",
             "# BENCH,error,mmap: Cannot allocate memory",
             "not ok 2 refault.shared-r.T3 # exit 1, no result"]
    tests = tap.run_tests(tap.Run("refault", lines, rc=0))
    assert [(t.name, t.status, t.note) for t in tests] == [
        ("refault.shared-r.T1", "fail", "7/10 moved, 3 failed"),
        ("refault.shared-r.T3", "fail", "exit 1, no result")]
def test_failed_row_note_is_the_first_failed_assertion():
    """Recorded: vm/migration on v5.10.262 (the two tests the series fixes
    fail), build/logs/base-20261130-155612.log of the selftest branch."""
    text = open(os.path.join(DATA, "base-migration.log")).read()
    rows = guest_rows("base", Boot(log="x.log", accel="tcg", seconds=40.0, text=text))
    bad = {r.test: r.note for r in rows if r.status == "fail"}
    assert bad == {
        "global.device_migration_keeps_dirty":
            "migration.c:1149:device_migration_keeps_dirty:"
            "Expected written_pages_lost (32) == 0 (0)",
        "migration.move_pages_status":
            "migration.c:1026:move_pages_status:Expected contract_broken (6) == 0 (0)",
    }
    assert all(not r.note for r in rows if r.status == "pass" and r.binary == "migration")


def test_failed_row_note_timeout_then_last_own_diagnostic():
    timeout = ["1..2", "#  RUN           m.slow ...", "# slow: 3 rounds",
               "# slow: Test terminated by timeout", "#          FAIL  m.slow", "not ok 1 m.slow",
               "#  RUN           m.quiet ...", "# quiet: 5 of 9 pages lost",
               "# quiet: Test failed at step #1", "#          FAIL  m.quiet",
               "not ok 2 m.quiet"]
    t = tap.parse_tap(timeout)
    assert [x.note for x in t.tests] == ["slow: Test terminated by timeout",
                                         "quiet: 5 of 9 pages lost"]
    # the same one level down, as the kselftest runner nests it
    nested = ["1..1"] + ["# " + l for l in timeout] + ["not ok 1 selftests: vm: m # exit=1"]
    assert [x.note for x in tap.parse_tap(nested).tests] == [x.note for x in t.tests]


def test_sysctls_a_test_leaves_changed_fail_the_run():
    text = "\n".join(["MIGBP: BEGIN migration",
                      "MIGBP: SYSCTL compaction_proactiveness=20 nr_hugepages=16",
                      "1..1", "ok 1 m.a",
                      "MIGBP: SYSCTL compaction_proactiveness=0 nr_hugepages=16",
                      "MIGBP: END migration rc=0 secs=1.0",
                      "MIGBP: BEGIN hmm-tests",
                      "MIGBP: SYSCTL nr_hugepages=16", "1..1", "ok 1 h.a",
                      "MIGBP: SYSCTL nr_hugepages=16",
                      "MIGBP: END hmm-tests rc=0 secs=1.0"])
    mig, hmm = tap.split_runs(text)
    assert [(t.name, t.status, t.note) for t in tap.run_tests(mig)] == [
        ("m.a", "pass", ""),
        ("migration sysctls restored", "fail", "compaction_proactiveness 20 -> 0")]
    assert [t.name for t in tap.run_tests(hmm)] == ["h.a"]
