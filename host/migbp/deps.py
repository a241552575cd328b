"""Install what the harness needs from Debian (apt-get, as root)."""
import os
import shutil
import subprocess

from .util import HarnessError, info

ARCH_LIB = "/usr/lib/x86_64-linux-gnu"
# What a fresh Debian 12 must already have: apt and tar (every Debian), git and
# make (the README's one prerequisite); python3 comes from host/bootstrap.
PREREQUISITES = {"apt-get", "tar", "git", "make", "sh", "python3"}
# Programs the kernel's own make targets run (bzImage, headers_install,
# olddefconfig, prepare, C=2): they never appear in the harness's code, so
# they are listed here and a unit test checks each is in NEEDS.
KERNEL_TOOLS = ["gcc", "ld", "as", "make", "perl", "bc", "bison", "flex", "rsync", "xz",
                "cpio", "sparse", "ccache", "openssl", "python3"]
# (what to look for, Debian package). Paths are files, the rest are commands.
NEEDS = [
    ("make", "make"), ("gcc", "gcc"), ("gcov", "gcc"), ("ld", "binutils"), ("as", "binutils"),
    ("git", "git"), ("perl", "perl"),
    ("bc", "bc"), ("bison", "bison"), ("flex", "flex"), ("xz", "xz-utils"),
    ("cpio", "cpio"), ("ccache", "ccache"), ("quilt", "quilt"), ("rsync", "rsync"),
    ("openssl", "openssl"), ("file", "file"), ("python3", "python3"),
    ("sparse", "sparse"), ("qemu-system-x86_64", "qemu-system-x86"),
    ("/bin/busybox", "busybox-static"),
    ("powerpc64le-linux-gnu-gcc", "gcc-powerpc64le-linux-gnu"),
    ("/usr/include/libelf.h", "libelf-dev"),
    ("/usr/include/openssl/ssl.h", "libssl-dev"),
    (ARCH_LIB + "/libnuma.a", "libnuma-dev"),
    (ARCH_LIB + "/libhugetlbfs.a", "libhugetlbfs-dev"),
    # make vmtests: mlock-random-test links -lcap; protection_keys_32 is
    # -m32. Not gcc-multilib: Debian makes it conflict with the ppc64le cross
    # compiler above (apt removes one for the other); these two are enough.
    (ARCH_LIB + "/libcap.a", "libcap-dev"),
    ("/usr/lib32/libc.a", "libc6-dev-i386"),
    ("/usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a", "lib32gcc-12-dev"),
    # make stress: Debian's stress-ng (dynamic: packed with its ldd closure)
    ("stress-ng", "stress-ng"), ("ldd", "libc-bin"),
    ("gnuplot", "gnuplot-nox"),
    ("/usr/lib/python3/dist-packages/pytest", "python3-pytest"),
    # checkpatch's SPDX check runs scripts/spdxcheck.py, which needs these;
    # without them it crashes and the check is silently skipped.
    ("/usr/lib/python3/dist-packages/ply", "python3-ply"),
    ("/usr/lib/python3/dist-packages/git", "python3-git"),
]


def commands(needs=NEEDS):
    return {w for w, _ in needs if not w.startswith("/")}


def present(what):
    if what.startswith("/"):
        return os.path.exists(what)
    return shutil.which(what) is not None


def missing(needs=NEEDS):
    return [(w, p) for w, p in needs if not present(w)]


def busybox_is_static(path="/bin/busybox"):
    # busybox (dynamic) and busybox-static both provide /bin/busybox.
    try:
        out = subprocess.run(["file", "-L", path], capture_output=True,
                             text=True).stdout
    except FileNotFoundError:
        with open(path, "rb") as f:
            return b"ld-linux" not in f.read()
    return "statically linked" in out or "static-pie" in out


def ensure(needs=NEEDS, install=True):
    """Install missing packages, or raise naming the missing tools."""
    miss = missing(needs)
    pkgs = sorted({p for _, p in miss})
    if os.path.exists("/bin/busybox") and not busybox_is_static():
        pkgs.append("busybox-static")
    if not pkgs:
        return []
    if not install or os.geteuid() != 0:
        names = ", ".join(f"{w} ({p})" for w, p in miss) or "busybox-static"
        raise HarnessError(f"missing tool: {names}; run `make deps` as root")
    info(f"installing: {' '.join(pkgs)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + pkgs):
        if subprocess.run(cmd, env=env).returncode != 0:
            raise HarnessError(f"`{' '.join(cmd[:3])}` failed installing {' '.join(pkgs)}")
    still = missing(needs)
    if still:
        raise HarnessError("still missing after apt-get: "
                           + ", ".join(w for w, _ in still))
    return pkgs
