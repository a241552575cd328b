import os

import pytest

from migbp import kconfig
from migbp.util import HarnessError


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_option_not_set_after_olddefconfig_is_named(tmp_path):
    frag = write(tmp_path, "vm.config", "CONFIG_NUMA=y\nCONFIG_TEST_HMM=y\nCONFIG_NR_CPUS=8\n")
    cfg = write(tmp_path, ".config", "CONFIG_NUMA=y\n# CONFIG_TEST_HMM is not set\n"
                "CONFIG_NR_CPUS=4\n")
    with pytest.raises(HarnessError) as e:
        kconfig.verify([frag], cfg)
    msg = str(e.value)
    assert "CONFIG_TEST_HMM=y (got unset)" in msg
    assert "CONFIG_NR_CPUS=8 (got 4)" in msg
    assert "CONFIG_NUMA" not in msg


def test_all_set_passes_and_later_fragment_wins(tmp_path):
    a = write(tmp_path, "a.config", "CONFIG_KASAN=y\n")
    b = write(tmp_path, "b.config", "# CONFIG_KASAN is not set\n")
    cfg = write(tmp_path, ".config", "CONFIG_FOO=y\n")
    kconfig.verify([a, b], cfg)


def test_repo_fragments_exist_and_parse():
    vm = kconfig.parse(kconfig.fragments("vm")[0])
    assert vm["CONFIG_TEST_HMM"] == "y" and vm["CONFIG_NUMA"] == "y"
    assert len(kconfig.fragments("debug")) == 2
    with pytest.raises(HarnessError):
        kconfig.fragments("nope")


def names(paths):
    return [os.path.basename(p) for p in paths]


def test_fragments_follow_the_base_family():
    assert names(kconfig.fragments("vm", "5.10")) == ["vm.config"]
    assert names(kconfig.fragments("debug", "5.10")) == ["vm.config", "debug.config"]
    assert names(kconfig.fragments("vm", "mainline")) == ["mainline.config"]
    assert names(kconfig.fragments("debug", "mainline")) == ["mainline.config",
                                                             "mainline-debug.config"]
    # a plain stem is a file of config/, whatever the family
    assert names(kconfig.fragments("gcov", "mainline")) == ["gcov.config"]
    with pytest.raises(HarnessError) as e:
        kconfig.fragments("vm", "4.19")
    assert "4.19" in str(e.value)


def test_mainline_fragment_has_the_7x_names():
    m = kconfig.parse(kconfig.fragments("vm", "mainline")[0])
    # 7.x: move_pages() needs NUMA_MIGRATION (MIGRATION has no prompt any more)
    for opt in ("CONFIG_NUMA_MIGRATION", "CONFIG_MIGRATION", "CONFIG_X86_64_ACPI_NUMA",
                "CONFIG_TEST_HMM", "CONFIG_RUNTIME_TESTING_MENU", "CONFIG_DEVICE_PRIVATE",
                "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS", "CONFIG_VM_EVENT_COUNTERS",
                "CONFIG_ADVISE_SYSCALLS", "CONFIG_HUGETLBFS", "CONFIG_MEMORY_HOTREMOVE"):
        assert m[opt] == "y", opt
    d = kconfig.parse(kconfig.fragments("debug", "mainline")[1])
    # KASAN depends on !SLUB_TINY on 7.x, and tinyconfig sets SLUB_TINY
    assert d["CONFIG_SLUB_TINY"] == "n" and d["CONFIG_KASAN"] == "y"
