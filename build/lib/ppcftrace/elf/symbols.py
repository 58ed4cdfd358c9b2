"""Symbol tables (.symtab, else .dynsym): raw arrays and named `Symbol`s.

The raw table is a numpy structured array read straight from the section's bytes, so
that callers needing only values or indices (recordmcount over 20,000 functions) never
build one Python object per symbol; `Symbol`s are made when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ppcftrace.elf.errors import CorruptELF
from ppcftrace.elf.sections import SHT_STRTAB, Section, cstring

__all__ = ["Symbol", "SYM_DTYPE", "symbol_array", "check_symtab", "BINDS", "TYPES",
           "SHN_UNDEF", "SHN_ABS", "SHN_COMMON"]

SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON = 0, 0xFF00, 0xFFF1, 0xFFF2
BINDS = {0: "LOCAL", 1: "GLOBAL", 2: "WEAK", 10: "UNIQUE"}
TYPES = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC", 3: "SECTION", 4: "FILE", 5: "COMMON",
         6: "TLS", 10: "IFUNC"}

#: Elf64_Sym / Elf32_Sym, big-endian
SYM_DTYPE = {
    64: np.dtype([("name", ">u4"), ("info", "u1"), ("other", "u1"), ("shndx", ">u2"),
                  ("value", ">u8"), ("size", ">u8")]),
    32: np.dtype([("name", ">u4"), ("value", ">u4"), ("size", ">u4"), ("info", "u1"),
                  ("other", "u1"), ("shndx", ">u2")]),
}


@dataclass(frozen=True)
class Symbol:
    """One symbol-table entry; `section` is the name of its section, or None."""

    index: int
    name: str
    value: int
    size: int
    bind: str      #: LOCAL, GLOBAL, WEAK
    type: str      #: NOTYPE, OBJECT, FUNC, SECTION, FILE...
    shndx: int     #: section index, or SHN_UNDEF/SHN_ABS/SHN_COMMON
    section: str | None

    @property
    def is_defined(self) -> bool:
        return self.shndx != SHN_UNDEF


def check_symtab(sec: Section, sections: list[Section], bits: int,
                 name: str | None = None) -> Section:
    """Validate a symbol table's shape and its string table; return the string table."""
    esize = SYM_DTYPE[bits].itemsize
    if sec.entsize != esize:
        raise CorruptELF(f"symbol table {sec.name or sec.index}: entry size {sec.entsize}, "
                         f"expected {esize}", name=name)
    if sec.size % esize:
        raise CorruptELF(f"symbol table {sec.name or sec.index}: size {sec.size:#x} is not "
                         f"a multiple of {esize}", name=name)
    if not 0 < sec.link < len(sections) or sections[sec.link].type != SHT_STRTAB:
        raise CorruptELF(f"symbol table {sec.name or sec.index}: sh_link {sec.link} is not "
                         f"a string table", name=name)
    return sections[sec.link]


def symbol_array(sec: Section, bits: int) -> np.ndarray:
    """The raw entries of a (checked) symbol table."""
    return np.frombuffer(sec.view(), dtype=SYM_DTYPE[bits])


def make_symbols(sec: Section, strtab: Section, sections: list[Section], bits: int,
                 name: str | None = None) -> list[Symbol]:
    """Every entry of a checked symbol table as a `Symbol`."""
    raw = symbol_array(sec, bits)
    table = strtab.data
    out = []
    nsec = len(sections)
    for i, (nm, value, size, info, shndx) in enumerate(zip(
            raw["name"].tolist(), raw["value"].tolist(), raw["size"].tolist(),
            raw["info"].tolist(), raw["shndx"].tolist())):
        sname = cstring(table, nm, f"symbol {i}", name) if nm else ""
        section = sections[shndx].name if 0 < shndx < min(nsec, SHN_LORESERVE) else None
        out.append(Symbol(i, sname, value, size, BINDS.get(info >> 4, str(info >> 4)),
                          TYPES.get(info & 15, str(info & 15)), shndx, section))
    return out
