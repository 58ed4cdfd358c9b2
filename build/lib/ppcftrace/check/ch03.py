"""Checkers for Chapter 3, "The TOC, function descriptors and dot symbols".

Expected values come from the package: the `.opd` descriptors `ppcftrace.elf` reads
from the image, the D field of `ppcftrace.isa` (the reach of a displacement from r2),
and `ppcftrace.ftrace` (the 2.6.29 filter, run on a booted PPC64 kernel).
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import (CheckResult, Mistake, call_safely, hexs, report,
                             require_callable, require_int)
from ppcftrace.machine import Machine

__all__ = ["machine", "ex1", "ex2", "ex3", "EX3_PREFIX"]

_U64 = 2**64


@lru_cache(maxsize=1)
def machine() -> Machine:
    """The booted PPC64 kernel the checkers use (never modified)."""
    return Machine.boot("ppc64")


# --- Exercise 1: follow a descriptor -------------------------------------------------------

def ex1(answer: Callable[[Machine, str], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 1: `code_address(machine, name)`, the address of the first instruction
    of function `name`, found through its descriptor."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        m = machine()
        descriptors = sorted(m.kernel.descriptors, key=lambda d: d.name)
        # the chapter's example first, so the first message is about a familiar name
        descriptors.sort(key=lambda d: d.name != "schedule")
        for d in descriptors:
            got = require_int(call_safely(fn, m, d.name), f"code_address(machine, {d.name!r})",
                              "return the address as an int")
            if got == d.entry:
                continue
            where = f" for {d.name!r}"
            if got == d.address:
                raise Mistake("that is the descriptor's own address, in .opd" + where,
                              "the symbol names the descriptor; the code address is stored in it")
            if got == d.toc:
                raise Mistake("that is the TOC base, the descriptor's second doubleword" + where,
                              "the entry address comes first")
            if d.toc is not None and got == d.toc - 0x8000:
                raise Mistake("that is the start of the TOC, not code" + where,
                              "read the descriptor's first doubleword")
            raise Mistake(f"{hexs(got)} is not where {d.name} starts" + where,
                          "read the doubleword at the address of the symbol")
        return f"your addresses match all {len(descriptors)} descriptors of the kernel's .opd"
    return report("ch03.ex1", check, quiet=quiet)


# --- Exercise 2: the TOC window --------------------------------------------------------------

def _d_limits() -> tuple[int, int]:
    """The smallest and largest displacement of a D-form load (isa's D field)."""
    d = isa.FORMS["D"].field("D")
    return d.min, d.max


def _ex2_cases() -> Iterator[tuple[int, int, str]]:
    """(r2, address, description): the kernel's TOC entries, both ends of the window
    and one byte beyond, .opd, and random addresses around the TOC."""
    m = machine()
    r2 = m.toc
    got = m.kernel.section(".got")
    # from the top: the lowest entry sits at -0x8000, where a sign error and a
    # 16-bit answer look alike
    for a in reversed(range(got.addr, got.addr + got.size, 8)):
        yield r2, a, f"the .got entry at {a:#x}"
    low, high = _d_limits()
    yield r2, r2, "r2 itself"
    yield r2, r2 + low, "the lowest address of the window"
    yield r2, r2 + high, "the highest address of the window"
    yield r2, r2 + low - 1, "one byte below the window"
    yield r2, r2 + high + 1, "one byte above the window"
    yield r2, r2 + high + 1 - 0x10000, "the lowest address of the window (written another way)"
    yield r2, m.kernel.descriptor("schedule").address, "schedule's descriptor in .opd"
    yield r2, m.entry("schedule"), "the code of .schedule"
    yield 0x8000, 0, "address 0 with r2 = 0x8000"
    yield 0x10, _U64 - 0x10, "the top of the address space with r2 = 0x10"
    rng = random.Random(2)
    for _ in range(300):
        yield r2, r2 + rng.randrange(2 * low, 2 * high), "a random address near the TOC"


def _diagnose_displacement(got: Any, r2: int, address: int, what: str) -> None:
    low, high = _d_limits()
    diff = (address - r2) % _U64
    diff = diff - _U64 if diff >= _U64 // 2 else diff
    want = diff if low <= diff <= high else None
    if got == want and (got is None or isinstance(got, int)) and not isinstance(got, bool):
        return
    where = f" for {what} (r2 {r2:#x}, address {address:#x})"
    if want is None:
        if got is None:
            return
        raise Mistake("a displacement for an address out of reach" + where,
                      "a D-form displacement is a signed 16-bit number; return None beyond it")
    if got is None:
        raise Mistake("None for an address within reach" + where,
                      "the window has r2 in its middle: offsets go both ways")
    got = require_int(got, "the displacement", "return an int, or None when out of reach")
    if got == -want and want not in (0, low):
        raise Mistake("the displacement has the wrong sign" + where,
                      "the load reads r2 + d")
    if got == want & 0xFFFF:
        raise Mistake("that is the field's 16 bits, not the signed displacement" + where,
                      "values of 0x8000 and above stand for negative numbers")
    raise Mistake(f"{hexs(got)} does not reach the address" + where,
                  "r2 + d must equal the address")


def ex2(answer: Callable[[int, int], int | None], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: `toc_displacement(r2, address)`, the signed 16-bit d with
    r2 + d == address, or None when no `ld rX,d(r2)` reaches it."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for r2, address, what in _ex2_cases():
            _diagnose_displacement(call_safely(fn, r2, address), r2, address, what)
        return "your window is the one the D field gives, both ends included"
    return report("ch03.ex2", check, quiet=quiet)


# --- Exercise 3: a filter on dot names ---------------------------------------------------------

#: Exercise 3 asks for the traced functions whose C name starts with this
EX3_PREFIX = "sched"


def _filtered(patterns: list[str], *, match_adjust: bool = False) -> list[str]:
    """What set_ftrace_filter holds after writing `patterns` on a freshly booted kernel."""
    from ppcftrace.kernel import start_kernel

    m = start_kernel("ppc64", cpu=False, match_adjust=match_adjust)
    m.ftrace.set_ftrace_filter(" ".join(patterns))
    return m.ftrace.filter_functions()


def _patterns(answer: Any) -> list[str]:
    if isinstance(answer, str):
        return answer.split()
    try:
        items = list(answer)
    except TypeError:
        raise Mistake(f"expected a pattern or a list of patterns, got {type(answer).__name__}",
                      "write them as you would echo them into set_ftrace_filter")
    if not items or not all(isinstance(p, str) for p in items):
        raise Mistake("expected one or more patterns (strings)",
                      "e.g. ['foo*'] or 'foo bar'")
    return [w for p in items for w in p.split()]


def ex3(answer: str | list[str], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: patterns that make set_ftrace_filter hold exactly the functions whose
    C name starts with `sched`, on the 2.6.29 PPC64 kernel (no arch_ftrace_match_adjust)."""
    def check() -> str:
        patterns = _patterns(answer)
        from ppcftrace.kernel import start_kernel

        names = start_kernel("ppc64", cpu=False).ftrace.available_filter_functions()
        want = {n for n in names if n.lstrip(".").startswith(EX3_PREFIX)}
        got = set(_filtered(patterns))
        if got == want:
            later = set(_filtered(patterns, match_adjust=True)) == want
            return ("they still work with a later kernel's arch_ftrace_match_adjust()"
                    if later else
                    "a later kernel's arch_ftrace_match_adjust() would change what they select")
        if not got:
            adjusted = set(_filtered(patterns, match_adjust=True))
            hint = ("read available_filter_functions: what does every name start with?")
            if adjusted == want:
                raise Mistake("your patterns select nothing on the 2008 kernel (they would "
                              "work on a later one)", hint)
            raise Mistake("your patterns select nothing", hint)
        extra, missing = sorted(got - want), sorted(want - got)
        if extra:
            raise Mistake(f"your patterns also select {', '.join(extra)}",
                          "a * in front matches anything before the text")
        raise Mistake(f"your patterns miss {len(missing)} of the {len(want)} functions",
                      "a pattern with one * at its end matches a prefix")
    return report("ch03.ex3", check, quiet=quiet)
