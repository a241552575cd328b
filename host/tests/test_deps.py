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


def harness_commands():
    """The programs host/ runs: the first word of every argv list literal passed
    to run(), subprocess.run/Popen/check_output, or a `cmd = [...]` list."""
    import ast
    import glob
    import os
    found = {}
    here = os.path.dirname(os.path.abspath(__file__))
    files = glob.glob(os.path.join(here, "..", "migbp", "*.py")) + [os.path.join(here, "..", "mig.py")]
    for path in files:
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            lists = []
            if isinstance(node, ast.Call) and node.args:
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("run", "Popen", "check_output", "call"):
                    lists.append(node.args[0])
            for lst in lists:
                if isinstance(lst, ast.BinOp):      # ["make", ...] + args
                    lst = lst.left
                if isinstance(lst, ast.List) and lst.elts and isinstance(lst.elts[0], ast.Constant) \
                        and isinstance(lst.elts[0].value, str):
                    found.setdefault(lst.elts[0].value, os.path.basename(path))
    return found


def test_every_program_the_harness_runs_is_installed_by_make_deps():
    have = deps.commands() | deps.PREREQUISITES
    cmds = harness_commands()
    assert {"git", "make", "gcc", "quilt", "tar", "qemu-system-x86_64"} <= set(cmds)  # the scan works
    missing = {c: where for c, where in cmds.items() if c not in have}
    assert not missing, f"programs run by the harness but not in deps.NEEDS: {missing}"


def test_every_tool_the_kernel_build_runs_is_installed_by_make_deps():
    have = deps.commands() | deps.PREREQUISITES
    assert not [t for t in deps.KERNEL_TOOLS if t not in have]


def test_cross_compiler_and_qemu_are_in_needs():
    have = deps.commands()
    assert "powerpc64le-linux-gnu-gcc" in have and "qemu-system-x86_64" in have


def test_first_error_prefers_the_cause_over_make_recursion():
    out = ("  INSTALL ./usr/include\n/bin/sh: 1: rsync: not found\n"
           "make[2]: *** [Makefile:1263: headers_install] Error 127\n"
           "make[1]: *** [Makefile:192: __sub-make] Error 2\n")
    assert util.first_error(out) == "/bin/sh: 1: rsync: not found"
    assert util.first_error("tar: xz: Cannot exec: No such file or directory\n"
                            "tar: Error is not recoverable: exiting now\n") == \
        "tar: xz: Cannot exec: No such file or directory"
    assert util.first_error("a\nb\n") == "b"


def test_every_command_keeps_its_output_in_a_log(tmp_path, monkeypatch):
    import os
    monkeypatch.setattr(util, "LOGS", str(tmp_path))
    with pytest.raises(HarnessError) as e:
        util.run(["sh", "-c", "echo the-cause; exit 2"], what="make headers_install")
    log = e.value.log
    assert log and log.startswith(str(tmp_path)) and "the-cause" in open(log).read()
    assert os.path.basename(log).startswith("harness-")


def test_needs_never_asks_for_gcc_multilib():
    # Debian's gcc-multilib conflicts with gcc-powerpc64le-linux-gnu: apt would
    # remove the cross compiler of `make check` to install it (seen 2026-11-30).
    pkgs = {p for _, p in deps.NEEDS}
    assert "gcc-powerpc64le-linux-gnu" in pkgs and "gcc-multilib" not in pkgs
    assert {"libc6-dev-i386", "lib32gcc-12-dev", "libcap-dev", "stress-ng"} <= pkgs
