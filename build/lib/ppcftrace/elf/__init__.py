"""PowerPC ELF objects and images: sections, symbols, relocations, .opd descriptors.

    >>> from ppcftrace.elf import ElfFile
    >>> elf = ElfFile.open("hello.o")      # doctest: +SKIP
    >>> elf.arch, elf.abi                  # doctest: +SKIP
    ('ppc64', 'elfv1')
"""

from ppcftrace.elf.errors import (CorruptELF, ELFError, NotELF, TruncatedELF,
                                  UnsupportedEndianness, UnsupportedMachine)
from ppcftrace.elf.file import ElfFile, Function
from ppcftrace.elf.opd import Descriptor
from ppcftrace.elf.relocations import R_PPC, R_PPC64, Relocation, reloc_type, reloc_type_name
from ppcftrace.elf.sections import Section
from ppcftrace.elf.symbols import Symbol

__all__ = ["ElfFile", "Function", "Section", "Symbol", "Relocation", "Descriptor",
           "R_PPC", "R_PPC64", "reloc_type", "reloc_type_name",
           "ELFError", "NotELF", "UnsupportedMachine", "UnsupportedEndianness",
           "TruncatedELF", "CorruptELF"]
