import gzip
import os
import shutil
import subprocess

import pytest

from migbp import initramfs


def test_cpio_newc_layout():
    c = initramfs.Cpio()
    c.dir("bin")
    c.file("init", b"#!/bin/sh\n")
    c.chardev("dev/console", 5, 1)
    data = c.finish()
    assert data.startswith(b"070701") and len(data) % 4 == 0
    assert b"TRAILER!!!" in data and b"dev/console\0" in data


@pytest.mark.skipif(not shutil.which("cpio"), reason="cpio not installed")
def test_pack_is_readable_by_cpio(tmp_path):
    guest = tmp_path / "guest"
    guest.mkdir()
    (guest / "init").write_text("#!/bin/busybox sh\n")
    fake = tmp_path / "hmm-tests"
    fake.write_bytes(b"\x7fELF")
    bb = tmp_path / "busybox"
    bb.write_bytes(b"bb")
    out = initramfs.pack({"hmm-tests": str(fake)}, str(tmp_path / "i.gz"), str(guest), str(bb))
    listing = subprocess.run(["cpio", "-it"], input=gzip.open(out).read(),
                             capture_output=True).stdout.decode().split()
    for name in ("init", "bin/busybox", "bin/sh", "dev/console", "selftests/hmm-tests",
                 "guest/init"):
        assert name in listing


def test_guest_init_is_posix_sh():
    init = os.path.join(initramfs.GUEST, "init")
    assert subprocess.run(["sh", "-n", init]).returncode == 0
    text = open(init).read()
    for marker in ("MIGBP: BEGIN", "MIGBP: END", "MIGBP: DONE",
                   "MIGBP: ERROR no second NUMA node", "HMM_DMIRROR", "poweroff -f"):
        assert marker in text


# --- selftests per base family ------------------------------------------------

MIGRATION_C = """#include "kselftest_harness.h"
#define TWOMEG		(2<<20)
#define RUNTIME		(20)
#define MAX_RETRIES	100
#define ALIGN(x, a)	(((x) + (a - 1)) & (~((a) - 1)))

int migrate(uint64_t *ptr, int n1, int n2)
{
	return 0;
}

TEST_F_TIMEOUT(migration, private_anon, 2*RUNTIME)
{
	ASSERT_EQ(migrate(ptr, self->n1, self->n2), 0);
}
"""


def fake_tree(tmp_path, selftests, files):
    d = tmp_path / "linux" / selftests
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return str(tmp_path / "linux")


def test_tests_per_family():
    assert list(initramfs.family_tests("5.10")) == ["hmm-tests", "migration"]
    assert list(initramfs.family_tests("mainline")) == ["hmm-tests", "migration",
                                                        "migration-strict", "migration-count",
                                                        "refault"]
    with pytest.raises(initramfs.HarnessError):
        initramfs.family_tests("4.19")


def test_available_tests_need_their_source(tmp_path):
    src = fake_tree(tmp_path, "tools/testing/selftests/mm", {"migration.c": MIGRATION_C})
    mm = "tools/testing/selftests/mm"
    # refault is a guest/ program: there whatever the tree holds
    assert initramfs.available_tests(src, "mainline", mm) == [
        "migration", "migration-strict", "migration-count", "refault"]
    # without TESTS=, only upstream's own tests run (the variants take minutes)
    assert initramfs.available_tests(src, "mainline", mm, defaults=True) == ["migration"]
    assert initramfs.available_tests(src, "5.10", "tools/testing/selftests/vm") == []


def test_510_command_line_is_what_it_always_was():
    t = initramfs.family_tests("5.10")["hmm-tests"]
    cmd = initramfs.compile_command(t, "/s/tools/testing/selftests/vm/hmm-tests.c", "/s",
                                    "/hdr", "/o", "tools/testing/selftests/vm")
    assert cmd == ["gcc", "-static", "-O2", "-Wall", "-I", "/hdr",
                   "-I", "/s/tools/testing/selftests", "-o", "/o/hmm-tests",
                   "/s/tools/testing/selftests/vm/hmm-tests.c",
                   "-lhugetlbfs", "-lnuma", "-lpthread", "-lrt"]


def test_mainline_builds_like_the_mm_makefile_but_static():
    mm = "tools/testing/selftests/mm"
    tests = initramfs.family_tests("mainline")
    hmm = initramfs.compile_command(tests["hmm-tests"], f"/s/{mm}/hmm-tests.c", "/s",
                                    "/hdr", "/o", mm)
    assert hmm[:2] == ["gcc", "-static"]
    for flag in ("-Wunreachable-code", "-U_FORTIFY_SOURCE", "-D_GNU_SOURCE="):
        assert flag in hmm
    # <lib/test_hmm_uapi.h> and <mm/gup_test.h> come from the top of the tree
    assert hmm[hmm.index("-I") + 1] == "/s"
    assert "/hdr" in hmm and "/s/tools/include/uapi" in hmm
    assert f"/s/{mm}/vm_util.c" in hmm and f"/s/{mm}/hugepage_settings.c" in hmm
    assert "-lnuma" not in hmm and "-lhugetlbfs" not in hmm
    mig = initramfs.compile_command(tests["migration"], f"/s/{mm}/migration.c", "/s",
                                    "/hdr", "/o", mm)
    assert mig[-4:] == ["-lrt", "-lpthread", "-lm", "-lnuma"]
    assert "--wrap" not in " ".join(mig)


def test_strict_variant_is_a_rewritten_copy_with_the_counter(tmp_path):
    mm = "tools/testing/selftests/mm"
    src = fake_tree(tmp_path, mm, {"migration.c": MIGRATION_C})
    out = tmp_path / "out"
    out.mkdir()
    t = initramfs.family_tests("mainline")["migration-strict"]
    c = initramfs.source_file(t, src, str(out), mm)
    assert c == str(out / "migration-strict.c")
    text = open(c).read()
    assert "#define MAX_RETRIES\t1\n" in text and "MAX_RETRIES\t100" not in text
    assert "int migrate_upstream(uint64_t *ptr, int n1, int n2)\n{" in text
    assert "ASSERT_EQ(migrate(ptr, self->n1, self->n2), 0);" in text   # callers unchanged
    assert open(f"{src}/{mm}/migration.c").read() == MIGRATION_C      # tree untouched
    cmd = initramfs.compile_command(t, c, src, "/hdr", str(out), mm)
    assert "-Wl,--wrap=move_pages" in cmd
    assert cmd[cmd.index("-include") + 1].endswith("guest/selftests/move_pages_count.h")
    assert cmd[-5].endswith("guest/selftests/move_pages_count.c")
    count = initramfs.family_tests("mainline")["migration-count"]
    assert "#define MAX_RETRIES\t2000000000\n" in open(
        initramfs.source_file(count, src, str(out), mm)).read()


def test_variant_rewrites_the_base_release_not_the_series(tmp_path):
    """The mainline series makes migration.c strict itself; the variants must
    still rewrite upstream's file (the base tag's), so both kernels run one
    program."""
    mm = "tools/testing/selftests/mm"
    src = fake_tree(tmp_path, mm, {"migration.c": MIGRATION_C})
    g = ["git", "-C", src, "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(g + ["init", "-q"], check=True)
    subprocess.run(g + ["add", "-A"], check=True)
    subprocess.run(g + ["commit", "-qm", "base"], check=True)
    subprocess.run(g + ["tag", "v-base"], check=True)
    with open(f"{src}/{mm}/migration.c", "w") as f:     # the series' strict version
        f.write(MIGRATION_C.replace("#define MAX_RETRIES\t100\n", ""))
    t = initramfs.family_tests("mainline")["migration-count"]
    rel = f"{mm}/migration.c"
    assert "MAX_RETRIES" in initramfs.base_text(f"{src}/{rel}", src, "v-base")
    assert "MAX_RETRIES" not in initramfs.base_text(f"{src}/{rel}", src, "no-such-tag")
    old = initramfs.BASE_TAG
    initramfs.BASE_TAG = "v-base"
    try:
        c = initramfs.source_file(t, src, str(tmp_path), mm)
    finally:
        initramfs.BASE_TAG = old
    assert "#define MAX_RETRIES\t2000000000\n" in open(c).read()


def test_variant_refuses_a_changed_upstream(tmp_path):
    mm = "tools/testing/selftests/mm"
    src = fake_tree(tmp_path, mm, {"migration.c": MIGRATION_C.replace("100", "50")})
    t = initramfs.family_tests("mainline")["migration-strict"]
    with pytest.raises(initramfs.HarnessError) as e:
        initramfs.source_file(t, src, str(tmp_path), mm)
    assert "MAX_RETRIES 100" in str(e.value) and "found 0" in str(e.value)


@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libnuma.a"),
                    reason="libnuma-dev not installed")
def test_move_pages_counter_compiles_and_links(tmp_path):
    """The wrapper links against libnuma's move_pages (--wrap) and prints its line."""
    main = tmp_path / "m.c"
    main.write_text('#include <numaif.h>\n#include <stdint.h>\n'
                    'int migrate_upstream(uint64_t *p, int a, int b)\n'
                    '{ int s; return move_pages(0, 1, (void **)&p, &b, &s, 0) < -1; }\n'
                    'int main(void) { uint64_t x = 1; return migrate(&x, 0, 0); }\n')
    d = initramfs.COUNT_SRC
    exe = tmp_path / "m"
    p = subprocess.run(["gcc", "-static", "-Wall", "-include", f"{d}/move_pages_count.h",
                        "-Wl,--wrap=move_pages", "-o", str(exe), str(main),
                        f"{d}/move_pages_count.c", "-lnuma"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    # no warnings of ours (libnuma.a's own getaddrinfo link warning is not)
    assert "move_pages_count" not in p.stderr and "m.c" not in p.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True).stdout
    assert out.startswith("# migbp-moves: calls=1 ")


def test_refault_is_built_as_bench_builds_it_and_packed_with_its_driver():
    t = initramfs.family_tests("mainline")["refault"]
    c = initramfs.source_file(t, "/s", "/o")
    assert c == os.path.join(initramfs.GUEST, "bench", "refault.c")
    cmd = initramfs.compile_command(t, c, "/s", "/hdr", "/o")
    assert cmd == ["gcc", "-static", "-O2", "-Wall", "-I", "/s/lib", "-o", "/o/refault-bin",
                   c, "-lnuma", "-lpthread"]
    drv = os.path.join(initramfs.GUEST, t.driver)
    assert subprocess.run(["sh", "-n", drv]).returncode == 0
    assert "/selftests/refault-bin" in open(drv).read()


def test_parse_ldd_of_stress_ng_recorded():
    from conftest import DATA
    libs = initramfs.parse_ldd(open(os.path.join(DATA, "ldd-stress-ng.txt")).read())
    assert "/lib64/ld-linux-x86-64.so.2" in libs          # the dynamic loader
    assert "/lib/x86_64-linux-gnu/libc.so.6" in libs
    assert "/lib/x86_64-linux-gnu/libmd.so.0" in libs     # an indirect dependency
    assert not [l for l in libs if "vdso" in l] and len(libs) == 26


def test_parse_ldd_names_missing_libraries():
    with pytest.raises(initramfs.HarnessError) as e:
        initramfs.parse_ldd("\tlibfoo.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n")
    assert "libfoo.so.1" in str(e.value)


@pytest.mark.skipif(not shutil.which("cpio") or not shutil.which("ldd"),
                    reason="cpio/ldd not installed")
def test_dynamic_binary_goes_in_with_its_libraries_and_loader(tmp_path):
    # /bin/ls stands in for stress-ng: any dynamic program of the host
    files = initramfs.dynamic_closure("/bin/ls", dest="/usr/bin/ls")
    paths = [p for p, _ in files]
    assert paths[0] == "usr/bin/ls" and "lib64/ld-linux-x86-64.so.2" in paths
    assert all(os.path.isfile(src) for _, src in files)
    guest = tmp_path / "guest"
    guest.mkdir()
    bb = tmp_path / "busybox"
    bb.write_bytes(b"bb")
    out = initramfs.pack({}, str(tmp_path / "i.gz"), str(guest), str(bb), extra=files)
    listing = subprocess.run(["cpio", "-it"], input=gzip.open(out).read(),
                             capture_output=True).stdout.decode().split()
    assert "lib64" in listing and "lib" in listing and "lib/x86_64-linux-gnu" in listing
    assert set(paths) <= set(listing)


def test_guest_drivers_are_posix_sh():
    for f in ("vmtests/vmtests.sh", "stress/stress.sh"):
        assert subprocess.run(["sh", "-n", os.path.join(initramfs.GUEST, f)]).returncode == 0
