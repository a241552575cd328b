"""Series checks; each is a named row in the results table."""
import os
import re
import shutil
import subprocess

from . import base, kbuild, kconfig, tree
from .results import Result
from .util import (BASE, BASE_TAG, BUILD, CONFIG, LINUX, OUT, PATCHES, SRC,
                   HarnessError, cpu_lock, info, log_path, run)

K = "series"


def row(test, status, note="", group="checks"):
    return Result(K, group, test, status, note=note)


def guarded(test, fn, group="checks"):
    """Run fn() -> (status, note); a HarnessError becomes a failing row."""
    try:
        status, note = fn()
    except HarnessError as e:
        status, note = "fail", str(e)
    info(f"check {test}: {status} {note}")
    return row(test, status, note, group)


def checkpatch_env(git=True):
    """The environment checkpatch runs in. scripts/spdxcheck.py runs with
    `#!/usr/bin/env python`: make that Debian's python3 (which has
    python3-ply and python3-git), not whatever `python` comes first in PATH;
    otherwise the SPDX check crashes and is skipped without a word.
    git=False: GIT_DIR names no repository (see checkpatch())."""
    bindir = os.path.join(OUT, "checkpatch-bin")
    os.makedirs(bindir, exist_ok=True)
    link = os.path.join(bindir, "python")
    if not os.path.islink(link):
        os.symlink("/usr/bin/python3", link)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    if not git:
        env["GIT_DIR"] = os.path.join(bindir, "no-git-here")
    return env


# checkpatch runs twice. Without a git repository, as on a mailed patch in a
# tarball tree: the upstream ids a backport cites are unknown (UNKNOWN_COMMIT_ID,
# ignored) and only their form is checked; in build/linux's .git, which has
# none of them, 5.10's checkpatch misreads git's "bad object" for a full id as
# a malformed reference. And in build/linux for the one check that needs a
# repository: 5.10's checkpatch runs spdxcheck.py only where it finds one.
CHECKPATCH_PASSES = ((False, ()), (True, ("--types", "SPDX_LICENSE_TAG")))


def checkpatch(patches=PATCHES, src=LINUX):
    rows = []
    for name in tree.read_series(patches):
        def one(name=name):
            totals, first = [0, 0, 0], None
            for git, args in CHECKPATCH_PASSES:
                rc, out = run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                               "--ignore", "UNKNOWN_COMMIT_ID", *args,
                               os.path.join(patches, name)],
                              cwd=src, env=checkpatch_env(git), check=False,
                              log=log_path("checkpatch"))
                if "Traceback (most recent call last)" in out:
                    return "fail", "a checkpatch helper script crashed (see the checkpatch log)"
                m = re.search(r"total: (\d+) errors, (\d+) warnings, (\d+) checks", out)
                if not m:
                    return "fail", f"checkpatch gave no totals (exit {rc})"
                totals = [t + int(x) for t, x in zip(totals, m.groups())]
                first = first or re.search(r"^(ERROR|WARNING|CHECK):.*$", out, re.M)
            note = "total: {} errors, {} warnings, {} checks".format(*totals)
            return (("pass", note) if sum(totals) == 0 else
                    ("fail", f"{note}; first: {first.group(0) if first else '?'}"))
        rows.append(guarded(f"checkpatch {name}", one, "checkpatch"))
    return rows


def quilt(patches=PATCHES, repo=LINUX):
    def fn():
        series = tree.read_series(patches)
        if not series:
            return "skip", "empty series"
        work = os.path.join(BUILD, "quilt")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        log = log_path("quilt")
        archive = subprocess.run(["git", "-C", repo, "archive", BASE_TAG],
                                 stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["tar", "-x", "-C", work], input=archive, check=True)
        env = dict(os.environ, QUILT_PATCHES=patches, QUILT_SERIES=os.path.join(patches, "series"))
        rc, out = run(["quilt", "--quiltrc", "-", "push", "-a", "--fuzz=0"], cwd=work,
                      env=env, check=False, log=log)
        if rc != 0:
            bad = [l for l in out.splitlines() if "FAILED" in l or "does not apply" in l
                   or l.startswith("Applying patch")]
            return "fail", (bad[-1] if bad else f"quilt exit {rc}") + f" (log {log})"
        return "pass", f"{len(series)} patches"
    return guarded("quilt push -a --fuzz=0", fn)


def bisect(repo=LINUX):
    """Build the vm config at every commit of the series (ccache keeps it cheap)."""
    commits = tree.git(["rev-list", "--reverse", f"{BASE_TAG}..HEAD"], repo).split()
    rows = []
    wt = os.path.join(SRC, "bisect")
    for i, c in enumerate(commits, 1):
        subject = tree.git(["log", "-1", "--format=%s", c], repo).strip()

        def one(c=c):
            tree.worktree(wt, c)
            kbuild.build("bisect", "vm", src=wt, out=os.path.join(OUT, "bisect"))
            return "pass", ""
        rows.append(guarded(f"builds at {i}/{len(commits)}: {subject[:50]}", one, "bisect"))
    return rows


def sparse_objects(files, out):
    objs = [f[:-2] + ".o" for f in files if f.endswith(".c")]
    return [o for o in objs if os.path.exists(os.path.join(out, o))]


def sparse_warnings(kernel, objs, log):
    src, out = kbuild.source(kernel), kbuild.out_dir(kernel)
    with cpu_lock():
        if not os.path.exists(os.path.join(out, ".config")):
            kconfig.configure(src, out, kconfig.fragments("vm"), log=log, env=kbuild.env())
        _, text = kbuild.make(src, out, objs, ["C=2"], log=log,
                              what=f"sparse on {kernel}")
    return [l for l in text.splitlines() if re.search(r": (warning|error):", l)]


def sparse(repo=LINUX):
    def fn():
        objs = sparse_objects(tree.touched_files(repo), kbuild.out_dir("patched"))
        if not objs:
            return "skip", "series touches no .c file built in the vm config"
        log = log_path("sparse")
        with cpu_lock():            # both runs back to back
            base = sparse_warnings("base", objs, log)
            patched = sparse_warnings("patched", objs, log)
        note = f"{len(base)} -> {len(patched)} warnings in {' '.join(objs)}"
        return ("fail" if len(patched) > len(base) else "pass"), note
    return guarded("sparse (C=2) not worse than base", fn)


def warning_free_build(name, arch_args, base_target, frag, objs, cc):
    def fn():
        out = os.path.join(OUT, name)
        log = log_path(name)
        with cpu_lock():
            kconfig.configure(LINUX, out, [os.path.join(CONFIG, frag)], base_target,
                              arch_args, log=log, env=kbuild.env())
            kbuild.make(LINUX, out, ["prepare"], arch_args, log=log, cc=cc)
            _, text = kbuild.make(LINUX, out, objs, arch_args, log=log, cc=cc,
                                  what=f"{name} build of {' '.join(objs)}")
        warns = [l for l in text.splitlines() if "warning:" in l]
        if warns:
            return "fail", f"{len(warns)} warnings, first: {warns[0]} (log {log})"
        return "pass", " ".join(objs)
    return guarded(f"{name}: {' '.join(os.path.basename(o) for o in objs)} warning-free", fn, "cross")


def cross_builds():
    ppc = ["ARCH=powerpc", "CROSS_COMPILE=powerpc64le-linux-gnu-"]
    return [
        warning_free_build("ppc64le", ppc, "ppc64le_defconfig", "ppc64le-uvmem.config",
                           # uvmem: MIGRATE_PFN_LOCKED; hugetlbpage: the hugetlb
                           # migration wait; mm/hugetlb.o without ARCH_WANT_HUGE_PMD_SHARE;
                           # filemap/shmem: the fault paths and the shared wait code
                           ["arch/powerpc/kvm/book3s_hv_uvmem.o",
                            "arch/powerpc/mm/hugetlbpage.o", "mm/migrate.o",
                            "mm/hugetlb.o", "mm/filemap.o", "mm/shmem.o"],
                           "ccache powerpc64le-linux-gnu-gcc"),
        warning_free_build("nouveau", [], "defconfig", "nouveau.config",
                           ["drivers/gpu/drm/nouveau/nouveau_dmem.o", "lib/test_hmm.o"],
                           "ccache gcc"),
    ]


# ---------------------------------------------------------------- Debian's path

DEBIAN = os.path.join(BUILD, "debian")
# Debian's amd64 flavour config (debian/bin/gencontrol.py concatenates these,
# in this order, for the "amd64" flavour of featureset "none").
DEBIAN_CONFIGS = ["debian/config/config", "debian/config/kernelarch-x86/config",
                  "debian/config/amd64/config"]


def debian_tree(log):
    """build/debian: the base + Debian's own patches (quilt, their series)."""
    tarball = base.ensure_tarball(path=base.tarball_path(BASE.debian_tarball),
                                  expected=BASE.debian_sha256, log=log)
    shutil.rmtree(DEBIAN, ignore_errors=True)
    os.makedirs(DEBIAN)
    archive = subprocess.run(["git", "-C", LINUX, "archive", BASE_TAG],
                             stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-x", "-C", DEBIAN], input=archive, check=True)
    run(["tar", "-xf", tarball, "-C", DEBIAN], log=log, what="tar xf (Debian's patches)")
    env = dict(os.environ, QUILT_PATCHES="debian/patches")
    rc, out = run(["quilt", "--quiltrc", "-", "push", "-a", "--fuzz=0"], cwd=DEBIAN, env=env,
                  check=False, log=log)
    if rc != 0:
        raise HarnessError(f"Debian {BASE.deb_version}'s own patches do not apply: "
                           f"{quilt_failure(out, rc)}", log)
    return len([l for l in open(os.path.join(DEBIAN, "debian/patches/series"))
                if l.strip() and not l.startswith("#")])


def quilt_failure(out, rc):
    bad = [l for l in out.splitlines() if "FAILED" in l or "does not apply" in l
           or l.startswith("Applying patch")]
    return bad[-1] if bad else f"quilt exit {rc}"


def debian_quilt(patches=PATCHES):
    """Debian's patches, then this series on top, each its own quilt stack."""
    def fn():
        series = tree.read_series(patches)
        if not series:
            return "skip", "empty series"
        if not BASE.debian_sha256:
            return "skip", f"no Debian source pinned for base {BASE.name}"
        log = log_path("debian-quilt")
        ndeb = debian_tree(log)
        env = dict(os.environ, QUILT_PC=".pc-series", QUILT_PATCHES=patches,
                   QUILT_SERIES=os.path.join(patches, "series"))
        rc, out = run(["quilt", "--quiltrc", "-", "push", "-a", "--fuzz=0"], cwd=DEBIAN,
                      env=env, check=False, log=log)
        if rc != 0:
            return "fail", f"{quilt_failure(out, rc)} (log {log})"
        return "pass", f"{ndeb} Debian patches, then {len(series)}"
    return guarded(f"quilt: Debian {BASE.deb_version} patches + series", fn)


OBJ_LINE = re.compile(r"^\s*obj-(\$\((CONFIG_\w+)\)|y)\s*[+:]?=\s*(.*)$")


def enabled_objects(src, files, config):
    """Touched .c files whose object Debian's .config builds: (objs, skipped)."""
    opts = kconfig.parse(config)
    objs, skipped = [], []
    for f in files:
        other_arch = f.startswith("arch/") and not f.startswith("arch/x86/")
        if not f.endswith(".c") or f.startswith(("tools/", "scripts/")) or other_arch:
            continue
        d, name = os.path.split(f)
        obj = name[:-2] + ".o"
        gate = None
        mk = os.path.join(src, d, "Makefile")
        for line in (open(mk).read().replace("\\\n", " ").splitlines()
                     if os.path.exists(mk) else []):
            m = OBJ_LINE.match(line)
            if m and obj in m.group(3).split():
                gate = m.group(2) or "y"
                break
        if gate == "y" or (gate and opts.get(gate, "n") in ("y", "m")):
            objs.append(f[:-2] + ".o")
        else:
            skipped.append(f"{f} ({gate or 'not in its Makefile'} off)")
    return objs, skipped


def debian_config_build(repo=LINUX):
    """The touched files, compiled in build/debian (Debian's patches + the
    series) with Debian's real amd64 config, warning-free."""
    def fn():
        if not BASE.debian_sha256:
            return "skip", f"no Debian source pinned for base {BASE.name}"
        if not os.path.isdir(os.path.join(DEBIAN, ".pc-series")):
            return "skip", "needs the Debian quilt row first"
        log = log_path("debian-config")
        out = os.path.join(OUT, "debian-amd64")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, ".config"), "w") as cfg:
            for part in DEBIAN_CONFIGS:
                cfg.write(open(os.path.join(DEBIAN, part)).read())
        with cpu_lock():
            kbuild.make(DEBIAN, out, ["olddefconfig"], log=log, cc=None)
            objs, skipped = enabled_objects(DEBIAN, tree.touched_files(repo),
                                            os.path.join(out, ".config"))
            if not objs:
                return "skip", "no touched file is built in Debian's amd64 config"
            kbuild.make(DEBIAN, out, ["prepare"], log=log)
            _, text = kbuild.make(DEBIAN, out, objs, log=log,
                                  what=f"Debian-config build of {' '.join(objs)}")
        warns = [l for l in text.splitlines() if "warning:" in l]
        if warns:
            return "fail", f"{len(warns)} warnings, first: {warns[0]} (log {log})"
        note = " ".join(objs) + (f"; not built there: {', '.join(skipped)}" if skipped else "")
        return "pass", note
    return guarded("Debian amd64 config: touched files build warning-free", fn, "cross")
