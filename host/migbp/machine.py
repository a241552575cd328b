"""The test machine `bench` and `soak` boot, and the host it runs on.

qemu.command()'s default guest has 2 GiB in two 1 GiB NUMA nodes. This one
(FACTS.md) adds memory hotplug: node 0 1 GiB, node 1 512 MiB of boot memory
plus a 512 MiB pc-dimm on node 1 that the kernel onlines movable
(KERNEL_ARGS), so its 128 MiB blocks can be offlined; 16 hugetlb pages are
reserved by guest/init. Base and patched always boot the same machine.
"""
import os
import platform
import subprocess

from . import qemu

MEM = "1536M,slots=2,maxmem=4G"
NODE_MEM = ("1024M", "512M")
DIMM = ["-object", "memory-backend-ram,id=d1,size=512M",
        "-device", "pc-dimm,id=dimm1,memdev=d1,node=1"]
KERNEL_ARGS = "movable_node memhp_default_state=online_movable migbp.hugepages=16"


def command(bzimage, initrd, test, accel, test_timeout=600, extra="", prealloc=False):
    """QEMU argv of this machine running guest program `test` (migbp.tests=)
    with the kernel command-line additions `extra` (e.g. migbp.bench_secs=2).

    prealloc: QEMU allocates all guest RAM (2 GiB of host memory) before the
    guest starts, so that the guest's first touch of a page is not a host
    page fault in the middle of a measurement (bench). The guest sees the
    same machine either way."""
    append = qemu.cmdline([test], test_timeout=test_timeout,
                          extra=f"{KERNEL_ARGS} {extra}".strip())
    dimm = [a + ",prealloc=on" if prealloc and a.startswith("memory-backend") else a
            for a in DIMM]
    return qemu.command(bzimage, initrd, append, accel, mem=MEM, node_mem=NODE_MEM,
                        extra=dimm, prealloc=prealloc)


def host():
    """{'host': CPUs, RAM and kernel of the host, 'qemu': QEMU's version line}
    for the reports (absolute numbers under TCG are this host's)."""
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    qv = "?"
    try:
        qv = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                            text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    return {"host": f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.system()} "
                    f"{platform.release()}", "qemu": qv}
