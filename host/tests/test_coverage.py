import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile

import pytest

from conftest import DATA
from migbp import coverage
from migbp.util import HarnessError

OUT = "/work/x/build/out/patched-gcov"


def tgz(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, body in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tar.addfile(ti, io.BytesIO(body))
    return buf.getvalue()


def console(data, nfiles=2, md5=None, size=None, noise=True):
    """What guest/init prints: base64 in 76-column lines between markers."""
    b64 = base64.encodebytes(data).decode().splitlines()
    lines = ["[    3.100000] random: crng init done", "MIGBP: END migration rc=0 secs=30.1",
             f"MIGBP: GCOV BEGIN files={nfiles} bytes={size or len(data)} "
             f"md5={md5 or hashlib.md5(data).hexdigest()}"]
    for i, l in enumerate(b64):
        lines.append(l + "\r")                         # serial line endings
        if noise and i == 1:
            lines.append("[   40.000000] hmm_dmirror: a printk between two lines")
    return "\n".join(lines + ["MIGBP: GCOV END", "MIGBP: DONE", ""])


FILES = {f".{OUT}/mm/migrate.gcda": b"adcg" + bytes(3000),
         f".{OUT}/lib/test_hmm.gcda": b"adcg" + os.urandom(200)}


def test_extract_round_trip_skips_printk_lines():
    data = tgz(FILES)
    got, n = coverage.extract(console(data))
    assert got == data and n == 2


def test_extract_detects_a_corrupted_line():
    data = tgz(FILES)
    lines = console(data, noise=False).splitlines()
    lines[5] = ("B" if lines[5][0] != "B" else "C") + lines[5][1:]   # one flipped character
    with pytest.raises(HarnessError, match="corrupted"):
        coverage.extract("\n".join(lines))
    lines[5] = lines[5][:30] + "[   41.0] printk" + lines[5][30:]     # a printk inside a line
    with pytest.raises(HarnessError, match="corrupted"):
        coverage.extract("\n".join(lines))
    with pytest.raises(HarnessError, match="corrupted"):
        coverage.extract(console(data, md5="0" * 32))


def test_extract_needs_both_markers():
    with pytest.raises(HarnessError, match="no 'MIGBP: GCOV BEGIN'"):
        coverage.extract("MIGBP: DONE\n")
    text = console(tgz(FILES)).split("MIGBP: GCOV END")[0]
    with pytest.raises(HarnessError, match="cut short"):
        coverage.extract(text)


def test_unpack_puts_gcda_next_to_gcno_and_drops_stale_ones(tmp_path):
    out = str(tmp_path / "out")
    os.makedirs(out + "/mm")
    open(out + "/mm/stale.gcda", "wb").write(b"old")
    files = {f".{out}/mm/migrate.gcda": b"m", f"{out}/lib/test_hmm.gcda".lstrip("/"): b"t",
             "./other/tree/mm/filemap.gcda": b"x", f".{out}/mm/migrate.gcno": b"link"}
    got = coverage.unpack(tgz(files), out)
    assert sorted(os.path.relpath(p, out) for p in got) == ["lib/test_hmm.gcda", "mm/migrate.gcda"]
    assert open(out + "/mm/migrate.gcda", "rb").read() == b"m"
    assert not os.path.exists(out + "/mm/stale.gcda")


def test_hunks_of_the_recorded_series_diff():
    hs = coverage.hunks(open(os.path.join(DATA, "series-U0.diff")).read())
    by = {}
    for h in hs:
        by.setdefault(h.file, []).append(h)
    assert set(by) == {"include/linux/migrate.h", "include/linux/swapops.h", "lib/test_hmm.c",
                       "mm/filemap.c", "mm/hugetlb.c", "mm/migrate.c", "mm/shmem.c"}
    # @@ -1405,0 +1408,86 @@: migration_entry_wait_on_locked() and its comment
    big = [h for h in by["mm/filemap.c"] if h.start == 1408][0]
    assert big.lines == list(range(1408, 1494))
    assert big.context == "void put_and_wait_on_page_locked(struct page *page)"
    # @@ -5617 +5617 @@: one line changed
    assert [h.lines for h in by["mm/hugetlb.c"]] == [[5617]]
    # @@ -317 +324,0 @@: a pure deletion has no new lines
    assert [h for h in by["mm/migrate.c"] if h.start == 324][0].lines == []


def test_hunks_rejects_a_garbled_header():
    with pytest.raises(HarnessError, match="hunk header"):
        coverage.hunks("+++ b/mm/x.c\n@@ -1 +x @@\n")


def doc(cwd, files, functions=()):
    return {"current_working_directory": cwd, "files": [
        {"file": name, "lines": [{"line_number": n, "count": c, "function_name": fn}
                                 for n, c, fn in lines],
         "functions": [{"name": fn, "demangled_name": fn, "start_line": b, "end_line": e}
                       for b, e, fn in functions]} for name, lines in files.items()]}


def test_line_counts_resolves_paths_and_sums_headers():
    src = "/work/x/build/linux"
    docs = [doc(OUT, {f"{src}/mm/migrate.c": [(10, 3, "f"), (11, 0, "f")],
                      "../../linux/include/linux/swapops.h": [(5, 1, "g")],
                      "./include/generated/x.h": [(1, 1, "h")]}),
            doc(OUT, {f"{src}/include/linux/swapops.h": [(5, 2, "g"), (6, 0, "g")]})]
    c = coverage.line_counts(docs, src)
    assert c == {"mm/migrate.c": {10: [3, "f"], 11: [0, "f"]},
                 "include/linux/swapops.h": {5: [3, "g"], 6: [0, "g"]}}


def test_rows_and_report():
    hs = [coverage.Hunk("mm/a.c", 10, [10, 11, 12, 13], "int f(void)"),
          coverage.Hunk("mm/a.c", 30, [30], "int g(void)"),           # comment only
          coverage.Hunk("mm/a.c", 40, [], "int g(void)"),             # deletion
          coverage.Hunk("mm/b.c", 5, [5, 6], "static void h(void)"),
          coverage.Hunk("include/x.h", 1, [1], "")]
    counts = {"mm/a.c": {10: [1, "f"], 11: [0, "f"], 12: [0, "f"], 13: [4, "f2"]},
              "mm/b.c": {5: [7, None], 6: [2, None]}}
    rows, unprofiled = coverage.rows_of(hs, counts)
    assert unprofiled == ["include/x.h"]
    assert [(r.hunk.start, r.functions, r.lines, r.missed) for r in rows] == [
        (10, ["f", "f2"], [10, 11, 12, 13], [11, 12]),
        (5, ["static void h(void)"], [5, 6], [])]
    coverage.REASONS[("mm/a.c", "f", "y = 2;")] = "an error path"
    try:
        text, ran, total = coverage.report(rows, unprofiled, lambda f, n: {11: "\tx = 1;",
                                                                           12: "  y = 2;"}[n])
    finally:
        del coverage.REASONS[("mm/a.c", "f", "y = 2;")]
    assert (ran, total) == (4, 6)
    assert "**Overall: 4 of 6 changed executable lines ran (66.7%; goal 90%).**" in text
    assert "| mm/a.c | 1 | 4 | 2 | 50.0 |" in text
    assert "| +10,4 | `f`, `f2` | 4 | 2 | 11-12 |" in text
    assert "| mm/a.c:11 | `f` | `x = 1;` | not explained yet |" in text
    assert "| mm/a.c:12 | `f` | `y = 2;` | an error path |" in text
    assert "no gcov data): include/x.h." in text


def test_line_counts_names_the_function_that_holds_the_line():
    # gcov names the callee for a line of __migration_entry_wait() (inlined early)
    src = "/s"
    d = doc("/s", {"/s/mm/migrate.c": [(320, 1, "wait_pte"), (344, 1, "wait_pte"),
                                       (346, 1, "wait_pte"), (400, 1, "other")]},
            functions=[(320, 340, "wait_pte"), (344, 347, "__migration_entry_wait"),
                       (300, 390, "outer")])
    c = coverage.line_counts([d], src)["mm/migrate.c"]
    assert [c[n][1] for n in (320, 344, 346, 400)] == [
        "wait_pte", "__migration_entry_wait", "__migration_entry_wait", "other"]


def test_ranges():
    assert coverage.ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert coverage.ranges([]) == ""


def test_splice_doc_keeps_the_hand_written_rest():
    old = f"# T\nintro\n{coverage.BEGIN}\nold table\n{coverage.END}\nnotes\n"
    new = coverage.splice_doc(old, "new table\n")
    assert new == f"# T\nintro\n{coverage.BEGIN}\nnew table\n{coverage.END}\nnotes\n"
    assert coverage.BEGIN in coverage.splice_doc("", "x")


def test_make_args_profile_an_object_only_in_its_directory(tmp_path):
    args = coverage.make_args(["mm/memory.o", "lib/test_hmm.o", "x/memory.o"])
    assert args == ["GCOV_PROFILE_memory.o=$(if $(filter mm x,$(obj)),y)",
                    "CFLAGS_memory.o=$(if $(filter mm x,$(obj)),-fno-early-inlining)",
                    "GCOV_PROFILE_test_hmm.o=$(if $(filter lib,$(obj)),y)",
                    "CFLAGS_test_hmm.o=$(if $(filter lib,$(obj)),-fno-early-inlining)"]
    # as kbuild uses them: a sub-make per directory, obj=<dir> on its command line
    (tmp_path / "Makefile").write_text("all:\n" + "".join(
        f"\t@$(MAKE) -s -f sub.mk obj={d}\n" for d in ("mm", "arch/x86/boot", "lib")))
    (tmp_path / "sub.mk").write_text(
        'all:\n\t@echo "$(obj):$(GCOV_PROFILE_memory.o):$(GCOV_PROFILE_test_hmm.o)"\n')
    out = subprocess.run(["make", "-s", "--no-print-directory"] + args, cwd=tmp_path,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    assert out.split() == ["mm:y:", "arch/x86/boot::", "lib::y"]


@pytest.mark.skipif(not shutil.which("gcov"), reason="no gcov")
def test_run_gcov_on_a_real_object(tmp_path):
    """Same gcc + gcov pipeline as the kernel's, on a two-function program."""
    src = tmp_path / "src"
    out = tmp_path / "out"
    (src / "mm").mkdir(parents=True)
    (out / "mm").mkdir(parents=True)
    (src / "mm" / "t.c").write_text("int f(int x)\n{\n\tif (x > 100)\n\t\treturn -1;\n"
                                    "\treturn x;\n}\nint main(int c, char **v)\n{\n"
                                    "\treturn f(c) - 1;\n}\n")
    subprocess.run(["gcc", "-O2", "-fno-inline", "-fprofile-arcs", "-ftest-coverage",
                    "-o", str(out / "mm" / "t"), str(src / "mm" / "t.c")],
                   cwd=out, check=True)
    subprocess.run([str(out / "mm" / "t")], cwd=out, check=True)
    gcda = [n for n in os.listdir(out / "mm") if n.endswith(".gcda")][0]
    os.rename(out / "mm" / gcda, out / "mm" / "t.gcda")
    for n in os.listdir(out / "mm"):
        if n.endswith(".gcno"):
            os.rename(out / "mm" / n, out / "mm" / "t.gcno")
    c = coverage.line_counts([coverage.run_gcov(str(out), "mm/t.o")], str(src))
    lines = c["mm/t.c"]
    assert lines[3][0] == 1 and lines[4][0] == 0 and lines[9][0] == 1
    assert lines[4][1] == "f" and lines[9][1] == "main"


def test_recorded_boot_is_read_back_for_a_new_report(tmp_path):
    log = tmp_path / "patched-gcov.log"
    log.write_text("MIGBP: BEGIN coverage-extra\nTAP version 13\n1..1\nok 1 batch_flush\n"
                   "MIGBP: END coverage-extra rc=0 secs=3.2\n" + console(tgz(FILES)))
    b = coverage.recorded_boot(str(log))
    assert b.ok and coverage.extract(b.text)[1] == 2
