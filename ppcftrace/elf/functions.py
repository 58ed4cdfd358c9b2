"""Functions as code extents: where each function's code starts, how long it is.

A function is named by its code symbol: `.foo` on PPC64 ELFv1, where the symbol `foo`
is a descriptor in .opd and the code starts at the descriptor's entry (GCC 12 and GNU
ld write no dot symbols, so the names are made here as objdump makes them); the
symbol itself on ppc32 and ELFv2. The table is built with numpy from the raw symbol
table and `.rela.opd`, so that looking up 20,000 call sites costs a few `searchsorted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ppcftrace.elf.errors import CorruptELF
from ppcftrace.elf.opd import R_PPC64_ADDR64
from ppcftrace.elf.sections import SHF_EXECINSTR, SHT_NOBITS
from ppcftrace.elf.symbols import SHN_LORESERVE

if TYPE_CHECKING:
    from ppcftrace.elf.file import ElfFile

__all__ = ["Function", "FunctionTable", "function_table", "within"]

STT_FUNC = 2


@dataclass(frozen=True)
class Function:
    """A function's code: its code-symbol name (`.foo` on ELFv1), section and extent.

    `start` is an offset in the section for objects, an address for images.
    """

    name: str
    section: str
    shndx: int
    start: int
    size: int
    bind: str


@dataclass
class FunctionTable:
    """Function code extents as parallel arrays, sorted by (section, start), one
    function per place (a dot symbol beside its descriptor is the same code)."""

    shndx: np.ndarray
    start: np.ndarray
    size: np.ndarray
    name_off: np.ndarray     #: string-table offset of the (descriptor or code) symbol
    bind: np.ndarray
    dotted: np.ndarray       #: ELFv1 descriptor: the code symbol is "." + its name

    def lookup(self, shndx: int, offsets: np.ndarray) -> np.ndarray:
        """Index (into this table) of the function holding each offset, or -1."""
        lo, hi = np.searchsorted(self.shndx, [shndx, shndx + 1])
        if lo == hi:
            return np.full(len(offsets), -1, dtype=np.int64)
        starts = self.start[lo:hi]
        i = np.searchsorted(starts, offsets, side="right") - 1
        ok = i >= 0
        j = np.where(ok, i, 0) + lo
        # a zero-size symbol (assembly without .size) holds everything up to the next one
        ends = self.start[j] + np.maximum(self.size[j], 1)
        nxt = np.append(starts[1:], np.uint64(2**64 - 1))[np.where(ok, i, 0)]
        ends = np.where(self.size[j] == 0, nxt, ends)
        ok &= offsets < ends
        return np.where(ok, j, -1)


def function_table(elf: ElfFile) -> FunctionTable:
    """The functions of `elf` (use `elf.function_table`, which caches it)."""
    raw = elf.symbol_array
    nsec = len(elf.sections)
    is_func = (raw["info"] & 15) == STT_FUNC
    opd = elf.section(".opd") if elf.has_descriptors else None
    shndx = raw["shndx"].astype(np.int64)
    value = raw["value"].astype(np.uint64)
    if opd is not None:
        desc = is_func & (shndx == opd.index)
        dv = value[desc]
        entry, esec = descriptor_entries(elf, opd, dv)
        plain = is_func & ~desc & (shndx > 0) & (shndx < min(nsec, SHN_LORESERVE))
        table = [
            (esec, entry, raw["size"][desc], raw["name"][desc], raw["info"][desc] >> 4),
            (shndx[plain], value[plain], raw["size"][plain], raw["name"][plain],
             raw["info"][plain] >> 4),
        ]
        dotted = np.concatenate([np.ones(int(desc.sum()), bool), np.zeros(int(plain.sum()), bool)])
    else:
        plain = is_func & (shndx > 0) & (shndx < min(nsec, SHN_LORESERVE))
        table = [(shndx[plain], value[plain], raw["size"][plain], raw["name"][plain],
                  raw["info"][plain] >> 4)]
        dotted = np.zeros(int(plain.sum()), bool)
    cols = [np.concatenate([t[k] for t in table]).astype(np.uint64 if k in (1, 2) else np.int64)
            for k in range(5)]
    keep = cols[0] >= 0       # unresolved descriptors carry section -1
    cols = [c[keep] for c in cols]
    dotted = dotted[keep]
    # one function per place, and a real code symbol before a name made from a
    # descriptor: assembly (and 2008 GCC) write `.foo` with the code's size, while the
    # descriptor `foo` may have the descriptor's size (24)
    order = np.lexsort((dotted, cols[1], cols[0]))
    cols, dotted = [c[order] for c in cols], dotted[order]
    first = np.ones(len(order), bool)
    first[1:] = (cols[0][1:] != cols[0][:-1]) | (cols[1][1:] != cols[1][:-1])
    return FunctionTable(*(c[first] for c in cols), dotted=dotted[first])


def descriptor_entries(elf: ElfFile, opd, dv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entry, section index) of the descriptors at .opd values `dv`; section -1 if none."""
    n = len(dv)
    entry = np.zeros(n, np.uint64)
    esec = np.full(n, -1, np.int64)
    if not n:
        return entry, esec
    if not elf.is_relocatable:
        if opd.type == SHT_NOBITS:
            return entry, esec
        words = np.frombuffer(opd.data[: len(opd.data) // 8 * 8], dtype=">u8")
        rel = dv - np.uint64(opd.addr)
        ok = (dv >= np.uint64(opd.addr)) & (rel // np.uint64(8) < np.uint64(len(words))) \
            & (rel % np.uint64(8) == 0)
        idx = np.where(ok, rel // np.uint64(8), 0).astype(np.int64)
        entry = np.where(ok, words[idx] if len(words) else 0, 0).astype(np.uint64)
        for sec in elf.sections:          # few sections: a loop is fine
            if sec.flags & SHF_EXECINSTR and sec.size:
                inside = ok & within(entry, sec.addr, sec.size)
                esec[inside] = sec.index
        return entry, esec
    # object: R_PPC64_ADDR64 in .rela.opd at each descriptor's offset
    raw = elf.symbol_array
    offs, syms, types, addends = [], [], [], []
    for rsec in elf.reloc_sections_for(opd):
        o, s, t, a = elf.reloc_arrays(rsec)
        offs.append(o), syms.append(s), types.append(t), addends.append(a)
    if not offs:
        return entry, esec
    o, s, t, a = (np.concatenate(x) for x in (offs, syms, types, addends))
    m = t == R_PPC64_ADDR64
    o, s, a = o[m], s[m].astype(np.int64), a[m]
    order = np.argsort(o, kind="stable")
    o, s, a = o[order], s[order], a[order]
    i = np.searchsorted(o, dv)
    found = i < len(o)
    i = np.where(found, i, 0)
    found &= o[i] == dv if len(o) else found
    target = s[i]
    entry = np.where(found, raw["value"][target].astype(np.uint64) + a[i].astype(np.uint64), 0)
    tsec = raw["shndx"][target].astype(np.int64)
    esec = np.where(found & (tsec > 0) & (tsec < min(len(elf.sections), SHN_LORESERVE)), tsec, -1)
    return entry.astype(np.uint64), esec


def within(values: np.ndarray, start: int, size: int) -> np.ndarray:
    """values in [start, start + size), without overflowing 64 bits at the top."""
    lo = np.uint64(start)
    return (values >= lo) & (values - lo < np.uint64(size))


def function_names(elf: ElfFile, table: FunctionTable, idx: np.ndarray) -> list[str | None]:
    """The code-symbol name of each table index (None for -1), resolved in one pass."""
    out: list[str | None] = [None] * len(idx)
    hit = np.nonzero(idx >= 0)[0]
    if not len(hit):
        return out
    strtab = elf.strtab.data if elf.strtab is not None else b""
    rows = idx[hit]
    starts = table.name_off[rows]
    if len(strtab) == 0 or int(starts.max()) >= len(strtab):
        raise CorruptELF("symbol name offset outside string table", name=elf.name)
    # the end of each name is the first NUL at or after its start
    nuls = np.flatnonzero(np.frombuffer(strtab, dtype=np.uint8) == 0)
    k = np.searchsorted(nuls, starts)
    if int(k.max()) >= len(nuls):
        raise CorruptELF("unterminated symbol name in string table", name=elf.name)
    ends = nuls[k]
    names = [strtab[a:b].decode("utf-8", "replace") for a, b in zip(starts.tolist(), ends.tolist())]
    dotted = table.dotted[rows]
    if dotted.any():
        names = ["." + n if d else n for n, d in zip(names, dotted.tolist())]
    if len(hit) == len(idx):
        return names
    for i, n in zip(hit.tolist(), names):
        out[i] = n
    return out
