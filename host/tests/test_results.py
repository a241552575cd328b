from migbp.results import Result, matrix, summary, table


def rows():
    return [Result("base", "hmm-tests", "hmm.migrate", "pass", 1.5),
            Result("patched", "hmm-tests", "hmm.migrate", "fail", note="boom"),
            Result("base", "hmm-tests", "hmm.open_close", "skip"),
            Result("patched", "hmm-tests", "hmm.open_close", "skip")]


def test_summary_line_format():
    assert summary(rows()) == "1 passed, 1 failed, 2 skipped"
    assert summary([]) == "0 passed, 0 failed, 0 skipped"


def test_table_has_every_row():
    out = table(rows()).splitlines()
    assert out[0].split() == ["kernel", "binary", "test", "result", "secs", "note"]
    assert len(out) == 2 + 4
    assert "FAIL" in out[3] and "boom" in out[3]


def test_matrix_marks_differences():
    out = matrix(rows(), ["base", "patched"]).splitlines()
    assert "differs" in out[2] and "ok" in out[2] and "FAIL" in out[2]
    assert "differs" not in out[3]
