"""PPC64 module loading after arch/powerpc/kernel/module_64.c (2.6.29, with commit
f48cb8b48b0b for dynamic ftrace).

A module lives in vmalloc space, far beyond the 32 MiB reach of `bl` from the kernel,
and it has its own TOC. So every call to a symbol the module does not define goes
through a 48-byte stub in the module's `.stubs` section that saves the caller's r2 at
40(r1), loads the callee's entry and r2 from the descriptor copy it carries, and
jumps; the word after the `bl` — a `nop` left by the compiler — becomes
`ld r2,40(r1)` (`restore_r2`). The module's r2 (`my_r2`) is its `.toc` + 0x8000, or
`.stubs` + 0x8000 when it has no `.toc`.
"""

from __future__ import annotations

import errno as _errno

from ppcftrace.elf.relocations import reloc_type
from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_RELA
from ppcftrace.elf.symbols import SHN_UNDEF
from ppcftrace.isa.code_patching import PPC_HA, PPC_LO
from ppcftrace.isa.ppc_opcode import PPC_INST_LD_TOC, PPC_INST_NOP
from ppcftrace.memory import MemoryFault
from ppcftrace.module import LoadContext, ModArch, Stub, kernel_symbol

__all__ = ["PPC64_STUB", "STUB_SIZE", "create_stub_words", "stub_words_for",
           "count_relocs", "get_stubs_size", "my_r2", "module_frob_arch_sections",
           "apply_relocate_add", "stub_for_addr", "restore_r2", "module_finalize"]

#: the stub template: addis r12,r2,HA; addi r12,r12,LO; std r2,40(r1);
#: ld r11,32(r12); ld r2,40(r12); mtctr r11; bctr
PPC64_STUB = (0x3D820000, 0x398C0000, 0xF8410028, 0xE96C0020, 0xE84C0028,
              0x7D6903A6, 0x4E800420)
#: sizeof(struct ppc64_stub_entry): 28 bytes of code, 4 unused, funcaddr, r2
STUB_SIZE = 48

R = {n: reloc_type("ppc64", n) for n in (
    "ADDR32", "ADDR64", "TOC", "TOC16", "TOC16_DS", "TOC16_LO", "TOC16_HI", "TOC16_HA",
    "TOC16_LO_DS", "REL24", "REL64", "REL32", "ADDR16_LO", "ADDR16_HI", "ADDR16_HA",
    "ADDR16_LO_DS", "ADDR16_HIGHER", "ADDR16_HIGHERA", "ADDR16_HIGHEST", "ADDR16_HIGHESTA")}

M64 = (1 << 64) - 1


def _slong(v: int) -> int:
    """`v` as a C long."""
    v &= M64
    return v - (1 << 64) if v >> 63 else v


def check_options(ctx: LoadContext) -> None:
    if ctx.options:
        unknown = set(ctx.options)
        raise ctx.fail(f"unknown load option(s) for ppc64: {', '.join(sorted(unknown))}",
                       _errno.EINVAL)


def create_stub_words(reladdr: int) -> tuple[int, ...]:
    """The seven instruction words of a stub at `reladdr` bytes from the module's r2."""
    words = list(PPC64_STUB)
    words[0] |= PPC_HA(reladdr)
    words[1] |= PPC_LO(reladdr)
    return tuple(words)


def stub_words_for(stub_address: int, r2: int) -> tuple[int, ...]:
    """`create_stub_words` for a stub at `stub_address` of a module whose r2 is `r2`."""
    return create_stub_words(_slong(stub_address - r2))


# -- sizing (module_frob_arch_sections) ---------------------------------------------


def relacmp_key(entry: tuple[int, int, int, int]):
    """relacmp(): descending by r_info (sym << 32 | type), then by r_addend."""
    _off, sym, typ, addend = entry
    return (-((sym << 32) | typ), -addend)


def count_relocs(entries: list[tuple[int, int, int, int]]) -> int:
    """Distinct (symbol, addend) REL24 relocations of a sorted RELA section."""
    count, last_sym, last_addend = 0, 0, 0
    for _off, sym, typ, addend in entries:
        if typ == R["REL24"] and (last_sym != sym or last_addend != addend):
            count += 1
            last_sym, last_addend = sym, addend
    return count


def get_stubs_size(ctx: LoadContext) -> int:
    """Bytes of stubs the module may need: one per distinct REL24 target, one 0-funcaddr
    terminator, and one for the ftrace_caller trampoline (CONFIG_DYNAMIC_FTRACE)."""
    relocs = 1
    for s in ctx.sections:
        if s.type == SHT_RELA:
            relocs += count_relocs(ctx.sorted_relas(s, relacmp_key))
    relocs += 1
    return relocs * STUB_SIZE


def module_frob_arch_sections(ctx: LoadContext) -> None:
    """Find .stubs and .toc, rename .init to _init, dedotify undefined symbols, size
    .stubs."""
    stubs = toc = None
    for s in ctx.sections:
        if s.name == ".stubs":
            stubs = s
        elif s.name == ".toc":
            toc = s
        # "We don't handle .init for the moment: rename to _init"
        s.name = s.name.replace(".init", "_init")
    # undefined symbols which refer to .funcname resolve as funcname (dedotify)
    for i, sym in enumerate(ctx.symbols):
        if i and sym.shndx == SHN_UNDEF and ctx.symnames[i].startswith("."):
            ctx.symnames[i] = ctx.symnames[i][1:]
    if stubs is None:
        # what <asm/module.h> declares in every module: .section .stubs,"ax",@nobits
        stubs = ctx.add_section(".stubs", SHT_NOBITS, SHF_ALLOC | SHF_EXECINSTR, 8)
    ctx.stubs_section = stubs
    # "If we don't have a .toc, just use .stubs."
    ctx.toc_section = toc if toc is not None else stubs
    stubs.size = get_stubs_size(ctx)


def my_r2(ctx: LoadContext) -> int:
    """The module's TOC pointer: .toc (or .stubs) + 0x8000."""
    return (ctx.toc_section.addr + 0x8000) & M64


# -- stubs --------------------------------------------------------------------------


def create_stub(ctx: LoadContext, entry: int, funcaddr: int, r2: int) -> bool:
    """Fill the stub at `entry`; False (after the kernel's message) when out of range."""
    reladdr = _slong(entry - my_r2(ctx))
    if reladdr > 0x7FFFFFFF or reladdr < -0x80000000:
        ctx.message = (f"Address {reladdr & M64:016x} of stub out of range of "
                       f"{my_r2(ctx):016x}.")
        return False
    for i, word in enumerate(create_stub_words(reladdr)):
        ctx.write(entry + 4 * i, 4, word)
    ctx.write(entry + 32, 8, funcaddr)
    ctx.write(entry + 40, 8, r2)
    return True


def stub_for_addr(ctx: LoadContext, opdaddr: int) -> int:
    """The stub that calls the function described by the descriptor at `opdaddr`:
    an existing one with the same funcaddr, else a new one in the first free slot.
    Returns 0 when no stub can be made (the kernel's failure value)."""
    try:
        funcaddr, r2 = ctx.read(opdaddr, 8), ctx.read(opdaddr + 8, 8)
    except MemoryFault as exc:  # the kernel would oops on the load
        raise ctx.fail(f"cannot read function descriptor at {opdaddr:#x}: {exc}") from exc
    stubs = ctx.stubs_section
    num_stubs = stubs.size // STUB_SIZE
    i = 0
    while True:
        if i >= num_stubs:  # BUG_ON(i >= num_stubs)
            raise ctx.fail(f"kernel BUG: all {num_stubs} stubs in use")
        entry = stubs.addr + i * STUB_SIZE
        used = ctx.read(entry + 32, 8)
        if not used:
            break
        if used == funcaddr:
            return entry
        i += 1
    if not create_stub(ctx, entry, funcaddr, r2):
        return 0
    return entry


def restore_r2(ctx: LoadContext, instruction: int) -> bool:
    """Turn the `nop` at `instruction` into `ld r2,40(r1)`; False if it is not a nop."""
    word = ctx.read(instruction, 4)
    if word != PPC_INST_NOP:
        ctx.message = f"Expect noop after relocate, got {word:08x}"
        return False
    ctx.write(instruction, 4, PPC_INST_LD_TOC)
    return True


# -- relocation ---------------------------------------------------------------------


def _opd_entries(ctx: LoadContext) -> dict[int, tuple[int, int]]:
    """.opd offset → (symbol index, addend) of the R_PPC64_ADDR64 giving each entry."""
    if ctx.opd_entries is not None:
        return ctx.opd_entries
    out: dict[int, tuple[int, int]] = {}
    opd = ctx.elf.section(".opd")
    if opd is not None:
        for rsec in ctx.elf.reloc_sections_for(opd):
            offs, syms, types, addends = ctx.elf.reloc_arrays(rsec)
            for off, sym, typ, add in zip(offs.tolist(), syms.tolist(), types.tolist(),
                                          addends.tolist()):
                if typ == R["ADDR64"]:
                    out[off] = (sym, add)
    ctx.opd_entries = out
    return out


def local_call_target(ctx: LoadContext, sym_index: int, value: int) -> int:
    """A REL24 to a symbol the module defines: its address — or, for a descriptor
    in the module's .opd (GCC without dot symbols), the entry, as GNU ld does."""
    sym = ctx.symbols[sym_index]
    opd = ctx.elf.section(".opd")
    if opd is None or sym.shndx != opd.index or ctx.elf.abi != "elfv1":
        return value
    offset = (value - ctx.sections[opd.index].addr) & M64
    entry = _opd_entries(ctx).get(offset)
    if entry is None:
        return value
    target_sym, addend = entry
    return (ctx.symval[target_sym] + addend) & M64


#: the R_PPC64_TOC16* types: values relative to the module's r2
TOC16_TYPES = frozenset(R[n] for n in ("TOC16", "TOC16_DS", "TOC16_LO", "TOC16_LO_DS",
                                       "TOC16_HA", "TOC16_HI"))


def apply_toc16(ctx: LoadContext, typ: int, location: int, value: int, r2: int) -> None:
    """One R_PPC64_TOC16* relocation; the kernel's overflow and alignment checks."""
    value = (value - r2) & M64
    if typ == R["TOC16"]:
        if (value + 0x8000) & M64 > 0xFFFF:
            raise ctx.fail(f"bad TOC16 relocation ({value})")
        ctx.write(location, 2, value & 0xFFFF)
    elif typ == R["TOC16_DS"]:
        if value & 3 or (value + 0x8000) & M64 > 0xFFFF:
            raise ctx.fail(f"bad TOC16_DS relocation ({value})")
        ctx.write(location, 2, (ctx.read(location, 2) & ~0xFFFC) | (value & 0xFFFC))
    elif typ == R["TOC16_LO"]:
        ctx.write(location, 2, value & 0xFFFF)
    elif typ == R["TOC16_LO_DS"]:
        if value & 3:
            raise ctx.fail(f"bad TOC16_LO_DS relocation ({value})")
        ctx.write(location, 2, (ctx.read(location, 2) & ~0xFFFC) | (value & 0xFFFC))
    elif typ == R["TOC16_HA"]:
        ctx.write(location, 2, PPC_HA(value))
    else:  # TOC16_HI
        ctx.write(location, 2, (value >> 16) & 0xFFFF)


def write_rel24(ctx: LoadContext, location: int, target: int) -> None:
    """Point the `bl` at `location` to `target`: bits 2-25 only, "REL24 %li out of range!"."""
    value = (target - location) & M64
    if (value + 0x2000000) & M64 > 0x3FFFFFF or value & 3:
        raise ctx.fail(f"REL24 {_slong(value)} out of range!")
    ctx.write(location, 4, (ctx.read(location, 4) & ~0x03FFFFFC) | (value & 0x03FFFFFC))


def write_rel32(ctx: LoadContext, location: int, target: int) -> None:
    """A 32-bit PC-relative word, which must fit."""
    value = (target - location) & M64
    if (value + 0x80000000) & M64 > 0xFFFFFFFF:
        raise ctx.fail(f"REL32 {_slong(value)} out of range!")
    ctx.write(location, 4, value)


def apply_relocate_add(ctx: LoadContext, rsec) -> None:
    """Apply one RELA section; then set arch.toc and make the ftrace trampoline."""
    target = ctx.sections[rsec.info]
    r2 = my_r2(ctx)
    for offset, sym, typ, addend in ctx.sorted_relas(rsec, relacmp_key):
        location = (target.addr + offset) & M64
        value = (ctx.symval[sym] + addend) & M64
        if typ == R["ADDR32"]:
            ctx.write(location, 4, value)
        elif typ == R["ADDR64"]:
            ctx.write(location, 8, value)
        elif typ == R["TOC"]:
            ctx.write(location, 8, r2)
        elif typ in TOC16_TYPES:
            apply_toc16(ctx, typ, location, value, r2)
        elif typ == R["REL24"]:
            if ctx.symbols[sym].shndx == SHN_UNDEF:
                # External: go via stub
                value = stub_for_addr(ctx, value)
                if not value:
                    raise ctx.fail(ctx.message, _errno.ENOENT)
                if not restore_r2(ctx, location + 4):
                    raise ctx.fail(ctx.message)
            else:
                value = local_call_target(ctx, sym, value)
            write_rel24(ctx, location, value)
        elif typ == R["REL64"]:
            ctx.write(location, 8, value - location)
        elif typ == R["REL32"]:
            write_rel32(ctx, location, value)
        elif typ in (R["ADDR16_LO"], R["ADDR16_HI"], R["ADDR16_HA"], R["ADDR16_LO_DS"],
                     R["ADDR16_HIGHER"], R["ADDR16_HIGHERA"], R["ADDR16_HIGHEST"],
                     R["ADDR16_HIGHESTA"]):
            ctx.write(location, 2, _addr16(typ, value, ctx.read(location, 2)))
        else:
            raise ctx.fail(f"Unknown ADD relocation: {typ}")
    _make_tramp(ctx)


def _addr16(typ: int, value: int, old: int) -> int:
    """The ADDR16_* halves (not in the 2008 loader; computed as GNU ld does)."""
    if typ == R["ADDR16_LO"]:
        return value & 0xFFFF
    if typ == R["ADDR16_LO_DS"]:
        return (old & 3) | (value & 0xFFFC)
    if typ == R["ADDR16_HI"]:
        return (value >> 16) & 0xFFFF
    if typ == R["ADDR16_HA"]:
        return PPC_HA(value)
    if typ == R["ADDR16_HIGHER"]:
        return (value >> 32) & 0xFFFF
    if typ == R["ADDR16_HIGHERA"]:
        return ((value + 0x8000) >> 32) & 0xFFFF
    if typ == R["ADDR16_HIGHEST"]:
        return (value >> 48) & 0xFFFF
    return ((value + 0x8000) >> 48) & 0xFFFF


def ftrace_caller_descriptor(ctx: LoadContext) -> int | None:
    """`(unsigned long)ftrace_caller`: the address of its descriptor in the kernel."""
    return kernel_symbol(ctx.machine, "ftrace_caller")


def _make_tramp(ctx: LoadContext) -> None:
    """End of apply_relocate_add under CONFIG_DYNAMIC_FTRACE (commit f48cb8b48b0b)."""
    opd = ftrace_caller_descriptor(ctx)
    if opd is None:
        return  # a kernel without dynamic ftrace
    tramp = stub_for_addr(ctx, opd)
    if not tramp:
        raise ctx.fail(ctx.message, _errno.ENOENT)
    ctx.arch_tramp = tramp


def module_finalize(ctx: LoadContext) -> ModArch:
    """The module's arch state: r2, the trampoline, the stubs in use."""
    stubs = []
    area = ctx.stubs_section
    for i in range(area.size // STUB_SIZE):
        at = area.addr + i * STUB_SIZE
        funcaddr = ctx.read(at + 32, 8)
        if not funcaddr:
            break
        words = tuple(ctx.read(at + 4 * k, 4) for k in range(7))
        stubs.append(Stub(at, funcaddr, words, ctx.read(at + 40, 8)))
    return ModArch(toc=my_r2(ctx), tramp=ctx.arch_tramp, stubs=stubs)


def extra_code_symbols(ctx: LoadContext, symbols: dict[str, int]) -> dict[str, int]:
    """Dot names for the entries of the module's descriptors (`.foo` for `foo`)."""
    opd = ctx.section(".opd")
    out: dict[str, int] = {}
    if opd is None or opd.offset is None or ctx.elf.abi != "elfv1":
        return out
    for sym, name in zip(ctx.symbols, ctx.symnames):
        if name and sym.shndx == opd.index and sym.type in ("FUNC", "NOTYPE") \
                and "." + name not in symbols:
            out["." + name] = ctx.read(opd.addr + sym.value, 8)
    return out
