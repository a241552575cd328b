"""build/linux commits -> patches/ (format-patch + cover letter + series)."""
import glob
import os

from .tree import COVER, git, in_progress
from .util import BASE, BASE_TAG, LINUX, PATCHES, ROOT, HarnessError, info

# The cover letter text of the series of the base's family (5.10 or mainline).
COVER_TEXT = os.path.join(ROOT, "docs", "cover-letter.txt" if BASE.family == "5.10"
                          else f"{BASE.family}-cover-letter.txt")


def fill_cover(path, text_path=COVER_TEXT, date=None):
    lines = open(text_path).read().strip("\n").split("\n") if os.path.exists(text_path) else []
    subject = lines[0] if lines else "*** SUBJECT HERE ***"
    blurb = "\n".join(lines[1:]).strip("\n") or "*** BLURB HERE ***"
    out = []
    for line in open(path).read().split("\n"):
        if date and line.startswith("Date: "):
            line = f"Date: {date}"
        out.append(line.replace("*** SUBJECT HERE ***", subject)
                   .replace("*** BLURB HERE ***", blurb))
    with open(path, "w") as f:
        f.write("\n".join(out))


def export(repo=LINUX, patches=PATCHES, cover_text=COVER_TEXT, log=None):
    if in_progress(repo) or git(["status", "--porcelain", "--untracked-files=no"], repo).strip():
        raise HarnessError("build/linux has uncommitted changes or a git operation "
                           "in progress: commit (or abort) first, then `make export`")
    count = int(git(["rev-list", "--count", f"{BASE_TAG}..HEAD"], repo))
    os.makedirs(patches, exist_ok=True)
    for old in glob.glob(os.path.join(patches, "*.patch")):
        os.unlink(old)
    names = []
    if count:
        # --zero-commit/--no-signature and the last author date on the cover
        # letter keep a re-export of the same commits byte-identical; the
        # base's commit id is the same on every machine (tree.BASE_COMMIT_DATE).
        # core.abbrev fixed: git's automatic abbreviation grows with the
        # object count, so index lines would differ between machines.
        git(["-c", "core.abbrev=12", "format-patch", "-q", "--cover-letter",
             "--no-signature", "--zero-commit", f"--base={BASE_TAG}", "-o", patches,
             f"{BASE_TAG}..HEAD"], repo, log=log)
        date = git(["log", "-1", "--format=%aD", "HEAD"], repo).strip()
        fill_cover(os.path.join(patches, COVER), cover_text, date)
        names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(patches, "*.patch"))
                       if os.path.basename(p) != COVER)
    with open(os.path.join(patches, "series"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    info(f"exported {len(names)} patches to patches/: review `git diff patches/`, then commit")
    return names
