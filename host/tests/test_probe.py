import pytest

from migbp import probe
from migbp.util import HarnessError


def test_script_runs_each_command_from_selftests():
    assert probe.script("streak shared 3 10; streak thp 7 20 ;") == \
        "#!/bin/sh\n/selftests/streak shared 3 10\n/selftests/streak thp 7 20\n"
    with pytest.raises(HarnessError, match="PROBE= is empty"):
        probe.script(" ; ")


def test_probe_lines_survive_printk_glued_in_front():
    text = ("[   3.1] random: crng\nPROBE shared T=3 pages=1 secs=10 calls=5 moved=5 failed=0 "
            "maxstreak=0\n[   4.0] xPROBE   status 1: 3\nother\n")
    assert probe.probe_lines(text) == [
        "PROBE shared T=3 pages=1 secs=10 calls=5 moved=5 failed=0 maxstreak=0",
        "PROBE   status 1: 3"]


def test_scripts_are_packed_as_they_are(tmp_path, monkeypatch):
    """guest/probe/*.sh goes into the initramfs unchanged (no compiler run)."""
    (tmp_path / "htrace.sh").write_text("#!/bin/sh\necho PROBE x\n")
    (tmp_path / "notes.txt").write_text("not a program")
    monkeypatch.setattr(probe, "PROBE_SRC", str(tmp_path))
    assert probe.build_programs(log=None) == {"htrace.sh": str(tmp_path / "htrace.sh")}
