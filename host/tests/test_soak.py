import os
import subprocess

from migbp import bench, machine, soak

CLEAN = """\
[    1.234567] Freeing unused kernel memory
MIGBP: BEGIN soak
SOAK,info,5.10.223 secs=120 offline_limit=20 hung_task_timeout_secs=60
SOAK,start,120,20
SOAK,info,thp AnonHugePages=4096kB of 4096kB
SOAK,progress,60,123456,7890
[   70.000000] hmm_dmirror: added new 256 MB chunk (total 1 chunks, 256 MB) PFNs [0x3ff0000 0x4000000)
SOAK,verify,private,1024,0
SOAK,verify,hmm-device,256,0
SOAK,op,private.move_pages,40
SOAK,op,private.pages_moved,40000
[  121.000000] some printk SOAK,op,churn.mremap,17
SOAK,op,offline.ok,5
SOAK,vmstat,pgmigrate_success,99999
SOAK,vmstat,pgmigrate_fail,12
SOAK,result,corrupted_bytes=0,hung=0,errors=0
SOAK,end,125
MIGBP: END soak rc=0 secs=126.0
MIGBP: DONE
"""


def test_parse_console():
    g = soak.parse_console(CLEAN)
    assert list(g["ops"]) == ["private.move_pages", "private.pages_moved", "churn.mremap",
                              "offline.ok"]
    assert g["ops"]["churn.mremap"] == 17              # printk glued before the line
    assert g["vmstat"] == {"pgmigrate_success": 99999, "pgmigrate_fail": 12}
    assert g["verify"]["private"] == (1024, 0)
    assert g["progress"] == [(60, 123456, 7890)]
    assert g["result"] == {"corrupted_bytes": 0, "hung": 0, "errors": 0}
    assert g["end"] == 125 and g["start"] == 120 and not g["errors"]


def test_garbled_lines_are_kept_apart_and_glued_printk_after_a_number_is_ignored():
    g = soak.parse_console("SOAK,op,x\nSOAK,bogus,1\nSOAK,vmstat,a,notanumber\n"
                           "SOAK,op,fork.fork_exit,12[  33.1] migrating pfn 1234 failed\n")
    assert len(g["garbled"]) == 3 and not g["errors"]
    assert g["ops"] == {"fork.fork_exit": 12}


def statuses(rows):
    return {r.test: r.status for r in rows}


def test_clean_run_passes_every_row():
    v, rows = soak.verdict("base", CLEAN, seconds=130.0)
    assert set(statuses(rows).values()) == {"pass"}
    assert v["splats"] == 0 and v["corrupted"] == 0 and v["hung"] == 0 and v["finished"]


def test_splat_fails_but_userspace_warning_does_not():
    text = CLEAN.replace("SOAK,end,125", "WARNING: libhugetlbfs said something\nSOAK,end,125")
    assert statuses(soak.verdict("base", text)[1])["kernel splats = 0"] == "pass"
    text = CLEAN.replace(
        "SOAK,end,125",
        "[   90.100000] ==================================================================\n"
        "[   90.100001] BUG: KASAN: use-after-free in migration_entry_wait+0x1/0x2\n"
        "[   91.000000] WARNING: possible circular locking dependency detected\n"
        "SOAK,end,125")
    v, rows = soak.verdict("patched", text)
    st = statuses(rows)
    assert st["kernel splats = 0"] == "fail" and v["splats"] == 2
    assert st["corrupted bytes = 0"] == "pass" and st["hung tasks = 0"] == "pass"
    assert "KASAN" in v["splat_lines"][0]


def test_corruption_fails():
    text = (CLEAN.replace("corrupted_bytes=0", "corrupted_bytes=8")
            .replace("SOAK,verify,private,1024,0",
                     "SOAK,corrupt,churn,77,0,8,zero/3,got=1 want=0\n"
                     "SOAK,verify,private,1024,0"))
    v, rows = soak.verdict("base", text)
    assert statuses(rows)["corrupted bytes = 0"] == "fail"
    assert v["corrupted"] == 8 and v["corrupt_lines"][0].startswith("churn,77")


def test_final_pass_corruption_fails_even_if_total_line_lost():
    text = CLEAN.replace("SOAK,verify,private,1024,0", "SOAK,verify,private,1024,3")
    assert statuses(soak.verdict("base", text)[1])["corrupted bytes = 0"] == "fail"


def test_kernel_hung_task_counts_as_hang_not_splat():
    text = CLEAN.replace(
        "SOAK,end,125",
        "[  200.000000] INFO: task soak-bin:123 blocked for more than 60 seconds.\nSOAK,end,125")
    v, rows = soak.verdict("base", text)
    st = statuses(rows)
    assert st["hung tasks = 0"] == "fail" and st["kernel splats = 0"] == "pass"
    assert v["hung"] == 1


def test_worker_that_did_not_stop_is_a_hang():
    text = CLEAN.replace("SOAK,result,corrupted_bytes=0,hung=0,errors=0",
                         "SOAK,hung,offline,42,42 (soak-bin) D,offline_pages\n"
                         "SOAK,result,corrupted_bytes=0,hung=1,errors=0")
    v, rows = soak.verdict("base", text)
    assert statuses(rows)["hung tasks = 0"] == "fail" and v["hung"] == 1


def test_guest_that_never_finished_fails_and_counts_as_hung():
    text = CLEAN.split("SOAK,op,")[0]
    v, rows = soak.verdict("patched", text, timed_out=True)
    st = statuses(rows)
    assert st["ran to the end"] == "fail" and st["hung tasks = 0"] == "fail"
    assert st["corrupted bytes = 0"] == "fail"         # never reported: not a pass
    assert v["corrupted"] is None and "timed out" in rows[0].note


def test_guest_that_panicked_is_a_splat_and_unfinished_not_a_hang():
    text = CLEAN.split("SOAK,op,")[0] + (
        "[   24.304852] BUG: unable to handle page fault for address: ffffed2f9fffb400\n"
        "[   24.341703] Kernel panic - not syncing: Fatal exception\n")
    v, rows = soak.verdict("patched", text)
    st = statuses(rows)
    assert st["ran to the end"] == "fail" and st["kernel splats = 0"] == "fail"
    assert st["hung tasks = 0"] == "pass" and v["splats"] == 2


def test_guest_errors_fail():
    text = CLEAN.replace("SOAK,end,125", "SOAK,error,hmm: open /dev/hmm_dmirror0: No such file\n"
                         "SOAK,end,125")
    assert statuses(soak.verdict("base", text)[1])["guest errors = 0"] == "fail"


def test_table_has_a_column_per_kernel_and_the_must_be_zero_rows():
    vb, _ = soak.verdict("base", CLEAN)
    vp, _ = soak.verdict("patched", CLEAN.replace("private.move_pages,40",
                                                  "private.move_pages,41"))
    t = soak.table([vb, vp]).splitlines()
    assert t[0] == "| operation | base | patched |"
    assert "| `private.move_pages` | 40 | 41 |" in t
    assert "| pgmigrate_success (delta) | 99,999 | 99,999 |" in t
    assert "| **corrupted bytes** (must be 0) | **0** | **0** |" in t
    assert any(l.startswith("| **hung tasks**") for l in t)


def test_splice_doc_keeps_hand_written_text():
    first = soak.splice_doc("", "TABLE v1")
    edited = first + "\n## Notes\nhand written\n"
    second = soak.splice_doc(edited, "TABLE v2")
    assert "TABLE v2" in second and "TABLE v1" not in second and "hand written" in second


def test_guest_command_reuses_the_bench_machine():
    a = soak.guest_command("bz", "initrd", 600, "tcg")
    s = " ".join(a)
    assert "-m " + machine.MEM in s and "pc-dimm,id=dimm1,memdev=d1,node=1" in s
    assert machine.KERNEL_ARGS in s and "migbp.tests=soak" in s
    assert "migbp.soak_secs=600" in s and "migbp.timeout=1200" in s
    b = bench.guest_command("bz", "initrd", False, 2, 120, "tcg")
    assert a[:a.index("-append")] == b[:b.index("-append")]
    # the same machine after -append too, but bench preallocates its RAM
    rest = lambda c: [x.replace(",prealloc=on", "") for x in c[c.index("-append") + 2:]]
    assert rest(a) == rest(b) and "prealloc" not in " ".join(a)


def test_driver_is_posix_sh():
    assert subprocess.run(["sh", "-n", os.path.join(soak.SOAK_SRC, "soak.sh")]).returncode == 0
