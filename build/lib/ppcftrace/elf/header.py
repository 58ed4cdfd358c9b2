"""The ELF file header (e_ident and Ehdr): validated before anything else is read.

Only big-endian PowerPC is accepted: EM_PPC64 with ELFCLASS64 and EM_PPC with
ELFCLASS32, both ELFDATA2MSB. The ABI of a ppc64 file is in e_flags bits 0-1
(1 = ELFv1 with function descriptors, 2 = ELFv2; 0 = unspecified, which means ELFv1
for big-endian objects).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ppcftrace.elf.errors import (CorruptELF, NotELF, TruncatedELF, UnsupportedEndianness,
                                  UnsupportedMachine)

__all__ = ["Header", "parse_header", "EM_PPC", "EM_PPC64", "ET_REL", "ET_EXEC", "ET_DYN"]

ELFMAG = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
EV_CURRENT = 1
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
EM_PPC, EM_PPC64 = 20, 21

#: a few machines by number, so that the error names what the file is
MACHINES = {0: "none", 2: "SPARC", 3: "i386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64",
            22: "S/390", 40: "ARM", 43: "SPARC v9", 62: "x86-64", 183: "AArch64",
            243: "RISC-V", 258: "LoongArch"}

_EHDR = {ELFCLASS64: struct.Struct(">HHIQQQIHHHHHH"), ELFCLASS32: struct.Struct(">HHIIIIIHHHHHH")}
_SHENTSIZE = {ELFCLASS64: 64, ELFCLASS32: 40}


@dataclass(frozen=True)
class Header:
    """The fields of Elf32_Ehdr/Elf64_Ehdr that the reader uses."""

    bits: int          #: 64 or 32
    type: int          #: ET_REL, ET_EXEC, ET_DYN
    machine: int       #: EM_PPC64 or EM_PPC
    entry: int
    flags: int         #: e_flags
    shoff: int         #: file offset of the section header table
    shentsize: int
    shnum: int         #: e_shnum as stored (0 means: see section 0's sh_size)
    shstrndx: int      #: as stored (0xffff means: see section 0's sh_link)
    phoff: int
    phnum: int

    @property
    def arch(self) -> str:
        return "ppc64" if self.bits == 64 else "ppc32"

    @property
    def abi(self) -> str:
        if self.bits == 32:
            return "sysv"
        return "elfv2" if self.flags & 3 == 2 else "elfv1"


def parse_header(data: bytes, name: str | None = None) -> Header:
    """Validate e_ident and the machine, and return the header; raise an ELFError subclass."""
    if len(data) < 16 or data[:4] != ELFMAG:
        raise NotELF("not an ELF file (no \\x7fELF magic)", name=name)
    cls, enc, ver = data[4], data[5], data[6]
    if cls not in (ELFCLASS32, ELFCLASS64):
        raise NotELF(f"invalid ELF class {cls} in e_ident", name=name)
    if enc not in (ELFDATA2LSB, ELFDATA2MSB):
        raise NotELF(f"invalid ELF data encoding {enc} in e_ident", name=name)
    if ver != EV_CURRENT:
        raise NotELF(f"invalid ELF version {ver} in e_ident", name=name)
    ehdr = _EHDR[cls]
    if len(data) < 16 + ehdr.size:
        raise TruncatedELF(f"file header needs {16 + ehdr.size} bytes, file has {len(data)}",
                           name=name)
    # e_machine sits at the same offset in both byte orders' files; read it both ways
    # so that a little-endian PowerPC file is named as such.
    machine_be = int.from_bytes(data[18:20], "big")
    machine_le = int.from_bytes(data[18:20], "little")
    machine = machine_be if enc == ELFDATA2MSB else machine_le
    if machine not in (EM_PPC, EM_PPC64):
        what = MACHINES.get(machine, f"machine {machine}")
        raise UnsupportedMachine(f"ELF file for {what}, not PowerPC", name=name)
    if enc == ELFDATA2LSB:
        raise UnsupportedEndianness("little-endian PowerPC ELF; only big-endian is supported",
                                    name=name)
    want = ELFCLASS64 if machine == EM_PPC64 else ELFCLASS32
    if cls != want:
        raise UnsupportedMachine(f"{MACHINES[machine]} ELF with ELFCLASS{32 * cls}", name=name)
    (etype, _machine, _version, entry, phoff, shoff, flags, _ehsize, _phentsize, phnum,
     shentsize, shnum, shstrndx) = ehdr.unpack_from(data, 16)
    if shoff and shentsize != _SHENTSIZE[cls]:
        raise CorruptELF(f"e_shentsize is {shentsize}, expected {_SHENTSIZE[cls]}", name=name)
    return Header(bits=32 * cls, type=etype, machine=machine, entry=entry, flags=flags,
                  shoff=shoff, shentsize=shentsize, shnum=shnum, shstrndx=shstrndx,
                  phoff=phoff, phnum=phnum)
