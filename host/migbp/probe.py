"""`probe`: run guest/probe/ programs on chosen prefixes of the series.

For questions the selftests do not answer, such as "does patch K change
what happens to page moves under readers, with SMP=8": builds the prefixes
(PREFIXES=, default the base and the whole series, as `make prefix`),
packs the programs of guest/probe/ and a script made of PROBE= (commands
separated by ';', run in order), boots the prefixes round-robin BOOTS times
under one hold of the cpu lock, and keeps the programs' "PROBE ..." lines
per boot in build/probe/<stamp>/probe.txt. Nothing is judged: it measures.
"""
import os
import re
import time

from . import initramfs, prefix, qemu
from .util import (BUILD, GUEST, LINUX, OUT, HarnessError, Timer, cpu_lock, info, log_path,
                   run)

PROBE_SRC = os.path.join(GUEST, "probe")
PROBE_OUT = os.path.join(BUILD, "probe")
LINE = re.compile(r"PROBE\b.*$")


def build_programs(log):
    """guest/probe/*.c compiled static, and guest/probe/*.sh as they are
    (scripts such as htrace.sh, which set up kprobes around a program)."""
    bins = {}
    for name in sorted(os.listdir(PROBE_SRC)):
        if name.endswith(".sh"):
            bins[name] = os.path.join(PROBE_SRC, name)
            continue
        if not name.endswith(".c"):
            continue
        b = os.path.join(OUT, "probe", name[:-2])
        os.makedirs(os.path.dirname(b), exist_ok=True)
        run(["gcc", "-static", "-O2", "-Wall", "-I", os.path.join(LINUX, "lib"), "-o", b,
             os.path.join(PROBE_SRC, name), "-lnuma", "-lpthread"], log=log,
            what=f"compiling guest/probe/{name}")
        bins[name[:-2]] = b
    return bins


def script(commands):
    """A busybox script running each ';'-separated command from /selftests."""
    cmds = [c.strip() for c in commands.split(";") if c.strip()]
    if not cmds:
        raise HarnessError("PROBE= is empty: e.g. PROBE='streak private 7 20 1; streak thp 7 20'")
    return "#!/bin/sh\n" + "".join(f"/selftests/{c}\n" for c in cmds)


def probe_lines(text):
    return [m.group(0) for m in (LINE.search(l) for l in text.splitlines()) if m]


def probe(commands, spec=None, boots=1, timeout=qemu.DEFAULT_TIMEOUT, kind="vm"):
    cs = prefix.commits()
    ks = prefix.choose(len(cs), spec or f"0,{len(cs)}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(PROBE_OUT, stamp)
    os.makedirs(outdir)
    log = log_path("probe-build")
    sh = os.path.join(outdir, "probe.sh")
    with open(sh, "w") as f:
        f.write(script(commands))
    os.chmod(sh, 0o755)
    bins = build_programs(log)
    bins["probe"] = sh
    initrd = initramfs.pack(bins, out=os.path.join(outdir, "initramfs.cpio.gz"))
    report = [f"# make probe PROBE='{commands}' PREFIXES={','.join(map(str, ks))} "
              f"BOOTS={boots} SMP={qemu.vcpus()} KCONFIG={kind} "
              f"({time.strftime('%Y-%m-%d %H:%M')})"]
    with cpu_lock():
        bz = prefix.build_prefixes(ks, cs, outdir, kind=kind)
        for i in range(boots):
            for k in ks:
                with Timer(f"probe boot {i + 1}/{boots} p{k}"):
                    b = qemu.run_guest(f"probe-p{k}-{i + 1}", bz[k], initrd, ["probe"], timeout)
                report.append(f"## p{k} boot {i + 1} ({b.log})"
                              + ("" if b.ok else f" PROBLEMS: {'; '.join(p for p, _ in b.problems)}"))
                report += probe_lines(b.text)
                with open(os.path.join(outdir, "probe.txt"), "w") as f:
                    f.write("\n".join(report) + "\n")
    print("\n".join(report))
    info(f"report: {os.path.relpath(outdir, BUILD)}/probe.txt")
    return 0
