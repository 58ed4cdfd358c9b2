"""Parsing assembler operands: registers, CR fields and bits, numbers, `D(rA)`, targets."""

from __future__ import annotations

import re

from ppcftrace.isa.errors import OperandError

_GPR = re.compile(r"%?r(\d+)|(\d+)")
_CRF = re.compile(r"%?cr([0-7])|([0-7])")
_CRBIT = re.compile(r"(?:4\s*\*\s*%?cr([0-7])\s*\+\s*)?(lt|gt|eq|so|un)")
_MEM = re.compile(r"(.*?)\(\s*([^()]*?)\s*\)")
_DOT = re.compile(r"\.\s*(?:([+-])\s*(\S+))?")
_CONDS = {"lt": 0, "gt": 1, "eq": 2, "so": 3, "un": 3}


def number(text: str) -> int:
    """A decimal, 0x hex, 0b or 0o number, possibly negative."""
    try:
        return int(text.strip().replace("_", ""), 0)
    except ValueError:
        raise OperandError(f"not a number: {text.strip()!r}") from None


def gpr(text: str) -> int:
    """`r3`, `%r3` or `3`."""
    m = _GPR.fullmatch(text.strip().lower())
    if not m or int(m[1] or m[2]) > 31:
        raise OperandError(f"not a register: {text.strip()!r} (r0..r31)")
    return int(m[1] or m[2])


def crfield(text: str) -> int:
    """`cr7` or `7`."""
    m = _CRF.fullmatch(text.strip().lower())
    if not m:
        raise OperandError(f"not a CR field: {text.strip()!r} (cr0..cr7)")
    return int(m[1] or m[2])


def crbit(text: str) -> int:
    """A CR bit: `eq`, `4*cr7+gt`, or a number 0..31."""
    t = text.strip().lower()
    m = _CRBIT.fullmatch(t)
    if m:
        return 4 * int(m[1] or 0) + _CONDS[m[2]]
    try:
        value = int(t, 0)
    except ValueError:
        value = -1
    if not 0 <= value <= 31:
        raise OperandError(f"not a CR bit: {text.strip()!r}")
    return value


def memory(text: str) -> tuple[int, int]:
    """`40(r1)`, `-0x10(r1)`, `(r3)` → (displacement, RA); `0` stands for RA = 0."""
    m = _MEM.fullmatch(text.strip())
    if not m:
        raise OperandError(f"not a memory operand: {text.strip()!r} (like 40(r1))")
    return (number(m[1]) if m[1].strip() else 0), gpr(m[2])


def target(text: str, address: int) -> int:
    """A branch target as an absolute address: a number, `.`, `.+8` or `.-4`."""
    m = _DOT.fullmatch(text.strip())
    if m:
        delta = number(m[2]) if m[2] else 0
        return address - delta if m[1] == "-" else address + delta
    return number(text)
