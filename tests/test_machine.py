"""The booted machine against GNU nm/readelf/objdump/objcopy on the same image."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import need
from ppcftrace.elf import ELFError
from ppcftrace.kallsyms import UnknownSymbol
from ppcftrace.machine import (KERNELBASE, MODULES_VADDR, BadKernel, Machine, MachineError,
                               UnknownArch, fixture_path)
from ppcftrace.memory import MemoryFault
from ppcftrace.toolchain import PREFIX

ARCHES = ("ppc64", "ppc32")
EXPORTED = ("printk", "strlen", "strcmp", "simple_strtoul", "schedule", "_mcount")


def gnu(arch: str, tool: str, *args: str, text: bool = True):
    need(PREFIX[arch] + tool)
    return subprocess.run([PREFIX[arch] + tool, *args], check=True, capture_output=True,
                          text=text).stdout


@pytest.fixture(scope="module", params=ARCHES)
def machine(request) -> Machine:
    return Machine.boot(request.param)


def vmlinux(m: Machine) -> str:
    return str(fixture_path("vmlinux", m.arch))


def code(m: Machine, name: str) -> str:
    return ("." + name) if m.arch == "ppc64" else name


# -- boot -------------------------------------------------------------------------------

def test_boot_gives_a_kernel_with_records_exports_and_areas(machine):
    assert machine.kallsyms.address("_stext") == KERNELBASE[machine.arch]
    assert set(EXPORTED) <= set(machine.exports)
    assert machine.mcount_sites and machine.modules == []
    assert machine.module_area.start == MODULES_VADDR[machine.arch]
    # no `bl` (reach +-32 MiB) gets from the module area to kernel text
    assert machine.module_area.start - KERNELBASE[machine.arch] > 0x2000000
    assert not machine.memory.is_mapped(machine.module_area.start)
    assert machine.memory.is_mapped(machine.stack_top - 8, 8, "w")
    assert not machine.memory.is_mapped(machine.stack.start, 4, "x")
    assert machine.memory.journal == []
    assert (machine.toc is None) == (machine.arch == "ppc32")


def test_kernel_text_is_writable_and_executable(machine):
    text = machine.kallsyms.address(code(machine, "schedule"))
    assert machine.memory.is_mapped(text, 4, "x") and machine.memory.is_mapped(text, 4, "w")


def test_each_boot_is_a_fresh_address_space(machine):
    other = Machine.boot(machine.arch)
    site = other.mcount_sites[0]
    other.memory.write_u32(site, 0x60000000)
    assert machine.memory.read_u32(site) != 0x60000000


def test_entry_follows_descriptors_on_ppc64():
    m = Machine.boot("ppc64")
    assert m.entry("schedule") == m.kallsyms.address(".schedule")
    assert m.memory.read_u64(m.exports["schedule"]) == m.entry("schedule")
    assert Machine.boot("ppc32").entry("schedule") == Machine.boot("ppc32").exports["schedule"]


# -- against GNU tools ----------------------------------------------------------------------

@pytest.mark.toolchain
def test_symbols_match_nm(machine):
    """Every symbol nm --synthetic lists, at its address, with its type; the code of a
    descriptor takes the descriptor's binding (nm types the descriptor D or d)."""
    lines = gnu(machine.arch, "nm", "--synthetic", vmlinux(machine)).split("\n")
    nm = {(int(a, 16), t, n) for a, t, n in (line.split() for line in lines if line)}
    descriptor = {n: t for _, t, n in nm if t in "Dd"}
    expected = set()
    for addr, t, name in nm:
        if name.startswith(".") and name[1:] in descriptor:
            t = "T" if descriptor[name[1:]] == "D" else "t"
        expected.add((addr, t, name))
    ours = {(s.address, s.type, s.name) for s in machine.kallsyms}
    assert ours == expected


@pytest.mark.toolchain
def test_toc_is_got_plus_0x8000():
    m = Machine.boot("ppc64")
    sections = gnu("ppc64", "readelf", "-SW", vmlinux(m))
    got = re.search(r"\] \.got\s+PROGBITS\s+([0-9a-f]+)", sections)
    assert m.toc == int(got.group(1), 16) + 0x8000


def objdump_sites(m: Machine) -> list[tuple[int, str]]:
    """(address, function) of every `bl` to _mcount in the image, from objdump -d."""
    out, func = [], None
    for line in gnu(m.arch, "objdump", "-d", vmlinux(m)).splitlines():
        head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if head:
            func = head.group(1)
        hit = re.match(r"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} ){4}\s*bl\s+[0-9a-f]+ <\.?_mcount>",
                       line)
        if hit:
            out.append((int(hit.group(1), 16), func))
    return out


@pytest.mark.toolchain
def test_mcount_sites_are_the_bl_mcount_calls(machine):
    sites = objdump_sites(machine)
    assert sorted(machine.mcount_sites) == sorted(a for a, _ in sites)
    for addr, func in sites:
        assert machine.kallsyms.lookup(addr)[0] == func


@pytest.mark.toolchain
def test_notrace_functions_have_no_site(machine):
    traced = {f for _, f in objdump_sites(machine)}
    for name in ("function_trace_call", "_mcount", "ftrace_caller", "ftrace_stub"):
        assert code(machine, name) in machine.kallsyms
        assert code(machine, name) not in traced
    for name in ("printk", "strlen", "strcmp", "simple_strtoul", "schedule", "cpu_idle",
                 "stop_critical_timings", "start_critical_timings", "do_fork"):
        assert code(machine, name) in traced


@pytest.mark.toolchain
def test_sections_in_memory_equal_objcopy(machine, tmp_path):
    """Every allocated PROGBITS section readelf lists is in memory, byte for byte."""
    sections = re.findall(r"\] (\S+)\s+PROGBITS\s+([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+) \S+ +W?AX?",
                          gnu(machine.arch, "readelf", "-SW", vmlinux(machine)))
    assert {".text", ".rodata", ".data", "__ksymtab", "__mcount_loc"} <= {n for n, *_ in sections}
    for name, addr, size in sections:
        out = tmp_path / "section.bin"
        gnu(machine.arch, "objcopy", "-O", "binary", "-j", name, vmlinux(machine), str(out))
        assert machine.memory.read(int(addr, 16), int(size, 16)) == out.read_bytes(), name
        assert machine.memory.region_at(int(addr, 16)).name == f"vmlinux {name}"


@pytest.mark.toolchain
def test_exports_are_symbol_values(machine):
    """__ksymtab holds &sym: a descriptor on PPC64, the code on PPC32 (readelf -s)."""
    table = gnu(machine.arch, "readelf", "-sW", vmlinux(machine))
    values = {f[7]: int(f[1], 16) for f in (line.split() for line in table.splitlines())
              if len(f) == 8 and f[0].endswith(":") and f[4] == "GLOBAL"}
    assert set(EXPORTED) <= set(machine.exports)
    for name, value in machine.exports.items():
        assert value == values[name], name
    kstrtab = {line.split()[-1][len("__ksymtab_"):] for line in table.splitlines()
               if line.split() and line.split()[-1].startswith("__ksymtab_")
               and line.split()[-1] != "__ksymtab_strings"}
    assert kstrtab == set(machine.exports)


# -- lookups and errors -----------------------------------------------------------------------

def test_lookup_and_address(machine):
    sched = machine.kallsyms.address(code(machine, "schedule"))
    assert machine.kallsyms.lookup(sched) == (code(machine, "schedule"), 0)
    assert machine.kallsyms.lookup(sched + 4) == (code(machine, "schedule"), 4)
    assert machine.kallsyms.symbolize(sched + 4) == code(machine, "schedule") + "+0x4"
    assert machine.kallsyms.lookup(machine.module_area.start) is None
    with pytest.raises(UnknownSymbol, match="no kernel symbol 'nosuch'"):
        machine.kallsyms.address("nosuch")


def test_unknown_arch():
    with pytest.raises(UnknownArch, match="unknown architecture 'x86'"):
        Machine.boot("x86")


def test_a_module_is_not_a_kernel():
    with pytest.raises(BadKernel, match="relocatable object"):
        Machine.boot("ppc64", kernel=fixture_path("hmod.o", "ppc64"))


def test_wrong_arch_kernel():
    with pytest.raises(BadKernel, match="a ppc32 image, not ppc64"):
        Machine.boot("ppc64", kernel=fixture_path("vmlinux", "ppc32"))


def test_not_elf(tmp_path):
    junk = tmp_path / "vmlinux"
    junk.write_bytes(b"not an ELF file at all" * 4)
    with pytest.raises(ELFError):
        Machine.boot("ppc32", kernel=junk)


def test_unmapped_reads_fault(machine):
    with pytest.raises(MemoryFault):
        machine.memory.read_u32(machine.module_area.start)


def test_missing_fixture():
    with pytest.raises(MachineError, match="no fixture ppc64/nosuch.o"):
        fixture_path("nosuch.o")
