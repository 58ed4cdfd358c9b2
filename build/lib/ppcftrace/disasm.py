"""Disassembly with capstone 5, with branch targets shown as symbols (`name+0x10`).

Words of our instruction subset print exactly as capstone prints them (the tests
check it), except where capstone is wrong (`bc 20,...`, "branch always", which
capstone shows as `bdnz`): there `ppcftrace.isa.decode` supplies the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

from ppcftrace.isa import DecodeError, decode
from ppcftrace.isa.render import imm

Symbolize = Callable[[int], "str | None"]


@dataclass(frozen=True)
class Line:
    """One disassembled word."""

    address: int
    word: int
    mnemonic: str
    op_str: str

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}" if self.op_str else self.mnemonic


@lru_cache(maxsize=None)
def _capstone(arch: str):
    import capstone

    mode = {"ppc64": capstone.CS_MODE_64, "ppc32": capstone.CS_MODE_32}[arch]
    return capstone.Cs(capstone.CS_ARCH_PPC, mode | capstone.CS_MODE_BIG_ENDIAN)


def _words(data_or_words: bytes | bytearray | Iterable[int]) -> list[int]:
    if isinstance(data_or_words, (bytes, bytearray, memoryview)):
        data = bytes(data_or_words)
        if len(data) % 4:
            data += b"\0" * (4 - len(data) % 4)  # a trailing partial word shows as .long
        return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
    return [int(w) & 0xFFFFFFFF for w in data_or_words]


def disassemble_word(word: int, address: int, arch: str = "ppc64",
                     symbolize: Symbolize | None = None) -> Line:
    """One word at `address`."""
    try:
        insn = decode(word, address, arch)
    except DecodeError:
        insn = None
    if insn is None:
        found = list(_capstone(arch).disasm_lite(word.to_bytes(4, "big"), address))
        if not found:
            return Line(address, word, ".long", f"0x{word:08x}")
        _, _, mnemonic, op_str = found[0]
        return Line(address, word, mnemonic, op_str)
    operands = list(insn.operands)
    if insn.target is not None and symbolize is not None:
        name = symbolize(insn.target)
        if name is not None and operands and operands[-1] == imm(insn.target):
            operands[-1] = name
    return Line(address, word, insn.mnemonic, ", ".join(operands))


def disassemble(data_or_words, address: int = 0, arch: str = "ppc64",
                symbolize: Symbolize | None = None) -> list[Line]:
    """Disassemble big-endian bytes or 32-bit words starting at `address`.

    `symbolize(addr)` may return a name such as `"schedule+0x10"` for a branch target,
    or None to keep the number.
    """
    mask = (1 << (64 if arch == "ppc64" else 32)) - 1
    return [disassemble_word(w, (address + 4 * i) & mask, arch, symbolize)
            for i, w in enumerate(_words(data_or_words))]


def format_lines(lines: Iterable[Line], arch: str = "ppc64") -> str:
    """`address: word  text` lines (16 hex digits of address on ppc64, 8 on ppc32)."""
    width = 16 if arch == "ppc64" else 8
    return "\n".join(f"{ln.address:0{width}x}: {ln.word:08x}  {ln.text}" for ln in lines)
