import gzip
import os
import shutil
import subprocess

import pytest

from migbp import initramfs


def test_cpio_newc_layout():
    c = initramfs.Cpio()
    c.dir("bin")
    c.file("init", b"#!/bin/sh\n")
    c.chardev("dev/console", 5, 1)
    data = c.finish()
    assert data.startswith(b"070701") and len(data) % 4 == 0
    assert b"TRAILER!!!" in data and b"dev/console\0" in data


@pytest.mark.skipif(not shutil.which("cpio"), reason="cpio not installed")
def test_pack_is_readable_by_cpio(tmp_path):
    guest = tmp_path / "guest"
    guest.mkdir()
    (guest / "init").write_text("#!/bin/busybox sh\n")
    fake = tmp_path / "hmm-tests"
    fake.write_bytes(b"\x7fELF")
    bb = tmp_path / "busybox"
    bb.write_bytes(b"bb")
    out = initramfs.pack({"hmm-tests": str(fake)}, str(tmp_path / "i.gz"), str(guest), str(bb))
    listing = subprocess.run(["cpio", "-it"], input=gzip.open(out).read(),
                             capture_output=True).stdout.decode().split()
    for name in ("init", "bin/busybox", "bin/sh", "dev/console", "selftests/hmm-tests",
                 "guest/init"):
        assert name in listing


def test_guest_init_is_posix_sh():
    init = os.path.join(initramfs.GUEST, "init")
    assert subprocess.run(["sh", "-n", init]).returncode == 0
    text = open(init).read()
    for marker in ("MIGBP: BEGIN", "MIGBP: END", "MIGBP: DONE",
                   "MIGBP: ERROR no second NUMA node", "HMM_DMIRROR", "poweroff -f"):
        assert marker in text
