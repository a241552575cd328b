"""Kernel .config = <base target> + fragments, then verify the fragments."""
import os
import re

from .util import BASE, CONFIG, HarnessError, run

LINE = re.compile(r"^(CONFIG_\w+)=(.*)$")
UNSET = re.compile(r"^# (CONFIG_\w+) is not set$")


def parse(path):
    """{option: value}; '# X is not set' gives 'n'."""
    opts = {}
    for line in open(path):
        line = line.strip()
        m = LINE.match(line) or UNSET.match(line)
        if m:
            opts[m.group(1)] = m.group(2).strip('"') if m.lastindex == 2 else "n"
    return opts


def unmet(fragment, config):
    """Options the fragment asks for that the final config does not have."""
    bad = []
    for opt, want in fragment.items():
        have = config.get(opt, "n")
        if want != have:
            bad.append(f"{opt}={want} (got {'unset' if have == 'n' else have})")
    return bad


# The guest kernel's fragments per base family (bases.py): 5.10's option
# names (vm.config) no longer all exist on mainline, which has its own.
FAMILY_FRAGMENTS = {
    "5.10": {"vm": ["vm"], "debug": ["vm", "debug"], "trace": ["vm", "trace"],
             "vmtests": ["vm", "vmtests"], "vmtests-debug": ["vm", "vmtests", "debug"]},
    "mainline": {"vm": ["mainline"], "debug": ["mainline", "mainline-debug"],
                 "trace": ["mainline", "trace"]},
}


def fragments(kind, family=None):
    """config files for a kernel flavour of the base's family: vm, debug or
    trace (= the family's vm fragment + it), or a file stem."""
    family = family or BASE.family
    if family not in FAMILY_FRAGMENTS:
        raise HarnessError(f"no kconfig fragments for base family {family!r} "
                           f"(known: {', '.join(FAMILY_FRAGMENTS)})")
    names = FAMILY_FRAGMENTS[family].get(kind, [kind])
    paths = [os.path.join(CONFIG, n + ".config") for n in names]
    for p in paths:
        if not os.path.exists(p):
            raise HarnessError(f"no config fragment {p}")
    return paths


def configure(src, out, frags, base_target="tinyconfig", make_args=(), log=None, env=None):
    src, out = os.path.abspath(src), os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    mk = ["make", "-C", src, f"O={out}"] + list(make_args)
    run(mk + [base_target], env=env, log=log, what=f"make {base_target}")
    run([os.path.join(src, "scripts/kconfig/merge_config.sh"), "-m", "-O", out,
         os.path.join(out, ".config")] + [os.path.abspath(f) for f in frags], cwd=src, env=env, log=log,
        what="merge_config.sh")
    run(mk + ["olddefconfig"], env=env, log=log, what="make olddefconfig")
    verify(frags, os.path.join(out, ".config"), log)


def verify(frags, config_path, log=None):
    want = {}
    for f in frags:
        want.update(parse(f))
    bad = unmet(want, parse(config_path))
    if bad:
        raise HarnessError("config options requested but not set after olddefconfig: "
                           + ", ".join(bad), log)
