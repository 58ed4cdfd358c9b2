"""Bit helpers shared by the instruction compilers (IBM bit order: bit 0 is the MSB)."""

from __future__ import annotations

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF


def sx(value: int, bits: int) -> int:
    """`value`'s low `bits` bits as a signed integer."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def mask64(mb: int, me: int) -> int:
    """MASK(mb, me) of 64 bits: ones from bit mb to bit me, wrapping when mb > me."""
    if mb <= me:
        return ((1 << (64 - mb)) - 1) ^ ((1 << (63 - me)) - 1)
    if mb == me + 1:
        return M64
    return ~mask64(me + 1, mb - 1) & M64


def rotl64(value: int, n: int) -> int:
    n &= 63
    return ((value << n) | (value >> (64 - n))) & M64 if n else value


def rotl32(value: int, n: int) -> int:
    """ROTL32 of the low word, replicated into both halves as the ISA defines it."""
    value &= M32
    n &= 31
    r = ((value << n) | (value >> (32 - n))) & M32 if n else value
    return (r << 32) | r


def fields(word: int) -> tuple[int, int, int]:
    """(RT/RS, RA, RB): the register fields sit at bits 6-10, 11-15, 16-20 in every form."""
    return (word >> 21) & 31, (word >> 16) & 31, (word >> 11) & 31
