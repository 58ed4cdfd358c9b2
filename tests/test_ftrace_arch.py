"""Every check of arch/powerpc/kernel/ftrace.c (2.6.29) made to fail on purpose.

Each case breaks one thing the kernel checks and expects the kernel's errno and
printk text (quoted from the 2.6.29 source), with memory and the record unchanged.
The machine is `ppcftrace.synthetic`'s: real -pg prologues, stubs and PLT entries
laid out as module_64.c / module_32.c make them (FACTS.md sections 3-4).
"""

from __future__ import annotations

import errno

import pytest

from ppcftrace.ftrace import ArchContext, DynFtrace, FtraceError, ftrace_make_call, ftrace_make_nop
from ppcftrace.ftrace.arch import ftrace_call_replace, ftrace_modify_code, ftrace_update_ftrace_func
from ppcftrace.ftrace.arch64 import stub_offset
from ppcftrace.ftrace.arch32 import plt_target
from ppcftrace.isa import PPC_INST_B_8, PPC_INST_LD_TOC, PPC_INST_NOP, find_bl_target
from ppcftrace.synthetic import SyntheticMachine


class World:
    """A synthetic machine with two kernel functions and one module of two, not converted."""

    def __init__(self, arch: str, **options):
        self.m = SyntheticMachine(2, arch)
        self.mod = self.m.add_module("hmod", 2)
        self.log: list[str] = []
        self.ctx = ArchContext(self.m.memory, arch, printk=self.log.append, flush_target=self.m, **options)
        self.mcount = self.m.function_pointer("_mcount")
        self.caller = self.m.function_pointer("ftrace_caller")
        self.krec = DynFtrace(self.m.mcount_sites[0])
        self.mrec = DynFtrace(self.mod.mcount_sites[0])

    def word(self, addr: int) -> int:
        return self.m.memory.read_u32(addr)

    def poke(self, addr: int, word: int) -> None:
        self.m.memory.write_u32(addr, word)

    def expect_failure(self, err: int, message: str | None, fn, *args):
        """Run fn(*args); it must raise FtraceError(err, message) and change nothing."""
        snap = self.m.memory.snapshot()
        recs = [(r, r.flags, r.mod) for r in (self.krec, self.mrec)]
        before = len(self.log)
        with pytest.raises(FtraceError) as info:
            fn(*args)
        assert info.value.errno == err
        if message is None:  # the kernel prints nothing for this one
            assert info.value.printk is None and len(self.log) == before
        else:
            assert info.value.printk == message and str(info.value) == message
            assert self.log[before:] == [message]
        assert self.m.memory.diff(snap) == []
        assert all((r.flags, r.mod) == (f, m) for r, f, m in recs)
        return info.value


@pytest.fixture(params=["ppc64", "ppc32"])
def world(request):
    return World(request.param)


def w64():
    return World("ppc64")


def w32():
    return World("ppc32")


# -- the happy paths, word by word ---------------------------------------------------

def test_kernel_site_round_trip(world):
    w = world
    ip = w.krec.ip
    call = w.word(ip)
    assert call == ftrace_call_replace(w.ctx, ip, w.mcount)
    ftrace_make_nop(w.ctx, None, w.krec, w.mcount)
    assert w.word(ip) == PPC_INST_NOP
    ftrace_make_call(w.ctx, w.krec, w.caller)
    target = find_bl_target(ip, w.word(ip), w.ctx.arch)
    assert target == w.m.layout["ftrace_caller"]
    ftrace_make_nop(w.ctx, None, w.krec, w.caller)
    assert w.word(ip) == PPC_INST_NOP and w.krec.mod is None


def test_ppc64_module_site_round_trip():
    w = w64()
    ip = w.mrec.ip
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    assert (w.word(ip), w.word(ip + 4)) == (PPC_INST_B_8, PPC_INST_LD_TOC)
    assert w.mrec.mod is w.mod  # remembered on first use
    ftrace_make_call(w.ctx, w.mrec, w.caller)
    assert find_bl_target(ip, w.word(ip)) == w.mod.arch.tramp and w.word(ip + 4) == PPC_INST_LD_TOC
    ftrace_make_nop(w.ctx, None, w.mrec, w.caller)
    assert (w.word(ip), w.word(ip + 4)) == (PPC_INST_B_8, PPC_INST_LD_TOC)


def test_ppc64_two_nops_policy():
    w = World("ppc64", policy="two-nops")
    ip = w.mrec.ip
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    assert (w.word(ip), w.word(ip + 4)) == (PPC_INST_NOP, PPC_INST_NOP)
    ftrace_make_call(w.ctx, w.mrec, w.caller)  # accepts {nop, nop}, writes both words
    assert find_bl_target(ip, w.word(ip)) == w.mod.arch.tramp and w.word(ip + 4) == PPC_INST_LD_TOC


def test_ppc32_module_site_round_trip():
    w = w32()
    ip = w.mrec.ip
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    assert w.word(ip) == PPC_INST_NOP
    ftrace_make_call(w.ctx, w.mrec, w.caller)
    assert find_bl_target(ip, w.word(ip), "ppc32") == w.mod.arch.tramp
    ftrace_make_nop(w.ctx, None, w.mrec, w.caller)
    assert w.word(ip) == PPC_INST_NOP


def test_flush_icache_after_every_write(world):
    w = world
    flushed = []
    w.m.icache_flush_listeners = [lambda s, e: flushed.append((s, e))]
    ftrace_make_nop(w.ctx, None, w.krec, w.mcount)
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    assert flushed == [(w.krec.ip, w.krec.ip + 8), (w.mrec.ip, w.mrec.ip + 8)]


def test_stub_offset_is_signed():
    assert stub_offset(0x3D820001, 0x398C8000) == 0x10000 - 0x8000
    assert stub_offset(0x3D82FFFF, 0x398CFFF0) == -0x10010
    assert plt_target(0x3D60C002, 0x396BFFFC) == 0xC001FFFC  # FACTS.md: ha 0xc002, lo 0xfffc


# -- ftrace_modify_code / in-range sites ----------------------------------------------

def test_kernel_site_not_the_expected_call(world):
    w = world
    w.poke(w.krec.ip, PPC_INST_NOP)
    w.expect_failure(errno.EINVAL, None, ftrace_make_nop, w.ctx, None, w.krec, w.mcount)


def test_kernel_site_enable_needs_nop(world):
    w = world  # still `bl _mcount`
    w.expect_failure(errno.EINVAL, None, ftrace_make_call, w.ctx, w.krec, w.caller)


def test_kernel_site_read_fault(world):
    w = world
    w.m.memory.protect("vmlinux .text", "x")
    w.expect_failure(errno.EFAULT, None, ftrace_make_nop, w.ctx, None, w.krec, w.mcount)


def test_kernel_site_write_fault(world):
    w = world
    w.m.memory.protect("vmlinux .text", "rx")
    w.expect_failure(errno.EPERM, None, ftrace_make_nop, w.ctx, None, w.krec, w.mcount)


def test_modify_code_compares_then_writes(world):
    w = world
    ip = w.krec.ip
    old = w.word(ip)
    w.expect_failure(errno.EINVAL, None, ftrace_modify_code, w.ctx, ip, old ^ 4, PPC_INST_NOP)
    ftrace_modify_code(w.ctx, ip, old, PPC_INST_NOP)
    assert w.word(ip) == PPC_INST_NOP


def test_update_ftrace_func(world):
    w = world
    ip = w.m.kallsyms.address("ftrace_call")
    assert find_bl_target(ip, w.word(ip), w.ctx.arch) == w.m.layout["ftrace_stub"]
    ftrace_update_ftrace_func(w.ctx, ip, w.m.function_pointer("function_trace_call"))
    assert find_bl_target(ip, w.word(ip), w.ctx.arch) == w.m.layout["function_trace_call"]


# -- the module paths: ftrace_make_nop's choice of module --------------------------------

def test_no_module_loaded(world):
    w = world
    w.expect_failure(errno.EFAULT, f"No module loaded addr={w.mcount:x}",
                     ftrace_make_nop, w.ctx, None, w.mrec, w.mcount)


def test_record_mod_mismatch(world):
    w = world
    other = w.m.add_module("other", 1)
    w.mrec.mod = w.mod
    digits = 16 if w.ctx.arch == "ppc64" else 8
    w.expect_failure(errno.EINVAL, f"Record mod {w.mod.base:0{digits}x} not equal to passed in mod "
                     f"{other.base:0{digits}x}", ftrace_make_nop, w.ctx, other, w.mrec, w.mcount)


def test_make_call_needs_record_module(world):
    w = world
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    w.mrec.mod = None
    w.expect_failure(errno.EINVAL, "No module loaded", ftrace_make_call, w.ctx, w.mrec, w.caller)


# -- PPC64 __ftrace_make_nop -----------------------------------------------------------

def test_ppc64_not_a_bl():
    w = w64()
    w.poke(w.mrec.ip, PPC_INST_B_8)
    w.expect_failure(errno.EINVAL, "Not expected bl: opcode is 48000008",
                     ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc64_site_read_fault():
    w = w64()
    w.m.memory.protect("module.hmod", "x")
    w.expect_failure(errno.EFAULT, None, ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc64_stub_unreadable():
    w = w64()
    ip = w.mrec.ip
    gap = w.mod.base + w.mod.size + 0x100  # unmapped, in bl range
    w.poke(ip, 0x48000001 | ((gap - ip) & 0x03FFFFFC))
    w.expect_failure(errno.EFAULT, f"Failed to read {gap:x}", ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


@pytest.mark.parametrize("index,bad", [(0, 0x3D800000), (1, 0x398B0000), (2, 0xF8410018),
                                       (3, 0xE96C0028), (4, 0xE84C0020)])
def test_ppc64_stub_word_wrong(index, bad):
    w = w64()
    stub = w.mod.arch.stubs[0].address
    old = w.word(stub + 4 * index)
    w.poke(stub + 4 * index, bad | (old & 0xFFFF if index < 2 else 0))
    w.expect_failure(errno.EINVAL, "Not a trampoline", ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc64_stub_high_halves_are_masked():
    """Only the top halves of words 0 and 1 are compared; the offset comes from the bottom."""
    w = w64()
    stub = w.mod.arch.stubs[0].address
    assert w.word(stub) & 0xFFFF and w.word(stub + 4) & 0xFFFF  # the offset is in the low halves
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)  # ... and the real stub passes


def test_ppc64_funcaddr_wrong():
    w = w64()
    stub = w.mod.arch.stubs[0].address
    w.m.memory.write_u64(stub + 32, w.m.layout["ftrace_stub"])
    w.expect_failure(errno.EINVAL, f"addr does not match {w.m.layout['ftrace_stub']:x}",
                     ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc64_funcaddr_read_through_module_toc():
    """funcaddr is read at mod->arch.toc + offset + 32: a wrong TOC reads elsewhere."""
    w = w64()
    w.mod.arch.toc += 0x1000000
    where = w.mod.arch.stubs[0].address + 0x1000000 + 32
    w.expect_failure(errno.EFAULT, f"Failed to read {where:x}", ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc64_missing_ld_r2():
    w = w64()
    w.poke(w.mrec.ip + 4, PPC_INST_NOP)
    w.expect_failure(errno.EINVAL, "Next line is not ld! (60000000)",
                     ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc64_module_write_fault():
    w = w64()
    w.m.memory.protect("module.hmod", "rx")
    w.expect_failure(errno.EPERM, None, ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


# -- PPC64 __ftrace_make_call ----------------------------------------------------------

def disabled64():
    w = w64()
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    return w


def test_ppc64_call_expects_nops():
    w = disabled64()
    w.poke(w.mrec.ip + 4, PPC_INST_NOP)  # b .+8 ; nop is neither legal pair
    w.expect_failure(errno.EINVAL, "Expected NOPs but have 48000008 60000000",
                     ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc64_call_needs_trampoline():
    w = disabled64()
    w.mod.arch.tramp = None
    w.expect_failure(errno.EINVAL, "No ftrace trampoline", ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc64_call_trampoline_out_of_range():
    w = disabled64()
    w.mod.arch.tramp = w.mrec.ip + 0x2000000
    w.expect_failure(errno.EINVAL, "REL24 out of range!", ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc64_call_read_fault():
    w = disabled64()
    w.m.memory.protect("module.hmod", "x")
    w.expect_failure(errno.EFAULT, None, ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc64_call_write_fault():
    w = disabled64()
    w.m.memory.protect("module.hmod", "rx")
    w.expect_failure(errno.EPERM, None, ftrace_make_call, w.ctx, w.mrec, w.caller)


# -- PPC32 ------------------------------------------------------------------------------

def test_ppc32_not_a_bl():
    w = w32()
    w.poke(w.mrec.ip, PPC_INST_NOP)
    w.expect_failure(errno.EINVAL, "Not expected bl: opcode is 60000000",
                     ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc32_plt_unreadable():
    w = w32()
    ip = w.mrec.ip
    gap = w.mod.base + w.mod.size + 0x100
    w.poke(ip, 0x48000001 | ((gap - ip) & 0x03FFFFFC))
    w.expect_failure(errno.EFAULT, f"Failed to read {gap:x}", ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


@pytest.mark.parametrize("index,bad", [(0, 0x3D800000), (1, 0x398C0000), (2, 0x7D8903A6), (3, 0x4E800020)])
def test_ppc32_plt_word_wrong(index, bad):
    w = w32()
    plt = w.mod.arch.stubs[0].address
    old = w.word(plt + 4 * index)
    w.poke(plt + 4 * index, bad | (old & 0xFFFF if index < 2 else 0))
    w.expect_failure(errno.EINVAL, "Not a trampoline", ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc32_plt_r12_form_is_an_option():
    """The 2012 r12 PLT entry is refused by the 2008 check and accepted with plt="r12"."""
    for plt, ok in (("r11", False), ("r12", True), ("either", True)):
        w = World("ppc32", plt=plt)
        entry = w.mod.arch.stubs[0].address
        for i, (mask, new) in enumerate(((0xFFFF0000, 0x3D800000), (0xFFFF0000, 0x398C0000),
                                         (0xFFFFFFFF, 0x7D8903A6))):
            w.poke(entry + 4 * i, new | (w.word(entry + 4 * i) & ~mask & 0xFFFFFFFF))
        if ok:
            ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
            assert w.word(w.mrec.ip) == PPC_INST_NOP
        else:
            w.expect_failure(errno.EINVAL, "Not a trampoline", ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc32_plt_target_mismatch():
    w = w32()
    plt = w.mod.arch.stubs[0].address
    w.poke(plt + 4, (w.word(plt + 4) & 0xFFFF0000) | ((w.word(plt + 4) + 8) & 0xFFFF))
    target = plt_target(w.word(plt), w.word(plt + 4))
    w.expect_failure(errno.EINVAL, f"Trampoline location {target:08x} does not match addr",
                     ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc32_module_write_fault():
    w = w32()
    w.m.memory.protect("module.hmod", "rx")
    w.expect_failure(errno.EPERM, None, ftrace_make_nop, w.ctx, w.mod, w.mrec, w.mcount)


def test_ppc32_call_expects_nop():
    w = w32()
    w.mrec.mod = w.mod  # still `bl <plt>`
    w.expect_failure(errno.EINVAL, f"Expected NOP but have {w.word(w.mrec.ip):x}",
                     ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc32_call_needs_trampoline():
    w = w32()
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    w.mod.arch.tramp = None
    w.expect_failure(errno.EINVAL, "No ftrace trampoline", ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc32_call_out_of_range():
    w = w32()
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    w.mod.arch.tramp = w.mrec.ip - 0x2000004
    w.expect_failure(errno.EINVAL, "REL24 out of range!", ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_ppc32_call_write_fault():
    w = w32()
    ftrace_make_nop(w.ctx, w.mod, w.mrec, w.mcount)
    w.m.memory.protect("module.hmod", "rx")
    w.expect_failure(errno.EPERM, None, ftrace_make_call, w.ctx, w.mrec, w.caller)


def test_bad_options():
    w = w64()
    with pytest.raises(FtraceError, match="unknown policy"):
        ArchContext(w.m.memory, "ppc64", policy="three-nops")
    with pytest.raises(FtraceError, match="unknown arch"):
        ArchContext(w.m.memory, "x86")


# -- the synthetic stubs and PLT entries are what GNU as makes --------------------------

def test_synthetic_far_calls_match_gnu_as():
    from conftest import need_toolchain
    from ppcftrace.toolchain import gnu_assemble
    for arch in ("ppc64", "ppc32"):
        need_toolchain(arch)
        w = World(arch)
        for stub, fn in zip((s.address for s in w.mod.arch.stubs), ("_mcount", "ftrace_caller")):
            if arch == "ppc64":
                off = stub - w.mod.arch.toc
                src = [f"addis 12,2,({off})@ha", f"addi 12,12,({off})@l", "std 2,40(1)", "ld 11,32(12)",
                       "ld 2,40(12)", "mtctr 11", "bctr"]
            else:
                target = w.m.function_pointer(fn)
                src = [f"lis 11,{target:#x}@ha", f"addi 11,11,{target:#x}@l", "mtctr 11", "bctr"]
            data = gnu_assemble("\n".join(src), arch)
            assert [w.word(stub + i) for i in range(0, len(data), 4)] == \
                [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
        ip = w.mod.mcount_sites[0]
        if arch == "ppc64":
            assert w.word(ip + 4) == int.from_bytes(gnu_assemble("ld 2,40(1)", arch), "big")
