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


def test_disk_full_during_a_command_says_so(tmp_path):
    log = str(tmp_path / "x.log")
    with pytest.raises(HarnessError) as e:
        util.run(["sh", "-c", "echo 'ld: final link failed: No space left on device'; exit 1"],
                 log=log, what="build of patched kernel")
    assert str(e.value).startswith("build of patched kernel failed: disk full (")
    assert "MiB free in" in str(e.value) and log in str(e.value)


def test_build_refuses_to_start_on_a_nearly_full_disk(tmp_path, monkeypatch):
    import collections
    from migbp import kbuild
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(util.shutil, "disk_usage", lambda p: usage(10 << 30, 10 << 30, 100 << 20))
    monkeypatch.setattr(kbuild, "cpu_lock", lambda: pytest.fail("must not build"))
    with pytest.raises(HarnessError) as e:
        kbuild.build("patched", src=str(tmp_path), out=str(tmp_path / "out"),
                     log=str(tmp_path / "b.log"))
    assert "disk nearly full: 100 MiB free" in str(e.value)


def test_disk_full_in_python_is_one_error_line(monkeypatch, capsys):
    import errno
    import mig

    def full(a):
        raise OSError(errno.ENOSPC, "No space left on device", "/work/build/logs/x.log")
    monkeypatch.setattr(mig, "cmd_unit", full)
    monkeypatch.setattr(mig.sys, "argv", ["mig.py", "unit"])
    assert mig.main(["unit"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: disk full: /work/build/logs/x.log (") and err.count("\n") == 1
