"""The ELFv2 fixtures against GNU readelf/objdump: entry points, relocations, sites.

The committed `ppcftrace/data/elfv2/` files come from `fixtures/build.py --arch
elfv2` (`-mabi=elfv2 -mprofile-kernel`); `tests/test_fixtures.py` checks that the
rebuild is byte-identical. Here every expectation is read from the GNU tools.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import need
from ppcftrace.elf import ElfFile
from ppcftrace.elfv2.abi import (PPC64_LOCAL_ENTRY_OFFSET, is_global_entry_sequence,
                                 local_entries, local_entry_offset, ppc_function_entry)
from ppcftrace.elfv2.machine import DATA, boot
from ppcftrace.recordmcount import find_sites

FILES = ("vmlinux", "hmod.o", "racemod.o", "pfe.o")


def gnu(tool: str, *args: str) -> str:
    need("powerpc64-linux-gnu-" + tool)
    return subprocess.run(["powerpc64-linux-gnu-" + tool, *args], check=True,
                          capture_output=True, text=True).stdout


def readelf_functions(path) -> dict[str, tuple[int, int]]:
    """name -> (value, local entry offset) of every FUNC symbol, from readelf -sW."""
    out = {}
    for line in gnu("readelf", "-sW", str(path)).splitlines():
        m = re.match(r"\s*\d+: ([0-9a-f]+)\s+\d+ FUNC\s+\w+\s+\w+\s+(?:\[<localentry>: (\d+)\]\s+)?"
                     r"\S+ (\S+)$", line)
        if m:
            out[m.group(3)] = (int(m.group(1), 16), int(m.group(2) or 0))
    return out


@pytest.mark.toolchain
@pytest.mark.parametrize("name", FILES)
def test_files_are_elfv2(name):
    header = gnu("readelf", "-hW", str(DATA / name))
    assert re.search(r"Flags:\s+0x2, abiv2", header)
    assert ElfFile.open(DATA / name).abi == "elfv2"


@pytest.mark.toolchain
@pytest.mark.parametrize("name", FILES)
def test_local_entry_offsets_match_readelf(name):
    elf = ElfFile.open(DATA / name)
    expected = readelf_functions(DATA / name)
    assert expected and any(off for _, off in expected.values())
    assert {n: off for n, (_, off) in expected.items()} == local_entries(elf)
    for n, (_, off) in expected.items():
        assert local_entry_offset(elf, n) == off


def test_local_entry_offset_encoding():
    # st_other bits 5-7: 0 and 1 mean one entry point, 2..6 mean 4 << (n - 2) bytes
    assert [PPC64_LOCAL_ENTRY_OFFSET(n << 5) for n in range(7)] == [0, 0, 4, 8, 16, 32, 64]
    assert PPC64_LOCAL_ENTRY_OFFSET(0x1F) == 0        # visibility bits ignored


@pytest.mark.toolchain
def test_global_entry_sequences_in_the_kernel_match_objdump():
    machine = boot()
    dis = gnu("objdump", "-d", str(DATA / "vmlinux"))
    for name, (value, off) in readelf_functions(DATA / "vmlinux").items():
        body = dis.split(f"<{name}>:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        first = [ln.split("\t")[2].strip() for ln in body[:2]]
        has_gep = first[0].startswith("addis   r2,r12,") and first[1].startswith("addi    r2,r2,")
        assert has_gep == (off == 8), name
        words = machine.memory.read_u32(value), machine.memory.read_u32(value + 4)
        assert is_global_entry_sequence(*words) == has_gep, name
        assert ppc_function_entry(machine.memory, value) == value + off, name


@pytest.mark.toolchain
def test_global_entry_computes_the_toc_readelf_shows():
    """addis/addi r2 from r12 = the function's address gives .TOC. (readelf -s)."""
    machine = boot()
    toc = int(re.search(r"([0-9a-f]{16})\s+0 OBJECT\s+LOCAL\s+DEFAULT\s+\d+ \.TOC\.",
                        gnu("readelf", "-sW", str(DATA / "vmlinux"))).group(1), 16)
    assert machine.toc == toc
    for name, (value, off) in readelf_functions(DATA / "vmlinux").items():
        if off != 8:
            continue
        hi = machine.memory.read_u32(value) & 0xFFFF
        lo = machine.memory.read_u32(value + 4) & 0xFFFF
        r2 = value + ((hi - 0x10000 if hi & 0x8000 else hi) << 16) + (lo - 0x10000 if lo & 0x8000 else lo)
        assert r2 == toc, name


@pytest.mark.toolchain
def test_module_relocations_match_readelf():
    elf = ElfFile.open(DATA / "hmod.o")
    ours = [(r.offset, r.type_name, r.symbol.name if r.symbol else "", r.addend)
            for r in elf.relocations(".text")]
    theirs = []
    for line in gnu("readelf", "-rW", str(DATA / "hmod.o")).split("'.rela.text'")[1] \
            .split("Relocation section")[0].splitlines()[2:]:
        f = line.split()
        if len(f) >= 7:
            theirs.append((int(f[0], 16), f[2], f[4], int(f[6], 16)))  # readelf: hex addends
    # readelf names section symbols by their section; ours leaves them unnamed
    assert [(o, t, a) for o, t, _, a in ours] == [(o, t, a) for o, t, _, a in theirs]
    sections = {sec.name for sec in elf.sections}
    for (_, _, mine, _), (_, _, gnus, _) in zip(ours, theirs):
        assert mine == gnus or (not mine and gnus in sections)
    assert {"R_PPC64_REL16_HA", "R_PPC64_REL16_LO", "R_PPC64_REL24"} <= {t for _, t, _, _ in ours}


@pytest.mark.toolchain
@pytest.mark.parametrize("name", ("vmlinux", "hmod.o"))
def test_every_site_is_mflr_then_bl_mcount(name):
    """-mprofile-kernel: each recorded site is a `bl _mcount` right after `mflr r0`,
    at the function's local entry point (objdump -dr)."""
    elf = ElfFile.open(DATA / name)
    sites = find_sites(elf)
    dis = gnu("objdump", "-dr", str(DATA / name))
    lines = dis.splitlines()
    found = []
    for i, line in enumerate(lines):
        m = re.match(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} ){4}\s*bl\s", line)
        if m and ("<_mcount>" in line or (i + 1 < len(lines) and "_mcount" in lines[i + 1])):
            found.append(int(m.group(1), 16))
            assert "mflr    r0" in lines[i - 1] or "mflr    r0" in lines[i - 2]
    where = [s.address if s.address is not None else s.offset for s in sites]
    assert sorted(where) == sorted(found) and found
    funcs = readelf_functions(DATA / name)
    for site in found:
        owner = max((v for v, _ in funcs.values() if v <= site))
        local = [off for v, off in funcs.values() if v == owner][0]
        assert site == owner + local + 4          # mflr r0 at the local entry, then bl


@pytest.mark.toolchain
def test_patchable_entries_sit_before_the_local_entry_point():
    """pfe.o (-fpatchable-function-entry=2): readelf -r gives the nops' offsets; with
    GCC 12 they come before func's global entry sequence (the kernel's Kconfig test
    wants them after .localentry)."""
    elf = ElfFile.open(DATA / "pfe.o")
    relocs = gnu("readelf", "-rW", str(DATA / "pfe.o")).split("__patchable_function_entries'")[1]
    offsets = [int(m.group(1), 16) for m in re.finditer(r"R_PPC64_ADDR64\s+\S+\s+\.text \+ ([0-9a-f]+)", relocs)]
    assert offsets == [r.addend for r in elf.relocations("__patchable_function_entries")]
    funcs = readelf_functions(DATA / "pfe.o")
    assert offsets == [funcs["func"][0], funcs["leaf"][0]]
    assert funcs["func"][1] == 16 and funcs["leaf"][1] == 0
    dis = gnu("objdump", "-d", str(DATA / "pfe.o"))
    body = dis.split("<func>:\n", 1)[1].splitlines()
    assert [ln.split("\t")[2].split()[0] for ln in body[:4]] == ["nop", "nop", "addis", "addi"]
    assert "R_PPC64_REL24" not in gnu("readelf", "-rW", str(DATA / "pfe.o"))   # no _mcount call


def test_unknown_symbol_is_a_specific_error():
    from ppcftrace.elfv2.abi import NoSuchSymbol
    from ppcftrace.errors import PpcftraceError

    with pytest.raises(NoSuchSymbol) as err:
        local_entry_offset(ElfFile.open(DATA / "hmod.o"), "no_such_function")
    assert isinstance(err.value, PpcftraceError) and "no_such_function" in str(err.value)
