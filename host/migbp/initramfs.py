"""Guest userspace: static selftests + busybox + guest/ packed as a cpio.gz."""
import gzip
import os
import stat

from .util import BUILD, GUEST, LINUX, OUT, HarnessError, cpu_lock, info, log_path, run

SELFTESTS = "tools/testing/selftests/vm"
KNOWN_TESTS = ["hmm-tests", "migration"]
LIBS = ["-lhugetlbfs", "-lnuma", "-lpthread", "-lrt"]
BUSYBOX = "/bin/busybox"


def available_tests(src=LINUX):
    return [t for t in KNOWN_TESTS if os.path.exists(os.path.join(src, SELFTESTS, t + ".c"))]


def headers(src=LINUX, log=None):
    hdr = os.path.join(OUT, "hdr")
    with cpu_lock():
        run(["make", "-C", src, f"O={os.path.join(OUT, 'hdr-obj')}",
             f"INSTALL_HDR_PATH={hdr}", "headers_install"], log=log,
            what="make headers_install")
    return os.path.join(hdr, "include")


def build_tests(tests, src=LINUX, log=None):
    """Compile each selftest statically against the tree's uapi headers."""
    log = log or log_path("selftests")
    inc = headers(src, log)
    outdir = os.path.join(OUT, "selftests")
    os.makedirs(outdir, exist_ok=True)
    bins = {}
    for t in tests:
        c = os.path.join(src, SELFTESTS, t + ".c")
        if not os.path.exists(c):
            raise HarnessError(f"no selftest {SELFTESTS}/{t}.c in {src}")
        b = os.path.join(outdir, t)
        run(["gcc", "-static", "-O2", "-Wall", "-I", inc,
             "-I", os.path.join(src, "tools/testing/selftests"), "-o", b, c] + LIBS,
            log=log, what=f"compiling selftest {t}")
        bins[t] = b
    return bins


class Cpio:
    """Minimal 'newc' writer: files, dirs, symlinks and device nodes, no root needed."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1000

    def _entry(self, name, mode, body=b"", rdev=(0, 0)):
        self.ino += 1
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0], rdev[1],
                  len(name_b), 0]
        self.data += b"070701" + b"".join(b"%08X" % f for f in fields) + name_b
        self.data += b"\0" * (-len(self.data) % 4) + body
        self.data += b"\0" * (-len(self.data) % 4)

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, body, mode=0o755):
        self._entry(name, stat.S_IFREG | mode, body)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.data)


def pack(bins, out=None, guest=GUEST, busybox=BUSYBOX):
    out = out or os.path.join(OUT, "initramfs.cpio.gz")
    c = Cpio()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys",
              "tmp", "selftests", "guest", "etc", "root"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", open(busybox, "rb").read())
    c.symlink("bin/sh", "busybox")
    for name in sorted(os.listdir(guest)):
        if os.path.isdir(os.path.join(guest, name)):
            continue        # e.g. guest/bench: sources, built and packed by bench.py
        body = open(os.path.join(guest, name), "rb").read()
        c.file(f"guest/{name}", body)
        if name == "init":
            c.file("init", body)
    for name, path in sorted(bins.items()):
        c.file(f"selftests/{name}", open(path, "rb").read())
    with gzip.GzipFile(out, "wb", mtime=0, compresslevel=6) as f:
        f.write(c.finish())
    info(f"initramfs {os.path.relpath(out, BUILD)}: {', '.join(sorted(bins)) or 'no tests'}")
    return out
