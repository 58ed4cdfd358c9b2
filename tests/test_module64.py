"""PPC64 module loading (module_64.c, 2008) against GNU as, ld, nm, readelf and capstone."""

from __future__ import annotations

import errno
import re
import subprocess

import capstone
import pytest

from conftest import need
from test_module_common_tools import assert_load_fails, build, gnu_words, set_reloc_type
from ppcftrace.elf import ElfFile
from ppcftrace.machine import Machine, fixture_path
from ppcftrace.module import ModuleLoadError
from ppcftrace.module64 import STUB_SIZE
from ppcftrace.toolchain import PREFIX

ARCH = "ppc64"
FIXTURES = ("hmod.o", "racemod.o")
CS = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
CS.detail = True


def gnu(tool: str, *args: str) -> str:
    need(PREFIX[ARCH] + tool)
    return subprocess.run([PREFIX[ARCH] + tool, *args], check=True, capture_output=True,
                          text=True).stdout


def nm_synthetic() -> dict[str, int]:
    """Kernel symbols as GNU nm --synthetic lists them (dot names for code)."""
    out = {}
    for line in gnu("nm", "--synthetic", str(fixture_path("vmlinux", ARCH))).splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


def readelf_relocs(path) -> list[tuple[str, int, str, str]]:
    """(section, offset, type, symbol) of every relocation, from readelf -rW."""
    out, section = [], None
    for line in gnu("readelf", "-rW", str(path)).splitlines():
        m = re.match(r"Relocation section '\.rela(\S+)'", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"([0-9a-f]{16})\s+[0-9a-f]{16}\s+(R_PPC64_\S+)\s+(?:[0-9a-f]{16}\s+(\S+))?",
                     line)
        if m and section:
            out.append((section, int(m.group(1), 16), m.group(2), m.group(3) or ""))
    return out


def undefined(path) -> set[str]:
    """Names of the object's undefined symbols, from readelf -s."""
    names = set()
    for line in gnu("readelf", "-sW", str(path)).splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[6] == "UND" and parts[7]:
            names.add(parts[7])
    return names


@pytest.fixture
def machine() -> Machine:
    return Machine.boot(ARCH)


@pytest.fixture
def loaded():
    m = Machine.boot(ARCH)
    return m, [m.load_module(fixture_path(name, ARCH)) for name in FIXTURES]


def disasm(data: bytes, address: int) -> list[tuple[str, str]]:
    return [(i.mnemonic, i.op_str) for i in CS.disasm(data, address)]


# -- stubs -----------------------------------------------------------------------------


def test_stub_words_are_what_gnu_as_assembles(loaded):
    m, mods = loaded
    checked = 0
    for mod in mods:
        for stub in mod.arch.stubs:
            off = stub.address - mod.arch.toc
            expected = gnu_words(ARCH, [f"addis 12,2,({off})@ha", f"addi 12,12,({off})@l",
                                        "std 2,40(1)", "ld 11,32(12)", "ld 2,40(12)",
                                        "mtctr 11", "bctr"])
            words = [m.memory.read_u32(stub.address + 4 * i) for i in range(7)]
            assert words == expected == list(stub.words)
            checked += 1
    assert checked >= 4


def test_stub_decodes_to_the_stub_sequence_and_reaches_itself(loaded):
    m, mods = loaded
    for mod in mods:
        for stub in mod.arch.stubs:
            insns = list(CS.disasm(m.memory.read(stub.address, 28), stub.address))
            text = [(i.mnemonic, i.op_str) for i in insns]
            assert [t[0] for t in text] == ["addis", "addi", "std", "ld", "ld", "mtctr", "bctr"]
            assert text[2:] == [("std", "r2, 0x28(r1)"), ("ld", "r11, 0x20(r12)"),
                                ("ld", "r2, 0x28(r12)"), ("mtctr", "r11"), ("bctr", "")]
            assert text[0][1].startswith("r12, r2, ") and text[1][1].startswith("r12, r12, ")
            # r12 = r2 + (ha << 16) + lo must be the stub's own address
            ha, lo = insns[0].operands[2].imm, insns[1].operands[2].imm
            assert (mod.arch.toc + (ha << 16) + lo) % 2**64 == stub.address
            # the data part: funcaddr then r2, after 4 bytes of padding
            assert m.memory.read_u64(stub.address + 32) == stub.target
            assert m.memory.read_u64(stub.address + 40) == stub.toc


def test_stubs_call_the_kernel_functions_the_module_uses(loaded):
    m, mods = loaded
    nm = nm_synthetic()
    for mod in mods:
        path = fixture_path(mod.name + ".o", ARCH)
        want = {nm["." + name.lstrip(".")] for name in undefined(path)
                if "." + name.lstrip(".") in nm}
        want.add(nm[".ftrace_caller"])
        assert {s.target for s in mod.arch.stubs} == want
        # one stub per target (stub_for_addr reuses), all with the kernel's TOC
        assert len(mod.arch.stubs) == len(want)
        assert {s.toc for s in mod.arch.stubs} == {m.toc}
        tramp = [s for s in mod.arch.stubs if s.address == mod.arch.tramp]
        assert len(tramp) == 1 and tramp[0].target == nm[".ftrace_caller"]


def test_stubs_section_is_sized_like_get_stubs_size(loaded):
    m, mods = loaded
    for mod in mods:
        relocs = readelf_relocs(fixture_path(mod.name + ".o", ARCH))
        per_section: dict[str, set] = {}
        elf = ElfFile.open(fixture_path(mod.name + ".o", ARCH))
        for rsec in elf.reloc_sections:
            per_section[rsec.name] = {(r.symbol.index if r.symbol else 0, r.addend)
                                      for r in elf.relocations(rsec) if r.type == 10}
        assert sum(1 for r in relocs if r[2] == "R_PPC64_REL24") >= 1
        n = 1 + sum(len(v) for v in per_section.values()) + 1
        assert mod.sections[".stubs"][1] == n * STUB_SIZE
        # the slot after the last stub in use is the zero terminator
        end = mod.sections[".stubs"][0] + len(mod.arch.stubs) * STUB_SIZE
        assert m.memory.read_u64(end + 32) == 0


def test_external_calls_go_through_stubs_and_restore_r2(loaded):
    m, mods = loaded
    nm = nm_synthetic()
    for mod in mods:
        path = fixture_path(mod.name + ".o", ARCH)
        raw = ElfFile.open(path).section(".text").data
        text = mod.sections[".text"][0]
        stubs = {s.address: s.target for s in mod.arch.stubs}
        ext = undefined(path)
        sites = [(off, sym) for sec, off, typ, sym in readelf_relocs(path)
                 if sec == ".text" and typ == "R_PPC64_REL24" and sym in ext]
        assert sites
        for off, sym in sites:
            assert raw[off + 4:off + 8] == bytes.fromhex("60000000")  # the compiler's nop
            insns = list(CS.disasm(m.memory.read(text + off, 8), text + off))
            assert insns[0].mnemonic == "bl"
            target = insns[0].operands[0].imm % 2**64
            assert stubs[target] == nm["." + sym.lstrip(".")]
            assert (insns[1].mnemonic, insns[1].op_str) == ("ld", "r2, 0x28(r1)")


def test_mcount_sites_are_the_objects_mcount_calls(loaded):
    m, mods = loaded
    nm = nm_synthetic()
    for mod in mods:
        path = fixture_path(mod.name + ".o", ARCH)
        text = mod.sections[".text"][0]
        want = sorted(text + off for sec, off, typ, sym in readelf_relocs(path)
                      if sec == ".text" and typ == "R_PPC64_REL24" and sym.lstrip(".") == "_mcount")
        assert sorted(mod.mcount_sites) == want and want
        stubs = {s.address: s.target for s in mod.arch.stubs}
        for ip in mod.mcount_sites:
            insn = next(CS.disasm(m.memory.read(ip, 4), ip))
            assert stubs[insn.operands[0].imm % 2**64] == nm["._mcount"]


def test_bytes_equal_gnu_ld_at_the_same_placement(loaded):
    need(PREFIX[ARCH] + "ld")
    from ppcftrace.modld import ld_placement, restore_r2_slots

    m, mods = loaded
    for mod in mods:
        ld = ld_placement(m, mod)
        raw = ElfFile.open(fixture_path(mod.name + ".o", ARCH))
        slots = restore_r2_slots(m, mod)
        assert ld.keys() >= {".text", ".opd", "__mcount_loc"}
        assert ld[".text"] != raw.section(".text").data  # relocations did change bytes
        for name, data in ld.items():
            addr, size = mod.sections[name]
            ours = bytearray(m.memory.read(addr, size))
            theirs = bytearray(data)
            assert len(theirs) == size, name
            for slot in slots:
                if addr <= slot < addr + size:
                    assert ours[slot - addr:slot - addr + 4] == bytes.fromhex("e8410028")
                    theirs[slot - addr:slot - addr + 4] = ours[slot - addr:slot - addr + 4]
            assert ours == theirs, f"{mod.name} {name}"


# -- my_r2 and objects of our own ---------------------------------------------------------

NO_TOC = """
#include "kernel.h"
static int twice(int x) { return 2 * x; }
int ours(int x) { printk("x"); return twice(x) + 1; }
"""

DOT_2008 = """
#include "kernel.h"
noinline int leaf(int x) { return x + 1; }
int caller(int x) { schedule(); return leaf(x) * 3; }
"""


def test_my_r2_is_toc_plus_0x8000_or_stubs_plus_0x8000(machine):
    mods = [machine.load_module(fixture_path(n, ARCH)) for n in FIXTURES]
    mods.append(machine.load_module(build(ARCH, NO_TOC, flags=("-mcmodel=medium",)), "notoc"))
    seen = set()
    for mod in mods:
        base = ".toc" if ".toc" in mod.sections else ".stubs"
        seen.add(base)
        assert mod.arch.toc == mod.sections[base][0] + 0x8000
    assert ".stubs" in seen


def test_2008_style_dot_symbols_load_and_match_ld(machine):
    """-mcall-aixdesc gives 2008's `bl ._mcount`, `bl .schedule`, `bl .leaf`."""
    need(PREFIX[ARCH] + "ld")
    from ppcftrace.modld import ld_placement, restore_r2_slots

    data = build(ARCH, DOT_2008, flags=("-mcall-aixdesc",))
    elf = ElfFile.from_bytes(data)
    assert elf.symbol("._mcount") is not None and not elf.symbol("._mcount").is_defined
    mod = machine.load_module(data, "dots")
    nm = nm_synthetic()
    assert {s.target for s in mod.arch.stubs} == {nm["._mcount"], nm[".schedule"],
                                                   nm[".ftrace_caller"]}
    ld, slots = ld_placement(machine, mod), restore_r2_slots(machine, mod)
    text, size = mod.sections[".text"]
    ours = bytearray(machine.memory.read(text, size))
    theirs = bytearray(ld[".text"])
    for slot in slots:
        theirs[slot - text:slot - text + 4] = ours[slot - text:slot - text + 4]
    assert ours == theirs
    # the local call to .leaf is direct, and its nop stays a nop
    assert mod.symbols[".leaf"] in {next(CS.disasm(ours[i:i + 4], text + i)).operands[0].imm % 2**64
                                     for i in range(0, size, 4)
                                     if ours[i] == 0x4B or ours[i] == 0x48 and ours[i + 3] & 1}


# -- failures like the kernel's ------------------------------------------------------------

BAD_ASM = {
    "unknown": ("\t.text\n\tbl no_such_function\n\tnop\n\tblr\n",
                errno.ENOENT, "bad: Unknown symbol no_such_function"),
    "noop": ("\t.text\n\tbl printk\n\taddi 3,3,1\n\tblr\n",
             errno.ENOEXEC, "bad: Expect noop after relocate, got 38630001"),
    "rel24": ("\t.section .text.far,\"ax\"\nfar:\tnop\n\t.text\n\tbl far+0x4000000\n\tnop\n",
              errno.ENOEXEC, "out of range!"),
    "toc16": ("\t.data\ndata:\t.quad 0\n\t.text\n\taddi 3,2,(data+0x100000)@toc\n\tblr\n",
              errno.ENOEXEC, "bad: bad TOC16 relocation ("),
    "toc16_ds": ("\t.data\n\t.align 3\ndata:\t.quad 0\n\t.text\n\tld 3,(data+2)@toc(2)\n\tblr\n",
                 errno.ENOEXEC, "bad: bad TOC16_DS relocation ("),
}


@pytest.mark.parametrize("case", sorted(BAD_ASM))
def test_failures_carry_the_kernels_message_and_change_nothing(machine, case):
    source, err, text = BAD_ASM[case]
    machine.load_module(fixture_path("hmod.o", ARCH))  # something to stay untouched
    assert_load_fails(machine, build(ARCH, source, ".s"), err, text)


def test_rel24_out_of_range_value_is_printed_like_the_kernel(machine):
    data = build(ARCH, BAD_ASM["rel24"][0], ".s")
    err = assert_load_fails(machine, data, errno.ENOEXEC, "out of range!")
    m = re.search(r"REL24 (-?\d+) out of range!", str(err))
    assert m and int(m.group(1)) > 0x2000000


def test_unknown_relocation_type_is_rejected(machine):
    data = fixture_path("hmod.o", ARCH).read_bytes()
    crafted = set_reloc_type(data, ".rela.text", 0, 7)  # R_PPC64_ADDR14
    assert "R_PPC64_ADDR14" in gnu_readelf_of(crafted)
    assert_load_fails(machine, crafted, errno.ENOEXEC, "bad: Unknown ADD relocation: 7")


def gnu_readelf_of(data: bytes) -> str:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.o")
        with open(path, "wb") as f:
            f.write(data)
        return gnu("readelf", "-rW", path)


def test_same_name_twice_is_eexist(machine):
    machine.load_module(fixture_path("hmod.o", ARCH))
    assert_load_fails(machine, fixture_path("racemod.o", ARCH), errno.EEXIST,
                      "already loaded", name="hmod")


def test_stub_out_of_range_of_r2():
    """create_stub's ±2 GiB check, with a TOC pointer placed 4 GiB away."""
    from ppcftrace.module import LoadContext
    from ppcftrace.module64 import create_stub
    from ppcftrace.modlayout import LoadSection

    m = Machine.boot(ARCH)
    ctx = LoadContext(m, ElfFile.open(fixture_path("hmod.o", ARCH)), "far", {})
    ctx.core_base, ctx.core = 0xD000000000000000, bytearray(0x100)
    ctx.toc_section = LoadSection(0, ".toc", 1, 3, 0, 8, addr=0xD000000100000000)
    assert not create_stub(ctx, 0xD000000000000000, 1, 2)
    assert ctx.message.startswith("Address ") and "of stub out of range of" in ctx.message
    assert ctx.core == bytearray(0x100)
    ctx.toc_section.addr = 0xD000000000000000
    assert create_stub(ctx, 0xD000000000000000, 1, 2)


def test_loaded_module_is_not_reachable_by_bl_from_the_kernel(loaded):
    m, mods = loaded
    for mod in mods:
        assert mod.base - m.kallsyms.address(".schedule") > 0x2000000
        with pytest.raises(ModuleLoadError):
            m.load_module(fixture_path("hmod.o", "ppc32"), "wrongarch")
