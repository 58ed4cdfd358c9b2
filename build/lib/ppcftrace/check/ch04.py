"""Checkers for Chapter 4, "PPC64 module stubs".

Expected values come from the package: `module64.stub_words_for` (a stub's words, as
module_64.c writes them), `ftrace.arch64.stub_offset` (how ftrace reads them back),
`isa.create_branch` and `isa.PPC_INST_LD_TOC` (a call site after loading), and a
machine booted with the fixture kernel and `hmod.o` loaded, as in the chapter.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import (CheckResult, Mistake, call_safely, report, require_callable,
                             require_int)
from ppcftrace.ftrace.arch64 import stub_offset
from ppcftrace.machine import Machine, fixture_path
from ppcftrace.memory import AddressSpace, MemoryFault
from ppcftrace.module64 import stub_words_for

__all__ = ["fixture", "ex1_case", "ex3_case", "ex1", "ex2", "ex3"]

M64 = (1 << 64) - 1


@lru_cache(maxsize=None)
def fixture():
    """(machine, module): the fixture kernel booted with hmod.o loaded (as the chapter)."""
    machine = Machine.boot("ppc64")
    return machine, machine.load_module(fixture_path("hmod.o", "ppc64"))


def _mcount_stub(machine, module):
    mcount = machine.entry("_mcount")
    return next(s for s in module.arch.stubs if s.target == mcount)


def ex1_case() -> tuple[int, int]:
    """Exercise 1's values: (hmod's stub for `_mcount`, hmod's r2)."""
    machine, module = fixture()
    return _mcount_stub(machine, module).address, module.arch.toc


def ex3_case() -> tuple[int, int]:
    """Exercise 3's values: (the `_mcount` site in hmod_hello, the `_mcount` stub)."""
    machine, module = fixture()
    site = next(s for s in module.mcount_sites if module.lookup(s)[0] == ".hmod_hello")
    return site, _mcount_stub(machine, module).address


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


# --- Exercise 1: HA and LO of a stub ------------------------------------------------------

def _expected_ha_lo(stub: int, r2: int) -> tuple[int, int]:
    words = stub_words_for(stub, r2)
    return words[0] & 0xFFFF, words[1] & 0xFFFF


def _ha_lo_cases() -> Iterator[tuple[int, int]]:
    """(stub, r2): the fixture's, stubs just below and above r2, carries both ways,
    and offsets near +-2 GiB."""
    yield ex1_case()
    base = 0xD000000000008000
    for off in (-0x8000, -0x7FD0, 0x8000, 0x7FFC, 0x1FFFC, 0x18000, -0x18000, 0x10000,
                -0x10000, 0x12345678, -0x12345678, 0x7FFF7FF0, -0x80000000, 0):
        yield base + off, base
    rng = random.Random(4)
    for _ in range(200):
        r2 = 0xD000000000000000 + rng.randrange(0, 1 << 32) * 8
        yield (r2 + rng.randrange(-(1 << 31), 1 << 31) // 8 * 8) & M64, r2


def _diagnose_ha_lo(answer: Any, stub: int, r2: int) -> None:
    where = f" (stub {stub:#x}, r2 {r2:#x})"
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise Mistake(f"expected a tuple (ha, lo), got {answer!r}" + where,
                      "return the two 16-bit immediates")
    ha, lo = (require_int(a, "each half") for a in answer)
    want = _expected_ha_lo(stub, r2)
    if (ha, lo) == want:
        return
    offset = _signed32(stub - r2)
    if not (0 <= ha <= 0xFFFF and 0 <= lo <= 0xFFFF):
        raise Mistake("a half is not a 16-bit field value (0 ... 0xffff)" + where,
                      "give the immediates as stored in the words; a negative lo is "
                      "stored in two's complement")
    if (lo, ha) == want:
        raise Mistake("ha and lo are swapped" + where, "return (ha, lo)")
    if (ha, lo) == _expected_ha_lo(r2, stub):
        raise Mistake("the offset has the wrong sign" + where,
                      "r12 = r2 + offset must be the stub: offset = stub - r2")
    if lo != want[1]:
        if lo == stub & 0xFFFF and stub & 0xFFFF != offset & 0xFFFF:
            raise Mistake("lo is taken from the stub's address, not from its offset" + where,
                          "the addis adds to r2, so both halves describe stub - r2")
        raise Mistake("lo is wrong" + where, "lo is the low 16 bits of stub - r2")
    if ha == (offset >> 16) & 0xFFFF:
        raise Mistake("ha misses the carry: addi adds lo as a signed number" + where,
                      "when bit 15 of lo is set, addi subtracts 0x10000; add that back "
                      "to the high half")
    if ha == ((offset >> 16) + 1) & 0xFFFF:
        raise Mistake("ha has a carry that is not needed here" + where,
                      "only a lo with bit 15 set is a negative number")
    raise Mistake("ha is wrong" + where, "ha is the high half of (stub - r2 + 0x8000)")


def ex1(answer: tuple[int, int] | Callable[[int, int], tuple[int, int]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 1: (ha, lo) of the `_mcount` stub of hmod (see `ex1_case()`), or a
    function `stub_ha_lo(stub, r2)` for any stub within 2 GiB of r2."""
    def check() -> str:
        if callable(answer):
            for stub, r2 in _ha_lo_cases():
                _diagnose_ha_lo(call_safely(answer, stub, r2), stub, r2)
            return "your halves match module_64.c's for offsets of both signs"
        _diagnose_ha_lo(answer, *ex1_case())
        return ""
    return report("ch04.ex1", check, quiet=quiet)


# --- Exercise 2: a stub's target from its words and memory --------------------------------

def _stub_memory(stub: int, r2: int, funcaddr: int, toc: int) -> AddressSpace:
    """An address space holding only a stub made by module64 (two pages around it)."""
    space = AddressSpace()
    space.map("stubs", stub & ~0xFFF, 0x2000)
    for i, word in enumerate(stub_words_for(stub, r2)):
        space.write_u32(stub + 4 * i, word)
    space.write_u64(stub + 32, funcaddr)
    space.write_u64(stub + 40, toc)
    return space


def _target_cases() -> Iterator[tuple[tuple[int, ...], int, Callable[[int], int]]]:
    """(words, r2, read_u64) for the fixture's stubs and synthetic ones with offsets of
    both signs and with carries."""
    machine, module = fixture()
    for s in module.arch.stubs:
        yield s.words, module.arch.toc, machine.memory.read_u64
    rng = random.Random(5)
    r2 = 0xD000000000108000
    offsets = [-0x8000, 0x8000, 0x7FD0, 0x18030, -0x18000, 0x123450, -0x7FFF0000, 0x7FFF7FD0]
    offsets += [rng.randrange(-(1 << 31), (1 << 31) - 0x1000) // 16 * 16 for _ in range(30)]
    for off in offsets:
        funcaddr = 0xC000000000000000 + rng.randrange(0, 1 << 24) * 4
        stub = (r2 + off) & M64
        space = _stub_memory(stub, r2, funcaddr, 0xC000000000009200)
        yield stub_words_for(stub, r2), r2, space.read_u64


def _expected_target(words, r2: int, read_u64) -> int:
    return read_u64((r2 + stub_offset(words[0], words[1]) + 32) & M64)


def _diagnose_target(fn, words, r2: int, read_u64) -> None:
    where = f" (words {words[0]:#010x} {words[1]:#010x}, r2 {r2:#x})"
    want = _expected_target(words, r2, read_u64)
    stub = (r2 + stub_offset(words[0], words[1])) & M64
    reads: list[int] = []

    def recording_read(address: int) -> int:
        reads.append(address)
        return read_u64(address & M64)
    try:
        got = fn(tuple(words), r2, recording_read)
    except MemoryFault as exc:
        raise Mistake(f"your function read unmapped memory at {exc.address:#x}" + where,
                      _read_hint(reads[-1] if reads else None, stub, r2)) from None
    except Exception as exc:  # the reader's code may raise anything
        raise Mistake(f"your function raised {type(exc).__name__}: {exc}" + where,
                      "it should return the target for every stub") from None
    got = require_int(got, "the target")
    if got == want:
        return
    if got == stub:
        raise Mistake("that is the stub's own address (r12), not where it jumps" + where,
                      "the stub does not hold its target in its instructions: it loads it")
    if not reads:
        raise Mistake("your function never reads memory" + where,
                      "the target is not in the stub's instructions; ld r11,32(r12) "
                      "loads it")
    raise Mistake("the target is wrong" + where, _read_hint(reads[-1], stub, r2))


def _read_hint(last: int | None, stub: int, r2: int) -> str:
    if last is None:
        return "read the doubleword that ld r11,32(r12) loads"
    delta = (last - (stub + 32)) & M64
    delta = delta - (1 << 64) if delta >> 63 else delta
    if delta == 0:
        return "you read the right doubleword; return it unchanged"
    if delta == 8:
        return "40(r12) is the target's TOC (what ld r2,40(r12) loads), not its entry"
    if delta == -32:
        return "r12 points at the stub's first instruction; funcaddr is 32 bytes further"
    if delta in (0x10000, -0x10000):
        return "addi sign-extends its immediate: lo with bit 15 set is negative"
    if delta in (0x100000000, -0x100000000) or abs(delta) >= 1 << 32:
        if (last - 32) & M64 == _signed32(stub - r2) & M64:
            return "the offset is relative to r2: add r2"
        return "addis sign-extends too: a ha with bit 15 set means a stub below r2"
    return "r12 = r2 + (ha << 16) + lo, both halves signed; funcaddr is at 32(r12)"


def ex2(answer: Callable[..., int], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: `stub_target(words, r2, read_u64)`, the entry address a stub jumps
    to, given its seven words, the module's r2 and a function reading memory."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for words, r2, read_u64 in _target_cases():
            _diagnose_target(fn, words, r2, read_u64)
        return "your decoder finds the funcaddr the way __ftrace_make_nop does"
    return report("ch04.ex2", check, quiet=quiet)


# --- Exercise 3: the two words at a module's _mcount site ---------------------------------

def _site_cases() -> Iterator[tuple[int, int]]:
    """(site, stub): every _mcount site of hmod with its stub, then synthetic pairs
    with the stub after and before the site, at both ends of the reach."""
    machine, module = fixture()
    stub = _mcount_stub(machine, module).address
    yield ex3_case()
    for site in module.mcount_sites:
        yield site, stub
    for site, off in ((0xD000000000001234 & ~3, 0x1FFFFFC), (0xD000000004000000, -0x2000000),
                      (0xD000000000000040, 0x4), (0xD000000000100000, -0x48)):
        yield site, site + off


def _diagnose_site(answer: Any, site: int, stub: int) -> None:
    where = f" (site {site:#x}, stub {stub:#x})"
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Mistake(f"expected two words, got {answer!r}" + where,
                      "return (first word, second word)")
    first, second = (require_int(w, "each word") for w in answer)
    want = (isa.create_branch(site, stub, isa.BRANCH_SET_LINK), isa.PPC_INST_LD_TOC)
    if (first, second) == want:
        return
    if (second, first) == want:
        raise Mistake("the two words are swapped" + where, "the call comes first")
    if first != want[0]:
        if first == isa.PPC_INST_BL:
            raise Mistake("the first word is the bl as it is in the object file, before "
                          "relocation" + where, "the loader fills in the offset to the stub")
        if first == isa.PPC_INST_B_8:
            raise Mistake("the first word is b .+8, what ftrace writes to disable a site"
                          + where, "right after loading, nothing has disabled the call yet")
        if first == want[0] & ~1:
            raise Mistake("the first word is a b without link" + where,
                          "a call sets LK, so _mcount can return")
        if 0 <= first <= 0xFFFFFFFF and first >> 26 == 18 and first & 3 == 1:
            target = isa.find_bl_target(site, first)
            if target == (site - (stub - site)) & M64:
                raise Mistake("the bl goes the wrong way" + where, "its offset is stub - site")
            if abs(target - stub) == 4:
                raise Mistake("the bl lands one word away from the stub" + where,
                              "a branch is relative to its own address")
            raise Mistake("the bl does not call the stub" + where,
                          "a module's _mcount call goes to the stub, which is in reach")
        raise Mistake("the first word is not a bl to the stub" + where,
                      "the loader pointed the call at the stub (a bl)")
    if second == isa.PPC_INST_NOP:
        raise Mistake("the second word is still the compiler's nop" + where,
                      "restore_r2() rewrites it, since the stub changes r2")
    if second == isa.PPC_INST_STD_TOC:
        raise Mistake("the second word saves r2; the caller must load it back" + where,
                      "the stub already saved it at 40(r1)")
    if second == isa.PPC_INST_LD_TOC_ELFV2:
        raise Mistake("the second word uses ELFv2's save slot" + where,
                      "2008 PPC64 is ELFv1: the slot is 40(r1)")
    raise Mistake("the second word is wrong" + where,
                  "after the call returns, the caller reloads its TOC pointer")


def ex3(answer: tuple[int, int] | Callable[[int, int], tuple[int, int]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 3: the two words at hmod_hello's `_mcount` site after loading (see
    `ex3_case()`), or a function `mcount_site_words(site, stub)`."""
    def check() -> str:
        if callable(answer):
            for site, stub in _site_cases():
                _diagnose_site(call_safely(answer, site, stub), site, stub)
            return "these are the words ftrace will find and verify"
        _diagnose_site(answer, *ex3_case())
        return ""
    return report("ch04.ex3", check, quiet=quiet)

