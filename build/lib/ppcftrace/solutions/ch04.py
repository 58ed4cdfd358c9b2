"""Chapter 4 reference solutions: PPC64 module stubs by hand."""

from __future__ import annotations

from typing import Callable, Sequence


def stub_ha_lo(stub: int, r2: int) -> tuple[int, int]:
    """Exercise 1: the immediates of a stub's `addis r12,r2,HA` and `addi r12,r12,LO`."""
    offset = (stub - r2) & 0xFFFFFFFF        # a signed 32-bit offset, as 32 bits
    lo = offset & 0xFFFF
    ha = ((offset + 0x8000) >> 16) & 0xFFFF  # addi adds lo as a signed number
    return ha, lo


def stub_target(words: Sequence[int], r2: int, read_u64: Callable[[int], int]) -> int:
    """Exercise 2: the entry address a stub jumps to, from its words and memory."""
    ha, lo = words[0] & 0xFFFF, words[1] & 0xFFFF
    ha -= 0x10000 if ha & 0x8000 else 0      # addis and addi both sign-extend
    lo -= 0x10000 if lo & 0x8000 else 0
    stub = (r2 + (ha << 16) + lo) % (1 << 64)   # r12 after the first two words
    return read_u64(stub + 32)                  # ld r11,32(r12): funcaddr


def mcount_site_words(site: int, stub: int) -> tuple[int, int]:
    """Exercise 3: the two words at a module's `_mcount` call site after loading."""
    offset = stub - site                          # the stub is within reach
    bl = 0x48000000 | (offset & 0x03FFFFFC) | 1   # bl stub
    return bl, 0xE8410028                         # ld r2,40(r1), was a nop
