import os
import subprocess

import pytest

from migbp import export, tree
from migbp.util import BASE_TAG, HarnessError, git_env


def sh(repo, *args):
    return subprocess.run(["git", "-C", str(repo)] + list(args), env=git_env(), check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "linux"
    r.mkdir()
    sh(r, "init", "-q")
    (r / "migrate.c").write_text("".join(f"line {i}\n" for i in range(30)))
    sh(r, "add", "-A")
    sh(r, "commit", "-q", "-m", "Linux 5.10.223")
    sh(r, "tag", BASE_TAG)
    return r


def commit(repo, n, old, new, msg):
    p = repo / "migrate.c"
    p.write_text(p.read_text().replace(old, new))
    sh(repo, "commit", "-q", "-am", msg)


@pytest.fixture
def series(repo, tmp_path):
    """Two commits exported to patches/, then build/linux reset to the base."""
    commit(repo, 1, "line 3\n", "line three\n", "mm: first")
    commit(repo, 2, "line 20\n", "line twenty\n", "mm: second")
    patches = tmp_path / "patches"
    cover = tmp_path / "cover.txt"
    cover.write_text("mm/migrate: test series\n\nWhy this series exists.\n")
    names = export.export(str(repo), str(patches), str(cover))
    assert names == ["0001-mm-first.patch", "0002-mm-second.patch"]
    return patches


def test_export_writes_series_and_fills_cover_letter(series):
    assert (series / "series").read_text() == "0001-mm-first.patch\n0002-mm-second.patch\n"
    cl = (series / tree.COVER).read_text()
    assert "mm/migrate: test series" in cl and "Why this series exists." in cl
    assert "***" not in cl and "base-commit:" in cl


def test_in_sync_tree_is_left_alone(repo, series):
    head = sh(repo, "rev-parse", "HEAD")
    assert tree.ensure_tree(repo=str(repo), patches=str(series)) == "unchanged"
    assert sh(repo, "rev-parse", "HEAD") == head


def test_reexport_after_reapply_is_byte_identical(repo, series, tmp_path):
    before = {p: (series / p).read_bytes() for p in os.listdir(series)}
    sh(repo, "reset", "-q", "--hard", BASE_TAG)
    assert tree.ensure_tree(repo=str(repo), patches=str(series)) == [
        "0001-mm-first.patch", "0002-mm-second.patch"]
    export.export(str(repo), str(series), str(tmp_path / "cover.txt"))
    assert {p: (series / p).read_bytes() for p in os.listdir(series)} == before


def test_unexported_commit_refuses(repo, series):
    commit(repo, 3, "line 25\n", "line 25 changed\n", "wip: not exported")
    with pytest.raises(HarnessError) as e:
        tree.ensure_tree(repo=str(repo), patches=str(series))
    assert "make export" in str(e.value) and "FORCE=1" in str(e.value)
    assert "wip" in sh(repo, "log", "-1", "--format=%s")


def test_uncommitted_change_refuses(repo, series):
    (repo / "migrate.c").write_text("edited\n")
    with pytest.raises(HarnessError) as e:
        tree.ensure_tree(repo=str(repo), patches=str(series))
    assert "uncommitted changes" in str(e.value)


def test_force_discards_but_keeps_a_backup_ref(repo, series):
    commit(repo, 3, "line 25\n", "line 25 changed\n", "wip: not exported")
    wip = sh(repo, "rev-parse", "HEAD").strip()
    tree.ensure_tree(force=True, repo=str(repo), patches=str(series))
    assert sh(repo, "log", "-1", "--format=%s").strip() == "mm: second"
    assert wip in sh(repo, "for-each-ref", "--format=%(objectname)", "refs/migbp/")


def test_patch_that_does_not_apply_names_patch_and_file(repo, series):
    sh(repo, "reset", "-q", "--hard", BASE_TAG)
    p = series / "0002-mm-second.patch"
    p.write_text(p.read_text().replace("line 19", "line nineteen"))   # context mismatch
    with pytest.raises(HarnessError) as e:
        tree.ensure_tree(repo=str(repo), patches=str(series))
    msg = str(e.value)
    assert "0002-mm-second.patch does not apply" in msg and "migrate.c" in msg
    assert "left at 0001-mm-first.patch" in msg
    assert sh(repo, "log", "-1", "--format=%s").strip() == "mm: first"
    assert not os.path.exists(repo / ".git" / "rebase-apply")


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_failing_runs_never_touch_patches(repo, series):
    """A patch that does not apply, and unexported work refused: patches/ stays
    byte for byte what it was."""
    p = series / "0002-mm-second.patch"
    p.write_text(p.read_text().replace("line 19", "line nineteen"))
    before = snapshot(series)
    sh(repo, "reset", "-q", "--hard", BASE_TAG)
    with pytest.raises(HarnessError):
        tree.ensure_tree(repo=str(repo), patches=str(series))
    assert snapshot(series) == before
    (repo / "new.c").write_text("x")
    sh(repo, "add", "new.c")
    sh(repo, "commit", "-qm", "wip")
    with pytest.raises(HarnessError):
        tree.ensure_tree(repo=str(repo), patches=str(series))
    assert snapshot(series) == before


def test_empty_series_is_the_base(repo, tmp_path):
    patches = tmp_path / "empty"
    patches.mkdir()
    (patches / "series").write_text("")
    assert tree.ensure_tree(repo=str(repo), patches=str(patches)) == "unchanged"


def test_cold_unpack_creates_tagged_repo(tmp_path, monkeypatch):
    import tarfile
    from migbp import base
    src = tmp_path / f"linux-{base.VERSION}"
    src.mkdir()
    (src / "Makefile").write_text("VERSION = 5\n")
    tarball = tmp_path / "t.tar.xz"
    with tarfile.open(tarball, "w:xz") as t:
        t.add(src, arcname=f"linux-{base.VERSION}")
    monkeypatch.setattr(base, "ensure_tarball", lambda log=None: str(tarball))
    repo = tmp_path / "build" / "linux"
    patches = tmp_path / "patches"
    patches.mkdir()
    assert tree.ensure_tree(repo=str(repo), patches=str(patches)) == "unchanged"
    assert sh(repo, "log", "--format=%s %an", BASE_TAG).strip() == \
        f"Linux {base.VERSION} Migration Backport Team"
    assert (repo / "Makefile").exists() and not (tmp_path / "build" / "linux.unpack").exists()
    # fixed dates: the same tarball gives the same base commit id on any machine
    assert sh(repo, "log", "-1", "--format=%aI %cI", BASE_TAG).split() == \
        ["2000-01-01T00:00:00+00:00"] * 2


def test_export_index_lines_have_twelve_digit_ids(series):
    text = (series / "0001-mm-first.patch").read_text()
    idx = [l for l in text.splitlines() if l.startswith("index ")]
    assert idx and all(len(part) == 12 for part in idx[0].split()[1].split(".."))


def test_tarball_with_another_top_directory_is_one_error(tmp_path, monkeypatch):
    import tarfile
    from migbp import base
    src = tmp_path / "linux-9.9"
    src.mkdir()
    tarball = tmp_path / "t.tar.xz"
    with tarfile.open(tarball, "w:xz") as t:
        t.add(src, arcname="linux-9.9")
    monkeypatch.setattr(base, "ensure_tarball", lambda log=None: str(tarball))
    patches = tmp_path / "patches"
    patches.mkdir()
    with pytest.raises(HarnessError, match="linux-9.9"):
        tree.ensure_tree(repo=str(tmp_path / "linux"), patches=str(patches))


def test_ensure_present_makes_only_a_missing_tree(repo, tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(tree, "ensure_tree", lambda repo, patches, log: made.append(repo))
    assert tree.ensure_present(str(repo), str(tmp_path)) is False
    assert made == []
    fresh = tmp_path / "linux-7.2.8"
    assert tree.ensure_present(str(fresh), str(tmp_path)) is True
    assert made == [str(fresh)]
