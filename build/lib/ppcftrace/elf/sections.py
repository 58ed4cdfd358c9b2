"""Section headers: read, bounds-checked, named.

Every table the rest of the reader uses (symbols, strings, relocations) is a section,
so checking each section's extent against the file here is what keeps the later
readers from running off the end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property

from ppcftrace.elf.errors import CorruptELF, TruncatedELF
from ppcftrace.elf.header import Header

__all__ = ["Section", "parse_sections", "cstring", "SHT_NULL", "SHT_PROGBITS", "SHT_SYMTAB",
           "SHT_STRTAB", "SHT_RELA", "SHT_NOBITS", "SHT_REL", "SHT_DYNSYM",
           "SHF_WRITE", "SHF_ALLOC", "SHF_EXECINSTR"]

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_NOBITS, SHT_REL, SHT_DYNSYM = 8, 9, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_XINDEX = 0xFFFF

TYPE_NAMES = {0: "NULL", 1: "PROGBITS", 2: "SYMTAB", 3: "STRTAB", 4: "RELA", 5: "HASH",
              6: "DYNAMIC", 7: "NOTE", 8: "NOBITS", 9: "REL", 10: "SHLIB", 11: "DYNSYM",
              14: "INIT_ARRAY", 15: "FINI_ARRAY", 16: "PREINIT_ARRAY", 17: "GROUP",
              18: "SYMTAB_SHNDX", 0x6FFFFFF6: "GNU_HASH", 0x6FFFFFFD: "VERDEF",
              0x6FFFFFFE: "VERNEED", 0x6FFFFFFF: "VERSYM"}

_SHDR = {64: struct.Struct(">IIQQQQIIQQ"), 32: struct.Struct(">IIIIIIIIII")}


@dataclass(frozen=True)
class Section:
    """One section header, with the section's bytes (empty for SHT_NOBITS)."""

    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    align: int
    link: int
    info: int
    entsize: int
    #: the whole file's bytes; `data` and `view()` slice it on demand
    file_bytes: bytes = field(repr=False, compare=False)

    @cached_property
    def data(self) -> bytes:
        """The section's bytes (empty for SHT_NOBITS and SHT_NULL)."""
        return bytes(self.view())

    def view(self) -> memoryview:
        """The section's bytes without a copy (for numpy.frombuffer on big tables)."""
        if self.type in (SHT_NULL, SHT_NOBITS):
            return memoryview(b"")
        return memoryview(self.file_bytes)[self.offset:self.offset + self.size]

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"{self.type:#x}")

    @property
    def is_code(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)

    def contains(self, address: int) -> bool:
        return self.addr <= address < self.addr + self.size


def cstring(table: bytes, offset: int, what: str, name: str | None = None) -> str:
    """The NUL-terminated string at `offset` of a string table."""
    if offset >= len(table) and not (offset == 0 and not table):
        raise CorruptELF(f"{what}: name offset {offset:#x} outside string table "
                         f"({len(table):#x} bytes)", name=name)
    end = table.find(b"\0", offset)
    if end < 0:
        raise CorruptELF(f"{what}: unterminated name at string offset {offset:#x}", name=name)
    return table[offset:end].decode("utf-8", "replace")


def parse_sections(data: bytes, hdr: Header, name: str | None = None) -> list[Section]:
    """All section headers of the file, validated against its size."""
    if hdr.shoff == 0:
        return []
    shdr = _SHDR[hdr.bits]
    size = len(data)

    def entry(i: int) -> tuple:
        at = hdr.shoff + i * shdr.size
        if at + shdr.size > size:
            raise TruncatedELF(f"section header {i} at {at:#x} beyond end of file "
                               f"({size:#x} bytes)", name=name)
        return shdr.unpack_from(data, at)

    first = entry(0)
    shnum = hdr.shnum or first[5]         # extended numbering: count in sh_size of [0]
    shstrndx = first[6] if hdr.shstrndx == SHN_XINDEX else hdr.shstrndx
    end = hdr.shoff + shnum * shdr.size
    if end > size:
        raise TruncatedELF(f"section header table ({shnum} entries at {hdr.shoff:#x}) ends "
                           f"at {end:#x}, beyond end of file ({size:#x} bytes)", name=name)
    raw = list(shdr.iter_unpack(data[hdr.shoff:end]))
    if shstrndx >= shnum:
        raise CorruptELF(f"e_shstrndx {shstrndx} is not a section (file has {shnum})",
                         name=name)
    for i, (_n, typ, _f, _a, off, sz, *_rest) in enumerate(raw):
        if typ not in (SHT_NULL, SHT_NOBITS) and off + sz > size:
            raise TruncatedELF(f"section {i} ({off:#x}+{sz:#x}) extends beyond end of file "
                               f"({size:#x} bytes)", name=name)
    strtab = b""
    if shstrndx:
        _n, typ, _f, _a, off, sz, *_rest = raw[shstrndx]
        if typ == SHT_NOBITS:
            raise CorruptELF(f"section name table {shstrndx} has no bytes (NOBITS)", name=name)
        strtab = data[off:off + sz]
    sections = []
    for i, (nm, typ, flags, addr, off, sz, link, info, align, entsize) in enumerate(raw):
        sname = cstring(strtab, nm, f"section {i}", name) if strtab else ""
        sections.append(Section(i, sname, typ, flags, addr, off, sz, align, link, info,
                                entsize, data))
    return sections
