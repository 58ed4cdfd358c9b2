"""Relocations: the R_PPC_* and R_PPC64_* types by number, and RELA/REL tables.

The names are those of the PowerPC 32-bit (SysV ABI, PowerPC Embedded ABI) and
64-bit ELF ABI supplements as binutils' include/elf/ppc.h and ppc64.h spell them;
tests check every number against GNU readelf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ppcftrace.elf.errors import CorruptELF
from ppcftrace.elf.sections import SHT_REL, SHT_RELA, Section
from ppcftrace.elf.symbols import Symbol

__all__ = ["Relocation", "R_PPC", "R_PPC64", "reloc_type_name", "reloc_type",
           "RELA_DTYPE", "REL_DTYPE", "reloc_array", "check_reloc_section"]


def _table(prefix: str, spec: str) -> dict[int, str]:
    """Parse 'number NAME NAME... number NAME...' (consecutive numbers) into a dict."""
    out, num = {}, None
    for word in spec.split():
        if word[0].isdigit():
            num = int(word)
        else:
            out[num] = prefix + word
            num += 1
    return out


#: R_PPC_* (EM_PPC) by number
R_PPC = _table("R_PPC_", """
0 NONE ADDR32 ADDR24 ADDR16 ADDR16_LO ADDR16_HI ADDR16_HA ADDR14 ADDR14_BRTAKEN
  ADDR14_BRNTAKEN REL24 REL14 REL14_BRTAKEN REL14_BRNTAKEN GOT16 GOT16_LO GOT16_HI GOT16_HA
  PLTREL24 COPY GLOB_DAT JMP_SLOT RELATIVE LOCAL24PC UADDR32 UADDR16 REL32 PLT32 PLTREL32
  PLT16_LO PLT16_HI PLT16_HA SDAREL16 SECTOFF SECTOFF_LO SECTOFF_HI SECTOFF_HA ADDR30
67 TLS DTPMOD32 TPREL16 TPREL16_LO TPREL16_HI TPREL16_HA TPREL32 DTPREL16 DTPREL16_LO
  DTPREL16_HI DTPREL16_HA DTPREL32 GOT_TLSGD16 GOT_TLSGD16_LO GOT_TLSGD16_HI GOT_TLSGD16_HA
  GOT_TLSLD16 GOT_TLSLD16_LO GOT_TLSLD16_HI GOT_TLSLD16_HA GOT_TPREL16 GOT_TPREL16_LO
  GOT_TPREL16_HI GOT_TPREL16_HA GOT_DTPREL16 GOT_DTPREL16_LO GOT_DTPREL16_HI GOT_DTPREL16_HA
  TLSGD TLSLD
101 EMB_NADDR32 EMB_NADDR16 EMB_NADDR16_LO EMB_NADDR16_HI EMB_NADDR16_HA EMB_SDAI16
  EMB_SDA2I16 EMB_SDA2REL EMB_SDA21 EMB_MRKREF EMB_RELSEC16 EMB_RELST_LO EMB_RELST_HI
  EMB_RELST_HA EMB_BIT_FLD EMB_RELSDA
119 PLTSEQ PLTCALL
216 VLE_REL8 VLE_REL15 VLE_REL24 VLE_LO16A VLE_LO16D VLE_HI16A VLE_HI16D VLE_HA16A
  VLE_HA16D VLE_SDA21 VLE_SDA21_LO VLE_SDAREL_LO16A VLE_SDAREL_LO16D VLE_SDAREL_HI16A
  VLE_SDAREL_HI16D VLE_SDAREL_HA16A VLE_SDAREL_HA16D VLE_ADDR20
246 REL16DX_HA
248 IRELATIVE REL16 REL16_LO REL16_HI REL16_HA GNU_VTINHERIT GNU_VTENTRY TOC16
""")

#: R_PPC64_* (EM_PPC64) by number
R_PPC64 = _table("R_PPC64_", """
0 NONE ADDR32 ADDR24 ADDR16 ADDR16_LO ADDR16_HI ADDR16_HA ADDR14 ADDR14_BRTAKEN
  ADDR14_BRNTAKEN REL24 REL14 REL14_BRTAKEN REL14_BRNTAKEN GOT16 GOT16_LO GOT16_HI GOT16_HA
19 COPY GLOB_DAT JMP_SLOT RELATIVE
24 UADDR32 UADDR16 REL32 PLT32 PLTREL32 PLT16_LO PLT16_HI PLT16_HA
33 SECTOFF SECTOFF_LO SECTOFF_HI SECTOFF_HA REL30 ADDR64 ADDR16_HIGHER ADDR16_HIGHERA
  ADDR16_HIGHEST ADDR16_HIGHESTA UADDR64 REL64 PLT64 PLTREL64 TOC16 TOC16_LO TOC16_HI
  TOC16_HA TOC PLTGOT16 PLTGOT16_LO PLTGOT16_HI PLTGOT16_HA ADDR16_DS ADDR16_LO_DS GOT16_DS
  GOT16_LO_DS PLT16_LO_DS SECTOFF_DS SECTOFF_LO_DS TOC16_DS TOC16_LO_DS PLTGOT16_DS
  PLTGOT16_LO_DS TLS DTPMOD64 TPREL16 TPREL16_LO TPREL16_HI TPREL16_HA TPREL64 DTPREL16
  DTPREL16_LO DTPREL16_HI DTPREL16_HA DTPREL64 GOT_TLSGD16 GOT_TLSGD16_LO GOT_TLSGD16_HI
  GOT_TLSGD16_HA GOT_TLSLD16 GOT_TLSLD16_LO GOT_TLSLD16_HI GOT_TLSLD16_HA GOT_TPREL16_DS
  GOT_TPREL16_LO_DS GOT_TPREL16_HI GOT_TPREL16_HA GOT_DTPREL16_DS GOT_DTPREL16_LO_DS
  GOT_DTPREL16_HI GOT_DTPREL16_HA TPREL16_DS TPREL16_LO_DS TPREL16_HIGHER TPREL16_HIGHERA
  TPREL16_HIGHEST TPREL16_HIGHESTA DTPREL16_DS DTPREL16_LO_DS DTPREL16_HIGHER
  DTPREL16_HIGHERA DTPREL16_HIGHEST DTPREL16_HIGHESTA TLSGD TLSLD TOCSAVE ADDR16_HIGH
  ADDR16_HIGHA TPREL16_HIGH TPREL16_HIGHA DTPREL16_HIGH DTPREL16_HIGHA REL24_NOTOC
  ADDR64_LOCAL ENTRY PLTSEQ PLTCALL PLTSEQ_NOTOC PLTCALL_NOTOC PCREL_OPT REL24_P9NOTOC
128 D34 D34_LO D34_HI30 D34_HA30 PCREL34 GOT_PCREL34 PLT_PCREL34 PLT_PCREL34_NOTOC
  ADDR16_HIGHER34 ADDR16_HIGHERA34 ADDR16_HIGHEST34 ADDR16_HIGHESTA34 REL16_HIGHER34
  REL16_HIGHERA34 REL16_HIGHEST34 REL16_HIGHESTA34 D28 PCREL28 TPREL34 DTPREL34
  GOT_TLSGD_PCREL34 GOT_TLSLD_PCREL34 GOT_TPREL_PCREL34 GOT_DTPREL_PCREL34
240 REL16_HIGH REL16_HIGHA REL16_HIGHER REL16_HIGHERA REL16_HIGHEST REL16_HIGHESTA
  REL16DX_HA JMP_IREL IRELATIVE REL16 REL16_LO REL16_HI REL16_HA GNU_VTINHERIT GNU_VTENTRY
""")

_TABLES = {"ppc64": R_PPC64, "ppc32": R_PPC}
_NUMBERS = {arch: {v: k for k, v in t.items()} for arch, t in _TABLES.items()}


def reloc_type_name(arch: str, rtype: int) -> str:
    """`R_PPC64_REL24` for (ppc64, 10); an unknown number reads `R_PPC64_<n>`."""
    return _TABLES[arch].get(rtype, f"{'R_PPC64_' if arch == 'ppc64' else 'R_PPC_'}{rtype}")


def reloc_type(arch: str, name: str) -> int:
    """The number of a relocation type name (with or without its R_PPC*_ prefix)."""
    prefix = "R_PPC64_" if arch == "ppc64" else "R_PPC_"
    full = name if name.startswith(prefix) else prefix + name
    try:
        return _NUMBERS[arch][full]
    except KeyError:
        raise KeyError(f"no relocation type {full}") from None


#: Elf64_Rela / Elf32_Rela and the REL forms, big-endian
RELA_DTYPE = {64: np.dtype([("offset", ">u8"), ("info", ">u8"), ("addend", ">i8")]),
              32: np.dtype([("offset", ">u4"), ("info", ">u4"), ("addend", ">i4")])}
REL_DTYPE = {64: np.dtype([("offset", ">u8"), ("info", ">u8")]),
             32: np.dtype([("offset", ">u4"), ("info", ">u4")])}


@dataclass(frozen=True)
class Relocation:
    """One entry of a .rela/.rel section; `symbol` is None for symbol index 0."""

    offset: int
    type: int
    type_name: str
    symbol: Symbol | None
    addend: int

    @property
    def symbol_name(self) -> str:
        return self.symbol.name if self.symbol else ""


def check_reloc_section(sec: Section, sections: list[Section], bits: int,
                        name: str | None = None) -> None:
    """Validate a relocation table's entry size and its sh_link/sh_info."""
    dtype = (RELA_DTYPE if sec.type == SHT_RELA else REL_DTYPE)[bits]
    label = f"relocation section {sec.name or sec.index}"
    if sec.entsize != dtype.itemsize:
        raise CorruptELF(f"{label}: entry size {sec.entsize}, expected {dtype.itemsize}",
                         name=name)
    if sec.size % dtype.itemsize:
        raise CorruptELF(f"{label}: size {sec.size:#x} is not a multiple of {dtype.itemsize}",
                         name=name)
    if sec.link >= len(sections):
        raise CorruptELF(f"{label}: sh_link {sec.link} is not a section", name=name)
    if sec.info >= len(sections):
        raise CorruptELF(f"{label}: sh_info {sec.info} is not a section", name=name)


def reloc_array(sec: Section, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, symbol indices, types, addends) of a checked RELA/REL section."""
    assert sec.type in (SHT_RELA, SHT_REL)
    dtype = (RELA_DTYPE if sec.type == SHT_RELA else REL_DTYPE)[bits]
    raw = np.frombuffer(sec.view(), dtype=dtype)
    info = raw["info"].astype(np.uint64)
    if bits == 64:
        sym, typ = info >> np.uint64(32), info & np.uint64(0xFFFFFFFF)
    else:
        sym, typ = info >> np.uint64(8), info & np.uint64(0xFF)
    if sec.type == SHT_RELA:
        addend = raw["addend"].astype(np.int64)
    else:
        addend = np.zeros(len(raw), np.int64)
    return raw["offset"].astype(np.uint64), sym, typ, addend
