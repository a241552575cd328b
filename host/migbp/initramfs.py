"""Guest userspace: static selftests + busybox + guest/ packed as a cpio.gz.

Which selftests exist, their sources, helper files and libraries depend on
the base's family (bases.py): 5.10 keeps its selftests in selftests/vm and
links libhugetlbfs; mainline's selftests/mm link vm_util.c and
hugepage_settings.c the way its Makefile does. Both are linked -static.
"""
import gzip
import os
import re
import subprocess
import stat
from dataclasses import dataclass

from .util import BASE, BASE_TAG, BUILD, GUEST, LINUX, OUT, HarnessError, cpu_lock, info, log_path, run

SELFTESTS = BASE.selftests
BUSYBOX = "/bin/busybox"
COUNT_SRC = os.path.join(GUEST, "selftests")      # move_pages_count.[ch]


@dataclass(frozen=True)
class Selftest:
    """One guest test: /selftests/<name>, run as migbp.tests=<name>."""
    name: str
    source: str                 # file of the selftests dir ("guest" style: of guest/)
    helpers: tuple = ()         # more files of the selftests dir, linked in
    libs: tuple = ()
    cflags: tuple = ()
    # include path: "vm" (5.10: installed uapi headers + selftests/), "mm" (as
    # selftests/mm/Makefile + lib.mk), "guest" (a guest/ program: the tree's
    # lib/ for test_hmm_uapi.h, as bench.py builds them)
    style: str = "vm"
    # A variant of upstream's source: (regex, replacement, what) rewrites of a
    # copy in build/out*/selftests; each must match exactly once.
    rewrites: tuple = ()
    counted: bool = False       # link guest/selftests/move_pages_count.c
    # a guest/ script that runs the binary: packed as /selftests/<name>, the
    # binary as /selftests/<name>-bin
    driver: str = None
    default: bool = True        # run when TESTS= names none


# 5.10: what the harness always built (one command line for every test).
LIBS_510 = ("-lhugetlbfs", "-lnuma", "-lpthread", "-lrt")
# mainline: selftests/mm/Makefile's CFLAGS and LDLIBS (+ -lnuma for migration)
MM_CFLAGS = ("-Wall", "-O2", "-Wunreachable-code", "-U_FORTIFY_SOURCE", "-D_GNU_SOURCE=")
MM_HELPERS = ("vm_util.c", "hugepage_settings.c")
MM_LIBS = ("-lrt", "-lpthread", "-lm")

# Upstream relaxed migration.c in 2024 to fail a test only after 100
# consecutive failed moves (MAX_RETRIES): a racing shmem_fault() holds a
# folio reference while it sleeps on the folio lock. The variants put it back
# to 1 (strict: the first failed move fails the test) or make it unlimited
# (count: the test never gives up; the counts say how many moves failed).
# migrate() becomes migrate_upstream() for the counting wrapper.
MAX_RETRIES_RE = r"^#define\s+MAX_RETRIES\s+100\s*$"
MIGRATE_DEF_RE = r"^int migrate\(uint64_t \*ptr, int n1, int n2\)$"


def _migration_variant(name, max_retries):
    return Selftest(name, "migration.c", MM_HELPERS, MM_LIBS + ("-lnuma",), MM_CFLAGS,
                    rewrites=((MAX_RETRIES_RE, f"#define MAX_RETRIES\t{max_retries}",
                               "MAX_RETRIES 100"),
                              (MIGRATE_DEF_RE, "int migrate_upstream(uint64_t *ptr, int n1, int n2)",
                               "int migrate(uint64_t *ptr, int n1, int n2)")),
                    style="mm", counted=True, default=False)


FAMILY_TESTS = {
    "5.10": [Selftest("hmm-tests", "hmm-tests.c", libs=LIBS_510, cflags=("-O2", "-Wall")),
             Selftest("migration", "migration.c", libs=LIBS_510, cflags=("-O2", "-Wall"))],
    "mainline": [Selftest("hmm-tests", "hmm-tests.c", MM_HELPERS, MM_LIBS, MM_CFLAGS,
                          style="mm"),
                 Selftest("migration", "migration.c", MM_HELPERS, MM_LIBS + ("-lnuma",),
                          MM_CFLAGS, style="mm"),
                 _migration_variant("migration-strict", 1),
                 _migration_variant("migration-count", 2000000000),
                 # the project's refault storm (guest/bench/refault.c, as bench.py
                 # builds it), one-page shared anon, tmpfs and ext2 file under 1
                 # and 3 readers
                 Selftest("refault", "bench/refault.c", libs=("-lnuma", "-lpthread"),
                          cflags=("-O2", "-Wall"), style="guest",
                          driver="selftests/refault.sh", default=False)],
}


def family_tests(family=None):
    family = family or BASE.family
    if family not in FAMILY_TESTS:
        raise HarnessError(f"no selftests known for base family {family!r}")
    return {t.name: t for t in FAMILY_TESTS[family]}


KNOWN_TESTS = list(family_tests())


def source_path(t, src=LINUX, selftests=SELFTESTS, guest=GUEST):
    if t.style == "guest":
        return os.path.join(guest, t.source)
    return os.path.join(src, selftests, t.source)


def available_tests(src=LINUX, family=None, selftests=SELFTESTS, defaults=False):
    """Tests whose source exists; defaults: only those run when TESTS= is empty."""
    return [n for n, t in family_tests(family).items()
            if os.path.exists(source_path(t, src, selftests)) and (t.default or not defaults)]


def headers(src=LINUX, log=None):
    hdr = os.path.join(OUT, "hdr")
    with cpu_lock():
        run(["make", "-C", src, f"O={os.path.join(OUT, 'hdr-obj')}",
             f"INSTALL_HDR_PATH={hdr}", "headers_install"], log=log,
            what="make headers_install")
    return os.path.join(hdr, "include")


def rewrite(text, rewrites, what):
    """Apply (regex, replacement, description) rewrites, each exactly once."""
    for rx, repl, desc in rewrites:
        text, n = re.subn(rx, lambda m: repl, text, flags=re.M)
        if n != 1:
            raise HarnessError(f"{what}: expected one '{desc}' to rewrite, found {n} "
                               "(upstream changed it? see initramfs.FAMILY_TESTS)")
    return text


def base_text(path, src, tag):
    """path as the base release has it: a variant rewrites upstream's test,
    not the series' change of it (the mainline series makes migration.c
    strict itself), so base and patched kernels run the same program. A tree
    without the base tag (not made by make tree) gives the file as it is."""
    rel = os.path.relpath(path, src)
    r = subprocess.run(["git", "-C", src, "show", f"{tag}:{rel}"], capture_output=True,
                       text=True)
    return r.stdout if r.returncode == 0 else open(path).read()


def source_file(t, src, outdir, selftests=SELFTESTS):
    """The .c file to compile for t: upstream's, or for a variant a rewritten
    copy written to outdir."""
    c = source_path(t, src, selftests)
    if not t.rewrites:
        return c
    copy = os.path.join(outdir, f"{t.name}.c")
    body = rewrite(base_text(c, src, BASE_TAG), t.rewrites, f"{selftests}/{t.source} for {t.name}")
    with open(copy, "w") as f:
        f.write(body)
    return copy


def compile_command(t, c, src, inc, outdir, selftests=SELFTESTS, count_src=COUNT_SRC):
    """gcc argv that builds /selftests/<t.name> from c (see source_file)."""
    d = os.path.join(src, selftests)
    cmd = ["gcc", "-static"] + list(t.cflags)
    if t.style == "mm":
        # as selftests/mm/Makefile + lib.mk: -I top_srcdir (for <lib/test_hmm_uapi.h>,
        # <mm/gup_test.h>), installed uapi headers, tools' uapi, the selftests dir
        cmd += ["-I", src, "-isystem", inc, "-isystem",
                os.path.join(src, "tools/include/uapi"), "-I", d,
                "-I", os.path.join(src, "tools/testing/selftests")]
    elif t.style == "guest":
        cmd += ["-I", os.path.join(src, "lib")]
    else:
        cmd += ["-I", inc, "-I", os.path.join(src, "tools/testing/selftests")]
    srcs = [c] + [os.path.join(d, h) for h in t.helpers]
    if t.counted:
        cmd += ["-include", os.path.join(count_src, "move_pages_count.h"),
                "-Wl,--wrap=move_pages"]
        srcs.append(os.path.join(count_src, "move_pages_count.c"))
    return cmd + ["-o", binary_path(t, outdir)] + srcs + list(t.libs)


def binary_path(t, outdir):
    return os.path.join(outdir, t.name + ("-bin" if t.driver else ""))


def build_tests(tests, src=LINUX, log=None, family=None, selftests=SELFTESTS):
    """Compile each selftest statically against the tree's uapi headers."""
    known = family_tests(family)
    log = log or log_path("selftests")
    inc = headers(src, log)
    outdir = os.path.join(OUT, "selftests")
    os.makedirs(outdir, exist_ok=True)
    bins = {}
    for name in tests:
        t = known.get(name)
        if t is None or not os.path.exists(source_path(t, src, selftests)):
            raise HarnessError(f"no selftest {name} ("
                               f"{source_path(t, src, selftests) if t else name}) in {src}")
        c = source_file(t, src, outdir, selftests)
        run(compile_command(t, c, src, inc, outdir, selftests), log=log,
            what=f"compiling selftest {name}")
        if t.driver:
            bins[name] = os.path.join(GUEST, t.driver)
            bins[name + "-bin"] = binary_path(t, outdir)
        else:
            bins[name] = binary_path(t, outdir)
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


LDD_LINE = re.compile(r"^\s*(?:(\S+) => )?(/\S+) \(0x[0-9a-f]+\)$")


def parse_ldd(text):
    """Absolute paths of the libraries (and the dynamic loader) in ldd output.

    'not found' lines are an error naming them; linux-vdso has no file."""
    missing = [l.split()[0] for l in text.splitlines() if "not found" in l]
    if missing:
        raise HarnessError(f"ldd: libraries not found: {', '.join(missing)}")
    return [m.group(2) for m in map(LDD_LINE.match, text.splitlines()) if m]


def dynamic_closure(binary, dest=None):
    """[(path in the initramfs, host file)] for a dynamically linked program:
    the program itself at dest (default: its own path), every library ldd
    lists and the dynamic loader, each at the path the loader will look for
    (symlinks resolved: the file's contents go in under the linked name)."""
    binary = os.path.realpath(binary)
    _, text = run(["ldd", binary], what=f"ldd {binary}")
    if "not a dynamic executable" in text:
        return [((dest or binary).lstrip("/"), binary)]
    files = [((dest or binary).lstrip("/"), binary)]
    for lib in parse_ldd(text):
        files.append((lib.lstrip("/"), os.path.realpath(lib)))
    return files


def pack(bins, out=None, guest=GUEST, busybox=BUSYBOX, extra=()):
    """bins -> /selftests/<name>; extra: (path in the archive, host file) pairs,
    their parent directories created (dynamic_closure() gives such pairs)."""
    out = out or os.path.join(OUT, "initramfs.cpio.gz")
    c = Cpio()
    dirs = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys",
            "tmp", "selftests", "guest", "etc", "root"]
    for path, _ in extra:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.append(d)
    for d in dirs:
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
    for path, src in extra:
        c.file(path, open(src, "rb").read())
    with gzip.GzipFile(out, "wb", mtime=0, compresslevel=6) as f:
        f.write(c.finish())
    info(f"initramfs {os.path.relpath(out, BUILD)}: {', '.join(sorted(bins)) or 'no tests'}")
    return out
