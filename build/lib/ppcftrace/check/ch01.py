"""Checkers for Chapter 1, "The 24-bit `bl`".

Every expected value comes from `ppcftrace.isa` (`create_branch`, `find_bl_target`,
`is_bl_op`, `is_offset_in_branch_range`); nothing here re-implements the encoding.
The checkers recognise the usual mistakes (forgotten LK bit, unmasked offset, sign
error, one word off, range end one word too far, ...) and say which one it is.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import (CheckResult, Mistake, call_safely, report, require_callable,
                             require_int)

__all__ = ["EX1_IP", "EX1_TARGET", "ex1", "ex2", "ex3", "ex4"]

#: Exercise 1: a `bl` in kernel text calling a function 0x48488 bytes below it
EX1_IP = 0xC0000000000512A8
EX1_TARGET = 0xC000000000008E20

_WORD = 0xFFFFFFFF


@lru_cache(maxsize=None)
def reach_limits() -> tuple[int, int]:
    """(most negative, most positive) byte offset a relative branch accepts, found by
    bisection on `isa.is_offset_in_branch_range` (so the limits are isa's, not ours)."""
    def edge(lo: int, hi: int) -> int:
        # lo is in range, hi is not; keep word-aligned offsets only
        while abs(hi - lo) > 4:
            mid = (lo + hi) // 2 & ~3
            if mid in (lo, hi):
                break
            lo, hi = (mid, hi) if isa.is_offset_in_branch_range(mid) else (lo, mid)
        return lo

    return edge(0, -(1 << 40)), edge(0, 1 << 40)


def _offset_of(word: int) -> int:
    """The signed byte offset held in a branch word (isa's LI field, in bytes)."""
    return isa.FORMS["I"].field("LI").extract(word) * 4


# --- Exercise 1: encode a `bl` by hand -------------------------------------------------

def _diagnose_bl(word: Any, ip: int, target: int) -> None:
    """Raise a Mistake describing how `word` differs from `bl target` at ip."""
    word = require_int(word, "the answer")
    expected = isa.create_branch(ip, target, isa.BRANCH_SET_LINK)
    if word == expected:
        return
    offset = target - ip
    where = f" (ip {ip:#x}, target {target:#x})"
    if not 0 <= word <= _WORD:
        raise Mistake("the answer is not a 32-bit instruction word" + where,
                      "a negative offset has ones far above bit 31; keep only the LI "
                      "bits with a mask" if word < 0 else "an instruction is 32 bits wide")
    if word >> 26 != expected >> 26:
        raise Mistake(f"the primary opcode (bits 0-5) is {word >> 26}, not the opcode of "
                      "b/bl" + where,
                      "the offset's sign bits spilled into the opcode: mask the offset to "
                      "the LI field" if offset < 0 else "start from 0x48000000")
    if word & 2:
        raise Mistake("the AA bit is set, so the target would be an absolute address" + where,
                      "AA (bit 30) must be 0 for a relative branch")
    if not word & 1:
        raise Mistake("the LK bit is not set: this is `b`, which does not save a return "
                      "address" + where, "bl sets LK, bit 31, the lowest bit of the word")
    got = _offset_of(word)
    if got == -offset:
        raise Mistake("the branch goes the wrong way: its offset has the wrong sign" + where,
                      "the offset is target minus ip")
    if abs(got - offset) == 4:
        raise Mistake("the branch lands one instruction away from the target" + where,
                      "a PowerPC branch is relative to its own address, not to the next "
                      "instruction")
    if (word & 0x03FFFFFC) == ((offset >> 2) & 0x03FFFFFC) or got * 4 == offset:
        raise Mistake("the offset is scaled wrongly" + where,
                      "LI already sits at bits 6-29, so the byte offset goes in unshifted "
                      "(its low two bits are zero)")
    raise Mistake("the word decodes to a branch to a different target" + where,
                  "LI is the byte offset's bits 2-25, sign included")


def _bl_cases() -> Iterator[tuple[int, int]]:
    """(ip, target) pairs in reach: ppc64 and ppc32 addresses, both limits, zero."""
    low, high = reach_limits()
    for ip in (EX1_IP, 0xD000000000012340, 0xC0012340, 0x10000000):
        # distinctive offsets first, so the first failure names the mistake unambiguously
        for offset in (0x1234, -0x48488, low, high, low + 4, high - 4, 4, -4, 0):
            yield ip, ip + offset
    rng = random.Random(1)
    for _ in range(200):
        ip = rng.randrange(1 << 30, 1 << 62) & ~3
        yield ip, ip + rng.randrange(low, high + 4, 4)


def ex1(answer: int | Callable[[int, int], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 1: the word of `bl EX1_TARGET` at EX1_IP (an int), or a function
    `encode_bl(ip, target)` that builds it for any in-range pair."""
    def check() -> str:
        if callable(answer):
            for ip, target in _bl_cases():
                _diagnose_bl(call_safely(answer, ip, target), ip, target)
            return "your encoder agrees with create_branch() at both ends of the reach"
        _diagnose_bl(answer, EX1_IP, EX1_TARGET)
        return ""
    return report("ch01.ex1", check, quiet=quiet)


# --- Exercise 2: the reach window ------------------------------------------------------

def _reach_sites() -> Iterator[tuple[int, int]]:
    """(site, bits): ppc64 kernel text and module area, ppc32, and sites near 0 and
    the top of the address space where the window wraps around."""
    yield from ((EX1_IP, 64), (0xD000000000012340, 64), (0xC0012340, 32), (0x10000000, 32))
    yield from ((0x100, 32), (0xFFFFFF00, 32), (0x1000, 64), ((1 << 64) - 0x1000, 64))


def _diagnose_reach(answer: Any, site: int, bits: int) -> None:
    where = f" for site {site:#x} ({'ppc64' if bits == 64 else 'ppc32'})"
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise Mistake(f"expected a tuple (lowest, highest), got {answer!r}" + where,
                      "return two addresses")
    lowest, highest = (require_int(a, "each address") for a in answer)
    low, high = reach_limits()
    size = 1 << bits
    want = ((site + low) % size, (site + high) % size)
    if (lowest, highest) == want:
        return
    if (highest, lowest) == want:
        raise Mistake("lowest and highest are swapped" + where, "return (lowest, highest)")
    if (lowest % size, highest % size) == want:
        raise Mistake("an address is outside the address space" + where,
                      f"addresses wrap around: reduce them modulo 2**{bits}")
    for got, exp, end, sign in ((lowest, want[0], "lowest", -1), (highest, want[1], "highest", 1)):
        if got == exp:
            continue
        dist = (got - site) % size
        dist = dist - size if dist >= size // 2 else dist
        true = (exp - site) % size
        true = true - size if true >= size // 2 else true
        if dist == true + sign * 4:
            raise Mistake(f"the {end} target is one word out of reach" + where,
                          "a signed 24-bit field holds one more negative value than positive")
        if dist == true - sign * 4:
            raise Mistake(f"the {end} target is one word short of the limit" + where,
                          "the offset's limits are inclusive")
        if dist * 4 in (true, true - sign * 4, true + sign * 4):
            raise Mistake(f"the {end} target is only a quarter of the way" + where,
                          "LI counts 4-byte words, not bytes")
        if dist in (true + sign, true - sign):
            raise Mistake(f"the {end} target is one byte off" + where,
                          "every branch target is a multiple of 4")
        if dist == -true:
            raise Mistake(f"the {end} target is on the wrong side of the site" + where,
                          "one end is below the site, one above")
        raise Mistake(f"the {end} target is wrong" + where,
                      "the reach is site plus the smallest and largest 26-bit signed "
                      "offsets with the low two bits zero")


def ex2(answer: Callable[[int, int], tuple[int, int]], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: `bl_reach(site, bits=64)` returning (lowest, highest) reachable
    target, addresses taken modulo 2**bits."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for site, bits in _reach_sites():
            _diagnose_reach(call_safely(fn, site, bits), site, bits)
        return "both ends match the kernel's range test, with wraparound"
    return report("ch01.ex2", check, quiet=quiet)


# --- Exercise 3: decode a `bl` -----------------------------------------------------------

_ARCH = {64: "ppc64", 32: "ppc32"}


def _target_cases() -> Iterator[tuple[int, int, int]]:
    """(ip, op, bits): both ends of the reach, ppc64 and ppc32, and branches that
    wrap around address 0 or the top of the address space."""
    low, high = reach_limits()
    for ip, bits in ((EX1_IP, 64), (0xD000000000012340, 64), (0xC0012340, 32)):
        for offset in (0, 4, -4, 0x1234, -0x48488, low, high):
            yield ip, isa.create_branch(ip, ip + offset, isa.BRANCH_SET_LINK), bits
    for ip, offset, bits in ((0x100, -0x200, 32), (0xFFFFFF00, 0x200, 32),
                             (0x100, -0x200, 64), ((1 << 64) - 0x100, 0x200, 64)):
        target = (ip + offset) % (1 << bits)
        yield ip, isa.create_branch(ip, target, isa.BRANCH_SET_LINK, arch=_ARCH[bits]), bits
    rng = random.Random(3)
    for _ in range(200):
        ip = rng.randrange(1 << 30, 1 << 62) & ~3
        yield ip, isa.create_branch(ip, ip + rng.randrange(low, high + 4, 4),
                                    isa.BRANCH_SET_LINK), 64


def _diagnose_target(got: Any, ip: int, op: int, bits: int) -> None:
    got = require_int(got, "the target")
    want = isa.find_bl_target(ip, op, arch=_ARCH[bits])
    if got == want:
        return
    where = f" (ip {ip:#x}, op {op:#010x}, bits {bits})"
    size = 1 << bits
    if got % size == want:
        raise Mistake("the target is outside the address space" + where,
                      f"addresses wrap around: reduce the sum modulo 2**{bits}")
    offset = (want - ip) % size
    offset = offset - size if offset >= size // 2 else offset
    if got == offset or got % size == offset % size:
        raise Mistake("the result is the offset, not the target" + where,
                      "the offset is relative to the branch's own address")
    delta = (got - ip) % size
    delta = delta - size if delta >= size // 2 else delta
    if offset < 0 and delta == offset + (1 << 26):
        raise Mistake("a backward branch came out as a far forward one" + where,
                      "LI is signed: sign-extend from bit 0x02000000")
    if delta in (offset * 4, offset // 4):
        raise Mistake("the offset is scaled by 4 once too often" + where,
                      "op & 0x03fffffc already is a byte offset")
    if not isa.is_offset_in_branch_range(delta & ~3):
        raise Mistake("bits outside the LI field leaked into the offset" + where,
                      "mask the word with 0x03fffffc before using it")
    raise Mistake("the target is wrong" + where,
                  "target = ip + the sign-extended LI field with two zero bits appended")


def ex3(answer: Callable[[int, int, int], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `bl_target(ip, op, bits=64)`, the address the `bl` word op at ip
    calls, modulo 2**bits."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for ip, op, bits in _target_cases():
            _diagnose_target(call_safely(fn, ip, op, bits), ip, op, bits)
        return "your decoder agrees with find_bl_target(), wraparound included"
    return report("ch01.ex3", check, quiet=quiet)


# --- Exercise 4: is_bl_op ----------------------------------------------------------------

def _op_cases() -> Iterator[tuple[int, str]]:
    """Words with a description each: every AA/LK combination of I-form and B-form
    branches, nop, blr, other opcodes with LK-like low bits, random words."""
    bl = isa.create_branch(0x1000, 0x2000, isa.BRANCH_SET_LINK)
    b = isa.create_branch(0x1000, 0x2000)
    yield bl, "bl (forward)"
    yield isa.create_branch(0x2000, 0x1000, isa.BRANCH_SET_LINK), "bl (backward)"
    yield b, "b"
    yield b | 2, "ba (absolute)"
    yield bl | 2, "bla (absolute, with link)"
    yield 0x48000001, "bl .+0"
    yield isa.PPC_INST_NOP, "nop"
    yield 0x4E800020, "blr"
    yield 0x4E800021, "blrl"
    yield 0x42000011, "bcl (conditional branch with link)"
    yield 0x7C000001, "an opcode-31 instruction with Rc=1"
    yield 0x4C000001, "an opcode-19 word with the low bit set"
    yield 0x49000001, "bl with a far offset"
    yield 0x4BFFFFFD, "bl .-4"
    rng = random.Random(4)
    for _ in range(300):
        word = rng.getrandbits(32)
        if rng.random() < 0.5:  # many opcode-18 words, to exercise the AA/LK test
            word = (word & 0x03FFFFFF) | 0x48000000
        yield word, f"the word {word:#010x}"


def ex4(answer: Callable[[int], bool], *, quiet: bool = False) -> CheckResult:
    """Exercise 4: `is_bl_op(op)`, true exactly for relative branches with link."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for op, what in _op_cases():
            got = bool(call_safely(fn, op))
            want = bool(isa.is_bl_op(op))
            if got == want:
                continue
            verdict = "accepts" if got else "rejects"
            hint = ("compare the opcode, AA and LK bits together, with one mask"
                    if got else "a bl has opcode 18, AA 0 and LK 1, whatever its offset")
            raise Mistake(f"your test {verdict} {what} ({op:#010x})", hint)
        return ""
    return report("ch01.ex4", check, quiet=quiet)
