"""PPC32 module loading (module_32.c, 2008) against GNU as, ld, nm, readelf and capstone."""

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
from ppcftrace.module32 import PLT_ENTRY_SIZE
from ppcftrace.toolchain import PREFIX

ARCH = "ppc32"
FIXTURES = ("hmod.o", "racemod.o")
CS = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_32 | capstone.CS_MODE_BIG_ENDIAN)
CS.detail = True


def gnu(tool: str, *args: str) -> str:
    need(PREFIX[ARCH] + tool)
    return subprocess.run([PREFIX[ARCH] + tool, *args], check=True, capture_output=True,
                          text=True).stdout


def nm() -> dict[str, int]:
    out = {}
    for line in gnu("nm", str(fixture_path("vmlinux", ARCH))).splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


def rel24_sites(path) -> list[tuple[int, str]]:
    """(offset in .text, symbol) of each R_PPC_REL24 of .rela.text, from readelf -rW."""
    out, section = [], None
    for line in gnu("readelf", "-rW", str(path)).splitlines():
        m = re.match(r"Relocation section '(\S+)'", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"([0-9a-f]{8})\s+[0-9a-f]{8}\s+R_PPC_REL24\s+[0-9a-f]{8}\s+(\S+)", line)
        if m and section == ".rela.text":
            out.append((int(m.group(1), 16), m.group(2)))
    return out


def undefined(path) -> set[str]:
    names = set()
    for line in gnu("readelf", "-sW", str(path)).splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[6] == "UND" and parts[7]:
            names.add(parts[7])
    return names


@pytest.fixture
def machine() -> Machine:
    return Machine.boot(ARCH)


@pytest.fixture(params=["r11", "r12"])
def loaded(request):
    m = Machine.boot(ARCH)
    mods = [m.load_module(fixture_path(n, ARCH), plt_reg=request.param) for n in FIXTURES]
    return m, mods, request.param


def test_plt_entries_are_what_gnu_as_assembles(loaded):
    m, mods, reg = loaded
    r = reg[1:]
    checked = 0
    for mod in mods:
        for e in mod.arch.stubs:
            expected = gnu_words(ARCH, [f"lis {r},({e.target})@ha", f"addi {r},{r},({e.target})@l",
                                        f"mtctr {r}", "bctr"])
            words = [m.memory.read_u32(e.address + 4 * i) for i in range(4)]
            assert words == expected == list(e.words)
            insns = list(CS.disasm(m.memory.read(e.address, 16), e.address))
            regs = [(i.mnemonic, [o.strip() for o in i.op_str.split(",")][:-1]
                     if i.mnemonic in ("lis", "addi") else i.op_str) for i in insns]
            assert regs == [("lis", [f"r{r}"]), ("addi", [f"r{r}", f"r{r}"]),
                            ("mtctr", f"r{r}"), ("bctr", "")]
            ha, lo = insns[0].operands[1].imm, insns[1].operands[2].imm
            assert ((ha << 16) + lo) % 2**32 == e.target
            checked += 1
    assert checked >= 4


def test_plt_entries_reach_the_kernel_functions_the_module_calls(loaded):
    m, mods, _ = loaded
    syms = nm()
    for mod in mods:
        want = {syms[n] for n in undefined(fixture_path(mod.name + ".o", ARCH)) if n in syms}
        want.add(syms["ftrace_caller"])
        assert {e.target for e in mod.arch.stubs} == want
        assert len(mod.arch.stubs) == len(want)     # entry_matches() reuses
        tramp = [e for e in mod.arch.stubs if e.address == mod.arch.tramp]
        assert tramp and tramp[0].target == syms["ftrace_caller"]
        assert mod.arch.toc is None
        # .plt is sized by get_plt_size(): distinct REL24 targets + 1 per RELA section
        elf = ElfFile.open(fixture_path(mod.name + ".o", ARCH))
        n = sum(len({(r.symbol.index if r.symbol else 0, r.addend)
                     for r in elf.relocations(s) if r.type == 10}) + 1
                for s in elf.reloc_sections if ".init" not in s.name)
        assert mod.sections[".plt"][1] == n * PLT_ENTRY_SIZE


def test_calls_to_the_kernel_go_through_the_plt(loaded):
    m, mods, _ = loaded
    syms = nm()
    for mod in mods:
        path = fixture_path(mod.name + ".o", ARCH)
        text = mod.sections[".text"][0]
        plt = {e.address: e.target for e in mod.arch.stubs}
        ext = undefined(path)
        for off, sym in rel24_sites(path):
            insn = next(CS.disasm(m.memory.read(text + off, 4), text + off))
            assert insn.mnemonic in ("bl", "b")   # b: a tail call
            target = insn.operands[0].imm % 2**32
            if sym in ext:
                assert plt[target] == syms[sym]
            else:
                assert target == mod.symbols[sym]   # in range: direct
        want = sorted(text + off for off, sym in rel24_sites(path) if sym == "_mcount")
        assert sorted(mod.mcount_sites) == want and want


def test_bytes_equal_gnu_ld_at_the_same_placement(loaded):
    need(PREFIX[ARCH] + "ld")
    from ppcftrace.modld import ld_placement

    m, mods, _ = loaded
    for mod in mods:
        ld = ld_placement(m, mod)
        raw = ElfFile.open(fixture_path(mod.name + ".o", ARCH))
        assert ld.keys() >= {".text", "__mcount_loc"}
        assert ld[".text"] != raw.section(".text").data
        for name, data in ld.items():
            addr, size = mod.sections[name]
            assert m.memory.read(addr, size) == data, f"{mod.name} {name}"


EXPORTER = """
#include "kernel.h"
int shared_counter;
noinline int provider(int x) { shared_counter += x; return x * 7; }
EXPORT_SYMBOL(provider);
EXPORT_SYMBOL(shared_counter);
"""

USER = """
#include "kernel.h"
extern int provider(int);
extern int shared_counter;
int consumer(int x) { return provider(x) + shared_counter; }
"""


def test_module_to_module_calls_in_range_are_direct(machine):
    need(PREFIX[ARCH] + "ld")
    from ppcftrace.modld import ld_placement

    a = machine.load_module(build(ARCH, EXPORTER), "provider")
    assert a.exports == {"provider": a.symbols["provider"],
                         "shared_counter": a.symbols["shared_counter"]}
    b = machine.load_module(build(ARCH, USER), "consumer")
    assert b.uses == ("provider",)
    text, size = b.sections[".text"]
    targets = {next(CS.disasm(machine.memory.read(text + off, 4), text + off)).operands[0].imm
               % 2**32: sym for off, sym in rel24_sites_bytes(machine, b)}
    assert a.symbols["provider"] in targets           # bl provider: no PLT entry
    assert {e.target for e in b.arch.stubs} == {machine.kallsyms.address("_mcount"),
                                                machine.kallsyms.address("ftrace_caller")}
    ld = ld_placement(machine, b)
    for name, data in ld.items():
        addr, size = b.sections[name]
        assert machine.memory.read(addr, size) == data, name
    # the provider cannot go while the consumer uses it
    with pytest.raises(Exception) as info:
        machine.unload_module("provider")
    assert getattr(info.value, "errno", None) == errno.EWOULDBLOCK
    machine.unload_module("consumer")
    machine.unload_module("provider")


def rel24_sites_bytes(machine, mod):
    return [(r.offset, r.symbol.name) for r in mod.obj.relocations(".text") if r.type == 10]


def test_unknown_relocation_type_is_rejected(machine):
    data = fixture_path("hmod.o", ARCH).read_bytes()
    crafted = set_reloc_type(data, ".rela.text", 0, 7)  # R_PPC_ADDR14
    assert_load_fails(machine, crafted, errno.ENOEXEC, "bad: unknown ADD relocation: 7")


def test_unknown_symbol_is_enoent(machine):
    machine.load_module(fixture_path("racemod.o", ARCH))
    src = '#include "kernel.h"\nextern void no_such_function(void);\n' \
          'void f(void) { no_such_function(); }\n'
    assert_load_fails(machine, build(ARCH, src), errno.ENOENT,
                      "bad: Unknown symbol no_such_function")


def test_init_sections_get_their_own_area_and_plt(machine):
    src = '#include "kernel.h"\n' \
          '__attribute__((section(".init.text"))) int init_module(void) ' \
          '{ printk("hi"); return 0; }\n' \
          'void cleanup_module(void) { printk("bye"); }\n'
    mod = machine.load_module(build(ARCH, src), "initmod")
    assert mod.init_base is not None and mod.init_size > 0
    init_text = mod.sections[".init.text"][0]
    assert init_text not in range(mod.base, mod.base + mod.size)
    iplt = mod.sections[".init.plt"]
    entries = [e for e in mod.arch.stubs if iplt[0] <= e.address < iplt[0] + iplt[1]]
    assert machine.kallsyms.address("printk") in {e.target for e in entries}
    core = [e for e in mod.arch.stubs if e not in entries]
    assert machine.kallsyms.address("printk") in {e.target for e in core}
    machine.unload_module("initmod")
    assert not any(r.name.startswith("module:initmod") for r in machine.memory.regions)


def test_plt_reg_must_be_r11_or_r12(machine):
    with pytest.raises(Exception) as info:
        machine.load_module(fixture_path("hmod.o", ARCH), plt_reg="r13")
    assert info.value.errno == errno.EINVAL
    assert machine.modules == []
