import os

import pytest

from conftest import DATA
from migbp import moves
from migbp.util import HarnessError

LOG = os.path.join(DATA, "mainline-base-variants.log")


def test_aggregate_over_boots_adds_counts_and_keeps_first_failures():
    rows = moves.collect([LOG, LOG])
    agg = moves.aggregate(rows)
    a = agg[("migration-count", "migration.shared_anon_htlb")]
    assert (a["boots"], a["passed"], a["calls"], a["moved"], a["failed"]) == (2, 2, 1000, 482, 518)
    assert a["firsts"] == [3, 3]
    s = agg[("migration-strict", "migration.shared_anon_htlb")]
    assert (s["passed"], s["failed_runs"]) == (0, 2)
    r = agg[("refault", "refault.tmpfs-r.T1")]
    assert r["calls"] == 2144 and not r["hidden_known"]


def test_table_rows():
    text = moves.table(moves.aggregate(moves.collect([LOG])))
    lines = text.splitlines()
    assert lines[0].startswith("| binary | test | runs | pass | fail | skip |")
    assert ("| migration-count | migration.shared_anon_htlb | 1 | 1 | 0 | 0 | 500 | 241 | 259 | 0 "
            "| 518,000 | 3 |") in lines
    # refault counts every page left behind as failed: no ret>0 / ret 0 split
    assert "| refault | refault.shared-r.T1 | 1 | 1 | 0 | 0 | 1,181 | 1,181 | 0 (all) | - | 0 | - |" \
        in lines


def test_logs_spec(tmp_path):
    (tmp_path / "base-1.log").write_text("")
    (tmp_path / "base-2.log").write_text("")
    assert moves.paths_from(f"{tmp_path}/base-*.log") == [str(tmp_path / "base-1.log"),
                                                          str(tmp_path / "base-2.log")]
    with pytest.raises(HarnessError):
        moves.paths_from(f"{tmp_path}/nope-*.log")
    with pytest.raises(HarnessError):
        moves.paths_from(f"{tmp_path}/missing.log")
