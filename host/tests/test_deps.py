import pytest

from migbp import deps, util
from migbp.util import HarnessError


def test_missing_tool_is_named_when_not_installing():
    with pytest.raises(HarnessError) as e:
        deps.ensure([("surely-not-a-command-xyz", "xyz-pkg")], install=False)
    assert "surely-not-a-command-xyz (xyz-pkg)" in str(e.value)


def test_run_of_missing_command_is_a_harness_error():
    with pytest.raises(HarnessError) as e:
        util.run(["surely-not-a-command-xyz"])
    assert "missing tool: surely-not-a-command-xyz" in str(e.value)


def test_failed_command_names_last_error_and_log(tmp_path):
    log = str(tmp_path / "x.log")
    with pytest.raises(HarnessError) as e:
        util.run(["sh", "-c", "echo working; echo 'fatal error: foo.h missing'; exit 3"],
                 log=log, what="build")
    assert "build failed (exit 3): fatal error: foo.h missing" in str(e.value)
    assert log in str(e.value)


def test_error_line_and_exit_code(capsys):
    assert util.die(HarnessError("boom", log="/l")) == 1
    assert capsys.readouterr().err == "error: boom (log: /l)\n"


def test_cpu_lock_is_reentrant(tmp_path):
    path = str(tmp_path / "cpu.lock")
    with util.cpu_lock(path):
        with util.cpu_lock(path):       # would block forever if not re-entrant
            pass
        assert util._held[path] == 1
    assert util._held[path] == 0
