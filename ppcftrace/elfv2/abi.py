"""The ELFv2 ABI's two entry points (64-bit ELF V2 ABI, 2014).

An ELFv2 function that needs its TOC begins with the global entry sequence

    addis r2,r12,(.TOC.-func)@ha     r12 = the function's own address,
    addi  r2,r2,(.TOC.-func)@l       set by a caller from another TOC

and a caller sharing the TOC enters after it, at the local entry point. The
distance is coded in the top three bits of the symbol's `st_other`
(`PPC64_LOCAL_ENTRY_OFFSET`, arch/powerpc/kernel/module_64.c); the kernel's
`ppc_function_entry()` (asm/code-patching.h) finds it from the code instead,
by recognising the two instructions.
"""

from __future__ import annotations

from ppcftrace.elf import ElfFile
from ppcftrace.errors import PpcftraceError

__all__ = ["NoSuchSymbol", "STO_PPC64_LOCAL_BIT", "STO_PPC64_LOCAL_MASK", "R2_STACK_OFFSET",
           "PPC64_LOCAL_ENTRY_OFFSET", "local_entry_offset", "local_entries",
           "is_global_entry_sequence", "ppc_function_entry", "ppc_global_function_entry"]

STO_PPC64_LOCAL_BIT = 5
STO_PPC64_LOCAL_MASK = 7 << STO_PPC64_LOCAL_BIT
#: where ELFv2 code saves r2 across a call through a stub (ELFv1: 40)
R2_STACK_OFFSET = 24

#: instruction templates of the global entry sequence (masking RT, RA and opcode)
OP_RT_RA_MASK = 0xFFFF0000
ADDIS_R2_R12 = 0x3C4C0000      # addis r2,r12,0
ADDI_R2_R2 = 0x38420000        # addi  r2,r2,0
LIS_R2 = 0x3C400000            # lis   r2,0 (a linker may turn the addis into this)


class NoSuchSymbol(PpcftraceError):
    """The object has no symbol of that name."""


def PPC64_LOCAL_ENTRY_OFFSET(other: int) -> int:  # noqa: N802 - the kernel's name
    """Bytes from the global to the local entry point, from a symbol's st_other."""
    return ((1 << ((other & STO_PPC64_LOCAL_MASK) >> STO_PPC64_LOCAL_BIT)) >> 2) << 2


def local_entry_offset(elf: ElfFile, name: str) -> int:
    """The local entry offset of symbol `name` in `elf` (0 if it has one entry point)."""
    sym = elf.symbol(name)
    if sym is None:
        raise NoSuchSymbol(f"{elf.name}: no symbol {name!r}")
    return PPC64_LOCAL_ENTRY_OFFSET(int(elf.symbol_array["other"][sym.index]))


def local_entries(elf: ElfFile) -> dict[str, int]:
    """Function name -> local entry offset, for every function symbol of `elf`."""
    other = elf.symbol_array["other"]
    return {s.name: PPC64_LOCAL_ENTRY_OFFSET(int(other[s.index]))
            for s in elf.symbols if s.type == "FUNC" and s.name}


def is_global_entry_sequence(first: int, second: int) -> bool:
    """True for `addis r2,r12,X` (or `lis r2,X`) followed by `addi r2,r2,Y`."""
    return ((first & OP_RT_RA_MASK) in (ADDIS_R2_R12, LIS_R2)
            and (second & OP_RT_RA_MASK) == ADDI_R2_R2)


def ppc_function_entry(memory, func: int) -> int:
    """The address to `bl` to from the same TOC: past the global entry sequence if
    the function starts with one (asm/code-patching.h, ELFv2)."""
    first, second = memory.read_u32(func), memory.read_u32(func + 4)
    return func + 8 if is_global_entry_sequence(first, second) else func


def ppc_global_function_entry(func: int) -> int:
    """On ELFv2 a function pointer is the global entry point itself."""
    return func
