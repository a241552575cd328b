"""Fetch and verify the pristine 5.10.223 tarball from the Debian archive."""
import hashlib
import os
import re

from .util import HarnessError, cache_dir, info, run

VERSION = "5.10.223"
DEB_VERSION = "5.10.223-1"
TARBALL = f"linux_{VERSION}.orig.tar.xz"
SHA256 = "5272175427d036677539b9ef88a6bc30e455aca2d4fe9a942b2926ef7967ad20"
SIZE = 122005648


def tarball_path():
    return os.path.join(cache_dir(), "apt", "dl", TARBALL)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_uri(sources_dir="/etc/apt"):
    """First non-security archive URI configured on this machine."""
    deb822 = os.path.join(sources_dir, "sources.list.d", "debian.sources")
    if os.path.exists(deb822):
        for line in open(deb822):
            m = re.match(r"\s*URIs:\s*(\S+)", line)
            if m and "security" not in m.group(1):
                return m.group(1)
    legacy = os.path.join(sources_dir, "sources.list")
    if os.path.exists(legacy):
        for line in open(legacy):
            m = re.match(r"\s*deb(?:-src)?\s+(?:\[[^]]*\]\s+)?(\S+)", line)
            if m and "security" not in m.group(1):
                return m.group(1)
    raise HarnessError("no Debian archive URI in /etc/apt sources")


def apt_fetch(dest_dir, log=None):
    """apt-get source --download-only with a private, throw-away apt state."""
    c = os.path.dirname(dest_dir)
    for d in ("lists/partial", "archives/partial", "dl"):
        os.makedirs(os.path.join(c, d), exist_ok=True)
    sources = os.path.join(c, "sources.list")
    with open(sources, "w") as f:
        f.write(f"deb-src [trusted=yes] {archive_uri()} bullseye main\n")
    opts = ["-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={c}/lists", "-o", f"Dir::Cache={c}"]
    run(["apt-get"] + opts + ["update", "-qq"], cwd=dest_dir, log=log,
        what="apt-get update (private sources)")
    run(["apt-get"] + opts + ["source", "--download-only", f"linux={DEB_VERSION}"],
        cwd=dest_dir, log=log, what="apt-get source linux")


def ensure_tarball(fetch=apt_fetch, path=None, expected=SHA256, log=None):
    """Return the path of a verified tarball; re-fetch a bad cached one once."""
    path = path or tarball_path()
    if os.path.exists(path):
        if sha256(path) == expected:
            return path
        info(f"cached {os.path.basename(path)} is corrupt; deleting and re-fetching")
        os.unlink(path)
    info(f"fetching {os.path.basename(path)}")
    fetch(os.path.dirname(path), log=log)
    if not os.path.exists(path):
        raise HarnessError(f"fetch did not produce {path}", log)
    actual = sha256(path)
    if actual != expected:
        os.replace(path, path + ".bad")
        raise HarnessError(f"checksum mismatch for {os.path.basename(path)}: "
                           f"expected sha256 {expected}, got {actual} "
                           f"(kept as {path}.bad; nothing unpacked)", log)
    return path
