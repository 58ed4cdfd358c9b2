"""The table of instruction compilers, filled by `alu`, `loadstore` and `branch`.

A compiler is `build(cpu, word, pc, name) -> f(pc) -> next pc`; it raises
`Unsupported` for a valid word the interpreter will not run (a 64-bit instruction on
ppc32, an invalid form, an SPR outside LR/CTR/XER).
"""

from __future__ import annotations

from typing import Callable

COMPILERS: dict[str, Callable] = {}


class Unsupported(Exception):
    """Raised by a compiler; becomes `UnsupportedInstruction` with the word's address."""


def op(*names: str):
    """Register the decorated compiler for each base mnemonic in `names`."""
    def register(fn):
        for name in names:
            COMPILERS[name] = fn
        return fn
    return register


def need64(cpu, name: str) -> None:
    if not cpu.is64:
        raise Unsupported(f"{name} is a 64-bit instruction")
