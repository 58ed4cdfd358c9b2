"""GNU ld as a second opinion on a loaded module.

`ld_placement(machine, module)` links the module's object with GNU ld, placing each
section where the loader put it, with the module's r2 as `.TOC.` and every external
symbol defined: a symbol the module only calls at the stub or PLT entry the loader made
for it (so ld branches there directly, as the loader does), any other at its exported
value. The bytes ld writes are then what the loader's must be, except the words
`restore_r2` changed (ld leaves those `nop`s, having made no stub). Needs the cross
binutils (`ppcftrace.toolchain`); used by the tests and the chapters.
"""

from __future__ import annotations

import os
import tempfile

from ppcftrace.elf import ElfFile
from ppcftrace.elf.sections import SHF_ALLOC, SHT_NOBITS, SHT_RELA
from ppcftrace.elf.symbols import SHN_UNDEF
from ppcftrace.toolchain import run, tool

__all__ = ["ld_placement", "linker_script", "restore_r2_slots", "external_symbols"]

_LD_OPTIONS = {
    "ppc64": ["--no-opd-optimize", "--no-toc-optimize", "--no-toc-sort",
              "--no-plt-align", "--no-tls-optimize"],
    "ppc32": ["--no-tls-optimize"],
}


def _rel24(arch: str) -> int:
    return 10  # R_PPC_REL24 and R_PPC64_REL24 share the number


def external_symbols(elf: ElfFile) -> dict[str, set[int]]:
    """Undefined symbol name (dot stripped) → relocation types that refer to it."""
    out: dict[str, set[int]] = {}
    for rsec in elf.reloc_sections:
        if rsec.type != SHT_RELA or not elf.sections[rsec.info].flags & SHF_ALLOC:
            continue
        for r in elf.relocations(rsec):
            if r.symbol is not None and r.symbol.shndx == SHN_UNDEF and r.symbol.name:
                out.setdefault(r.symbol.name, set()).add(r.type)
    return out


def restore_r2_slots(machine, module) -> set[int]:
    """Addresses of the words after external REL24 calls (PPC64 restore_r2 slots)."""
    elf = module.obj
    if machine.arch != "ppc64":
        return set()
    out = set()
    for rsec in elf.reloc_sections:
        target = elf.sections[rsec.info]
        if target.name not in module.sections:
            continue
        base = module.sections[target.name][0]
        for r in elf.relocations(rsec):
            if r.type == _rel24("ppc64") and r.symbol is not None and \
                    r.symbol.shndx == SHN_UNDEF:
                out.add(base + r.offset + 4)
    return out


def _definitions(machine, module) -> dict[str, int]:
    """The value ld should give each external symbol of the module."""
    from ppcftrace.module import resolve_symbol, LoadContext

    ctx = LoadContext(machine, module.obj, module.name, {})
    stubs = {s.target: s.address for s in module.arch.stubs}
    out = {}
    for name, types in external_symbols(module.obj).items():
        plain = name[1:] if machine.arch == "ppc64" and name.startswith(".") else name
        value = resolve_symbol(ctx, plain)
        if value is None:
            continue
        if types == {_rel24(machine.arch)}:
            target = machine.memory.read_u64(value) if machine.arch == "ppc64" else value
            if target in stubs:
                value = stubs[target]
        out[name] = value
    return out


def linker_script(machine, module) -> str:
    """A script that puts each of the object's allocated sections at the loader's
    address, sets `.TOC.` (PPC64) and defines the external symbols."""
    lines = ["SECTIONS {"]
    for s in module.obj.sections:
        if s.flags & SHF_ALLOC and s.name in module.sections and s.size:
            addr = module.sections[s.name][0]
            lines.append(f"  {s.name} {addr:#x} : {{ *({s.name}) }}")
    lines.append("  /DISCARD/ : { *(*) }")
    lines.append("}")
    if machine.arch == "ppc64":
        lines.append(f".TOC. = {module.arch.toc:#x};")
    for name, value in sorted(_definitions(machine, module).items()):
        lines.append(f'"{name}" = {value:#x};')
    return "\n".join(lines) + "\n"


def ld_placement(machine, module) -> dict[str, bytes]:
    """Section name → the bytes GNU ld gives it at the loader's placement."""
    arch = machine.arch
    with tempfile.TemporaryDirectory() as d:
        obj, script, out = (os.path.join(d, n) for n in ("m.o", "m.ld", "m.x"))
        with open(obj, "wb") as f:
            f.write(module.obj.data)
        with open(script, "w") as f:
            f.write(linker_script(machine, module))
        run([tool(arch, "ld"), "-static", "-nostdlib", "-e", "0", "--no-warn-rwx-segments",
             *_LD_OPTIONS[arch], "-T", script, obj, "-o", out])
        linked = ElfFile.open(out)
        return {s.name: s.data for s in linked.sections
                if s.flags & SHF_ALLOC and s.type != SHT_NOBITS and s.name in module.sections}
