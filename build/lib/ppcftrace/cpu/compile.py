"""Decode a word once and turn it into a closure specialised on its fields.

`compile_word(cpu, word, pc)` names the operation (`ppcftrace.isa.decode` first, then
`cpu.opcodes` for the ops beyond the isa subset), picks its compiler and returns
`f(pc) -> next pc`. Register numbers and immediates are read from the word: they sit
at the same bits in every form.
"""

from __future__ import annotations

from ppcftrace.cpu import alu, branch, loadstore  # noqa: F401  (they fill COMPILERS)
from ppcftrace.cpu.errors import UnsupportedInstruction
from ppcftrace.cpu.opcodes import op_name
from ppcftrace.cpu.registry import COMPILERS, Unsupported

from ppcftrace.isa import DecodeError, decode


def name_of(word: int, pc: int, arch: str) -> str | None:
    """The base mnemonic the interpreter dispatches on, or None."""
    try:
        name = decode(word, pc, arch).op
    except DecodeError:
        name = None
    return name if name in COMPILERS else op_name(word)


def disassemble(word: int, pc: int, arch: str) -> str:
    """capstone's text for `word`, or "?" when capstone does not know it."""
    import capstone

    mode = capstone.CS_MODE_BIG_ENDIAN | (capstone.CS_MODE_64 if arch == "ppc64" else capstone.CS_MODE_32)
    md = capstone.Cs(capstone.CS_ARCH_PPC, mode)
    for insn in md.disasm(word.to_bytes(4, "big"), pc):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return "?"


def compile_word(cpu, word: int, pc: int):
    """The closure executing `word` at `pc` on `cpu`, or raise UnsupportedInstruction."""
    name = name_of(word, pc, cpu.arch)
    build = COMPILERS.get(name) if name else None
    if build is None:
        raise UnsupportedInstruction(pc, word, disassemble(word, pc, cpu.arch))
    try:
        return build(cpu, word, pc, name=name)
    except Unsupported as e:
        raise UnsupportedInstruction(pc, word, disassemble(word, pc, cpu.arch), str(e)) from None
