"""`run`: build kernel(s) + initramfs, boot each, parse TAP, report rows."""
from . import initramfs, kbuild, qemu, tap
from .results import Result, from_boot
from .util import HarnessError, Timer


def tests_to_run(requested=None):
    have = initramfs.available_tests()
    if not requested:
        return initramfs.available_tests(defaults=True)
    wanted = [t for t in requested.replace(",", " ").split() if t]
    unknown = [t for t in wanted if t not in have]
    if unknown:
        raise HarnessError(f"unknown test(s) {', '.join(unknown)}; available: {', '.join(have)}")
    return wanted


def guest_rows(kernel, boot):
    runs = tap.split_runs(boot.text)
    return from_boot(kernel, boot, [(r, tap.run_tests(r)) for r in runs])


def report_problems(kernel, boot):
    for summary, text in boot.problems:
        print(f"\n*** {kernel}: {summary}\n{text}\n*** full log: {boot.log}\n", flush=True)


def build_row(kernel, kind="vm"):
    """Build one kernel: (its name, bzImage or None, the result row). A build
    failure is a failing row and an error line, not an exception."""
    name = kernel if kind == "vm" else f"{kernel}-{kind}"
    try:
        with Timer(f"build {name} kernel") as t:
            bz = kbuild.build(kernel, kind)
        return name, bz, Result(name, "build", "kernel build", "pass", round(t.seconds))
    except HarnessError as e:
        print(f"error: {e}", flush=True)
        return name, None, Result(name, "build", "kernel build", "fail", note=str(e))


def run_kernels(kernels, tests=None, kind="vm", timeout=qemu.DEFAULT_TIMEOUT, build=True):
    """Rows for each kernel. Build failures become failing rows, not exceptions."""
    tests = tests_to_run(tests)
    with Timer("guest userspace (selftests + initramfs)"):
        initrd = initramfs.pack(initramfs.build_tests(tests))
    rows = []
    for k in kernels:
        name, bz, row = build_row(k, kind)
        rows.append(row)
        if not bz:
            continue
        with Timer(f"boot {name} + {', '.join(tests)}"):
            b = qemu.run_guest(name, bz, initrd, tests, timeout)
        report_problems(name, b)
        rows += guest_rows(name, b)
    return rows
