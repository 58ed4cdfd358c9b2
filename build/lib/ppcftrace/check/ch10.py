"""Checkers for Chapter 10, "After 2008".

Expected values come from the package: `elfv2.abi.PPC64_LOCAL_ENTRY_OFFSET`,
`ool.ool_stub_words`, `isa.create_branch` and `module32.plt_entry_words`. Each
checker tries the reader's function on many inputs and names the usual mistake.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import CheckResult, Mistake, call_safely, report, require_callable, require_int
from ppcftrace.elfv2.abi import PPC64_LOCAL_ENTRY_OFFSET
from ppcftrace.module32 import plt_entry_words
from ppcftrace.ool import ool_stub_words

__all__ = ["ex1", "ex2", "ex3", "ex4", "EX3_CALLER", "EX3_TRAMPS"]

#: Exercise 3: a 40 MiB kernel text with ftrace_caller near its start and one
#: trampoline (ftrace_tramp_text) at its end
EX3_CALLER = 0xC000000000000010
EX3_TRAMPS = [0xC000000002800000 - 0x40]


def _words(answer: Any, n: int, what: str) -> list[int]:
    if not isinstance(answer, (list, tuple)) or len(answer) != n:
        raise Mistake(f"{what} should be a list of {n} instruction words, got {answer!r}",
                      f"return [{', '.join(['w'] * n)}]")
    return [require_int(w, "each word") for w in answer]


# --- Exercise 1: the local entry point -------------------------------------------------

#: st_other values tried first, so the first failure names the mistake: code 3 (the
#: usual 8 bytes) before the others, then the low bits set
_PROBES = (0x60, 0x40, 0x80, 0x00, 0x20, 0x61, 0x67, 0x7F, 0xC0, 0xE0)


def _diagnose_local(fn: Callable[[int], int]) -> None:
    for other in (*_PROBES, *range(256)):
        got = require_int(call_safely(fn, other), "the offset")
        want = PPC64_LOCAL_ENTRY_OFFSET(other)
        if got == want:
            continue
        code = (other >> 5) & 7
        where = f" (st_other = {other:#04x}, bits 5-7 = {code})"
        if other & 0x1F and got == PPC64_LOCAL_ENTRY_OFFSET(other & 0xE0) + (other & 0x1F):
            raise Mistake("the low five bits of st_other leaked into the offset" + where,
                          "keep only bits 5-7 (mask 0xe0)")
        if got == PPC64_LOCAL_ENTRY_OFFSET((other & 7) << 5):
            raise Mistake("this reads bits 0-2, the symbol's visibility" + where,
                          "the entry-point code is in bits 5-7")
        if got == code * 4:
            raise Mistake("the offset grows linearly with the code" + where,
                          "the code is an exponent: each step doubles the offset")
        if want and got == want << 2:
            raise Mistake("the offset is four times too large" + where,
                          "code 2 means one instruction (4 bytes), code 3 two (8 bytes)")
        if code in (0, 1) and got != 0:
            raise Mistake("codes 0 and 1 mean one entry point: the offset is 0" + where,
                          "1 << code is 1 or 2 there; drop what is below 4")
        if got in (want * 2, want // 2) and want:
            raise Mistake("the offset is off by a factor of two" + where,
                          "code 3, the usual one, means 8 bytes: two instructions")
        raise Mistake("wrong offset" + where, "bits 5-7 of st_other hold log2 of the offset in bytes")


def ex1(answer: Callable[[int], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 1: `local_entry_offset(st_other)` for every byte value."""
    def check() -> str:
        _diagnose_local(require_callable(answer, "the answer"))
        return "it agrees with PPC64_LOCAL_ENTRY_OFFSET for all 256 values"
    return report("ch10.ex1", check, quiet=quiet)


# --- Exercise 2: an out-of-line stub -----------------------------------------------------

def _ool_cases() -> Iterator[tuple[int, int, int]]:
    """(stub, ip, caller): the area after text, sites below it and near both ends."""
    yield 0xC000000000080000, 0xC000000000000378, 0xC000000000000048
    yield 0xC000000001FF00F0, 0xC000000000400000, 0xC000000000000048
    yield 0xC000000000001000, 0xC000000001FF0000, 0xC000000000000048
    rng = random.Random(10)
    for _ in range(100):
        stub = 0xC000000000000000 + rng.randrange(0x100000, 0x1000000, 16)
        yield stub, stub - rng.randrange(4, 0xF00000, 4), 0xC000000000000000 + rng.randrange(0, 0x1000, 4)


def _branch_target(at: int, word: int) -> int:
    return (at + isa.FORMS["I"].field("LI").extract(word) * 4) & ((1 << 64) - 1)


def _diagnose_ool(fn: Callable[[int, int, int], Any]) -> None:
    for stub, ip, caller in _ool_cases():
        got = _words(call_safely(fn, stub, ip, caller), 4, "the stub")
        want = list(ool_stub_words(stub, ip, caller))
        if got == want:
            continue
        where = f" (stub {stub:#x}, site {ip:#x}, ftrace_caller {caller:#x})"
        if sorted(got) == sorted(want):
            raise Mistake("the right words in the wrong order" + where,
                          "save LR first, call, restore LR, then go back")
        if got[0] != want[0] or got[2] != want[2]:
            raise Mistake("the first or third word is not mflr r0 / mtlr r0" + where,
                          "r0 carries the traced function's LR across the call")
        if got[1] != want[1]:
            if got[1] & 1 == 0:
                raise Mistake("the second word does not link: ftrace_caller could not return" + where,
                              "it is a bl")
            if _branch_target(stub, got[1]) == caller:
                raise Mistake("the bl is encoded relative to the stub's start" + where,
                              "a branch is relative to its own address: stub + 4")
            raise Mistake("the bl does not reach ftrace_caller" + where,
                          "offset = ftrace_caller - (stub + 4)")
        if got[3] & 1:
            raise Mistake("the last branch links: it would overwrite LR" + where, "it is a plain b")
        target = _branch_target(stub + 12, got[3])
        if target == ip:
            raise Mistake("the stub goes back to the site itself, which branches to the stub again"
                          + where, "return past the site")
        if _branch_target(stub, got[3]) == ip + 4:
            raise Mistake("the last branch is encoded relative to the stub's start" + where,
                          "it sits at stub + 12")
        raise Mistake("the last branch goes to the wrong place" + where, "the site plus one word")


def ex2(answer: Callable[[int, int, int], list[int]], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: `ool_stub(stub, ip, caller)` -> the stub's four words."""
    def check() -> str:
        _diagnose_ool(require_callable(answer, "the answer"))
        return "your stubs match ppcftrace.ool, word for word"
    return report("ch10.ex2", check, quiet=quiet)


# --- Exercise 3: ftrace_caller or a trampoline -------------------------------------------

def _reaches(ip: int, target: int) -> bool:
    return isa.is_offset_in_branch_range(target - ip)


def _expected_target(ip: int, caller: int, tramps: list[int]) -> int | None:
    for target in (caller, *tramps):
        if _reaches(ip, target):
            return target
    return None


def _ftrace_cases() -> Iterator[tuple[int, int, list[int]]]:
    caller, tramps = EX3_CALLER, EX3_TRAMPS
    edge = caller + 0x2000000            # the last site (above it) that reaches caller
    for ip in (0xC000000000000100, 0xC000000000400000, edge - 4, edge, edge + 4,
               0xC000000002000000, 0xC0000000027FFF00, tramps[0] - 0x2000000,
               tramps[0] - 0x2000000 - 4, tramps[0] + 0x2000000, tramps[0] + 0x2000000 + 4):
        yield ip, caller, tramps
    # one word too far forward for ftrace_caller, a trampoline just behind
    yield caller - 0x2000000, caller, [caller - 0x2000000 - 0x100]
    for ip in (caller - 0x2000000, caller - 0x2000000 + 4):
        yield ip, caller, tramps
    # a 72 MiB text: some sites reach neither
    yield 0xC000000002400000, caller, [0xC000000004800000]
    # caller at the end, trampoline at the start (both directions)
    yield 0xC000000000100000, 0xC000000002800000, [0xC000000000000040]
    rng = random.Random(3)
    for _ in range(100):
        yield 0xC000000000000000 + rng.randrange(0, 0x5000000, 4), caller, [0xC000000002800000 - 0x40,
                                                                              0xC000000004800000 - 0x40]


def _diagnose_ftrace(fn: Callable[[int, int, list[int]], Any]) -> None:
    for ip, caller, tramps in _ftrace_cases():
        got = call_safely(fn, ip, caller, list(tramps))
        want = _expected_target(ip, caller, tramps)
        if got == want:
            continue
        where = f" (site {ip:#x}, ftrace_caller {caller:#x}, trampolines {[hex(t) for t in tramps]})"
        if isinstance(got, int) and not isinstance(got, bool) and not _reaches(ip, got):
            if want is None:
                raise Mistake("nothing is in reach of this site, your target included" + where,
                              "return None when neither ftrace_caller nor a trampoline is "
                              "within -32 MiB .. +32 MiB - 4")
            raise Mistake("your target is out of a bl's reach from this site" + where,
                          "a signed 24-bit word offset: one more word backward than forward")
        if want is None:
            raise Mistake(f"nothing is in reach of this site, but you answered {got!r}" + where,
                          "return None when neither ftrace_caller nor a trampoline is within "
                          "-32 MiB .. +32 MiB - 4")
        if got is None:
            raise Mistake("a target is in reach, but you answered None" + where,
                          "the reach is -0x2000000 .. +0x1fffffc bytes, both ends included")
        got = require_int(got, "the target")
        if want == caller and got in tramps:
            raise Mistake("ftrace_caller itself is in reach: no trampoline needed" + where,
                          "try ftrace_caller first")
        raise Mistake("wrong target" + where, "ftrace_caller first, then the trampolines in order")


def ex3(answer: Callable[[int, int, list[int]], int | None], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `ftrace_target(ip, caller, tramps)` -> what the site should call."""
    def check() -> str:
        _diagnose_ftrace(require_callable(answer, "the answer"))
        return "right at both edges of the reach, and None where a kernel needs another trampoline"
    return report("ch10.ex3", check, quiet=quiet)


# --- Exercise 4: the 2012 PLT entry --------------------------------------------------------

def _diagnose_plt(fn: Callable[[int], Any]) -> None:
    rng = random.Random(4)
    values = [0xC0012344, 0xC001FFFC, 0xC0008000, 0xC0007FFC, 0xD1000000, 0xFFFFFFFC]
    values += [rng.randrange(0, 1 << 32, 4) for _ in range(100)]
    for val in values:
        got = _words(call_safely(fn, val), 4, "the entry")
        want = list(plt_entry_words(val, "r12"))
        if got == want:
            continue
        where = f" (target {val:#x})"
        if got == list(plt_entry_words(val, "r11")):
            raise Mistake("this is the 2008 entry, on r11" + where,
                          "after commit 3c75296562f4 the entry uses r12")
        if got[0] == (want[0] & 0xFFFF0000) | ((val >> 16) & 0xFFFF) and got[1:] == want[1:]:
            raise Mistake("the high half is not adjusted for the signed low half" + where,
                          "addi adds lo as a signed number: use @ha, (val + 0x8000) >> 16")
        if got[2:] != want[2:]:
            raise Mistake("the last two words should move r12 to CTR and branch to it" + where,
                          "mtctr r12; bctr")
        raise Mistake("the first two words do not build the target in r12" + where,
                      "lis r12,ha; addi r12,r12,lo")


def ex4(answer: Callable[[int], list[int]], *, quiet: bool = False) -> CheckResult:
    """Exercise 4: `plt_entry_r12(val)` -> the four words of a 2012 PPC32 PLT entry."""
    def check() -> str:
        _diagnose_plt(require_callable(answer, "the answer"))
        return "the same words module_32.c writes since 2012"
    return report("ch10.ex4", check, quiet=quiet)
