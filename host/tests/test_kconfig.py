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
