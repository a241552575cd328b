import os

from migbp import checks


def test_enabled_objects_follow_the_makefile_gates(tmp_path):
    (tmp_path / "mm").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "mm" / "Makefile").write_text(
        "obj-y := filemap.o mempool.o \\\n\t   shmem.o\n"
        "obj-$(CONFIG_MIGRATION) += migrate.o\nobj-$(CONFIG_DEVICE_PRIVATE) += hmm.o\n")
    (tmp_path / "lib" / "Makefile").write_text("obj-$(CONFIG_TEST_HMM) += test_hmm.o\n")
    cfg = tmp_path / ".config"
    cfg.write_text("CONFIG_MIGRATION=y\n# CONFIG_TEST_HMM is not set\n")
    files = ["mm/filemap.c", "mm/shmem.c", "mm/migrate.c", "mm/hmm.c", "lib/test_hmm.c",
             "include/linux/migrate.h", "tools/testing/selftests/vm/migration.c",
             "arch/powerpc/kvm/book3s_hv_uvmem.c"]
    objs, skipped = checks.enabled_objects(str(tmp_path), files, str(cfg))
    assert objs == ["mm/filemap.o", "mm/shmem.o", "mm/migrate.o"]
    assert skipped == ["mm/hmm.c (CONFIG_DEVICE_PRIVATE off)", "lib/test_hmm.c (CONFIG_TEST_HMM off)"]


def test_debian_rows_skip_without_a_pinned_debian_source(monkeypatch):
    from migbp import bases
    monkeypatch.setattr(checks, "BASE", bases.Base("x", "x-1", "debian", "sid", "x", "0" * 64,
                                                   1, "5.10", "patches", ""))
    monkeypatch.setattr(checks.tree, "read_series", lambda p: ["a.patch"])
    assert checks.debian_quilt().status == "skip"
    assert checks.debian_config_build().status == "skip"


STABLE_OUT = """ERROR:GIT_COMMIT_ID: Please use git commit description style 'commit <12+ chars of sha1> ("<title line>")' - ie: 'commit fatal: bad o ("f934e72132dbc4853")'
#6: 
commit fd35ca3d12cc9922d7d9a35f934e72132dbc4853 upstream.

total: 1 errors, 0 warnings, 0 checks, 18 lines checked
"""


def test_stable_marker_is_exempt_but_other_commit_ids_are_not():
    """5.10's checkpatch misreads git's 'bad object' for the stable marker line
    (recorded output above); only that line is exempted, once."""
    assert checks.stable_markers(STABLE_OUT) == 1
    other = STABLE_OUT.replace("commit fd35ca3d12cc9922d7d9a35f934e72132dbc4853 upstream.",
                               "commit fd35ca3d12cc fixed this")
    assert checks.stable_markers(other) == 0
    assert checks.stable_markers(STABLE_OUT + STABLE_OUT) == 1
