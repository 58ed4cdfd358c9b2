"""`ElfFile`: a PowerPC ELF relocatable object or linked image, validated and typed.

Reading is eager for the file header and section headers (both checked against the
file's size) and lazy for symbols, relocations and descriptors; every table is
bounds-checked before use, so bad input ends in an `ELFError` subclass, not a crash.
"""

from __future__ import annotations

import os
from functools import cached_property

import numpy as np

from ppcftrace.elf.errors import CorruptELF
from ppcftrace.elf.functions import Function, FunctionTable, function_names, function_table
from ppcftrace.elf.header import ET_REL, Header, parse_header
from ppcftrace.elf.opd import R_PPC64_ADDR64, R_PPC64_TOC, Descriptor, read_words
from ppcftrace.elf.relocations import (Relocation, check_reloc_section, reloc_array,
                                       reloc_type_name)
from ppcftrace.elf.sections import (SHF_ALLOC, SHT_DYNSYM, SHT_NOBITS, SHT_REL, SHT_RELA,
                                    SHT_SYMTAB, Section, cstring, parse_sections)
from ppcftrace.elf.symbols import (BINDS, SYM_DTYPE, Symbol, check_symtab, make_symbols,
                                   symbol_array)

__all__ = ["ElfFile", "Function"]


class ElfFile:
    """A big-endian PowerPC ELF file (ppc64 ELFv1/ELFv2, ppc32 SysV)."""

    def __init__(self, data: bytes, name: str = "<bytes>"):
        self.data = data if type(data) is bytes else bytes(data)
        self.name = name
        self.header: Header = parse_header(self.data, name)
        self.sections: list[Section] = parse_sections(self.data, self.header, name)
        self._by_name: dict[str, Section] = {}
        for s in self.sections:
            self._by_name.setdefault(s.name, s)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ElfFile":
        with open(path, "rb") as f:
            return cls(f.read(), os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> "ElfFile":
        return cls(data, name)

    # -- the file as a whole ----------------------------------------------------------
    @property
    def arch(self) -> str:
        return self.header.arch

    @property
    def abi(self) -> str:
        return self.header.abi

    @property
    def bits(self) -> int:
        return self.header.bits

    @property
    def is_relocatable(self) -> bool:
        return self.header.type == ET_REL

    @property
    def has_descriptors(self) -> bool:
        return self.abi == "elfv1"

    def __repr__(self) -> str:
        return f"<ElfFile {self.name} {self.arch} {self.abi} {len(self.sections)} sections>"

    # -- sections ---------------------------------------------------------------------
    def section(self, name: str) -> Section | None:
        """The first section of that name, or None."""
        return self._by_name.get(name)

    def section_at(self, address: int) -> Section | None:
        """The allocated section holding `address` (images), or None."""
        for s in self.sections:
            if s.flags & SHF_ALLOC and s.size and s.contains(address):
                return s
        return None

    # -- symbols ----------------------------------------------------------------------
    @cached_property
    def symtab(self) -> Section | None:
        """.symtab, else .dynsym, else None."""
        for kind in (SHT_SYMTAB, SHT_DYNSYM):
            for s in self.sections:
                if s.type == kind:
                    return s
        return None

    @cached_property
    def strtab(self) -> Section | None:
        """The symbol table's string table (the symbol table checked on the way)."""
        sec = self.symtab
        return None if sec is None else check_symtab(sec, self.sections, self.bits, self.name)

    @cached_property
    def symbol_array(self) -> np.ndarray:
        """The raw symbol table (numpy structured array; empty without one)."""
        if self.strtab is None:
            return np.zeros(0, dtype=SYM_DTYPE[self.bits])
        return symbol_array(self.symtab, self.bits)

    @cached_property
    def symbols(self) -> list[Symbol]:
        """Every symbol-table entry, in table order (index 0 included)."""
        if self.strtab is None:
            return []
        return make_symbols(self.symtab, self.strtab, self.sections, self.bits, self.name)

    @cached_property
    def _symbols_by_name(self) -> dict[str, Symbol]:
        out: dict[str, Symbol] = {}
        for s in self.symbols:
            # prefer a defined symbol, and a global one, when a name repeats
            old = out.get(s.name)
            if old is None or (not old.is_defined and s.is_defined) or \
                    (old.bind == "LOCAL" and s.bind != "LOCAL" and s.is_defined):
                out[s.name] = s
        return out

    def symbol(self, name: str) -> Symbol | None:
        """The symbol of that name (a defined, global one when several share it), or None."""
        return self._symbols_by_name.get(name)

    def symbol_name(self, index: int) -> str:
        """The name of symbol `index` (a section symbol reads as its section's name)."""
        raw = self.symbol_array
        if not 0 <= index < len(raw):
            raise CorruptELF(f"symbol index {index} outside symbol table ({len(raw)} entries)",
                             name=self.name)
        nm = int(raw["name"][index])
        if nm == 0 and raw["info"][index] & 15 == 3:
            shndx = int(raw["shndx"][index])
            return self.sections[shndx].name if 0 < shndx < len(self.sections) else ""
        return cstring(self.strtab.data, nm, f"symbol {index}", self.name) if nm else ""

    # -- relocations ------------------------------------------------------------------
    @cached_property
    def reloc_sections(self) -> list[Section]:
        """Every SHT_RELA/SHT_REL section, checked."""
        out = []
        for s in self.sections:
            if s.type in (SHT_RELA, SHT_REL):
                check_reloc_section(s, self.sections, self.bits, self.name)
                out.append(s)
        return out

    def reloc_sections_for(self, target: Section | str) -> list[Section]:
        """The relocation sections applying to `target` (by sh_info)."""
        t = self._resolve(target)
        return [r for r in self.reloc_sections if r.info == t.index and r.info != 0]

    def _resolve(self, section: Section | str) -> Section:
        if isinstance(section, Section):
            return section
        s = self.section(section)
        if s is None:
            raise KeyError(f"no section {section!r} in {self.name}")
        return s

    def reloc_arrays(self, rsec: Section) -> tuple[np.ndarray, ...]:
        """(offsets, symbol indices, types, addends) of one relocation section, checked."""
        check_reloc_section(rsec, self.sections, self.bits, self.name)
        offs, syms, types, addends = reloc_array(rsec, self.bits)
        nsym = len(self.symbol_array)
        if len(syms) and int(syms.max()) >= max(nsym, 1):
            bad = int(syms.max())
            raise CorruptELF(f"relocation section {rsec.name}: symbol index {bad} outside "
                             f"symbol table ({nsym} entries)", name=self.name)
        return offs, syms, types, addends

    def relocations(self, section: Section | str) -> list[Relocation]:
        """Relocations of a relocation section, or of all those applying to a section.

        `section` is a `.rela*`/`.rel*` section (or its name), or the section they
        relocate (`.text` gives the entries of `.rela.text`).
        """
        sec = self._resolve(section)
        rsecs = [sec] if sec.type in (SHT_RELA, SHT_REL) else self.reloc_sections_for(sec)
        symbols = self.symbols
        out = []
        for rsec in rsecs:
            offs, syms, types, addends = self.reloc_arrays(rsec)
            for off, si, ty, add in zip(offs.tolist(), syms.tolist(), types.tolist(),
                                        addends.tolist()):
                out.append(Relocation(off, ty, reloc_type_name(self.arch, ty),
                                      symbols[si] if si else None, add))
        return out

    # -- descriptors and functions ----------------------------------------------------
    @cached_property
    def descriptors(self) -> list[Descriptor]:
        """The .opd descriptors of FUNC symbols (ppc64 ELFv1; empty otherwise)."""
        opd = self.section(".opd")
        if not self.has_descriptors or opd is None:
            return []
        funcs = [s for s in self.symbols if s.type == "FUNC" and s.shndx == opd.index]
        return self._object_descriptors(opd, funcs) if self.is_relocatable \
            else self._image_descriptors(opd, funcs)

    def _image_descriptors(self, opd: Section, funcs: list[Symbol]) -> list[Descriptor]:
        out = []
        body = opd.data
        for s in funcs:
            words = read_words(body, s.value - opd.addr) if opd.type != SHT_NOBITS else None
            if words is None:
                raise CorruptELF(f"descriptor {s.name} at {s.value:#x} outside .opd",
                                 name=self.name)
            sec = self.section_at(words[0])
            out.append(Descriptor(s.name, s.value, words[0], words[1], words[2],
                                  sec.name if sec else None))
        return out

    def _object_descriptors(self, opd: Section, funcs: list[Symbol]) -> list[Descriptor]:
        entries: dict[int, tuple[int, str | None]] = {}
        tocs: dict[int, int] = {}
        for r in self.relocations(opd):
            if r.type == R_PPC64_ADDR64 and r.symbol is not None:
                entries[r.offset] = (r.symbol.value + r.addend, r.symbol.section)
            elif r.type == R_PPC64_TOC:
                tocs[r.offset] = r.addend
        out = []
        body = opd.data
        for s in funcs:
            if s.value not in entries:
                raise CorruptELF(f"descriptor {s.name}: no R_PPC64_ADDR64 at .opd+{s.value:#x}",
                                 name=self.name)
            entry, section = entries[s.value]
            words = read_words(body, s.value) or (0, 0, 0)
            out.append(Descriptor(s.name, s.value, entry, tocs.get(s.value + 8), words[2],
                                  section))
        return out

    def descriptor(self, name: str) -> Descriptor | None:
        name = name[1:] if name.startswith(".") else name
        for d in self.descriptors:
            if d.name == name:
                return d
        return None

    @cached_property
    def function_table(self) -> FunctionTable:
        """Functions as numpy arrays (what recordmcount searches)."""
        return function_table(self)

    @cached_property
    def functions(self) -> list[Function]:
        """Every function's code, by section and start (dot names on ELFv1)."""
        t = self.function_table
        names = function_names(self, t, np.arange(len(t.start)))
        return [Function(name, self.sections[shndx].name, shndx, start, size,
                         BINDS.get(bind, str(bind)))
                for name, shndx, start, size, bind in zip(
                    names, t.shndx.tolist(), t.start.tolist(), t.size.tolist(), t.bind.tolist())]

    def function_at(self, shndx: int, offset: int) -> Function | None:
        """The function of section `shndx` whose extent holds `offset` (address for images)."""
        i = int(self.function_table.lookup(shndx, np.array([offset], dtype=np.uint64))[0])
        return None if i < 0 else self.functions[i]

    def entry_of(self, name: str) -> int | None:
        """A function's code address (images) or section offset (objects).

        `foo` or `.foo`: on ELFv1 the descriptor's entry, unless a dot symbol exists.
        """
        dot = self.symbol(name if name.startswith(".") else "." + name)
        if dot is not None and dot.is_defined:
            return dot.value
        if self.has_descriptors:
            d = self.descriptor(name)
            if d is not None:
                return d.entry
        s = self.symbol(name.lstrip(".") if self.has_descriptors else name)
        if s is not None and s.is_defined:
            return s.value
        return None

