"""Chapter 3 reference solutions: descriptors, the TOC window, filters on dot names."""

from __future__ import annotations


def code_address(machine, name: str) -> int:
    """Exercise 1: where function `name` starts, read through its .opd descriptor."""
    descriptor = machine.kallsyms.address(name)   # the symbol `name` is the descriptor
    return machine.read_word(descriptor)          # doubleword 0: the entry address


def toc_displacement(r2: int, address: int) -> int | None:
    """Exercise 2: d with `ld rX,d(r2)` reaching address, or None when out of reach."""
    d = (address - r2) % 2**64           # addresses wrap around
    if d >= 2**63:
        d -= 2**64                       # as a signed 64-bit difference
    if -0x8000 <= d <= 0x7FFF:           # a signed 16-bit displacement
        return d
    return None


#: Exercise 3: the functions whose C name starts with "sched", on the 2.6.29 PPC64 kernel
SCHED_PATTERNS = [".sched*"]
