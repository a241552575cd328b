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
