"""Boot a kernel + initramfs under QEMU (2 NUMA nodes) and judge the console log."""
import os
import re
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field

from .util import HarnessError, cpu_lock, info, log_path

SPLATS = [
    r"BUG:", r"WARNING:", r"Kernel panic", r"Oops", r"KASAN:",
    r"possible circular locking", r"inconsistent lock state",
    r"possible recursive locking", r"hung_task", r"blocked for more than",
    r"soft lockup", r"general protection fault", r"Unable to handle kernel",
    r"list_add corruption", r"list_del corruption", r"UBSAN:",
]
SPLAT_RE = re.compile("|".join(SPLATS))
# Only kernel messages count (PRINTK_TIME is on): userspace such as
# libhugetlbfs prints "WARNING:" too. A printk may start mid-line.
TIMESTAMP = re.compile(r"\[\s*\d+\.\d+\]")


def splat(line):
    m = TIMESTAMP.search(line)
    return m is not None and SPLAT_RE.search(line, m.end()) is not None
DONE = "MIGBP: DONE"
NO_NUMA = "MIGBP: ERROR no second NUMA node"
DEFAULT_TIMEOUT = int(os.environ.get("BOOT_TIMEOUT") or 900)


@dataclass
class Boot:
    log: str
    accel: str
    seconds: float = 0.0
    timed_out: bool = False
    text: str = ""
    problems: list = field(default_factory=list)   # (summary, excerpt)

    @property
    def ok(self):
        return not self.problems


def excerpt(lines, i, before=10, after=10):
    lo, hi = max(0, i - before), min(len(lines), i + after + 1)
    return "\n".join(f"  {n + 1:6d}| {lines[n]}" for n in range(lo, hi))


def scan(text, timed_out=False):
    """Problems in a console log: splats, panics, missing NUMA, no DONE."""
    lines = text.splitlines()
    problems = []
    for i, line in enumerate(lines):
        if splat(line):
            problems.append((f"kernel splat at line {i + 1}: {line.strip()}", excerpt(lines, i)))
            break          # the first one matters; the rest usually follow from it
    for i, line in enumerate(lines):
        if NO_NUMA in line:
            problems.append(("guest has no second NUMA node: check the QEMU -numa options "
                             "and CONFIG_NUMA/ACPI/X86_64_ACPI_NUMA", excerpt(lines, i)))
    if not any(DONE in l for l in lines):
        why = "timed out" if timed_out else "exited"
        problems.append((f"guest {why} before '{DONE}' (hang, panic or crash)",
                         excerpt(lines, len(lines) - 1, before=20, after=0)))
    return problems


def probe_kvm():
    """The accelerator asked for: ACCEL=tcg (default), kvm, or auto (probe)."""
    return os.environ.get("ACCEL") or "tcg"


def kvm_boots(bzimage, initrd, timeout=60):
    """ACCEL=auto: use KVM only if a test-less KVM boot reaches MIGBP: DONE."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    b = boot(command(bzimage, initrd, cmdline([]), "kvm"), log_path("kvm-probe"),
             timeout, "kvm", echo=False)
    info(f"KVM probe boot {'worked' if b.ok else 'failed'} ({b.log})")
    return b.ok


def vcpus():
    """SMP=N (even, default 4): more vCPUs than host cores makes the host
    preempt vCPUs at any instruction, which widens kernel race windows."""
    v = os.environ.get("SMP") or "4"
    if not v.isdigit() or int(v) < 2 or int(v) % 2:
        raise HarnessError(f"SMP={v}: an even number of vCPUs, at least 2 (one node each half)")
    return int(v)


def command(kernel, initrd, append, accel="tcg", qemu="qemu-system-x86_64",
            mem="2G", node_mem=("1G", "1G"), extra=(), smp=None, prealloc=False):
    """QEMU argv. mem/node_mem/extra let `bench` add a hotpluggable pc-dimm;
    prealloc: QEMU touches the nodes' RAM before the guest starts."""
    acc = "tcg,thread=multi" if accel == "tcg" else accel
    smp = smp or vcpus()
    half = smp // 2
    cmd = [qemu, "-accel", acc, "-smp", f"{smp},sockets=2,cores={half},threads=1", "-m", mem,
           "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
           "-kernel", kernel, "-initrd", initrd, "-append", append]
    for n in (0, 1):
        cmd += ["-object", f"memory-backend-ram,id=m{n},size={node_mem[n]}"
                + (",prealloc=on" if prealloc else ""),
                "-numa", f"node,nodeid={n},cpus={half * n}-{half * n + half - 1},memdev=m{n}"]
    return cmd + list(extra)


def cmdline(tests, test_timeout=600, extra=""):
    tests = tests or ["none"]
    return (f"console=ttyS0 panic=-1 oops=panic loglevel=5 "
            f"migbp.tests={','.join(tests)} migbp.timeout={test_timeout} {extra}").strip()


def boot(cmd, log, timeout=DEFAULT_TIMEOUT, accel="tcg", echo=True):
    """Run cmd (QEMU or a fake), stream its output to log, kill it at timeout."""
    info(f"booting ({accel}), timeout {timeout}s, console log {log}")
    with open(log, "w") as f:
        f.write(f"# {shlex.join(cmd)}\n")
    lines = []
    with cpu_lock():
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise HarnessError(f"missing tool: {cmd[0]} (run `make deps`)")

        def reader():
            with open(log, "a") as f:
                for raw in p.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    lines.append(line)
                    f.write(line + "\n")
                    f.flush()
                    if echo and line.startswith("MIGBP:"):
                        info(f"guest: {line}")
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        timed_out = False
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            p.kill()
            p.wait()
        th.join(5)
    b = Boot(log=log, accel=accel, seconds=time.monotonic() - t0, timed_out=timed_out,
             text="\n".join(lines))
    if timed_out:
        with open(log, "a") as f:
            f.write(f"\n# migbp: killed after {timeout}s wall-clock timeout\n")
    b.problems = scan(b.text, timed_out)
    return b


def run_guest(kernel_name, bzimage, initrd, tests, timeout=DEFAULT_TIMEOUT, test_timeout=600,
              extra=""):
    accel = probe_kvm()
    if accel not in ("tcg", "kvm", "auto"):
        raise HarnessError(f"ACCEL={accel}: use tcg (default), kvm or auto (probe)")
    if accel == "auto":
        accel = "kvm" if kvm_boots(bzimage, initrd) else "tcg"
    if accel == "kvm":
        info("using KVM: KVM guests are known to hang on these machines (FACTS.md)")
    cmd = command(bzimage, initrd, cmdline(tests, test_timeout, extra), accel)
    return boot(cmd, log_path(kernel_name), timeout, accel)
