import hashlib

import pytest

from migbp import base
from migbp.util import HarnessError


def fetcher(content, calls):
    def fetch(dest, log=None):
        calls.append(dest)
        with open(f"{dest}/{base.TARBALL}", "wb") as f:
            f.write(content)
    return fetch


def test_bad_checksum_names_expected_and_actual(tmp_path):
    calls = []
    path = str(tmp_path / base.TARBALL)
    with pytest.raises(HarnessError) as e:
        base.ensure_tarball(fetcher(b"not a kernel", calls), path=path)
    actual = hashlib.sha256(b"not a kernel").hexdigest()
    assert base.SHA256 in str(e.value) and actual in str(e.value)
    assert "nothing unpacked" in str(e.value)
    assert not (tmp_path / base.TARBALL).exists()          # never used as good
    assert len(calls) == 1


def test_truncated_cache_is_refetched_once(tmp_path):
    good = b"pretend tarball"
    path = tmp_path / base.TARBALL
    path.write_bytes(good[:5])                               # truncated download
    calls = []
    got = base.ensure_tarball(fetcher(good, calls), path=str(path),
                              expected=hashlib.sha256(good).hexdigest())
    assert got == str(path) and len(calls) == 1 and path.read_bytes() == good


def test_good_cache_is_not_refetched(tmp_path):
    path = tmp_path / base.TARBALL
    path.write_bytes(b"x")
    calls = []
    base.ensure_tarball(fetcher(b"y", calls), path=str(path),
                        expected=hashlib.sha256(b"x").hexdigest())
    assert calls == []


def test_archive_uri_from_deb822_skips_security(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\n\n"
        "Types: deb\nURIs: http://archive.example/debian\n")
    assert base.archive_uri(str(tmp_path)) == "http://archive.example/debian"


def test_archive_uri_from_legacy_list(tmp_path):
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://m.example/debian bookworm main\n")
    assert base.archive_uri(str(tmp_path)) == "http://m.example/debian"


def test_bases_table_default_and_bad_name():
    from migbp import bases
    assert bases.current({}).name == bases.DEFAULT == "5.10.262"
    b = bases.current({"BASE": "5.10.223"})
    assert b.tag == "v5.10.223" and b.tarball == "linux_5.10.223.orig.tar.xz"
    assert bases.BASES["7.2.8"].selftests == "tools/testing/selftests/mm"
    with pytest.raises(ValueError, match="5.10.262"):
        bases.current({"BASE": "4.19"})


def test_every_base_row_is_complete():
    from migbp import bases
    for b in bases.BASES.values():
        assert len(b.sha256) == 64 and b.size > 100 << 20
        assert b.archive in ("debian", "debian-security") and b.suite
        assert b.family in ("5.10", "mainline") and b.series.startswith("patches")


def test_security_archive_uri(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text("Types: deb\nURIs: http://archive.example/debian\n")
    assert base.archive_uri(str(tmp_path), security=True) == "http://archive.example/debian-security"
    (d / "debian.sources").write_text("URIs: http://a.example/debian\nURIs: http://s.example/debian-security\n")
    assert base.archive_uri(str(tmp_path), security=True) == "http://s.example/debian-security"


def test_gone_tarball_says_so_and_how_to_repin():
    from migbp import bases
    out = ("E: Failed to fetch http://deb.debian.org/debian/pool/main/l/linux/"
           "linux_7.3%7erc7.orig.tar.xz  404  Not Found\n")
    msg = base.gone_message(bases.BASES["7.2.8"], "http://deb.debian.org/debian", out)
    assert "no longer serves" in msg and "bases.py" in msg and "\n" not in msg


def test_apt_fetch_ignores_an_expired_release_file(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return 0, ""
    monkeypatch.setattr(base, "run", fake_run)
    monkeypatch.setattr(base, "archive_uri", lambda security=False: "http://a.example/debian")
    base.apt_fetch(str(tmp_path / "apt" / "dl"))
    assert calls and all("Acquire::Check-Valid-Until=false" in c for c in calls)


def test_apt_error_line_wins_over_its_warnings():
    from migbp import util
    out = ("W: Download is performed unsandboxed as root as file 'x' couldn't be "
           "accessed by user '_apt'. - pkgAcquire::Run (13: Permission denied)\n"
           "E: Release file for http://deb.debian.org/debian/dists/sid/InRelease "
           "is expired (invalid since 25d 19h 34min 32s).\n")
    assert util.first_error(out).startswith("E: Release file")
