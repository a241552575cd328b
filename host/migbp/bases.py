"""The pinned kernel bases: one table, `BASE=` picks a row (default DEFAULT).

Each row names a Debian source package version, the archive and suite that
serve it, and the orig tarball's size and sha256 (as the .dsc lists them).
Re-pinning is one edit of a row. Debian's experimental and sid replace their
versions over time, so a pinned tarball can disappear from the archive: the
fetch then fails with one line that says so (base.py) and names this table.

No imports from the harness here: util.py derives its paths from the row.
"""
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Base:
    name: str            # BASE=<name>, also the git tag suffix: v<name>
    deb_version: str     # Debian source version: apt-get source linux=<deb_version>
    archive: str         # "debian" or "debian-security" (path on the mirror)
    suite: str           # deb-src suite line
    upstream: str        # the version inside the tarball (linux-<upstream>/)
    sha256: str          # of linux_<orig>.orig.tar.xz, from the .dsc
    size: int
    family: str          # "5.10" (selftests/vm, patches/) or "mainline" (selftests/mm)
    series: str          # the patch series directory, relative to the repo
    debian_sha256: str = ""   # of linux_<deb_version>.debian.tar.xz, from the .dsc

    @property
    def tag(self):
        return f"v{self.name}"

    @property
    def orig(self):
        return self.deb_version.rsplit("-", 1)[0]      # 7.2.8-1 -> 7.2.8

    @property
    def tarball(self):
        return f"linux_{self.orig}.orig.tar.xz"

    @property
    def debian_tarball(self):
        return f"linux_{self.deb_version}.debian.tar.xz"

    @property
    def selftests(self):
        return "tools/testing/selftests/" + ("vm" if self.family == "5.10" else "mm")


BASES = {b.name: b for b in [
    # Debian bullseye's current kernel (bullseye-security, Jul 2026).
    Base("5.10.262", "5.10.262-1", "debian-security", "bullseye-security", "5.10.262",
         "e03766e4b2c246a20c9e2770aa599ee25c336d33b31c0980950230634e195339", 122205276,
         "5.10", "patches",
         "117a1e100275833b98b14b0af5babf9f5996190c87fe489f00cc5ec9f953ce3a"),
    # The series' first base (Jul 2024), kept for comparisons only.
    Base("5.10.223", "5.10.223-1", "debian", "bullseye", "5.10.223",
         "5272175427d036677539b9ef88a6bc30e455aca2d4fe9a942b2926ef7967ad20", 122005648,
         "5.10", "patches",
         "007c93dd48234adf1fb9b2a69737e4aea4a13978d51ebd82ae56300673d28fb5"),
    # Newest mainline-based kernel the archive serves here: sid's 7.2.8
    # (7.3~rc7 and 7.2.13 are listed by the archive's index but their files
    # are gone, 404, as of 2026-11-30).
    Base("7.2.8", "7.2.8-1", "debian", "sid", "7.2.8",
         "08f058f9de8d487e32a5c9e2855ee7e35bee1a047e77d37ba797d734c0cc07b3", 163638868,
         "mainline", "patches/mainline",
         "0882144238490cd844202ea9a91bb6cc563103b4a11cc5fe488b1415b9be1354"),
]}
DEFAULT = "5.10.262"


def current(env=None):
    """The row BASE= names (default DEFAULT); ValueError names the choices."""
    name = (env if env is not None else os.environ).get("BASE") or DEFAULT
    if name not in BASES:
        raise ValueError(f"BASE={name}: not a pinned base; choose one of "
                         f"{', '.join(BASES)} (table in host/migbp/bases.py)")
    return BASES[name]
