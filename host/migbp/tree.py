"""build/linux = v<BASE> (bases.py) + `git am` of patches/series, never losing work."""
import os
import re
import shutil
import subprocess

from . import base
from .util import (BASE_TAG, BUILD, LINUX, PATCHES, ROOT, HarnessError, git_env,
                   info, run, stamp)

COVER = "0000-cover-letter.patch"


# The base's one commit gets fixed dates, so that its id (the cover letter's
# base-commit:) is the same on every machine that unpacks the same tarball.
BASE_COMMIT_DATE = "2000-01-01T00:00:00+0000"


def git(args, repo=LINUX, check=True, log=None, input=None, what=None, env=None):
    return run(["git", "-C", repo] + args, env=dict(git_env(), **(env or {})), check=check,
               log=log, input=input, what=what or f"git {args[0]}")[1]


def unpack(linux=LINUX, log=None):
    """Unpack the verified tarball into a one-commit git tree tagged v<BASE>."""
    tarball = base.ensure_tarball(log=log)
    tmp = linux + ".unpack"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    info(f"unpacking {os.path.basename(tarball)} into {linux}")
    run(["tar", "-xf", tarball, "-C", tmp], log=log, what="tar xf")
    top = os.listdir(tmp)
    if top != [f"linux-{base.VERSION}"]:
        raise HarnessError(f"{os.path.basename(tarball)} holds {top[:3]}, not the one "
                           f"directory linux-{base.VERSION}/ of base {base.BASE.name}", log)
    os.rename(os.path.join(tmp, top[0]), linux)
    os.rmdir(tmp)
    name, email = git_env()["GIT_AUTHOR_NAME"], git_env()["GIT_AUTHOR_EMAIL"]
    git(["init", "-q"], linux, log=log)
    git(["config", "user.name", name], linux)
    git(["config", "user.email", email], linux)
    git(["add", "-A"], linux, log=log)
    git(["commit", "-q", "-m", f"Linux {base.VERSION}"], linux, log=log,
        env=dict(GIT_AUTHOR_DATE=BASE_COMMIT_DATE, GIT_COMMITTER_DATE=BASE_COMMIT_DATE))
    git(["tag", BASE_TAG], linux, log=log)


def read_series(patches=PATCHES):
    path = os.path.join(patches, "series")
    if os.path.exists(path):
        names = [l.split("#")[0].strip() for l in open(path)]
        return [n for n in names if n]
    return sorted(f for f in os.listdir(patches)
                  if f.endswith(".patch") and f != COVER) if os.path.isdir(patches) else []


def file_patch_id(path, repo=LINUX):
    with open(path) as f:
        out = run(["git", "-C", repo, "patch-id", "--stable"], input=f.read())[1]
    return out.split()[0] if out.strip() else None


def commit_patch_ids(repo=LINUX):
    """[(patch_id or None, commit)] for TAG..HEAD, oldest first."""
    commits = git(["rev-list", "--reverse", f"{BASE_TAG}..HEAD"], repo).split()
    logp = git(["log", "--reverse", "-p", "--no-color", f"{BASE_TAG}..HEAD"], repo)
    ids = dict(reversed(l.split()) for l in
               git(["patch-id", "--stable"], repo, input=logp).splitlines() if l)
    return [(ids.get(c), c) for c in commits]


def in_progress(repo=LINUX):
    gitdir = os.path.join(repo, ".git")
    return [d for d in ("rebase-apply", "rebase-merge", "MERGE_HEAD")
            if os.path.exists(os.path.join(gitdir, d))]


def unexported(repo=LINUX, patches=PATCHES):
    """Reasons why resetting build/linux would lose work (empty = safe)."""
    why = []
    if in_progress(repo):
        why.append(f"a git operation is in progress ({', '.join(in_progress(repo))})")
    if git(["status", "--porcelain", "--untracked-files=no"], repo).strip():
        why.append("uncommitted changes to tracked files")
    if subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", BASE_TAG,
                       "HEAD"]).returncode != 0:
        why.append(f"HEAD is not based on {BASE_TAG}")
        return why
    known = {file_patch_id(os.path.join(patches, n), repo) for n in read_series(patches)}
    extra = [c[:12] for pid, c in commit_patch_ids(repo) if pid not in known]
    if extra:
        why.append(f"commits not in patches/: {' '.join(extra)}")
    return why


def in_sync(repo=LINUX, patches=PATCHES):
    series = [file_patch_id(os.path.join(patches, n), repo) for n in read_series(patches)]
    return [pid for pid, _ in commit_patch_ids(repo)] == series


def apply_failure(out):
    errs = [l[len("error: "):].strip() for l in out.splitlines() if l.startswith("error: ")]
    errs = [e for e in errs if not e.startswith("could not build fake")]
    return "; ".join(errs[:2]) or (out.strip().splitlines() or ["unknown"])[-1]


def apply_series(repo=LINUX, patches=PATCHES, log=None):
    git(["reset", "-q", "--hard", BASE_TAG], repo, log=log)
    last = BASE_TAG
    for name in read_series(patches):
        path = os.path.join(patches, name)
        if not os.path.exists(path):
            raise HarnessError(f"patches/series names {name}, which does not exist")
        rc, out = run(["git", "-C", repo, "am", "-q", path], env=git_env(),
                      check=False, log=log)
        if rc != 0:
            git(["am", "--abort"], repo, check=False, log=log)
            raise HarnessError(f"patch {name} does not apply: {apply_failure(out)} "
                               f"(build/linux left at {last})", log)
        last = name
    return read_series(patches)


def ensure_tree(force=False, repo=LINUX, patches=PATCHES, log=None):
    """Make repo == base + series. Returns 'unchanged' or the applied list."""
    if not os.path.isdir(os.path.join(repo, ".git")):
        unpack(repo, log=log)
    why = unexported(repo, patches)
    if not why and in_sync(repo, patches):
        info(f"build/linux already matches patches/ ({len(read_series(patches))} patches)")
        return "unchanged"
    if why and not force:
        raise HarnessError(f"build/linux has unexported work ({'; '.join(why)}): "
                           "run `make export` first (or pass FORCE=1 to discard it)")
    if why:
        backup = f"refs/migbp/backup-{stamp()}"
        git(["update-ref", backup, "HEAD"], repo, log=log)
        if in_progress(repo):
            git(["am", "--abort"], repo, check=False, log=log)
            git(["rebase", "--abort"], repo, check=False, log=log)
        if git(["status", "--porcelain", "--untracked-files=no"], repo).strip():
            git(["stash", "push", "-q", "-m", "migbp FORCE=1"], repo, log=log)
        info(f"FORCE=1: old HEAD saved as {backup}, local changes in `git stash list`")
    applied = apply_series(repo, patches, log=log)
    info(f"applied {len(applied)} patches onto {BASE_TAG}")
    return applied


def ensure_present(repo=LINUX, patches=PATCHES, log=None):
    """Make the tree when there is none (a fresh clone); leave an existing
    one alone, unexported work and all. True when it made it."""
    if os.path.isdir(os.path.join(repo, ".git")):
        return False
    info(f"no {os.path.relpath(repo, ROOT)} yet: making it first (as `make tree`)")
    ensure_tree(repo=repo, patches=patches, log=log)
    return True


def touched_files(repo=LINUX):
    out = git(["diff", "--name-only", f"{BASE_TAG}..HEAD"], repo)
    return [l for l in out.splitlines() if l]


def worktree(path, rev, repo=LINUX, log=None):
    """A detached worktree of repo at rev (re-checked-out if it exists)."""
    if os.path.exists(os.path.join(path, ".git")):
        git(["checkout", "-q", "--detach", "--force", rev], path, log=log)
    else:
        git(["worktree", "prune"], repo, log=log)
        git(["worktree", "add", "-q", "--detach", path, rev], repo, log=log)
    return path


def series_commits(rev="HEAD", repo=LINUX):
    """`git log --oneline` of v<BASE>..rev, oldest first, for the reports; a
    last line says so when repo has uncommitted changes (only for HEAD)."""
    try:
        p = subprocess.run(["git", "-C", repo, "log", "--oneline", "--no-decorate",
                            f"{BASE_TAG}..{rev}"], capture_output=True, text=True)
        commits = p.stdout.strip().splitlines()[::-1]
        d = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
        if rev != "HEAD":
            d = ""              # a clean worktree at rev
        return commits + (["(plus uncommitted changes in build/linux)"] if d else [])
    except OSError:
        return []
