"""Checkers for Chapter 5, "PPC32 trampolines".

Expected values come from the package: `isa.PPC_HA`/`PPC_LO` (the @ha/@l halves),
`ftrace.arch32.plt_target` (how ftrace reads a PLT entry back) and
`module32.plt_entry_words` (the entry module_32.c writes), plus the fixture kernel
booted and `hmod.o` loaded, as in the chapter.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import (CheckResult, Mistake, call_safely, report, require_callable,
                             require_int)
from ppcftrace.ftrace.arch32 import plt_target
from ppcftrace.machine import Machine, fixture_path
from ppcftrace.module32 import PLT_TEMPLATES, plt_entry_words

__all__ = ["EX1_VALUE", "fixture", "ex3_target", "ex1", "ex2", "ex3"]

#: Exercise 1: an address whose low half has bit 15 set (FACTS.md's example)
EX1_VALUE = 0xC001FFFC

M32 = 0xFFFFFFFF


@lru_cache(maxsize=None)
def fixture(plt_reg: str = "r11"):
    """(machine, module): the ppc32 fixture kernel with hmod.o loaded (as the chapter)."""
    machine = Machine.boot("ppc32")
    return machine, machine.load_module(fixture_path("hmod.o", "ppc32"), plt_reg=plt_reg)


def ex3_target() -> int:
    """Exercise 3's target: `ftrace_caller`, where hmod's `arch.tramp` jumps."""
    machine, _module = fixture()
    return machine.entry("ftrace_caller")


def _values() -> Iterator[int]:
    """32-bit values: the example, the fixture's PLT targets, carries at the edges
    (0x7fff/0x8000 and 0xffff8000, whose @ha wraps to 0) and random ones."""
    yield EX1_VALUE
    _machine, module = fixture()
    yield from (s.target for s in module.arch.stubs)
    yield from (0xC0007FFC, 0xC0008000, 0xC000FFFC, 0xFFFF8000, 0xFFFFFFFC, 0x00007FFC,
                0x00008000, 0xD1000000, 0)
    rng = random.Random(6)
    yield from (rng.getrandbits(32) & ~3 for _ in range(200))


# --- Exercise 1: @ha and @l --------------------------------------------------------------

def _diagnose_ha_lo(answer: Any, value: int) -> None:
    where = f" (value {value:#010x})"
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise Mistake(f"expected a tuple (ha, lo), got {answer!r}" + where,
                      "return the two 16-bit halves")
    ha, lo = (require_int(a, "each half") for a in answer)
    want = (isa.PPC_HA(value), isa.PPC_LO(value))
    if (ha, lo) == want:
        return
    if (lo, ha) == want:
        raise Mistake("ha and lo are swapped" + where, "return (ha, lo)")
    if lo != want[1]:
        if lo == want[1] - 0x10000:
            raise Mistake("lo is negative" + where,
                          "give lo as the 16-bit field stored in the addi, 0 ... 0xffff")
        raise Mistake("lo is wrong" + where, "lo is the low 16 bits of the value")
    if ha == isa.PPC_HI(value):
        raise Mistake("ha misses the carry: addi adds lo as a signed number" + where,
                      "when bit 15 of lo is set, addi subtracts 0x10000; the high half "
                      "must make up for it")
    if ha == (isa.PPC_HI(value) + 1) & 0xFFFF:
        raise Mistake("ha has a carry that is not needed here" + where,
                      "only a lo with bit 15 set is a negative number")
    if ha == isa.PPC_HI(value) + 1:
        raise Mistake("ha does not fit in 16 bits" + where,
                      "keep the low 16 bits: the addition wraps around")
    raise Mistake("ha is wrong" + where, "ha is the high half of value + 0x8000")


def ex1(answer: tuple[int, int] | Callable[[int], tuple[int, int]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 1: `(ha, lo)` of `EX1_VALUE`, or a function `ha_lo(value)` for any
    32-bit value."""
    def check() -> str:
        if callable(answer):
            for value in _values():
                _diagnose_ha_lo(call_safely(answer, value), value)
            return "your halves match PPC_HA and PPC_LO, carries and wraparound included"
        _diagnose_ha_lo(answer, EX1_VALUE)
        return ""
    return report("ch05.ex1", check, quiet=quiet)


# --- Exercise 2: a PLT entry's target ----------------------------------------------------

def _entry_cases() -> Iterator[tuple[int, int]]:
    """(w0, w1): the fixture's entries in both register forms, then entries module32
    makes for the values of Exercise 1."""
    for reg in PLT_TEMPLATES:
        _machine, module = fixture(reg)
        yield from ((s.words[0], s.words[1]) for s in module.arch.stubs)
        yield from (plt_entry_words(v, reg)[:2] for v in _values())


def _diagnose_plt_target(got: Any, w0: int, w1: int) -> None:
    got = require_int(got, "the target")
    want = plt_target(w0, w1)
    if got == want:
        return
    where = f" (words {w0:#010x} {w1:#010x})"
    if got == want + 0x10000 or got == (want + 0x10000) & M32:
        raise Mistake("the target is 0x10000 too high" + where,
                      "addi sign-extends its immediate: a lo with bit 15 set is negative")
    if got == want + 0x20000 or got == (want + 0x20000) & M32:
        raise Mistake("the target is 0x20000 too high: the correction went the wrong way"
                      + where, "a negative lo was added as 0x10000 too much")
    if got == want - 0x10000 or got == (want - 0x10000) & M32:
        raise Mistake("the target is 0x10000 too low" + where,
                      "correct only when bit 15 of lo is set")
    if got & M32 == want:
        raise Mistake("the target is not a 32-bit address" + where,
                      "reduce the result modulo 2**32")
    if got in (((w1 & 0xFFFF) << 16) | (w0 & 0xFFFF), want >> 16 | (want & 0xFFFF) << 16):
        raise Mistake("the halves are swapped" + where,
                      "the lis (first word) holds the high half")
    if got >> 32 or got & 0xFFFF != want & 0xFFFF:
        raise Mistake("bits outside the immediates leaked into the target" + where,
                      "only the low 16 bits of each word are the immediate")
    raise Mistake("the target is wrong" + where, "(hi << 16) | lo, then correct for the sign of lo")


def ex2(answer: Callable[[int, int], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: `plt_target(w0, w1)`, the address a PLT entry jumps to, from its
    first two words (r11 or r12 form)."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for w0, w1 in _entry_cases():
            _diagnose_plt_target(call_safely(fn, w0, w1), w0, w1)
        return "your decoder agrees with the test in __ftrace_make_nop"
    return report("ch05.ex2", check, quiet=quiet)


# --- Exercise 3: a PLT entry's four words ------------------------------------------------

_NAMES = ("lis", "addi", "mtctr", "bctr")


def _diagnose_entry(answer: Any, target: int, reg: str) -> None:
    where = f" (target {target:#010x}, {reg})"
    if not isinstance(answer, (tuple, list)) or len(answer) != 4:
        raise Mistake(f"expected four words, got {answer!r}" + where,
                      "a PLT entry is lis, addi, mtctr, bctr")
    words = tuple(require_int(w, "each word") for w in answer)
    want = plt_entry_words(target, reg)
    if words == want:
        return
    other = "r12" if reg == "r11" else "r11"
    if words == plt_entry_words(target, other):
        raise Mistake(f"the entry uses {other}" + where,
                      "the register is an argument: r11 in 2008, r12 after 2012")
    for i, (got, exp) in enumerate(zip(words, want)):
        if got == exp:
            continue
        name = _NAMES[i]
        if i == 0 and got & 0xFFFF0000 == exp & 0xFFFF0000:
            if got & 0xFFFF == isa.PPC_HI(target):
                raise Mistake("the lis misses the carry" + where,
                              "addi adds lo as a signed number: the high half is @ha")
            raise Mistake("the lis immediate is wrong" + where, "it is target@ha")
        if i == 1 and got & 0xFFFF0000 == exp & 0xFFFF0000:
            raise Mistake("the addi immediate is wrong" + where, "it is target@l")
        if i == 1 and got & 0xFFFF == exp & 0xFFFF:
            raise Mistake("the addi has the wrong registers" + where,
                          "it adds to the register lis loaded (rA = rT); rA = 0 means 0")
        if i == 3 and got == exp | 1:
            raise Mistake("the last word is bctrl, which would overwrite LR" + where,
                          "the caller's bl already set the return address")
        raise Mistake(f"word {i} (the {name}) is wrong" + where,
                      "check the register fields against the template words")
    raise Mistake("the entry is wrong" + where, "lis, addi, mtctr, bctr")


def _entry_targets() -> Iterator[tuple[int, str]]:
    yield ex3_target(), "r11"
    for value in _values():
        yield value, "r11"
        yield value, "r12"


def ex3(answer: tuple[int, ...] | Callable[..., tuple[int, ...]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 3: the four words of hmod's `arch.tramp` (the entry to `ftrace_caller`,
    r11 form), or a function `plt_entry(target, reg="r11")`."""
    def check() -> str:
        if callable(answer):
            for target, reg in _entry_targets():
                words = call_safely(answer, target) if reg == "r11" else \
                    call_safely(answer, target, reg)
                _diagnose_entry(words, target, reg)
            return "your entries match module_32.c's in both register forms"
        _diagnose_entry(answer, ex3_target(), "r11")
        return ""
    return report("ch05.ex3", check, quiet=quiet)
