import os

import pytest

from conftest import DATA
from migbp import machine, qemu
from migbp.util import HarnessError


def problems(text, **kw):
    return [p[0] for p in qemu.scan(text, **kw)]


def test_clean_recorded_log_has_no_problems():
    # libhugetlbfs prints "WARNING:" from userspace: only kernel lines count
    assert problems(open(os.path.join(DATA, "base-hmm-tests.log")).read()) == []


def test_recorded_kernel_warning_is_a_failure_with_excerpt():
    found = qemu.scan(open(os.path.join(DATA, "base-topology-warning.log")).read())
    assert len(found) == 1
    summary, excerpt = found[0]
    assert "WARNING: CPU: 2" in summary and "line 12" in summary
    assert "llc-sibling" in excerpt and len(excerpt.splitlines()) == 21


SPLATS = [
    "BUG: unable to handle page fault for address: 0000000000000008",
    "WARNING: CPU: 1 PID: 77 at mm/migrate.c:300 migrate_page_move_mapping+0x1/0x2",
    "Kernel panic - not syncing: Fatal exception",
    "WARNING: possible circular locking dependency detected",
    "WARNING: inconsistent lock state",
    "BUG: KASAN: use-after-free in remove_migration_pte+0x10/0x20",
    "Oops: 0000 [#1] SMP",
    "INFO: task hmm-tests:80 blocked for more than 120 seconds.",
    "watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [migration:81]",
]


def test_each_splat_pattern_is_caught():
    for s in SPLATS:
        text = f"[    1.000000] booting\n[   12.345678] {s}\nMIGBP: DONE\n"
        got = problems(text)
        assert len(got) == 1 and "kernel splat at line 2" in got[0], s


def test_printk_in_the_middle_of_a_userspace_line():
    assert problems("ok 3 hmm.migr[    5.0] BUG: Bad page state\nMIGBP: DONE")


def test_no_done_marker_is_a_hang():
    assert problems("MIGBP: BEGIN x\n", timed_out=True) == [
        "guest timed out before 'MIGBP: DONE' (hang, panic or crash)"]


def test_missing_numa_node_is_a_clear_error():
    got = problems("MIGBP: ERROR no second NUMA node (nodes: 1)\nMIGBP: DONE\n")
    assert len(got) == 1 and "no second NUMA node" in got[0]


def test_guest_timeout_kills_a_fake_qemu(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGBP_CACHE", str(tmp_path))     # private cpu.lock
    log = str(tmp_path / "guest.log")
    b = qemu.boot(["sh", "-c", "echo MIGBP: BEGIN hmm-tests; exec sleep 30"], log,
                  timeout=1, echo=False)
    assert b.timed_out and not b.ok and b.seconds < 10
    assert "killed after 1s" in open(log).read()
    assert "timed out" in b.problems[0][0]


def test_fake_guest_that_finishes(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGBP_CACHE", str(tmp_path))
    b = qemu.boot(["printf", "MIGBP: BEGIN t\\n1..1\\nok 1 a\\nMIGBP: END t rc=0\\nMIGBP: DONE\\n"],
                  str(tmp_path / "g.log"), timeout=10, echo=False)
    assert b.ok and not b.timed_out


def test_command_has_two_numa_nodes_and_no_reboot():
    cmd = qemu.command("bz", "initrd", qemu.cmdline(["hmm-tests", "migration"]))
    s = " ".join(cmd)
    assert "node,nodeid=0,cpus=0-1,memdev=m0" in s and "node,nodeid=1,cpus=2-3,memdev=m1" in s
    assert "-no-reboot" in cmd and "tcg,thread=multi" in cmd
    assert "migbp.tests=hmm-tests,migration" in s and "panic=-1" in s


def test_smp_splits_vcpus_over_the_two_nodes(monkeypatch):
    monkeypatch.setenv("SMP", "8")
    cmd = qemu.command("bz", "rd", "x")
    assert "8,sockets=2,cores=4,threads=1" in cmd
    assert "node,nodeid=0,cpus=0-3,memdev=m0" in cmd and "node,nodeid=1,cpus=4-7,memdev=m1" in cmd
    monkeypatch.setenv("SMP", "3")
    with pytest.raises(HarnessError, match="SMP=3"):
        qemu.command("bz", "rd", "x")


def test_machine_adds_the_movable_dimm_to_the_default_guest():
    cmd = machine.command("bz", "initrd", "soak", "tcg", test_timeout=60, extra="migbp.x=1")
    s = " ".join(cmd)
    assert "-m 1536M,slots=2,maxmem=4G" in s and "id=m0,size=1024M" in s and "id=m1,size=512M" in s
    assert "pc-dimm,id=dimm1,memdev=d1,node=1" in s
    append = cmd[cmd.index("-append") + 1]
    assert append.endswith(f"migbp.timeout=60 {machine.KERNEL_ARGS} migbp.x=1")
    assert "migbp.tests=soak" in append


def test_machine_host_description_has_the_keys_reports_use():
    h = machine.host()
    assert set(h) == {"host", "qemu"} and "CPUs" in h["host"]


def test_prealloc_applies_to_every_ram_backend():
    cmd = machine.command("bz", "initrd", "bench", "tcg", prealloc=True)
    backends = [x for x in cmd if x.startswith("memory-backend-ram")]
    assert len(backends) == 3 and all(x.endswith(",prealloc=on") for x in backends)
    assert "prealloc" not in " ".join(machine.command("bz", "initrd", "bench", "tcg"))
