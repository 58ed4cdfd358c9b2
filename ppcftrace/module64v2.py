"""PPC64 ELFv2 module loading: the `#ifdef` branches module_64.c grew after 2008.

ELFv2 support (Linux 3.16, 2014) and `-mprofile-kernel` (4.6, 2016) changed four
things in arch/powerpc/kernel/module_64.c; the rest is `module64`'s, reused here:

- A call to another TOC enters at the callee's global entry point with the
  target in r12, so the stub loads the target into r12 and sets no r2 (the
  callee derives its own): `addis r11,r2,HA; addi r11,r11,LO; std r2,24(r1);
  ld r12,32(r11); mtctr r12; bctr`. After it the caller restores r2 from
  24(r1), not 40(r1). A call inside the module goes to the local entry point
  (`st_other`), past the callee's TOC setup.
- `.TOC.` is a symbol the module refers to (`R_PPC64_REL16_HA/LO` in each global
  entry sequence): `dedotify()` makes it absolute, `apply_relocate_add()` gives
  it the module's r2.
- A `-mprofile-kernel` site calls `_mcount` before its function has set up r2,
  so the stub to `ftrace_caller` must not use r2. The kernel's loads the kernel
  TOC from the paca (`ld r12,PACATOC(r13)`); ours, for a machine without a
  paca, builds the address as a 64-bit immediate in r12. There is no nop to
  turn into a TOC restore after `bl _mcount`.
- Every stub carries `STUB_MAGIC` (0x73747562, "stub") after its code, so
  ftrace can tell a stub from anything else before reading its target.

`struct ppc64_stub_entry` is then 7 instruction words, the magic word and the
8-byte target: 40 bytes.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import replace

from ppcftrace.elf.relocations import reloc_type
from ppcftrace.elf.sections import SHT_RELA
from ppcftrace.elf.symbols import SHN_ABS, SHN_UNDEF
from ppcftrace.elfv2.abi import PPC64_LOCAL_ENTRY_OFFSET
from ppcftrace.isa.code_patching import PPC_HA, PPC_LO
from ppcftrace.isa.ppc_opcode import PPC_INST_LD_TOC_ELFV2, PPC_INST_NOP
from ppcftrace.module import LoadContext, ModArch, Stub, kernel_symbol
from ppcftrace import module64
from ppcftrace.module64 import (M64, TOC16_TYPES, _addr16, _slong, apply_toc16, count_relocs, my_r2,
                                relacmp_key, write_rel24, write_rel32)

__all__ = ["PPC64_STUB_ELFV2", "FTRACE_STUB", "STUB_MAGIC", "STUB_SIZE", "MAGIC_OFFSET",
           "FUNCDATA_OFFSET", "create_stub_words", "create_ftrace_stub_words",
           "is_mprofile_ftrace_call", "get_stubs_size", "module_frob_arch_sections",
           "apply_relocate_add", "stub_for_addr", "restore_r2", "module_finalize",
           "relacmp_key"]

#: addis r11,r2,HA; addi r11,r11,LO; std r2,24(r1); ld r12,32(r11); mtctr r12; bctr
#: (the kernel copies these six words; the seventh slot stays zero)
PPC64_STUB_ELFV2 = (0x3D620000, 0x396B0000, 0xF8410018, 0xE98B0020, 0x7D8903A6, 0x4E800420)
#: lis r12,A@highest; ori r12,r12,A@higher; sldi r12,r12,32; oris r12,r12,A@high;
#: ori r12,r12,A@l; mtctr r12; bctr — no r2, no r13: the target as an immediate
FTRACE_STUB = (0x3D800000, 0x618C0000, 0x798C07C6, 0x658C0000, 0x618C0000, 0x7D8903A6,
               0x4E800420)
STUB_MAGIC = 0x73747562     #: "stub"
MAGIC_OFFSET = 28           #: after jump[7]
FUNCDATA_OFFSET = 32        #: the target address (ELFv2's func_desc_t)
STUB_SIZE = 40              #: sizeof(struct ppc64_stub_entry) on ELFv2

R = {n: reloc_type("ppc64", n) for n in (
    "ADDR32", "ADDR64", "TOC", "TOC16", "TOC16_DS", "TOC16_LO", "TOC16_HI", "TOC16_HA",
    "TOC16_LO_DS", "REL24", "REL64", "REL32", "REL16_LO", "REL16_HI", "REL16_HA",
    "TOCSAVE", "ENTRY", "ADDR16_LO", "ADDR16_HI", "ADDR16_HA", "ADDR16_LO_DS",
    "ADDR16_HIGHER", "ADDR16_HIGHERA", "ADDR16_HIGHEST", "ADDR16_HIGHESTA")}
_ADDR16 = {R[n] for n in ("ADDR16_LO", "ADDR16_HI", "ADDR16_HA", "ADDR16_LO_DS",
                          "ADDR16_HIGHER", "ADDR16_HIGHERA", "ADDR16_HIGHEST",
                          "ADDR16_HIGHESTA")}


def create_stub_words(reladdr: int) -> tuple[int, ...]:
    """The seven jump words of an ELFv2 stub `reladdr` bytes from the module's r2."""
    words = list(PPC64_STUB_ELFV2) + [0]
    words[0] |= PPC_HA(reladdr)
    words[1] |= PPC_LO(reladdr)
    return tuple(words)


def create_ftrace_stub_words(addr: int) -> tuple[int, ...]:
    """The seven words of the ftrace stub: `addr` built in r12 16 bits at a time."""
    parts = ((addr >> 48) & 0xFFFF, (addr >> 32) & 0xFFFF, 0, (addr >> 16) & 0xFFFF,
             addr & 0xFFFF, 0, 0)
    return tuple(w | p for w, p in zip(FTRACE_STUB, parts))


def is_mprofile_ftrace_call(name: str) -> bool:
    """Calls that -mprofile-kernel makes before r2 is set up: `_mcount`, `ftrace_caller`."""
    return name in ("_mcount", "ftrace_caller")


def _module_abi_ok(ctx: LoadContext) -> bool:
    """module_elf_check_arch(): an ELFv2 kernel takes only ELFv2 modules, and back."""
    kernel = getattr(ctx.machine, "kernel", None)
    kernel_abi = getattr(kernel, "abi", "elfv1")
    return (ctx.elf.abi == "elfv2") == (kernel_abi == "elfv2")


def check_options(ctx: LoadContext) -> None:
    if not _module_abi_ok(ctx):
        raise ctx.fail(f"ABI mismatch: {ctx.elf.abi} module, "
                       f"{getattr(ctx.machine.kernel, 'abi', 'elfv1')} kernel")
    module64.check_options(ctx)


# -- sizing ---------------------------------------------------------------------------


def get_stubs_size(ctx: LoadContext) -> int:
    """One stub per distinct REL24 target, a 0-target terminator, one for ftrace_caller."""
    relocs = 1
    for s in ctx.sections:
        if s.type == SHT_RELA:
            relocs += count_relocs(ctx.sorted_relas(s, relacmp_key))
    return (relocs + 1) * STUB_SIZE


def module_frob_arch_sections(ctx: LoadContext) -> None:
    """module64's (find .stubs/.toc, rename .init, dedotify), then make `TOC.`
    absolute as ELFv2's dedotify() does, and size .stubs for 40-byte stubs."""
    module64.module_frob_arch_sections(ctx)
    symbols = list(ctx.symbols)
    for i, sym in enumerate(symbols):
        if i and sym.shndx == SHN_UNDEF and ctx.symnames[i] == "TOC.":
            symbols[i] = replace(sym, shndx=SHN_ABS, value=0)
    ctx.symbols = symbols
    ctx.stubs_section.size = get_stubs_size(ctx)
    ctx.toc_fixed = False


# -- stubs ----------------------------------------------------------------------------


def _write_words(ctx: LoadContext, at: int, words) -> None:
    for i, word in enumerate(words):
        ctx.write(at + 4 * i, 4, word)


def create_ftrace_stub(ctx: LoadContext, entry: int, addr: int) -> bool:
    """The stub to ftrace_caller: no r2 needed on entry; LR, r0 and r2 untouched."""
    _write_words(ctx, entry, create_ftrace_stub_words(addr))
    ctx.write(entry + MAGIC_OFFSET, 4, STUB_MAGIC)
    ctx.write(entry + FUNCDATA_OFFSET, 8, addr)
    return True


def create_stub(ctx: LoadContext, entry: int, addr: int, name: str) -> bool:
    """Fill the stub at `entry` for `addr`; False (after the message) when out of range."""
    if is_mprofile_ftrace_call(name):
        return create_ftrace_stub(ctx, entry, addr)
    reladdr = _slong(entry - my_r2(ctx))
    if reladdr > 0x7FFFFFFF or reladdr < -0x80000000:
        ctx.message = f"Address {reladdr & M64:016x} of stub out of range of {my_r2(ctx):016x}."
        return False
    _write_words(ctx, entry, create_stub_words(reladdr))
    ctx.write(entry + MAGIC_OFFSET, 4, STUB_MAGIC)
    ctx.write(entry + FUNCDATA_OFFSET, 8, addr)
    return True


def stub_for_addr(ctx: LoadContext, addr: int, name: str) -> int:
    """The stub to code address `addr`: an existing one, else a new one; 0 on failure."""
    stubs = ctx.stubs_section
    num_stubs = stubs.size // STUB_SIZE
    i = 0
    while True:
        if i >= num_stubs:  # WARN_ON(i >= num_stubs)
            ctx.message = f"all {num_stubs} stubs in use"
            return 0
        entry = stubs.addr + i * STUB_SIZE
        used = ctx.read(entry + FUNCDATA_OFFSET, 8)
        if not used:
            break
        if used == addr:
            return entry
        i += 1
    return entry if create_stub(ctx, entry, addr, name) else 0


def _is_relative_link_branch(word: int) -> bool:
    """`bl` (I-form, AA = 0, LK = 1): a call that returns, unlike a sibling call's `b`."""
    return (word & 0xFC000003) == 0x48000001


def restore_r2(ctx: LoadContext, name: str, instruction: int) -> bool:
    """Turn the nop after an external call into `ld r2,24(r1)`. Nothing to do after
    `bl _mcount` (no nop there) or after a sibling call's `b`."""
    if is_mprofile_ftrace_call(name):
        return True
    if not _is_relative_link_branch(ctx.read(instruction - 4, 4)):
        return True
    word = ctx.read(instruction, 4)
    if word != PPC_INST_NOP:
        ctx.message = f"Expected nop after call, got {word:08x} at {instruction:#x}"
        return False
    ctx.write(instruction, 4, PPC_INST_LD_TOC_ELFV2)
    return True


# -- relocation -----------------------------------------------------------------------


def _fix_dot_toc(ctx: LoadContext) -> None:
    """"First time we're called, we can fix up .TOC.": give it the module's r2."""
    if getattr(ctx, "toc_fixed", False):
        return
    for i, sym in enumerate(ctx.symbols):
        if i and sym.shndx == SHN_ABS and ctx.symnames[i] == "TOC.":
            ctx.symval[i] = my_r2(ctx)
    ctx.toc_fixed = True


def _local_entry_offset(ctx: LoadContext, sym_index: int) -> int:
    return PPC64_LOCAL_ENTRY_OFFSET(int(ctx.elf.symbol_array["other"][sym_index]))


def _half(ctx: LoadContext, location: int, value: int, mask: int = 0xFFFF) -> None:
    ctx.write(location, 2, (ctx.read(location, 2) & ~mask & 0xFFFF) | (value & mask))


def _rel24(ctx: LoadContext, location: int, sym: int, value: int) -> None:
    """A call: external ones through a stub (and restore_r2), local ones to the local
    entry point; then the 24-bit offset, bits 2-25 only."""
    name = ctx.symnames[sym]
    if ctx.symbols[sym].shndx == SHN_UNDEF:
        value = stub_for_addr(ctx, value, name)
        if not value:
            raise ctx.fail(ctx.message, _errno.ENOENT)
        if not restore_r2(ctx, name, location + 4):
            raise ctx.fail(ctx.message)
    else:
        value += _local_entry_offset(ctx, sym)
    write_rel24(ctx, location, value)


def apply_relocate_add(ctx: LoadContext, rsec) -> None:
    """Apply one RELA section of an ELFv2 module."""
    _fix_dot_toc(ctx)
    target = ctx.sections[rsec.info]
    for offset, sym, typ, addend in ctx.sorted_relas(rsec, relacmp_key):
        location = (target.addr + offset) & M64
        value = (ctx.symval[sym] + addend) & M64
        if typ == R["ADDR32"]:
            ctx.write(location, 4, value)
        elif typ == R["ADDR64"]:
            ctx.write(location, 8, value)
        elif typ == R["TOC"]:
            ctx.write(location, 8, my_r2(ctx))
        elif typ in TOC16_TYPES:
            apply_toc16(ctx, typ, location, value, my_r2(ctx))
        elif typ == R["REL24"]:
            _rel24(ctx, location, sym, value)
        elif typ == R["REL64"]:
            ctx.write(location, 8, value - location)
        elif typ == R["REL32"]:
            write_rel32(ctx, location, value)
        elif typ in (R["TOCSAVE"], R["ENTRY"]):
            pass  # markers the kernel may ignore (it optimises ENTRY; we keep the code)
        elif typ == R["REL16_HA"]:
            _half(ctx, location, ((value - location + 0x8000) & M64) >> 16)
        elif typ == R["REL16_LO"]:
            _half(ctx, location, value - location)
        elif typ == R["REL16_HI"]:
            _half(ctx, location, ((value - location) & M64) >> 16)
        elif typ in _ADDR16:
            ctx.write(location, 2, _addr16(typ, value, ctx.read(location, 2)))
        else:
            raise ctx.fail(f"Unknown ADD relocation: {typ}")


# -- after relocation -----------------------------------------------------------------


def module_finalize(ctx: LoadContext) -> ModArch:
    """Make the ftrace_caller stub once (commit 136cd3450af8) and describe the stubs."""
    tramp = None
    caller = kernel_symbol(ctx.machine, "ftrace_caller")
    if caller is not None:
        tramp = stub_for_addr(ctx, caller, "ftrace_caller")
        if not tramp:
            raise ctx.fail(ctx.message, _errno.ENOENT)
    stubs = []
    area = ctx.stubs_section
    for i in range(area.size // STUB_SIZE):
        at = area.addr + i * STUB_SIZE
        target = ctx.read(at + FUNCDATA_OFFSET, 8)
        if not target:
            break
        stubs.append(Stub(at, target, tuple(ctx.read(at + 4 * k, 4) for k in range(7))))
    return ModArch(toc=my_r2(ctx), tramp=tramp, stubs=stubs)


def extra_code_symbols(ctx: LoadContext, symbols: dict[str, int]) -> dict[str, int]:
    """ELFv2 has no dot symbols: nothing to add."""
    return {}
