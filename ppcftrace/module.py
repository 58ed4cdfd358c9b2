"""Loading and unloading modules: kernel/module.c's load_module() (2.6.28) with the
arch hooks of arch/powerpc/kernel/module_64.c or module_32.c.

`load_module(machine, obj)` does what the kernel does, in its order: check the ELF
header, let the arch adjust the section table (`module_frob_arch_sections`: the
PPC64 `.stubs`, the PPC32 `.plt`/`.init.plt`), lay the sections out
(`layout_sections`), allocate them in the module area (`module_alloc`), resolve
the symbols (`simplify_symbols`: undefined ones against the kernel's and other
modules' exports), apply every RELA section (`apply_relocate_add`), then read the
module's exports and its `__mcount_loc`. All of it is built in a staging copy of
the module's memory; only when every step has succeeded is the copy mapped into the
machine, so a failure leaves the machine exactly as it was.

Two things the 2008 kernel did not need and objects from a current GCC do:
objects without `.stubs`/`.plt` sections get them as `<asm/module.h>` would have
declared them, and on PPC64 a `bl` to a descriptor symbol of the module itself (GCC
without dot symbols) branches to the descriptor's entry, as GNU ld does.
"""

from __future__ import annotations

import bisect
import errno as _errno
import os
from dataclasses import dataclass, field
from typing import Callable

from ppcftrace.elf import ElfFile, ELFError
from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHT_REL, SHT_RELA
from ppcftrace.elf.symbols import SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF
from ppcftrace.errors import PpcftraceError
from ppcftrace.modlayout import LoadSection, layout_sections, module_alloc

__all__ = ["load_module", "unload_module", "Module", "ModArch", "Stub", "ModuleError",
           "ModuleLoadError", "LoadContext", "MODULE_AREA"]

#: default module (vmalloc) area per arch: (start, end)
MODULE_AREA = {"ppc64": (0xD000000000000000, 0xD000000010000000),
               "ppc32": (0xD1000000, 0xE0000000)}


class ModuleError(PpcftraceError):
    """A module could not be loaded or unloaded; carries the kernel's errno."""


class ModuleLoadError(ModuleError):
    """load_module() failed (ENOEXEC, ENOENT, ENOMEM, EEXIST) with the kernel's message."""

    errno = _errno.ENOEXEC


@dataclass(frozen=True)
class Stub:
    """A PPC64 stub (`ppc64_stub_entry`) or a PPC32 PLT entry (`ppc_plt_entry`).

    `target` is the code address it jumps to, `toc` the r2 it loads (PPC64 only),
    `words` its instruction words.
    """

    address: int
    target: int
    words: tuple[int, ...]
    toc: int | None = None


@dataclass
class ModArch:
    """`struct mod_arch_specific`: what module_64.c/module_32.c keep per module."""

    toc: int | None = None           #: the module's r2 (PPC64)
    tramp: int | None = None         #: stub / PLT entry to ftrace_caller
    stubs: list[Stub] = field(default_factory=list)


@dataclass
class Module:
    """A loaded module: where it is and what it defines."""

    name: str
    arch_name: str
    base: int
    size: int
    sections: dict[str, tuple[int, int]]
    symbols: dict[str, int]
    exports: dict[str, int]
    arch: ModArch
    mcount_sites: list[int]
    #: where `mcount_sites` came from: the object's "__mcount_loc" (recordmcount ran at
    #: build time) or, for plain compiler output, its "relocations"
    mcount_source: str = "__mcount_loc"
    init_base: int | None = None
    init_size: int = 0
    text_size: int = 0
    regions: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()      #: modules whose exports this one resolved against
    obj: ElfFile | None = field(default=None, repr=False)
    _code: list[tuple[int, str]] = field(default_factory=list, repr=False)

    def __contains__(self, address: int) -> bool:
        return self.base <= address < self.base + self.size or (
            self.init_base is not None and self.init_base <= address < self.init_base + self.init_size)

    def lookup(self, address: int) -> tuple[str, int] | None:
        """(code symbol, offset) holding `address` — kallsyms for the module — or None."""
        if address not in self or not self._code:
            return None
        i = bisect.bisect_right(self._code, (address, "\uffff")) - 1
        if i < 0:
            return None
        start, name = self._code[i]
        return name, address - start


# -- the load context -------------------------------------------------------------


class LoadContext:
    """The kernel's view during load_module(): the edited section table, the symbol
    values, and a staging copy of the module's memory (the core and init areas)."""

    def __init__(self, machine, elf: ElfFile, name: str, options: dict):
        self.machine = machine
        self.memory = machine.memory
        self.elf = elf
        self.name = name
        self.options = options
        self.bits = elf.bits
        self.mask = (1 << self.bits) - 1
        self.sections = [LoadSection(s.index, s.name, s.type, s.flags, s.size, s.align,
                                     s.data, s.info) for s in elf.sections]
        self.symbols = elf.symbols
        self.symnames = [s.name for s in self.symbols]
        self.symval: list[int] = []
        self.relas: dict[int, list[tuple[int, int, int, int]]] = {}
        self.core_base = self.init_base = 0
        self.core_size = self.init_size = self.text_size = 0
        self.core = bytearray()
        self.init = bytearray()
        self.uses: list[str] = []
        #: the arch loader's state (mod->arch and friends) and its last printk text
        self.stubs_section: LoadSection | None = None
        self.toc_section: LoadSection | None = None
        self.arch_tramp: int | None = None
        self.opd_entries: dict | None = None
        self.core_plt: LoadSection | None = None
        self.init_plt: LoadSection | None = None
        self.message = ""

    # staging memory: big-endian accesses inside the new module, else the machine's
    def _place(self, address: int, size: int) -> tuple[bytearray, int] | None:
        address &= self.mask
        for base, buf in ((self.core_base, self.core), (self.init_base, self.init)):
            if buf and base <= address and address + size <= base + len(buf):
                return buf, address - base
        return None

    def read(self, address: int, size: int) -> int:
        place = self._place(address, size)
        if place is None:
            return int.from_bytes(self.memory.read(address, size), "big")
        buf, off = place
        return int.from_bytes(buf[off:off + size], "big")

    def write(self, address: int, size: int, value: int) -> None:
        place = self._place(address, size)
        if place is None:
            raise ModuleLoadError(f"{self.name}: relocation at {address:#x} outside the module",
                                  errno=_errno.ENOEXEC)
        buf, off = place
        buf[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "big")

    def fail(self, message: str, err: int = _errno.ENOEXEC) -> ModuleLoadError:
        """The kernel's printk line, prefixed with the module name, as an exception."""
        return ModuleLoadError(f"{self.name}: {message}", errno=err)

    def section(self, name: str) -> LoadSection | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def add_section(self, name: str, type_: int, flags: int, align: int) -> LoadSection:
        """Append an empty section, as `<asm/module.h>` declares `.stubs`/`.plt`."""
        s = LoadSection(len(self.sections), name, type_, flags, 0, align, b"")
        self.sections.append(s)
        return s

    def sorted_relas(self, rsec: LoadSection, relcmp_key) -> list[tuple[int, int, int, int]]:
        """The entries of a RELA section as (offset, sym, type, addend), sorted in place
        the way get_stubs_size()/get_plt_size() sort them."""
        if rsec.index not in self.relas:
            offs, syms, types, addends = self.elf.reloc_arrays(self.elf.sections[rsec.index])
            entries = list(zip(offs.tolist(), syms.tolist(), types.tolist(), addends.tolist()))
            entries.sort(key=relcmp_key)
            self.relas[rsec.index] = entries
        return self.relas[rsec.index]


# -- the steps of load_module ---------------------------------------------------------


def _open(obj) -> tuple[ElfFile, str | None]:
    if isinstance(obj, ElfFile):
        return obj, obj.name
    if isinstance(obj, (bytes, bytearray)):
        return ElfFile.from_bytes(bytes(obj), "<bytes>"), None
    return ElfFile.open(obj), os.fspath(obj)


def default_name(path: str | None) -> str:
    """The module name of an object path: its basename without `.o`/`.ko`."""
    base = os.path.basename(path or "module")
    for ext in (".ko", ".o"):
        if base.endswith(ext) and len(base) > len(ext):
            return base[: -len(ext)]
    return base


def _loaded(machine) -> list[Module]:
    mods = getattr(machine, "modules", None)
    if mods is None:
        mods = []
        machine.modules = mods
    return mods


def _find_module(machine, name: str) -> Module | None:
    for m in _loaded(machine):
        if m.name == name:
            return m
    return None


def _kernel_exports(machine) -> dict:
    exports = getattr(machine, "exports", None)
    return exports if exports is not None else {}


def resolve_symbol(ctx: LoadContext, name: str) -> int | None:
    """An exported symbol's value: the kernel's exports first, then loaded modules'."""
    value = _kernel_exports(ctx.machine).get(name)
    if value is not None:
        return value
    for m in _loaded(ctx.machine):
        if name in m.exports:
            if m.name not in ctx.uses:
                ctx.uses.append(m.name)
            return m.exports[name]
    return None


def kernel_symbol(machine, name: str) -> int | None:
    """The link-time address of a kernel symbol (what `(unsigned long)ftrace_caller` is)."""
    kernel = getattr(machine, "kernel", None)
    if kernel is not None and hasattr(kernel, "symbol"):
        sym = kernel.symbol(name)
        if sym is not None and sym.is_defined:
            return sym.value
    kallsyms = getattr(machine, "kallsyms", None)
    if kallsyms is not None:
        try:
            return kallsyms.address(name)
        except (KeyError, LookupError, PpcftraceError):
            return None
    return None


def simplify_symbols(ctx: LoadContext) -> None:
    """Give every symbol its final value (kernel/module.c's simplify_symbols)."""
    values = []
    unknown = None
    for sym, name in zip(ctx.symbols, ctx.symnames):
        if sym.index == 0:
            values.append(0)
        elif sym.shndx == SHN_COMMON:
            raise ctx.fail("please compile with -fno-common")
        elif sym.shndx == SHN_ABS:
            values.append(sym.value)
        elif sym.shndx == SHN_UNDEF:
            value = resolve_symbol(ctx, name)
            if value is None:
                if sym.bind != "WEAK" and unknown is None:
                    unknown = name
                value = 0
            values.append(value)
        elif sym.shndx < min(len(ctx.sections), SHN_LORESERVE):
            values.append((sym.value + ctx.sections[sym.shndx].addr) & ctx.mask)
        else:
            values.append(sym.value)
    if unknown is not None:
        raise ctx.fail(f"Unknown symbol {unknown}", _errno.ENOENT)
    ctx.symval = values


def _stage(ctx: LoadContext, area: tuple[int, int]) -> None:
    """Lay out, allocate and fill the staging copy of the core and init areas."""
    ctx.core_size, ctx.text_size, ctx.init_size = layout_sections(ctx.sections)
    taken: list[tuple[int, int]] = []
    for init in (False, True):
        size = ctx.init_size if init else ctx.core_size
        if size == 0:
            continue
        base = module_alloc(ctx.memory, area, size, taken)
        if base is None:
            raise ModuleLoadError(f"{ctx.name}: module area full ({size:#x} bytes wanted)",
                                  errno=_errno.ENOMEM)
        taken.append((base, base + size))
        if init:
            ctx.init_base, ctx.init = base, bytearray(size)
        else:
            ctx.core_base, ctx.core = base, bytearray(size)
    for s in ctx.sections:
        if s.offset is None:
            continue
        buf, base = (ctx.init, ctx.init_base) if s.init else (ctx.core, ctx.core_base)
        s.addr = base + s.offset
        if not s.nobits and s.data:
            buf[s.offset:s.offset + len(s.data)] = s.data


def _apply_relocations(ctx: LoadContext, arch) -> None:
    for rsec in list(ctx.sections):
        if rsec.type not in (SHT_RELA, SHT_REL) or not 0 < rsec.info < len(ctx.sections):
            continue
        # "Don't bother with non-allocated sections"
        if not ctx.sections[rsec.info].allocated:
            continue
        if rsec.type == SHT_REL:
            raise ctx.fail("Non-ADD RELOCATION unsupported")
        # the kernel trusts r_offset; a corrupt one must not write into a neighbour
        target = ctx.sections[rsec.info]
        for offset, _sym, _typ, _add in ctx.sorted_relas(rsec, arch.relacmp_key):
            if offset >= target.size:
                raise ctx.fail(f"relocation at {target.name}+{offset:#x} outside the "
                               f"section ({target.size:#x} bytes)")
        arch.apply_relocate_add(ctx, rsec)


def _read_ksymtab(ctx: LoadContext) -> dict[str, int]:
    """The module's EXPORT_SYMBOLs: {value, name pointer} pairs of __ksymtab*."""
    word = ctx.bits // 8
    out = {}
    for secname in ("__ksymtab", "__ksymtab_gpl"):
        s = ctx.section(secname)
        if s is None or s.offset is None:
            continue
        for at in range(s.addr, s.addr + s.size - 2 * word + 1, 2 * word):
            value, name_at = ctx.read(at, word), ctx.read(at + word, word)
            name = bytearray()
            while len(name) < 256:
                b = ctx.read(name_at + len(name), 1)
                if b == 0:
                    break
                name.append(b)
            out[name.decode("ascii", "replace")] = value
    return out


def _read_mcount_loc(ctx: LoadContext) -> list[int]:
    """The call sites the module's `__mcount_loc` lists (after relocation), zeros skipped.

    An object built without recordmcount has no `__mcount_loc`; a 2008 kernel would
    then trace none of its functions. We find its sites from the `_mcount` relocations
    instead, as recordmcount would have at build time, so plain GCC output loads as a
    kbuild-built module would (`Module.mcount_source` says which way they came).
    """
    s = ctx.section("__mcount_loc")
    if s is None or s.offset is None:
        return _sites_from_relocations(ctx)
    word = ctx.bits // 8
    sites = [ctx.read(at, word) for at in range(s.addr, s.addr + s.size - word + 1, word)]
    return [ip for ip in sites if ip]


def _sites_from_relocations(ctx: LoadContext) -> list[int]:
    """Load addresses of the `_mcount` calls the object's relocations name."""
    from ppcftrace.recordmcount import sites_from_relocations

    out = []
    for site in sites_from_relocations(ctx.elf):
        # module_64.c renames .init* to _init* so the generic loader keeps them apart
        sec = ctx.section(site.section) or ctx.section("_" + site.section[1:])
        if sec is not None and sec.offset is not None:
            out.append(sec.addr + site.offset)
    return sorted(out)


def _module_symbols(ctx: LoadContext, arch) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Name → address of the module's defined symbols (plus dot names for code), and
    the sorted code symbols kallsyms uses for lookups."""
    symbols: dict[str, int] = {}
    code: list[tuple[int, str]] = []
    for sym, name, value in zip(ctx.symbols, ctx.symnames, ctx.symval):
        if not name or sym.type in ("SECTION", "FILE") or sym.shndx in (SHN_UNDEF, SHN_ABS) \
                or sym.shndx >= min(len(ctx.sections), SHN_LORESERVE):
            continue
        sec = ctx.sections[sym.shndx]
        if sec.offset is None:
            continue
        if sym.bind == "LOCAL" and name in symbols:
            continue
        symbols[name] = value
        if sec.flags & SHF_EXECINSTR and sym.type in ("FUNC", "NOTYPE"):
            code.append((value, name))
    for name, entry in arch.extra_code_symbols(ctx, symbols).items():
        symbols.setdefault(name, entry)
        code.append((entry, name))
    return symbols, sorted(set(code))


def _sections_map(ctx: LoadContext) -> dict[str, tuple[int, int]]:
    return {s.name: (s.addr, s.size) for s in ctx.sections
            if s.offset is not None and not (s.init and not ctx.init_size)}


def _arch_loader(arch: str, abi: str | None = None):
    if arch == "ppc64" and abi == "elfv2":
        # module_64.c's ELFv2 branches (Chapter 10); it also rejects mixed ABIs
        from ppcftrace import module64v2
        return module64v2
    if arch == "ppc64":
        from ppcftrace import module64
        return module64
    from ppcftrace import module32
    return module32


def load_module(machine, obj, name: str | None = None, **options) -> Module:
    """Load an object into `machine` as kernel/module.c's load_module() does.

    `obj` is a path, an `ElfFile` or the bytes of a relocatable object. Options go
    to the arch loader (PPC32: `plt_reg="r11"|"r12"`). Raises `ModuleLoadError` with
    the kernel's errno and message; on failure the machine is unchanged.
    """
    try:
        elf, path = _open(obj)
    except ELFError as exc:
        # the ELF error names the file already
        raise ModuleLoadError(f"{name + ': ' if name else ''}{exc}",
                              errno=_errno.ENOEXEC) from exc
    name = name or default_name(path)
    arch_name = machine.arch
    if not elf.is_relocatable or elf.arch != arch_name:
        raise ModuleLoadError(f"{name}: not a relocatable {arch_name} object "
                              f"({elf.arch}, {'ET_REL' if elf.is_relocatable else 'linked'})",
                              errno=_errno.ENOEXEC)
    if _find_module(machine, name) is not None:
        raise ModuleLoadError(f"{name}: module is already loaded", errno=_errno.EEXIST)
    kernel_abi = getattr(getattr(machine, "kernel", None), "abi", None)
    arch = _arch_loader(arch_name, "elfv2" if "elfv2" in (elf.abi, kernel_abi) else elf.abi)
    try:
        ctx = LoadContext(machine, elf, name, options)
        arch.check_options(ctx)
        # .modinfo and __versions stay in the file; they are not loaded
        for s in ctx.sections:
            if s.name in (".modinfo", "__versions"):
                s.flags &= ~SHF_ALLOC
        arch.module_frob_arch_sections(ctx)
        _stage(ctx, _module_area(machine))
        simplify_symbols(ctx)
        _apply_relocations(ctx, arch)
        modarch = arch.module_finalize(ctx)
        exports = _read_ksymtab(ctx)
        sites = _read_mcount_loc(ctx)
        source = "__mcount_loc" if ctx.section("__mcount_loc") is not None else "relocations"
        symbols, code = _module_symbols(ctx, arch)
    except ELFError as exc:
        raise ModuleLoadError(f"{name}: {exc}", errno=_errno.ENOEXEC) from exc
    module = Module(name=name, arch_name=arch_name, base=ctx.core_base, size=ctx.core_size,
                    sections=_sections_map(ctx), symbols=symbols, exports=exports,
                    arch=modarch, mcount_sites=sites, mcount_source=source,
                    init_base=ctx.init_base if ctx.init_size else None,
                    init_size=ctx.init_size, text_size=ctx.text_size,
                    uses=tuple(ctx.uses), obj=elf, _code=code)
    _commit(machine, ctx, module)
    return module


def _module_area(machine) -> tuple[int, int]:
    area = getattr(machine, "module_area", None)
    if area is None:
        return MODULE_AREA[machine.arch]
    if isinstance(area, int):
        return area, area + (MODULE_AREA[machine.arch][1] - MODULE_AREA[machine.arch][0])
    if hasattr(area, "start"):
        return area.start, getattr(area, "end", area.start + area.size)
    return tuple(area)


def _commit(machine, ctx: LoadContext, module: Module) -> None:
    """Map the staged module, register it, tell the notifiers; undo all on failure."""
    memory = machine.memory
    regions = []
    if ctx.core_size:
        memory.map(f"module:{module.name}", ctx.core_base, ctx.core_size, "rwx",
                   data=bytes(ctx.core))
        regions.append(f"module:{module.name}")
    if ctx.init_size:
        memory.map(f"module:{module.name}:init", ctx.init_base, ctx.init_size, "rwx",
                   data=bytes(ctx.init))
        regions.append(f"module:{module.name}:init")
    module.regions = tuple(regions)
    _loaded(machine).append(module)
    told = []
    try:
        for fn in list(_notifiers(machine)):
            fn("load", module)
            told.append(fn)
    except BaseException:
        for fn in reversed(told):
            try:
                fn("unload", module)
            except Exception:  # noqa: BLE001 - rolling back; the first error wins
                pass
        _forget(machine, module)
        raise


def _notifiers(machine) -> list[Callable]:
    fns = getattr(machine, "module_notifiers", None)
    if fns is None:
        fns = []
        machine.module_notifiers = fns
    return fns


def _forget(machine, module: Module) -> None:
    for region in module.regions:
        machine.memory.unmap(region)
    mods = _loaded(machine)
    if module in mods:
        mods.remove(module)


def unload_module(machine, name: str) -> Module:
    """Remove a module (delete_module): notifiers first, then its memory and symbols."""
    module = _find_module(machine, name)
    if module is None:
        raise ModuleError(f"{name}: no such module loaded", errno=_errno.ENOENT)
    users = [m.name for m in _loaded(machine) if name in m.uses]
    if users:
        raise ModuleError(f"{name}: module is in use by {', '.join(users)}",
                          errno=_errno.EWOULDBLOCK)
    for fn in list(_notifiers(machine)):
        fn("unload", module)
    _forget(machine, module)
    return module


def module_lookup(machine, address: int) -> tuple[Module, str, int] | None:
    """(module, symbol, offset) for an address inside a loaded module, or None."""
    for m in _loaded(machine):
        if address in m:
            found = m.lookup(address)
            if found is not None:
                return m, found[0], found[1]
            return m, "", address - m.base
    return None
