"""Out-of-tree kernel builds with ccache, under the shared cpu lock."""
import os

from . import kconfig
from .tree import worktree
from .util import (BASE_TAG, BUILD, LINUX, OUT, SRC, cache_dir, check_space, cpu_lock,
                   info, log_path, run)

JOBS = os.environ.get("JOBS", "2")


def env(extra=None):
    e = dict(os.environ)
    e.update(CCACHE_DIR=os.path.join(cache_dir(), "ccache"), CCACHE_BASEDIR=BUILD,
             CCACHE_NOHASHDIR="1", CCACHE_MAXSIZE="5G")
    e.update(extra or {})
    return e


def source(kernel):
    """Source tree of a kernel: base = worktree at the tag, patched = build/linux."""
    if kernel == "base":
        return worktree(os.path.join(SRC, "base"), BASE_TAG)
    return LINUX


def out_dir(kernel, kind="vm"):
    return os.path.join(OUT, kernel if kind == "vm" else f"{kernel}-{kind}")


def make(src, out, targets, args=(), log=None, what=None, cc="ccache gcc", check=True):
    cmd = ["make", "-C", src, f"O={out}", f"-j{JOBS}"] + ([f"CC={cc}"] if cc else [])
    return run(cmd + list(args) + list(targets), env=env(), log=log, check=check,
               what=what or f"make {' '.join(targets)}")


def build(kernel, kind="vm", src=None, out=None, log=None):
    """Configure + build bzImage; returns its path. Incremental via make/ccache."""
    src = src or source(kernel)
    out = out or out_dir(kernel, kind)
    log = log or log_path(f"build-{kernel}-{kind}")
    info(f"building {kernel} ({kind} config) in {os.path.relpath(out, BUILD)}; log {log}")
    check_space()
    with cpu_lock():
        kconfig.configure(src, out, kconfig.fragments(kind), log=log, env=env())
        make(src, out, ["bzImage"], log=log, what=f"build of {kernel} kernel")
    return os.path.join(out, "arch/x86/boot/bzImage")
