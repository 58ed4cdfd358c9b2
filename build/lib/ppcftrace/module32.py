"""PPC32 module loading after arch/powerpc/kernel/module_32.c (2.6.29).

A 32-bit `bl` reaches ±32 MiB; a module placed further from its callee calls through
a 16-byte PLT entry in the module's `.plt` (or `.init.plt` for init code):
`lis r11,sym@ha; addi r11,r11,sym@l; mtctr r11; bctr`. There is no TOC, so calls in
range go direct and nothing follows the `bl`. Commit 3c75296562f4 (2012) switched
the entries to r12, since r11 is the EABI frame pointer that the GPR save helpers
use; `plt_reg="r12"` builds that form.
"""

from __future__ import annotations

import errno as _errno

from ppcftrace.elf.relocations import reloc_type
from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_RELA
from ppcftrace.isa.code_patching import PPC_HA, PPC_LO
from ppcftrace.module import LoadContext, ModArch, Stub, kernel_symbol

__all__ = ["PLT_ENTRY_SIZE", "PLT_TEMPLATES", "plt_entry_words", "entry_matches",
           "count_relocs", "get_plt_size", "module_frob_arch_sections", "do_plt_call",
           "apply_relocate_add", "module_finalize"]

PLT_ENTRY_SIZE = 16
#: (lis rX, addi rX,rX, mtctr rX, bctr) templates: 2008 (r11) and after 3c75296562f4 (r12)
PLT_TEMPLATES = {
    "r11": (0x3D600000, 0x396B0000, 0x7D6903A6, 0x4E800420),
    "r12": (0x3D800000, 0x398C0000, 0x7D8903A6, 0x4E800420),
}

R = {n: reloc_type("ppc32", n) for n in (
    "ADDR32", "ADDR16_LO", "ADDR16_HI", "ADDR16_HA", "REL24", "REL32")}

M32 = 0xFFFFFFFF


def _sint(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


def check_options(ctx: LoadContext) -> None:
    unknown = set(ctx.options) - {"plt_reg"}
    if unknown:
        raise ctx.fail(f"unknown load option(s) for ppc32: {', '.join(sorted(unknown))}",
                       _errno.EINVAL)
    if ctx.options.get("plt_reg", "r11") not in PLT_TEMPLATES:
        raise ctx.fail(f"plt_reg must be r11 or r12, not {ctx.options['plt_reg']!r}",
                       _errno.EINVAL)


def _template(ctx: LoadContext) -> tuple[int, ...]:
    return PLT_TEMPLATES[ctx.options.get("plt_reg", "r11")]


def plt_entry_words(val: int, plt_reg: str = "r11") -> tuple[int, int, int, int]:
    """The four words of a PLT entry that jumps to `val`."""
    lis, addi, mtctr, bctr = PLT_TEMPLATES[plt_reg]
    return (lis | PPC_HA(val & M32), addi | PPC_LO(val), mtctr, bctr)


def entry_matches(words: tuple[int, ...], val: int, plt_reg: str = "r11") -> bool:
    """True when a PLT entry's first two words already jump to `val`."""
    want = plt_entry_words(val, plt_reg)
    return words[0] == want[0] and words[1] == want[1]


# -- sizing (module_frob_arch_sections) ---------------------------------------------


def relacmp_key(entry: tuple[int, int, int, int]):
    """relacmp(): descending by r_info (sym << 8 | type), then by r_addend."""
    _off, sym, typ, addend = entry
    return (-((sym << 8) | typ), -addend)


def count_relocs(entries: list[tuple[int, int, int, int]]) -> int:
    """Distinct (symbol, addend) REL24 relocations of a sorted RELA section, plus one
    for the ftrace trampoline (CONFIG_DYNAMIC_FTRACE)."""
    count, last_sym, last_addend = 0, 0, 0
    for _off, sym, typ, addend in entries:
        if typ == R["REL24"] and (last_sym != sym or last_addend != addend):
            count += 1
            last_sym, last_addend = sym, addend
    return count + 1


def get_plt_size(ctx: LoadContext, is_init: bool) -> int:
    """PLT bytes for the init or core area: entries for the RELA sections whose names
    do (or do not) contain `.init`, debug sections skipped."""
    size = 0
    for s in ctx.sections[1:]:
        if (".init" in s.name) != is_init or ".debug" in s.name:
            continue
        if s.type == SHT_RELA:
            size += count_relocs(ctx.sorted_relas(s, relacmp_key)) * PLT_ENTRY_SIZE
    return size


def module_frob_arch_sections(ctx: LoadContext) -> None:
    """Find (or add) .plt and .init.plt and size them."""
    core = ctx.section(".plt")
    init = ctx.section(".init.plt")
    # what <asm/module.h> declares in every module: .section .plt,"ax",@nobits
    if core is None:
        core = ctx.add_section(".plt", SHT_NOBITS, SHF_ALLOC | SHF_EXECINSTR, 8)
    if init is None:
        init = ctx.add_section(".init.plt", SHT_NOBITS, SHF_ALLOC | SHF_EXECINSTR, 8)
    core.size = get_plt_size(ctx, False)
    init.size = get_plt_size(ctx, True)
    ctx.core_plt, ctx.init_plt = core, init


# -- PLT entries ----------------------------------------------------------------------


def do_plt_call(ctx: LoadContext, location: int, val: int) -> int:
    """The PLT entry (core or init, by where the call is) that jumps to `val`:
    an existing one, else the next free one."""
    in_core = ctx.core_base <= location < ctx.core_base + ctx.core_size
    plt = ctx.core_plt if in_core else ctx.init_plt
    reg = ctx.options.get("plt_reg", "r11")
    entry = plt.addr
    while ctx.read(entry, 4):
        if entry_matches((ctx.read(entry, 4), ctx.read(entry + 4, 4)), val, reg):
            return entry
        entry += PLT_ENTRY_SIZE
    if entry + PLT_ENTRY_SIZE > plt.addr + plt.size:
        # the kernel would write past its PLT here
        raise ctx.fail(f"{plt.name} overflow: {plt.size // PLT_ENTRY_SIZE} entries in use")
    for i, word in enumerate(plt_entry_words(val, reg)):
        ctx.write(entry + 4 * i, 4, word)
    return entry


def apply_relocate_add(ctx: LoadContext, rsec) -> None:
    """Apply one RELA section; then make the PLT entry to ftrace_caller."""
    target = ctx.sections[rsec.info]
    for offset, sym, typ, addend in ctx.sorted_relas(rsec, relacmp_key):
        location = (target.addr + offset) & M32
        value = (ctx.symval[sym] + addend) & M32
        if typ == R["ADDR32"]:
            ctx.write(location, 4, value)
        elif typ == R["ADDR16_LO"]:
            ctx.write(location, 2, value)
        elif typ == R["ADDR16_HI"]:
            ctx.write(location, 2, value >> 16)
        elif typ == R["ADDR16_HA"]:
            ctx.write(location, 2, (value + 0x8000) >> 16)
        elif typ == R["REL24"]:
            if not -0x02000000 <= _sint(value - location) < 0x02000000:
                value = do_plt_call(ctx, location, value)
            ctx.write(location, 4, (ctx.read(location, 4) & ~0x03FFFFFC)
                      | ((value - location) & 0x03FFFFFC))
        elif typ == R["REL32"]:
            ctx.write(location, 4, value - location)
        else:
            raise ctx.fail(f"unknown ADD relocation: {typ}")
    caller = kernel_symbol(ctx.machine, "ftrace_caller")
    if caller is not None:
        ctx.arch_tramp = do_plt_call(ctx, ctx.core_base, caller)


def module_finalize(ctx: LoadContext) -> ModArch:
    """The module's arch state: the trampoline and the PLT entries in use."""
    entries = []
    for plt in (ctx.core_plt, ctx.init_plt):
        if plt.offset is None:
            continue
        for at in range(plt.addr, plt.addr + plt.size, PLT_ENTRY_SIZE):
            words = tuple(ctx.read(at + 4 * k, 4) for k in range(4))
            if not words[0]:
                break
            target = ((words[0] & 0xFFFF) << 16) + ((words[1] & 0xFFFF) ^ 0x8000) - 0x8000
            entries.append(Stub(at, target & M32, words))
    return ModArch(toc=None, tramp=ctx.arch_tramp, stubs=entries)


def extra_code_symbols(ctx: LoadContext, symbols: dict[str, int]) -> dict[str, int]:
    return {}
