import pytest

from migbp import prefix
from migbp.util import HarnessError


def test_choose_prefixes():
    assert prefix.choose(3) == [0, 1, 2, 3]
    assert prefix.choose(9, "0,3-5,9") == [0, 3, 4, 5, 9]
    with pytest.raises(HarnessError, match="has 3 patches"):
        prefix.choose(3, "0,4")
    with pytest.raises(HarnessError, match="numbers"):
        prefix.choose(3, "base")


def test_counters_take_each_tests_first_line():
    lines = ["# shared_anon_1page: 120 rounds, 40 pages moved, 80 failed to move (66.6%)",
             "# shared_anon_1page: 0 status entries unwritten, 0 errors (errno 0)",
             "# file_shared: 10 rounds, 10 pages moved, 0 failed to move (0.0%)",
             "# file_shared: 99 rounds, 1 pages moved, 1 failed to move (0.0%)"]
    assert prefix.counters(lines) == {"shared_anon_1page": (40, 80), "file_shared": (10, 0)}


def test_table_counts_boots_and_moves():
    results = {0: [[("a", "pass", 10, 5), ("b", "fail", 0, 0)],
                   [("a", "pass", 20, 0), ("b", "pass", 0, 0)]],
               1: [[("a", "fail", 0, 30), ("b", "pass", 0, 0)]]}
    md = prefix.table(results, [0, 1], {0: "base", 1: "+ x"})
    assert "- p0: base" in md and "- p1: + x" in md
    row_a = [l for l in md.splitlines() if l.startswith("| a ")][0]
    assert "2/2, 5/35 failed" in row_a and "0/1, 30/30 failed" in row_a
    row_b = [l for l in md.splitlines() if l.startswith("| b ")][0]
    assert "1/2" in row_b and "1/1" in row_b


def test_splice_doc_keeps_the_text_around_the_block():
    doc = prefix.splice_doc(None, "table 1\n")
    assert doc.startswith("# The series one patch at a time") and "table 1" in doc
    edited = doc.replace(prefix.END + "\n", prefix.END + "\n\nNotes by hand.\n")
    again = prefix.splice_doc(edited, "table 2\n")
    assert "table 2" in again and "table 1" not in again and "Notes by hand." in again
