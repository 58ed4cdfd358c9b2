"""Chapter 1 reference solutions: encoding, reach and decoding of `bl` by hand."""

from __future__ import annotations


def encode_bl(ip: int, target: int) -> int:
    """Exercise 1: the word of `bl target` at address ip (target within reach)."""
    offset = target - ip                 # relative to the bl itself
    return 0x48000000 | (offset & 0x03FFFFFC) | 1   # opcode 18, LI, AA=0, LK=1


def bl_reach(site: int, bits: int = 64) -> tuple[int, int]:
    """Exercise 2: the lowest and highest target a `bl` at site can call."""
    size = 1 << bits                     # effective addresses wrap around
    lowest = (site - 0x2000000) % size   # LI = -2**23 words
    highest = (site + 0x1FFFFFC) % size  # LI = 2**23 - 1 words
    return lowest, highest


def bl_target(ip: int, op: int, bits: int = 64) -> int:
    """Exercise 3: the address that the `bl` word op at ip calls."""
    offset = op & 0x03FFFFFC             # LI with its two zero bits
    if offset & 0x02000000:              # LI's sign bit
        offset -= 0x04000000
    return (ip + offset) % (1 << bits)   # effective addresses wrap around


def is_bl_op(op: int) -> bool:
    """Exercise 4: is op a relative branch with link (opcode 18, AA=0, LK=1)?"""
    return (op & 0xFC000003) == 0x48000001
