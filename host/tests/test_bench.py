import os
import subprocess

from conftest import DATA
from migbp import bench, initramfs, qemu

CONSOLE = """\
[    1.234567] Freeing unused kernel memory
MIGBP: BEGIN bench
# bench: quick=0 secs=2 limit=120 5.10.223
BENCH,refault,private-r,3,1,2.00,1500,1500,0,0,1500,0,0,0,4200,
BENCH,refault,shared-r,3,1,2.01,1000,600,400,400000,600,4100,0,0,3000,ret>0:0 ret<0:0
[    9.000000] some printk
BENCH,refault,thp-r,1,1,2.00,50,50,0,0,25600,0,50,0,99,AnonHugePages=2048kB
BENCH,offline,private,3,128,memory40,73.50,ok,32768,90000,120000,7,32000,ok,0.50,blocks=2 phys=0x140000000-0x147ffffff zones=Movable present=32768 in_block=32000
BENCH,offline,shared,3,128,memory40,120.00,timeout,100,5000,9,1,32000,ok,0.40,x
BENCH,error,mmap(MAP_HUGETLB): Cannot allocate memory
BENCH,refault,private-r,3,notanumber
MIGBP: END bench rc=0 secs=90.0
MIGBP: DONE
"""


def test_parse_console_rows_types_and_errors():
    rows, errors = bench.parse_console(CONSOLE)
    assert [r["scenario"] for r in rows["refault"]] == ["private-r", "shared-r", "thp-r"]
    sh = rows["refault"][1]
    assert sh["T"] == 3 and sh["pages"] == 1 and sh["failed_ppm"] == 400000
    assert sh["pgmigrate_fail"] == 4100 and sh["seconds"] == 2.01
    assert sh["note"] == "ret>0:0 ret<0:0"
    assert rows["refault"][0]["note"] == ""
    off = rows["offline"]
    assert off[0]["seconds"] == 73.5 and off[0]["result"] == "ok"
    assert off[0]["pages_in_block"] == 32000 and off[0]["block"] == "memory40"
    assert off[1]["result"] == "timeout"
    assert errors[0] == "mmap(MAP_HUGETLB): Cannot allocate memory"
    assert errors[1].startswith("malformed:")


def test_printk_glued_before_a_bench_line_is_tolerated():
    rows, errors = bench.parse_console(
        "[ 5.1] x BENCH,refault,private-r,1,1,1.00,10,10,0,0,10,0,0,0,5,\n")
    assert len(rows["refault"]) == 1 and not errors


def test_note_with_commas_is_kept_whole():
    rows, _ = bench.parse_console("BENCH,refault,p,1,1,1,1,1,0,0,1,0,0,0,1,a,b,c\n")
    assert rows["refault"][0]["note"] == "a,b,c"


def recs(kind, per_kernel):
    """per_kernel: {kernel: [row dict per boot]} -> [(boot, kernel, row)]"""
    out = []
    for kern, rows in per_kernel.items():
        for i, r in enumerate(rows):
            out.append((i + 1, kern, r))
    return out


def rrow(ppm, scen="shared-r", T=3, pages=1, fail=0):
    return dict(scenario=scen, T=T, pages=pages, seconds=2.0, calls=100, moved=1, failed=1,
                failed_ppm=ppm, pgmigrate_success=1, pgmigrate_fail=fail,
                thp_migration_success=0, thp_migration_fail=0, tlb_ipis=3, note="")


def test_aggregate_median_min_max_and_pair_ratios():
    r = recs("refault", {"base": [rrow(100), rrow(300), rrow(200)],
                         "patched": [rrow(50), rrow(300), rrow(0)]})
    (d,) = bench.aggregate(r, "refault")
    assert d["key"] == ("shared-r", 3, 1) and d["n"] == {"base": 3, "patched": 3}
    assert d["metric"]["base"] == (200, 100, 300)
    assert d["metric"]["patched"] == (50, 0, 300)
    assert d["ratios"] == [0.5, 1.0, 0.0]
    assert bench.fmt_ratios(d["ratios"]) == "0.50 [0.00-1.00]"
    assert bench.fmt_summary(d["metric"]["base"], "refault") == "200 [100-300]"


def test_ratio_edge_cases():
    assert bench.ratio(0, 0) is None
    assert bench.ratio(5, 0) == float("inf")
    assert bench.fmt_ratios([None, None]) == "0/0"
    assert bench.fmt_ratios([]) == "-"
    assert bench.fmt_ratios([0.5, None]) == "0.50 [0.50-0.50] (1x 0/0)"
    assert bench.fmt_ratios([float("inf"), 2.0]).startswith("inf x1")


def test_keys_keep_first_seen_order_and_unpaired_boots():
    r = recs("refault", {"base": [rrow(1, scen="b"), rrow(1, scen="a")],
                         "patched": [rrow(1, scen="b")]})
    agg = bench.aggregate(r, "refault")
    assert [d["key"][0] for d in agg] == ["b", "a"]
    assert agg[1]["n"] == {"base": 1, "patched": 0} and agg[1]["ratios"] == []
    assert agg[1]["metric"]["patched"] is None


def test_offline_timeouts_counted_and_table_renders():
    rows, _ = bench.parse_console(CONSOLE)
    r = [(1, "base", rows["offline"][1]), (1, "patched", rows["offline"][0])]
    (d,) = [x for x in bench.aggregate(r, "offline") if x["key"] == ("shared", 3, 128)]
    # different keys: base has only shared, patched only private
    assert d["timeouts"] == {"base": 1, "patched": 0}
    table = bench.offline_table(bench.aggregate(r, "offline"), 120)
    assert table.startswith("| scenario | T |") and "120.0 [120.0-120.0]" in table


def test_offline_region_size_is_part_of_the_key_and_label():
    rows, _ = bench.parse_console(
        "BENCH,offline,shared,3,16,memory40,20.00,ok,4096,0,9,1,32000,ok,0.4,x\n"
        "BENCH,offline,shared,3,128,memory40,150.00,timeout,100,0,9,1,32000,ok,0.4,x\n")
    agg = bench.aggregate([(1, "base", r) for r in rows["offline"]], "offline")
    assert [d["label"] for d in agg] == ["shared T=3 16MiB", "shared T=3"]
    assert "| shared (16 MiB) | 3 |" in bench.offline_table(agg, 120)


def test_csv_round_trip(tmp_path):
    rows, _ = bench.parse_console(CONSOLE)
    for kind in ("refault", "offline"):
        rec = [(1, "base", r) for r in rows[kind]] + [(1, "patched", r) for r in rows[kind]]
        p = str(tmp_path / f"{kind}.csv")
        bench.write_csv(p, rec, kind)
        assert bench.read_csv(p, kind) == rec


def test_splice_doc_keeps_hand_written_text():
    first = bench.splice_doc("", "TABLE v1")
    assert bench.BEGIN in first and "TABLE v1" in first
    edited = first.replace(bench.END, bench.END + "\n\n## Analysis\nhand written\n")
    edited = "intro\n" + edited
    second = bench.splice_doc(edited, "TABLE v2")
    assert "TABLE v2" in second and "TABLE v1" not in second
    assert second.startswith("intro\n") and "hand written" in second


def test_guest_command_has_movable_dimm_and_alternating_settings_are_identical():
    a = bench.guest_command("bzA", "initrd", False, 2, 120, "tcg")
    b = bench.guest_command("bzB", "initrd", False, 2, 120, "tcg")
    s = " ".join(a)
    assert "-m 1536M,slots=2,maxmem=4G" in s
    assert "pc-dimm,id=dimm1,memdev=d1,node=1" in s and "size=512M" in s
    assert "movable_node memhp_default_state=online_movable" in s
    assert "migbp.tests=bench" in s and "tcg,thread=multi" in s
    assert [x for x in a if x != "bzA"] == [x for x in b if x != "bzB"]


def test_qemu_command_defaults_unchanged():
    s = " ".join(qemu.command("bz", "i", "x"))
    assert "-m 2G" in s and "size=1G" in s and "pc-dimm" not in s


def test_bench_driver_is_posix_sh_and_pack_skips_guest_subdirs(tmp_path):
    drv = os.path.join(bench.BENCH_SRC, "bench.sh")
    assert subprocess.run(["sh", "-n", drv]).returncode == 0
    guest = tmp_path / "guest"
    (guest / "bench").mkdir(parents=True)
    (guest / "init").write_text("#!/bin/sh\n")
    bb = tmp_path / "bb"
    bb.write_bytes(b"bb")
    out = initramfs.pack({}, str(tmp_path / "i.gz"), str(guest), str(bb))
    assert os.path.exists(out)


def saved_run(tmp_path, monkeypatch, console, kinds, **meta):
    """A run directory as bench() leaves it (the same rows for base and
    patched, boot 1), re-reported; returns report.md's text."""
    import json
    rows, _ = bench.parse_console(console)
    for kind in kinds:
        rec = [(1, "base", r) for r in rows[kind]] + [(1, "patched", r) for r in rows[kind]]
        bench.write_csv(str(tmp_path / f"{kind}.csv"), rec, kind)
    meta = dict({"host": "h", "qemu": "q", "accel": "tcg", "boots": 1, "order": ["B", "P"],
                 "boot_secs": [["base", 1.0], ["patched", 2.0]], "secs": 1, "series": ["c1"],
                 "errors": [], "date": "d", "cmd": "make bench QUICK=1", "qemu_cmd": "qemu",
                 "quick": True, "limit": 30, "stamp": "s", "failed_boots": 0}, **meta)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    monkeypatch.setattr(bench, "plot", lambda *a, **k: [])      # no gnuplot needed
    assert bench.rereport(str(tmp_path)) == 0
    return (tmp_path / "report.md").read_text()


def test_rereport_from_saved_run(tmp_path, monkeypatch):
    # a run from before the cost rows: no cost.csv, no reps in meta.json
    text = saved_run(tmp_path, monkeypatch, CONSOLE, ("refault", "offline"))
    assert "| shared-r | 1 | 3 | 1+1 | 400,000 [400,000-400,000]" in text
    assert "**TCG**" in text


def test_offline_breakdown_orders_steps_and_normalises_ipis():
    def orow(scen, T, secs, fail, tlb, ok, result="ok"):
        return dict(scenario=scen, T=T, mib=128, block="memory33", seconds=secs, result=result,
                    pgmigrate_success=ok, pgmigrate_fail=fail, tlb_ipis=tlb, call_ipis=0,
                    pages_in_block=32768, online_back="ok", online_seconds=0.1, note="")
    recs_ = [(1, "base", orow("private", 3, 17.0, 5, 2000, 32000)),
             (1, "base", orow("private", 0, 0.8, 0, 0, 28000)),
             (1, "patched", orow("private", 3, 9.0, 0, 1000, 32000, "timeout"))]
    t = bench.offline_breakdown(recs_).splitlines()
    assert t[2].startswith("| idle (T=0)") and "| 0.8 | 0 | 0.0 | - | - | - |" in t[2]
    assert "| 17.0 | 5 | 62.5 | 9.0 (timeout) | 0 | 31.2 |" in t[3]


def test_records_from_logs_take_kernel_and_boot_from_the_name(tmp_path):
    (tmp_path / "bench-patched-2-20261122-031923.log").write_text(CONSOLE)
    (tmp_path / "base-20261122-031923.log").write_text(CONSOLE)          # not a bench log
    recs_ = bench.records_from_logs([str(p) for p in tmp_path.iterdir()])
    assert len(recs_["refault"]) == 3 and len(recs_["offline"]) == 2
    assert {(b, k) for b, k, _ in recs_["refault"]} == {(2, "patched")}


SELFTEST_LOG = """\
BENCHST: TAP version 13
BENCHST: #  RUN           global.device_migration_keeps_dirty ...
BENCHST: # device_migration_keeps_dirty: 32 written pages lost of 48
BENCHST: not ok 1 global.device_migration_keeps_dirty
BENCHST: # shared_anon_1page: 125 rounds, 44 pages moved, 81 failed to move (64.8%)
BENCHST: # shared_anon_1page: 0 status entries unwritten, 0 errors (errno 0)
[   12.345678] some printk BENCHST: ok 2 migration.shared_anon_1page
BENCHST: # private_anon: 68 rounds, 272 pages moved, 0 failed to move (0.0%)
BENCHST: ok 3 migration.private_anon # SKIP no second node
# shared_anon: 1 rounds, 1 pages moved, 1 failed to move (50.0%)
"""


def test_selftest_lines_give_result_and_own_counters():
    rows = bench.parse_selftest(SELFTEST_LOG)
    by = {r["test"]: r for r in rows}
    assert list(by) == ["device_migration_keeps_dirty", "shared_anon_1page", "private_anon"]
    assert by["device_migration_keeps_dirty"]["result"] == "fail"
    assert by["device_migration_keeps_dirty"]["lost"] == 32
    assert by["shared_anon_1page"]["result"] == "pass"
    assert (by["shared_anon_1page"]["rounds"], by["shared_anon_1page"]["failed"]) == (125, 81)
    assert by["private_anon"]["result"] == "skip"
    # lines without the prefix are not the bench's selftest
    assert "shared_anon" not in by
    rows2, errors = bench.parse_console(SELFTEST_LOG)
    assert rows2["selftest"] == rows and not errors


def test_selftest_table_counts_passes_per_kernel():
    r = bench.parse_selftest(SELFTEST_LOG)
    records = [(1, "base", x) for x in r] + [(1, "patched", dict(x, result="pass", failed=0))
                                             for x in r]
    t = bench.selftest_table(records)
    line = [l for l in t.splitlines() if l.startswith("| shared_anon_1page")][0]
    assert "| 1/1 | 64.8 [64.8-64.8] | 125 | 1/1 | 0.0 [0.0-0.0] | 125 |" in line
    keep = [l for l in t.splitlines() if "keeps_dirty" in l][0]
    assert "0/1; lost 32 of 48" in keep
    assert bench.selftest_table([]) == ""


def test_data_checks_sum_bad_values_per_kernel():
    recs = [(1, "base", {"note": "bad=0"}), (1, "patched", {"note": "x bad=3"}),
            (2, "patched", {"note": "ret>0:1"}), (2, "base", {"note": "bad=2"})]
    assert bench.data_checks(recs) == {"base": (2, 2), "patched": (1, 3)}


def test_csv_round_trip_of_selftest_rows(tmp_path):
    rows = bench.parse_selftest(SELFTEST_LOG)
    recs = [(1, "base", r) for r in rows]
    p = tmp_path / "selftest.csv"
    bench.write_csv(str(p), recs, "selftest")
    assert bench.read_csv(str(p), "selftest") == recs


def test_refault_rows_of_a_make_run_console_log():
    """guest/selftests/refault.sh keeps refault's CSV lines as '# BENCH,...'."""
    text = open(os.path.join(DATA, "mainline-base-variants.log"), errors="replace").read()
    rows, errors = bench.parse_console(text)
    assert errors == []
    assert [(r["scenario"], r["T"], r["calls"], r["failed"]) for r in rows["refault"]] == [
        ("shared-r", 1, 1181, 0), ("shared-r", 3, 182, 0), ("tmpfs-r", 1, 1072, 0),
        ("tmpfs-r", 3, 180, 0)]


COST_CONSOLE = """\
MIGBP: BEGIN bench
BENCH,cost,fault,pf1-anon,1,8192,1.001,20000,minflt/page=1.00
BENCH,cost,fault,pf3-ext2,4,8192,0.998,15000,minflt/page=1.00
BENCH,cost,lock,htlb-read,3,1,1.000,900,minflt/page=1.00 locker_ops=5000 bad=0
[   20.100000] some printk
BENCH,cost,device,-,0,64,1.000,6400,minflt/page=1.02 failed_rounds=0 bad=0
BENCH,refault,private-r,0,64,1.00,50,3200,0,0,3200,0,0,0,10,bad=0
BENCH,refault,thp-r,0,1,1.00,40,40,0,0,20480,0,40,0,10,AnonHugePages=2048kB bad=0
BENCH,refault,shared-r,3,1,1.00,400,300,100,250000,300,90,0,0,50,bad=0
BENCH,refault,shared-r,3,2,1.00,100,200,0,0,200,0,0,0,50,bad=0
BENCH,refault,private-r,3,1,1.00,100,100,0,0,100,0,0,0,50,bad=0
MIGBP: DONE
"""


def crow(group, case, T, pages, secs, count):
    return dict(group=group, case=case, T=T, pages=pages, seconds=secs, count=count, note="")


def pair(boot, group, case, T, pages, base, patched):
    """One boot pair's records of a cost row run for 1 s: base and patched counts."""
    return [(boot, "base", crow(group, case, T, pages, 1.0, base)),
            (boot, "patched", crow(group, case, T, pages, 1.0, patched))]


def test_cost_lines_parse_with_types():
    rows, errors = bench.parse_console(COST_CONSOLE)
    assert not errors and len(rows["cost"]) == 4
    pf = rows["cost"][0]
    assert pf == dict(group="fault", case="pf1-anon", T=1, pages=8192, seconds=1.001,
                      count=20000, note="minflt/page=1.00")
    assert rows["cost"][3]["case"] == "-" and rows["cost"][3]["note"].endswith("bad=0")
    assert len(rows["refault"]) == 5


def test_cost_records_take_move_and_reader_rates_from_refault_rows():
    rows, _ = bench.parse_console(COST_CONSOLE)
    recs = bench.cost_records([(1, "base", r) for r in rows["cost"]],
                              [(1, "base", r) for r in rows["refault"]])
    groups = [(r["group"], r["case"], r["T"], r["pages"]) for _, _, r in recs]
    # T=0 -> move; shared-r 1 page 3 readers -> readers; 2 pages and private-r are not
    assert ("move", "private-r", 0, 64) in groups and ("move", "thp-r", 0, 1) in groups
    assert ("readers", "shared-r", 3, 1) in groups
    assert ("readers", "shared-r", 3, 2) not in groups
    assert not any(g[1] == "private-r" and g[2] == 3 for g in groups)
    # in COST_GROUPS order: fault, lock, move, device, readers
    assert [g[0] for g in groups] == ["fault", "fault", "lock", "move", "move", "device",
                                      "readers"]
    move = [r for _, _, r in recs if r["group"] == "move" and r["case"] == "private-r"][0]
    assert move["count"] == 3200 and bench.metric("cost", move) == 3200.0


def test_cost_rate_is_the_median_of_a_boots_rounds_and_ratio_per_pair():
    r = [(1, "base", crow("fault", "pf1-anon", 1, 8192, 1.0, n)) for n in (100, 300, 200)]
    r += [(2, "base", crow("fault", "pf1-anon", 1, 8192, 2.0, 400))]        # 200/s
    r += [(1, "patched", crow("fault", "pf1-anon", 1, 8192, 1.0, n)) for n in (190, 210, 500)]
    r += [(2, "patched", crow("fault", "pf1-anon", 1, 8192, 2.0, 396))]     # 198/s
    (d,) = bench.aggregate(r, "cost")
    assert d["n"] == {"base": 2, "patched": 2} and d["reps"] == {"base": 3, "patched": 3}
    assert d["metric"]["base"] == (200.0, 200.0, 200.0)
    assert d["metric"]["patched"] == (204.0, 198.0, 210.0)
    assert d["ratios"] == [1.05, 0.99]
    assert bench.median_ratio(d["ratios"]) == 1.02


def test_cost_tables_goal_column_and_verdict():
    r = [*pair(1, "fault", "pf2-tmpfs", 1, 8192, 1000, 980),
         *pair(1, "device", "-", 0, 64, 640, 640),
         *pair(1, "readers", "shared-r", 3, 1, 100, 400)]
    agg = bench.aggregate(r, "cost")
    t = bench.cost_tables(agg)
    assert "**Page faults without migration" in t and "**Device migration" in t
    line = [l for l in t.splitlines() if l.startswith("| `pf2-tmpfs`")][0]
    assert "| 1 | 8192 | 1+1 | 1,000 [1,000-1,000] | 980 [980-980] | 0.98 [0.98-0.98] | **no** |" \
        in line
    dev = [l for l in t.splitlines() if l.startswith("| `-`")][0]
    assert dev.endswith("| 1.00 [1.00-1.00] | yes |")
    gain = [l for l in t.splitlines() if l.startswith("| `shared-r`")][0]
    assert gain.endswith("| 4.00 [4.00-4.00] | - |")
    assert "**Uncontended" not in t          # no move rows, no table
    v = bench.cost_verdict(agg)
    assert v.startswith("Goal patched/base >= 0.99") and "1 of 2 cost rows meet it" in v
    assert "fault pf2-tmpfs T=1 p=8192 (0.980)" in v


def test_refault_table_leaves_out_t0_runs_and_shows_moved_per_second(tmp_path, monkeypatch):
    text = saved_run(tmp_path, monkeypatch, COST_CONSOLE, ("cost", "refault"), reps=1)
    refault = text.split("### Refault storm")[1].split("###")[0]
    assert "| private-r | 64 | 0 |" not in refault                # T=0: cost only
    assert "| shared-r | 1 | 3 | 1+1 | 250,000" in refault
    assert refault.count("| 300 [300-300] | 300 [300-300] |") == 1   # moved/s columns
    cost = text.split("### Cost")[1]
    assert "| `private-r` private anon, 4 KiB | 0 | 64 | 1+1 | 3,200 [3,200-3,200]" in cost
    assert "| `pf3-ext2`" in cost and "| `htlb-read`" in cost and "| `shared-r`" in cost


def test_ratio_plot_data_has_judged_rows_only(tmp_path):
    r = [*pair(1, "lock", "tmpfs-write", 3, 1, 100, 95),
         *pair(2, "lock", "tmpfs-write", 3, 1, 100, 105),
         *pair(1, "readers", "tmpfs-r", 1, 1, 100, 300)]
    r += [*pair(1, "control", "spin", 1, 0, 100, 102)]
    p = bench.write_ratio_dat(str(tmp_path / "c.dat"), bench.aggregate(r, "cost"))
    lines = open(p).read().splitlines()
    # no spin T=4 control in this run: nothing to divide the T=3 row by
    assert lines[1:] == ['"lock tmpfs-write T=3 p=1" NaN NaN NaN 1.0 0.95 1.05 NaN NaN NaN',
                         '"control spin T=1 p=0" 1.02 1.02 1.02 NaN NaN NaN NaN NaN NaN']


def test_guest_command_passes_reps_and_only():
    s = " ".join(bench.guest_command("bz", "i", True, 1, 30, "tcg", 3, "cost"))
    assert "migbp.bench_reps=3" in s and "migbp.bench_only=cost" in s
    assert "bench_only" not in " ".join(bench.guest_command("bz", "i", True, 1, 30, "tcg"))


def test_guest_command_passes_the_reader_rows():
    s = " ".join(bench.guest_command("bz", "i", False, 2, 120, "tcg", 3, "cost"))
    assert "migbp.bench_readers=" + ",".join(bench.READER_ROWS) in s


def test_plot_draws_the_cost_ratio_png(tmp_path):
    import shutil
    if not shutil.which("gnuplot"):
        return
    r = [*pair(1, "fault", "pf1-anon", 1, 8192, 1000, 990)]
    pngs = bench.plot([], [], str(tmp_path), 30, bench.aggregate(r, "cost"))
    assert [os.path.basename(p) for p in pngs] == ["bench-cost-ratio.png"]


def test_controls_give_the_noise_band_and_mark_rows_inside_it():
    r = []
    for boot, ctrl, pf3 in ((1, 0.96, 0.95), (2, 1.06, 0.97), (3, 1.0, 0.90)):
        r += [*pair(boot, "control", "spin", 1, 0, 1000, 1000 * ctrl),
              *pair(boot, "fault", "pf1-anon", 1, 8192, 1000, 1000),
              *pair(boot, "fault", "pf3-tmpfs", 4, 8192, 1000, 1000 * pf3),
              *pair(boot, "move", "thp-r", 0, 1, 100, 98)]
    agg = bench.aggregate(r, "cost")
    assert bench.is_control(("fault", "pf1-anon", 4, 8192))
    assert not bench.is_control(("fault", "pf3-tmpfs", 4, 8192))
    lo, hi = bench.noise_band(agg)
    assert (round(lo, 2), round(hi, 2)) == (0.96, 1.06)
    t = bench.cost_tables(agg)
    assert "**Control: user-space spin loop" in t
    pf3 = [l for l in t.splitlines() if l.startswith("| `pf3-tmpfs`")][0]
    assert "| 0.95 [0.90-0.97] | **no** |" in pf3      # median 0.95 < 0.96
    assert pf3.endswith("| - | - |")       # no spin T=4 control to divide by
    thp = [l for l in t.splitlines() if l.startswith("| `thp-r`")][0]
    assert "| 0.98 [0.98-0.98] | no (within the controls) |" in thp
    v = bench.cost_verdict(agg)
    assert "2 of 4 cost rows meet it" not in v and "3 of 4" not in v
    assert "pair ratios 0.96-1.06 in this run" in v
    assert "below that range: fault pf3-tmpfs T=4 p=8192 (0.950)." in v


def test_without_control_rows_there_is_no_band():
    r = [*pair(1, "fault", "pf2-tmpfs", 1, 8192, 1000, 900)]
    agg = bench.aggregate(r, "cost")
    assert bench.noise_band(agg) is None
    assert "| 0.90 [0.90-0.90] | **no** |" in bench.cost_tables(agg)
    assert "Controls" not in bench.cost_verdict(agg)


def test_rows_divided_by_the_spin_control_of_their_pair_and_cpus():
    r = []
    # boot 2 ran the patched kernel's emulator 10% slower, all rows alike
    for boot, speed in ((1, 1.0), (2, 0.9), (3, 0.96)):
        for T in (1, 4):
            r += [*pair(boot, "control", "spin", T, 0, 1000, 1000 * speed)]
        r += [*pair(boot, "fault", "pf1-anon", 1, 8192, 1000, 1000 * speed),
              *pair(boot, "fault", "pf3-ext2", 4, 8192, 1000, 995 * speed)]
    agg = bench.aggregate(r, "cost")
    adj = bench.adjusted(agg)
    assert ("control", "spin", 1, 0) not in adj
    assert [round(x, 3) for x in bench.divided(adj[("fault", "pf3-ext2", 4, 8192)])] == [0.995] * 3
    assert bench.adjusted_band(adj) == (1.0, 1.0)
    assert bench.spin_for(("lock", "htlb-read", 3, 1)) == ("control", "spin", 4, 0)
    t = bench.cost_tables(agg)
    pf3 = [l for l in t.splitlines() if l.startswith("| `pf3-ext2`")][0]
    assert pf3.endswith("| 0.96 [0.90-0.99] | no (within the controls) "
                        "| 0.99 [0.99-0.99] | yes |")
    v = bench.cost_verdict(agg)
    assert "Divided by the spin control" in v and "2 of 2 rows meet the goal." in v
    assert "pair ratios 1.00-1.00 (raw 0.90-1.00); below the goal and below that range: none." in v
    assert "over 2 rows and the same pairs, is 0.053 raw and 0.000 divided" in v


def test_an_undefined_spin_ratio_leaves_that_pair_out():
    r = [*pair(1, "control", "spin", 1, 0, 0, 0),
         *pair(2, "control", "spin", 1, 0, 100, 100)]
    for boot in (1, 2):
        r += [*pair(boot, "move", "private-r", 0, 64, 100, 90)]
    agg = bench.aggregate(r, "cost")
    adj = bench.adjusted(agg)
    assert adj == {("move", "private-r", 0, 64): [(0.9, 0.9)]}       # boot 1: spin 0/0
    line = [l for l in bench.cost_tables(agg).splitlines() if l.startswith("| `private-r`")][0]
    assert "| 0.90 [0.90-0.90] (1 pair(s) without spin) |" in line


def test_an_infinite_row_ratio_stays_infinite_when_divided():
    r = [*pair(1, "control", "spin", 4, 0, 100, 120),
         *pair(1, "readers", "shared-r", 3, 1, 0, 50)]
    adj = bench.adjusted(bench.aggregate(r, "cost"))
    assert adj[("readers", "shared-r", 3, 1)] == [(float("inf"), float("inf"))]


def test_readers_and_move_rows_from_refaults_take_their_spin_by_cpus():
    recs_c = []
    for k, spin in (("base", 1000), ("patched", 1100)):
        recs_c += [(1, k, crow("control", "spin", 1, 0, 1.0, spin)),
                   (1, k, crow("control", "spin", 4, 0, 1.0, spin * 2))]
    recs_r = []
    for k, moved in (("base", 100), ("patched", 220)):
        for T in (0, 3):
            recs_r.append((1, k, dict(scenario="shared-r", T=T, pages=1, seconds=1.0,
                                      moved=moved, note="")))
    adj = bench.adjusted(bench.aggregate(bench.cost_records(recs_c, recs_r), "cost"))
    assert [round(x, 3) for x in bench.divided(adj[("readers", "shared-r", 3, 1)])] == [2.0]
    assert [round(x, 3) for x in bench.divided(adj[("move", "shared-r", 0, 1)])] == [2.0]


def test_divided_goal_cell_inside_the_divided_band_says_so():
    r = []
    for boot, pf1, row in ((1, 0.95, 0.97), (2, 1.02, 0.97), (3, 1.0, 0.97)):
        r += [*pair(boot, "control", "spin", 1, 0, 1000, 1000),
              *pair(boot, "fault", "pf1-anon", 1, 8192, 1000, 1000 * pf1),
              *pair(boot, "fault", "pf2-ext2", 1, 8192, 1000, 1000 * row)]
    t = bench.cost_tables(bench.aggregate(r, "cost"))
    line = [l for l in t.splitlines() if l.startswith("| `pf2-ext2`")][0]
    assert line.endswith("| 0.97 [0.97-0.97] | no (within the controls) |")


def test_log_sd_uses_the_same_pairs_and_shows_a_noisy_divisor():
    # the spin's own noise, independent of the row: dividing makes it worse
    pairs = [[(1.0, 1.0 / 1.1), (1.0, 1.0 / 0.9), (1.0, 1.0)]]
    raw, div, n = bench.log_sd(pairs)
    assert n == 1 and raw == 0.0 and div > 0.09
    assert bench.log_sd([[(1.0, 1.0)]]) is None               # one pair: no spread
