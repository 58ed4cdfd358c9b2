"""A module's mcount sites: from its `__mcount_loc` (recordmcount ran at build time),
or, for plain compiler output, from its `_mcount` relocations.

The two must agree: the fixture modules are loaded as built and again with GNU objcopy
having removed `__mcount_loc`; the sites, relative to each module's base, must be the
same. GNU readelf's relocations give the count independently.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import need
from ppcftrace.machine import Machine, fixture_path
from ppcftrace.toolchain import PREFIX

ARCHES = ("ppc64", "ppc32")


def mcount_relocs(arch: str, path) -> int:
    need(PREFIX[arch] + "readelf")
    out = subprocess.run([PREFIX[arch] + "readelf", "-rW", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return len(re.findall(r"R_PPC(?:64)?_REL24\s+\S+\s+\.?_mcount\b", out))


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ["hmod.o", "racemod.o"])
def test_sites_without_mcount_loc_match_sites_with_it(arch, name, tmp_path):
    need(PREFIX[arch] + "objcopy")
    built = fixture_path(name, arch)
    plain = tmp_path / name
    subprocess.run([PREFIX[arch] + "objcopy", "--remove-section", "__mcount_loc",
                    "--remove-section", ".rela__mcount_loc", str(built), str(plain)],
                   check=True)
    m = Machine.boot(arch)
    a = m.load_module(str(built), "built")
    b = m.load_module(str(plain), "plain")
    assert a.mcount_source == "__mcount_loc" and b.mcount_source == "relocations"
    assert [ip - a.base for ip in a.mcount_sites] == [ip - b.base for ip in b.mcount_sites]
    assert len(b.mcount_sites) == mcount_relocs(arch, built) > 0
