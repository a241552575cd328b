"""Shared helpers: paths, logging, running commands, the shared CPU lock."""
import contextlib
import errno
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time

from . import bases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "logs")
CONFIG = os.path.join(ROOT, "config")
GUEST = os.path.join(ROOT, "guest")
try:
    BASE = bases.current()
except ValueError as e:        # a bad BASE= is one line, not a traceback
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
BASE_TAG = BASE.tag
# The default base keeps the plain names; others get their own trees and outputs.
_SUFFIX = "" if BASE.name == bases.DEFAULT else f"-{BASE.name}"
LINUX = os.path.join(BUILD, "linux" + _SUFFIX)
OUT = os.path.join(BUILD, "out" + _SUFFIX)
SRC = os.path.join(BUILD, "src" + _SUFFIX)
PATCHES = os.path.join(ROOT, BASE.series)
IDENTITY = ("Migration Backport Team", "migration-backport@example.org")


def cache_dir():
    return os.environ.get("MIGBP_CACHE", os.path.expanduser("~/.cache/migbp"))


class HarnessError(Exception):
    """A failure the user can act on: printed as one 'error: ...' line."""

    def __init__(self, msg, log=None):
        super().__init__(msg)
        self.log = log

    def __str__(self):
        msg = super().__str__()
        return f"{msg} (log: {self.log})" if self.log else msg


def info(msg):
    print(f"[mig] {msg}", flush=True)


def stamp():
    return time.strftime("%Y%m%d-%H%M%S")


def log_path(name):
    os.makedirs(LOGS, exist_ok=True)
    return os.path.join(LOGS, f"{name}-{stamp()}.log")


def git_env():
    env = dict(os.environ)
    name, email = IDENTITY
    env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
               GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
    return env


def run(cmd, cwd=None, env=None, log=None, check=True, input=None,
        timeout=None, what=None):
    """Run cmd (a list), capturing stdout+stderr; append them to log.

    Returns (returncode, output). With check, a non-zero exit raises
    HarnessError naming the command (or `what`) and the last output line.
    """
    # Every command's full output is kept: one run without a log of its
    # caller's goes to this process's session log.
    log = log or session_log()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, input=input, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except FileNotFoundError:
        raise HarnessError(f"missing tool: {cmd[0]} (run `make deps`)")
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{what or cmd[0]} timed out after {timeout}s", log)
    out = p.stdout or ""
    if p.returncode != 0 and "No space left on device" in out:
        raise HarnessError(f"{what or cmd[0]} failed: disk full ({free_text()})", log)
    if log:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}   (cwd={cwd or os.getcwd()})\n{out}\n"
                    f"[exit {p.returncode}]\n")
    if check and p.returncode != 0:
        raise HarnessError(f"{what or ' '.join(cmd[:3])} failed "
                           f"(exit {p.returncode}): {first_error(out)}", log)
    return p.returncode, out


# The cause, in the order a reader wants it: a missing program or file first,
# then a compiler/tool error. make's "*** [...] Error 2" lines only say that
# something below failed, so they are never the answer when a cause is there.
CAUSES = [re.compile(r) for r in (
    r"^E: ",    # apt's error, before its "W: ... Permission denied" noise
    r"(command )?not found|No such file or directory|Cannot exec|cannot execute|"
    r"Permission denied|No space left",
    r"\b(fatal )?error\b|\bERROR\b|FAILED|does not apply|Traceback",
)]
RECURSION = re.compile(r"^make(\[\d+\])?: \*\*\*|^make(\[\d+\])?: Leaving|Error \d+$")


def first_error(out):
    """The first line of a failed command's output that names a cause."""
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    for pat in CAUSES:
        for l in lines:
            if pat.search(l) and not RECURSION.search(l):
                return l
    errs = [l for l in lines if "error" in l.lower()]
    return (errs or lines or ["(no output)"])[-1]


_session = {}


def session_log():
    """build/logs/harness-<stamp>.log: the output of every command whose caller
    keeps no log of its own (git queries, headers_install, ...)."""
    key = (LOGS, os.getpid())
    if key not in _session:
        _session[key] = log_path(f"harness-{os.getpid()}")
    return _session[key]


# A cold kernel build with its objects takes ~1.5 GiB; the debug (KASAN) one more.
MIN_FREE = 3 << 30


def free_text(path=None):
    path = path or (BUILD if os.path.isdir(BUILD) else ROOT)
    try:
        return f"{shutil.disk_usage(path).free >> 20} MiB free in {path}"
    except OSError:
        return f"free space of {path} unknown"


def check_space(path=None, need=MIN_FREE):
    """Refuse to start a build on a nearly full disk: one clear line, not a
    compiler error from the middle of the build."""
    path = path or (BUILD if os.path.isdir(BUILD) else ROOT)
    free = shutil.disk_usage(path).free
    if free < need:
        raise HarnessError(f"disk nearly full: {free >> 20} MiB free in {path}, "
                           f"a kernel build needs about {need >> 20} MiB (make clean?)")


def is_disk_full(exc):
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


_held = {}     # lock path -> nesting depth: cpu_lock is re-entrant in-process


@contextlib.contextmanager
def cpu_lock(path=None):
    """Exclusive flock shared by every engineer for builds and guest boots.

    Re-entrant: a check that needs several builds in a row can hold it
    across all of them (a second flock on a new fd would deadlock).
    """
    path = path or os.path.join(cache_dir(), "cpu.lock")
    if _held.get(path):
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info(f"waiting for cpu lock {path}")
            t0 = time.monotonic()
            fcntl.flock(f, fcntl.LOCK_EX)
            waited = time.monotonic() - t0
            Timer.lock_wait += waited
            info(f"got cpu lock after {waited:.0f}s")
        _held[path] = 1
        try:
            yield
        finally:
            _held[path] = 0
            fcntl.flock(f, fcntl.LOCK_UN)


class Timer:
    """Prints how long a step took and the elapsed time since start."""
    start = time.monotonic()
    lock_wait = 0.0      # total time spent waiting for the cpu lock

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0, self.w0 = time.monotonic(), Timer.lock_wait
        info(f"== {self.name}")
        return self

    def __exit__(self, *exc):
        now = time.monotonic()
        waited = Timer.lock_wait - self.w0
        self.seconds = now - self.t0 - waited       # net of waiting for others
        extra = f" + {waited:.0f}s waiting for the cpu lock" if waited >= 1 else ""
        info(f"== {self.name}: {self.seconds:.0f}s{extra} (elapsed {now - Timer.start:.0f}s)")
        return False


def die(err):
    print(f"error: {err}", file=sys.stderr, flush=True)
    return 1


def splice_markers(old, generated, begin, end):
    """old with the text between the markers begin and end replaced by
    generated (a docs/ file's generated table); None when old lacks them,
    for the caller to make the file its own way."""
    if not (old and begin in old and end in old):
        return None
    pre, rest = old.split(begin, 1)
    return pre + f"{begin}\n{generated.rstrip()}\n{end}" + rest.split(end, 1)[1]


def splice_doc(old, generated, begin, end, head="", append=False):
    """A docs/ file with its generated block (between begin and end) replaced,
    the hand-written rest kept. A file without the markers gets the block,
    after head (its first-time heading), in front of the old text, or after
    it with append=True."""
    spliced = splice_markers(old, generated, begin, end)
    if spliced is not None:
        return spliced
    block = f"{begin}\n{generated.rstrip()}\n{end}\n"
    if append:
        return (old.rstrip("\n") + "\n\n" if old else "") + head + block
    return head + block + (("\n" + old) if old else "")
