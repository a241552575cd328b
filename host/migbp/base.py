"""Fetch and verify the pinned base tarball (bases.py, BASE=) from the Debian archive."""
import hashlib
import os
import re

from .util import BASE, HarnessError, cache_dir, info, run

VERSION = BASE.upstream
DEB_VERSION = BASE.deb_version
TARBALL = BASE.tarball
SHA256 = BASE.sha256
SIZE = BASE.size


def tarball_path(name=TARBALL):
    return os.path.join(cache_dir(), "apt", "dl", name)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_uri(sources_dir="/etc/apt", security=False):
    """First archive URI configured on this machine: the main archive, or the
    security archive when `security` (derived from the main one if the
    machine lists none, as deb.debian.org serves both)."""
    uris = []
    deb822 = os.path.join(sources_dir, "sources.list.d", "debian.sources")
    if os.path.exists(deb822):
        uris += [m.group(1) for m in (re.match(r"\s*URIs:\s*(\S+)", l) for l in open(deb822)) if m]
    legacy = os.path.join(sources_dir, "sources.list")
    if os.path.exists(legacy):
        uris += [m.group(1) for m in (re.match(r"\s*deb(?:-src)?\s+(?:\[[^]]*\]\s+)?(\S+)", l)
                                       for l in open(legacy)) if m]
    uris = [u for u in uris if "debian" in u]
    sec = [u for u in uris if "security" in u]
    main = [u for u in uris if "security" not in u]
    if security and sec:
        return sec[0]
    if main:
        return main[0].rstrip("/") + ("-security" if security else "")
    raise HarnessError("no Debian archive URI in /etc/apt sources")


def apt_fetch(dest_dir, log=None, base=BASE):
    """apt-get source --download-only with a private, throw-away apt state:
    the orig tarball, Debian's own patches (debian.tar.xz) and the .dsc."""
    c = os.path.dirname(dest_dir)
    for d in ("lists/partial", "archives/partial", "dl"):
        os.makedirs(os.path.join(c, d), exist_ok=True)
    sources = os.path.join(c, "sources.list")
    uri = archive_uri(security=base.archive == "debian-security")
    with open(sources, "w") as f:
        f.write(f"deb-src [trusted=yes] {uri} {base.suite} main\n")
    # Check-Valid-Until: a mirror or snapshot whose Release file has passed
    # its Valid-Until (seen for sid on a fresh Debian 12) would refuse the
    # suite; what is fetched is checked against the sha256 pin anyway.
    opts = ["-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={c}/lists", "-o", f"Dir::Cache={c}",
            "-o", "Acquire::Check-Valid-Until=false"]
    run(["apt-get"] + opts + ["update", "-qq"], cwd=dest_dir, log=log,
        what="apt-get update (private sources)")
    rc, out = run(["apt-get"] + opts + ["source", "--download-only",
                                        f"linux={base.deb_version}"],
                  cwd=dest_dir, log=log, check=False)
    if rc != 0:
        raise HarnessError(gone_message(base, uri, out), log)


def gone_message(base, uri, out):
    """One line for a failed fetch; says so when the archive no longer has it."""
    what = f"linux {base.deb_version} ({base.suite} at {uri})"
    if re.search(r"\b404\b|Unable to find a source package|Can not find version", out):
        return (f"base {base.name}: the archive no longer serves {what}; "
                "Debian replaces experimental/sid versions over time: re-pin BASE "
                "to a version `apt-cache showsrc linux` lists and whose files fetch "
                "(one row of host/migbp/bases.py)")
    lines = [l for l in out.splitlines() if l.startswith(("E:", "W:")) or "rror" in l]
    return f"apt-get source {what} failed: {(lines or ['(no output)'])[0].strip()}"


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
