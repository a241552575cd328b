import pytest

from migbp import vmtests
from migbp.qemu import Boot, scan
from migbp.util import HarnessError


def boot(text):
    b = Boot(log="x.log", accel="tcg", seconds=1.0, text=text)
    b.problems = scan(text)
    return b


def console(*blocks, done=True):
    lines = ["MIGBP: START kernel 5.10.262 cpus 4", "MIGBP: BEGIN vmtests"]
    for name, out, rc in blocks:
        lines += [f"MIGBP: VMT BEGIN {name}"] + out
        if rc is not None:
            lines.append(f"MIGBP: VMT END {name} rc={rc} secs=1.5")
    if done:
        lines += ["MIGBP: VMT SUMMARY cases=%d" % len(blocks), "MIGBP: END vmtests rc=0 secs=9",
                  "MIGBP: DONE"]
    return "\n".join(lines)


CASES = [vmtests.Case("hugepage-mmap", "hugepage-mmap", flags=("huge",)),
         vmtests.Case("compaction_test", "compaction_test"),
         vmtests.Case("thuge-gen", "thuge-gen", skip_if=r"No GB pages available.*"),
         vmtests.Case("userfaultfd-anon", "userfaultfd anon 128 32"),
         vmtests.Case("mremap_dontunmap", "mremap_dontunmap"),
         vmtests.Case("protection_keys_32", "protection_keys_32")]


def rows_of(text, unbuilt=None):
    return {(r.binary, r.test): (r.status, r.note)
            for r in vmtests.rows_of_boot("base-vmtests", boot(text), CASES, unbuilt)}


def test_plain_tap_skip_and_silent_skip():
    text = console(
        ("hugepage-mmap", ["Returned address is 0x7f0000000000", "First hex is 0"], 0),
        ("compaction_test", ["TAP version 13", "1..1",
                             "# Number of huge pages allocated = 400",
                             "ok 1 Test compaction"], 0),
        ("thuge-gen", ["No GB pages available on x86-64", "Please boot with hugepagesz=1G"], 0),
        ("userfaultfd-anon", ["[  12.000001] random: crng init done",
                              "nr_pages: 32768, nr_pages_per_cpu: 8192",
                              "bounces: 31, mode: rnd racing ver poll, userfaults: 1234"], 0),
        ("mremap_dontunmap", ["mremap_dontunmap: MREMAP_DONTUNMAP not supported"], 4),
    )
    r = rows_of(text, {"protection_keys_32": "asm/errno.h: No such file or directory"})
    assert r[("boot", "boot (tcg)")][0] == "pass"
    assert r[("hugepage-mmap", "hugepage-mmap")] == ("pass", "no TAP output, exit 0")
    assert r[("compaction_test", "Test compaction")] == ("pass", "")
    assert r[("thuge-gen", "thuge-gen")] == ("skip", "No GB pages available on x86-64")
    assert r[("userfaultfd-anon", "userfaultfd-anon")][0] == "pass"
    assert r[("mremap_dontunmap", "mremap_dontunmap")] == ("skip", "exit 4 (KSFT_SKIP)")
    st, note = r[("protection_keys_32", "protection_keys_32")]
    assert st == "skip" and note.startswith("does not build here: asm/errno.h")


def test_failures_carry_the_last_line_and_missing_cases_fail():
    text = console(
        ("hugepage-mmap", ["mmap: Cannot allocate memory",
                           "[  33.000000] hugetlbfs: some kernel line"], 1),
        ("compaction_test", ["TAP version 13", "1..2", "ok 1 a"], None),
        done=False)
    r = rows_of(text)
    assert r[("boot", "boot (tcg)")][0] == "fail"
    assert r[("hugepage-mmap", "hugepage-mmap")] == \
        ("fail", "exit status 1: mmap: Cannot allocate memory")
    assert r[("compaction_test", "test #2")][0] == "fail"
    assert r[("compaction_test", "compaction_test")][0] == "fail"
    assert r[("thuge-gen", "thuge-gen")] == ("fail", "not run: the guest stopped before it")


def test_killed_at_timeout():
    text = console(("userfaultfd-anon", ["bounces: 31"], 137))
    assert rows_of(text)[("userfaultfd-anon", "userfaultfd-anon")][0] == "fail"


def test_case_table_and_selection():
    table = vmtests.case_table(vmtests.select("userfaultfd,thuge-gen"))
    lines = table.splitlines()
    assert lines[0] == "userfaultfd-anon\t1200\thuge\tuserfaultfd anon 128 32"
    assert lines[1].startswith("userfaultfd-hugetlb\t1200\thuge\tuserfaultfd hugetlb "
                               "$half_ufd_size_MB 32")
    assert lines[-1] == "thuge-gen\t300\tgb\tthuge-gen" and len(lines) == 4
    with pytest.raises(HarnessError):
        vmtests.select("nope")


def test_every_case_has_a_binary_and_every_binary_a_case():
    names = {b.name for b in vmtests.BINARIES}
    assert {c.binary for c in vmtests.CASES} == names
    assert len({c.name for c in vmtests.CASES}) == len(vmtests.CASES)


def test_report_names_regressions_and_doc_block_is_replaced():
    from migbp.results import Result
    rows = [Result("base-vmtests", "boot", "boot (tcg)", "pass", 100.0),
            Result("base-vmtests", "map_populate", "map_populate", "pass", 1.0),
            Result("base-vmtests", "thuge-gen", "thuge-gen", "skip", note="No GB pages"),
            Result("patched-vmtests", "boot", "boot (tcg)", "pass", 100.0),
            Result("patched-vmtests", "map_populate", "map_populate", "fail",
                   note="exit status 1: a|b"),
            Result("patched-vmtests", "thuge-gen", "thuge-gen", "skip", note="No GB pages")]
    meta = dict(date="d", cmd="make vmtests", logs=[], src="s", kconfig="vm", series=["x"],
                accel="tcg", qemu="q")
    text = vmtests.report(rows, ["base-vmtests", "patched-vmtests"], meta)
    assert "failed on another kernel: `map_populate` map_populate." in text
    assert "| `map_populate` |  | ok 1 s | **FAIL**: exit status 1: a\\|b |" in text
    assert "| `thuge-gen` |  | skip: No GB pages | skip: No GB pages |" in text
    doc = vmtests.splice_doc("# t\n\nreasons\n", "G1")
    doc = vmtests.splice_doc(doc + "\nmore\n", "G2")
    assert doc.count(vmtests.BEGIN) == 1 and "G2" in doc and "G1" not in doc
    assert doc.startswith("# t\n\nreasons\n") and doc.endswith("more\n")


def test_khugepaged_rewrite_drops_both_debug_cow_accesses():
    b = next(x for x in vmtests.BINARIES if x.name == "khugepaged")
    # the two accesses as 5.10.262's khugepaged.c spells them
    text = ("struct settings {\n\tbool debug_cow;\n};\n"
            "\twrite_num(\"debug_cow\", settings->debug_cow);\n"
            "\twrite_num(\"use_zero_page\", settings->use_zero_page);\n"
            "\t\t.debug_cow = read_num(\"debug_cow\"),\n"
            "\t\t.use_zero_page = read_num(\"use_zero_page\"),\n")
    out = vmtests.initramfs.rewrite(text, b.rewrites, "khugepaged.c")
    assert '"debug_cow"' not in out
    assert "use_zero_page" in out and "bool debug_cow;" in out
    with pytest.raises(HarnessError):        # upstream changed: say so, do not build the old test
        vmtests.initramfs.rewrite(out, b.rewrites, "khugepaged.c")
