"""Chapter 5 reference solutions: PPC32 PLT entries by hand."""

from __future__ import annotations


def ha_lo(value: int) -> tuple[int, int]:
    """Exercise 1: `value@ha` and `value@l` of a 32-bit address."""
    lo = value & 0xFFFF
    ha = ((value + 0x8000) >> 16) & 0xFFFF   # addi adds lo as a signed number
    return ha, lo


def plt_target(w0: int, w1: int) -> int:
    """Exercise 2: the address a PLT entry jumps to, from its first two words."""
    target = ((w0 & 0xFFFF) << 16) | (w1 & 0xFFFF)
    if target & 0x8000:                      # addi subtracted instead of added
        target -= 0x10000
    return target & 0xFFFFFFFF


def plt_entry(target: int, reg: str = "r11") -> tuple[int, int, int, int]:
    """Exercise 3: the four words of a PLT entry to `target` through r11 or r12."""
    n = {"r11": 11, "r12": 12}[reg]
    ha, lo = ha_lo(target)
    lis = (15 << 26) | (n << 21) | ha                # addis rN,0,ha
    addi = (14 << 26) | (n << 21) | (n << 16) | lo   # addi rN,rN,lo
    mtctr = (31 << 26) | (n << 21) | (9 << 16) | (467 << 1)  # mtspr CTR(9),rN
    return lis, addi, mtctr, 0x4E800420              # bctr
