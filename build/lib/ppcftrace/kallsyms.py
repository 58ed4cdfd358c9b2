"""kallsyms: the kernel's symbol table, by address and by name.

After kernel/kallsyms.c and /proc/kallsyms: every named symbol of the image with
nm's one-letter type (`T` text, `D` data, `R` read-only data, `B` bss, `A` absolute;
lower case when local). On PPC64 ELFv1 a function symbol names its descriptor in
`.opd`; the code gets the dot name (`.schedule`), which is what `kallsyms_lookup()`
of a code address printed in 2008 (FACTS.md section 5). GCC 12 no longer writes dot
symbols, so they are made from the descriptors, as `nm --synthetic` does, and typed
by the descriptor's binding (`T .schedule` even where a local dot symbol exists).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from ppcftrace.elf import ElfFile
from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS
from ppcftrace.errors import PpcftraceError

__all__ = ["KernelSymbol", "Kallsyms", "UnknownSymbol", "symbol_type"]

SHN_ABS = 0xFFF1
#: which symbol names an address when several start there: code, data, then labels
_KIND_RANK = {"FUNC": 0, "OBJECT": 1, "NOTYPE": 2}


class UnknownSymbol(PpcftraceError):
    """No kernel symbol has this name."""


@dataclass(frozen=True, order=True)
class KernelSymbol:
    """One line of /proc/kallsyms: address, nm type letter, name (and ELF size, kind)."""

    address: int
    type: str
    name: str
    size: int = 0
    kind: str = "NOTYPE"     #: ELF symbol type: FUNC, OBJECT, NOTYPE


def symbol_type(section, bind: str, absolute: bool = False) -> str:
    """nm's letter for a defined symbol in `section` (a `Section`, or None if absolute)."""
    if absolute or section is None:
        letter = "a"
    elif section.flags & SHF_EXECINSTR:
        letter = "t"
    elif section.type == SHT_NOBITS:
        letter = "b"
    elif section.flags & SHF_WRITE:
        letter = "d"
    elif section.flags & SHF_ALLOC:
        letter = "r"
    else:
        letter = "n"
    if bind == "WEAK":
        return "W" if letter != "a" else "A"
    return letter.upper() if bind != "LOCAL" else letter


class Kallsyms:
    """The symbols of a kernel image: `lookup(addr)` and `address(name)`."""

    def __init__(self, symbols: list[KernelSymbol], sections: list[tuple[int, int]]):
        self.symbols = sorted(symbols, key=lambda s: (s.address, _KIND_RANK.get(s.kind, 3),
                                                       s.type.islower(), s.name))
        self._by_name: dict[str, KernelSymbol] = {}
        for s in self.symbols:
            self._by_name.setdefault(s.name, s)
        # lookup() only names addresses inside the image, with non-absolute symbols
        self._ranges = sorted(sections)
        named = [s for s in self.symbols if s.type not in "aA"]
        self._addrs = [s.address for s in named]
        self._named = named

    @classmethod
    def from_elf(cls, elf: ElfFile) -> "Kallsyms":
        """Every named, defined symbol of a linked image, dot names made on ELFv1."""
        # the code of each descriptor, typed by the descriptor's binding: a dot symbol
        # left local by recordmcount's reference-symbol dance still names global code
        dots = {}
        for d in elf.descriptors:
            s = elf.symbol(d.name)
            dots[(d.entry, d.dot_name)] = symbol_type(elf.section_at(d.entry),
                                                      s.bind if s else "GLOBAL")
        out = []
        for s in elf.symbols:
            if not s.name or s.type in ("SECTION", "FILE") or not s.is_defined:
                continue
            absolute = s.shndx == SHN_ABS
            section = None if absolute else elf.sections[s.shndx] \
                if s.shndx < len(elf.sections) else None
            letter = dots.pop((s.value, s.name), None) or symbol_type(section, s.bind,
                                                                      absolute)
            out.append(KernelSymbol(s.value, letter, s.name, s.size, s.type))
        for (entry, dot_name), letter in dots.items():
            out.append(KernelSymbol(entry, letter, dot_name, 0, "FUNC"))
        ranges = [(sec.addr, sec.addr + sec.size) for sec in elf.sections
                  if sec.flags & SHF_ALLOC and sec.size]
        return cls(out, ranges)

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self):
        return iter(self.symbols)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def _in_image(self, address: int) -> bool:
        i = bisect.bisect_right(self._ranges, (address, float("inf"))) - 1
        return i >= 0 and self._ranges[i][0] <= address < self._ranges[i][1]

    def lookup(self, address: int) -> tuple[str, int] | None:
        """(name, offset) of the symbol at or before `address`, like kallsyms_lookup();
        None outside the image."""
        if not self._in_image(address):
            return None
        i = bisect.bisect_right(self._addrs, address) - 1
        if i < 0:
            return None
        start = self._addrs[i]
        # several symbols may start there: the sort put the best one first
        j = bisect.bisect_left(self._addrs, start)
        sym = self._named[j]
        return sym.name, address - sym.address

    def symbolize(self, address: int) -> str | None:
        """`name+0x10` (or `name`) for an address in the image, else None."""
        hit = self.lookup(address)
        if hit is None:
            return None
        name, offset = hit
        return f"{name}+{offset:#x}" if offset else name

    def address(self, name: str) -> int:
        """The address of `name` (dot names on PPC64 give the code)."""
        return self.symbol(name).address

    def symbol(self, name: str) -> KernelSymbol:
        """The `KernelSymbol` called `name`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownSymbol(f"no kernel symbol {name!r}") from None
