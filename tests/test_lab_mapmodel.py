"""The map model against the machine: every site's state in the map equals the words
in memory read independently (capstone's disassembly, the stub's funcaddr / PLT words
read from memory), in every state ftrace can leave a site in."""

from __future__ import annotations

import capstone
import pytest

from ppcftrace.kernel import start_kernel
from ppcftrace.lab.mapmodel import MemoryMapModel, ZoomError, reach_window
from ppcftrace.machine import fixture_path

CS = {"ppc64": capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN),
      "ppc32": capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_32 | capstone.CS_MODE_BIG_ENDIAN)}


def expected_state(m, ip: int) -> str:
    """The state from capstone and raw memory, without ppcftrace.isa or the model."""
    arch, mem = m.arch, m.memory
    mask = (1 << (64 if arch == "ppc64" else 32)) - 1
    insn = next(CS[arch].disasm(mem.read(ip, 4), ip), None)
    if insn is None:
        return "other"
    if insn.mnemonic == "nop":
        return "nop"
    if insn.mnemonic == "b":
        return "b+8" if int(insn.op_str, 16) & mask == ip + 8 else "other"
    if insn.mnemonic != "bl":
        return "other"
    target = int(insn.op_str, 16) & mask
    for mod in m.modules:
        for st in mod.arch.stubs:
            if st.address == target:
                if arch == "ppc64":
                    target = mem.read_u64(target + 32)
                else:   # lis rX,hi; addi rX,rX,lo
                    hi, lo = mem.read_u32(target) & 0xFFFF, mem.read_u32(target + 4) & 0xFFFF
                    target = ((hi << 16) + (lo - 0x10000 if lo & 0x8000 else lo)) & mask
    if target == m.entry("_mcount"):
        return "mcount"
    if target == m.entry("ftrace_caller"):
        return "ftrace"
    return "other"


def assert_matches(m, model: MemoryMapModel) -> None:
    ips = [r.ip for r in m.ftrace.records] if m.ftrace else \
        [ip for ip in m.mcount_sites if ip] + [ip for mod in m.modules for ip in mod.mcount_sites]
    assert sorted(s.ip for s in model.sites) == sorted(ips)
    for site in model.sites:
        assert site.state.state == expected_state(m, site.ip), (site.function, site.state)


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_every_state_matches_memory(arch):
    # as linked: every site calls _mcount (modules through a stub / PLT entry)
    m = start_kernel(arch, modules=[fixture_path("hmod.o", arch)], ftrace=False, cpu=False)
    model = MemoryMapModel(m)
    assert model.counts()["mcount"] == len(model.sites) > 20
    assert_matches(m, model)
    # after ftrace_init / ftrace_init_module: nops, b .+8 on PPC64 modules
    m = start_kernel(arch, modules=[fixture_path("hmod.o", arch)], cpu=False)
    model = MemoryMapModel(m)
    counts = model.counts()
    assert counts["b+8"] == (6 if arch == "ppc64" else 0) and counts["mcount"] == 0
    assert_matches(m, model)
    # traced: some sites call ftrace_caller, module ones through mod->arch.tramp
    dot = "." if arch == "ppc64" else ""
    m.ftrace.set_ftrace_filter(f"{dot}hmod_hello {dot}schedule")
    m.ftrace.current_tracer = "function"
    model.refresh()
    assert model.counts()["ftrace"] == 2
    assert_matches(m, model)
    hello = model.find_site("hmod_hello")
    assert hello.module == "hmod" and hello.state.via == m.modules[0].arch.tramp
    # a corrupted site is "other", and so is a site whose stub was corrupted
    m.memory.write_u32(model.find_site("schedule").ip, 0x7C0802A6)
    model.refresh()
    assert model.site(model.find_site("schedule").ip).state.state == "other"
    assert_matches(m, model)


def test_corrupted_stub_changes_the_state_of_sites_through_it():
    m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False)
    m.ftrace.set_ftrace_filter(".hmod_hello")
    m.ftrace.current_tracer = "function"
    model = MemoryMapModel(m)
    assert model.find_site("hmod_hello").state.state == "ftrace"
    m.memory.write_u64(m.modules[0].arch.tramp + 32, 0xC0DE)
    model.refresh()
    assert model.find_site("hmod_hello").state.state == "other"
    assert_matches(m, model)


def test_two_nops_policy_and_synthetic_machine():
    m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False, policy="two-nops")
    model = MemoryMapModel(m)
    assert model.counts()["b+8"] == 0
    assert_matches(m, model)
    m = start_kernel("ppc64", synthetic=200, modules=[(30, "syn")], cpu=False)
    model = MemoryMapModel(m)
    assert model.counts() == {"mcount": 0, "nop": 200, "b+8": 30, "ftrace": 0, "other": 0}
    assert_matches(m, model)


def test_arrows_reach_and_zoom():
    m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False)
    model = MemoryMapModel(m)
    hello = model.find_site(".hmod_hello")
    assert [a.kind for a in model.arrows(hello.ip)] == ["b+8"]
    m.ftrace.set_ftrace_filter(".hmod_hello")
    m.ftrace.current_tracer = "function"
    model.refresh()
    site, stub = model.arrows(hello.ip)
    assert (site.source, site.dest, stub.dest) == (hello.ip, m.modules[0].arch.tramp, m.entry("ftrace_caller"))
    low, high = reach_window(hello.ip)
    assert (hello.ip - low, high - hello.ip) == (0x2000000, 0x1FFFFFC)
    assert not model.in_reach(hello.ip, m.entry("_mcount"))
    assert model.in_reach(hello.ip, m.modules[0].arch.tramp)
    assert reach_window(0x100, "ppc32")[0] == 0x100 - 0x2000000 + 2**32
    # zoom: functions (code, not the descriptor), modules, sections
    sym = m.kallsyms.symbol(".schedule")
    lo, hi = model.zoom_range("schedule")
    assert lo == sym.address and lo < model.find_site("schedule").ip < hi
    assert model.zoom_range("hmod") == (m.modules[0].base, m.modules[0].base + m.modules[0].size)
    text = m.kernel.section(".text")
    assert model.zoom_range(".text") == (text.addr, text.addr + text.size)
    assert model.zoom_range("all") is None
    lo, hi = model.zoom_range("hmod_hello")
    assert lo == m.modules[0].symbols[".hmod_hello"] < hello.ip < hi
    for bad in ("nosuchthing", "vmlinux .nothing"):
        with pytest.raises(ZoomError):
            model.zoom_range(bad)
    with pytest.raises(ZoomError):
        model.find_site("")
    with pytest.raises(ZoomError):
        model.find_site("0x1234")


def test_where_names_stubs_by_their_target():
    m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False)
    model = MemoryMapModel(m)
    tramp = m.modules[0].arch.tramp
    assert model.where(tramp) == "stub\u2192.ftrace_caller"
    assert model.where(tramp + 8) == "stub\u2192.ftrace_caller+0x8"
    assert model.where(m.entry("schedule")) == ".schedule"
