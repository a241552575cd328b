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


def test_checkpatch_sees_no_git_repository(tmp_path, monkeypatch):
    """Upstream ids are only checked for form, as in a tarball tree: GIT_DIR
    must name no repository (checkpatch then does no git log lookup)."""
    monkeypatch.setattr(checks, "OUT", str(tmp_path))
    monkeypatch.delenv("GIT_DIR", raising=False)
    env = checks.checkpatch_env(git=False)
    assert not os.path.exists(env["GIT_DIR"])
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "checkpatch-bin")
    assert "GIT_DIR" not in checks.checkpatch_env(git=True)
    # the pass with a repository runs only the check that needs one
    assert [git for git, _ in checks.CHECKPATCH_PASSES] == [False, True]
    assert checks.CHECKPATCH_PASSES[1][1] == ("--types", "SPDX_LICENSE_TAG")
