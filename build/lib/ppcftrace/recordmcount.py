"""recordmcount: find every `_mcount` call site and record it in `__mcount_loc`.

After scripts/recordmcount.pl (2.6.28–2.6.30). In a relocatable object a site is a
call relocation (R_PPC64_REL24, R_PPC_REL24, R_PPC_PLTREL24) against `_mcount` or
`._mcount` in an executable section; in a linked image the sites are the words
between `__start_mcount_loc` and `__stop_mcount_loc`, cross-checked by decoding every
`bl` that lands on `_mcount`'s entry. `record_object()` then does what the script does
to a freshly compiled object: write a `__mcount_loc` assembly file with one `.quad`
(ppc64) or `.long` (ppc32) per site relative to a reference symbol, assemble it, and
link it back into the object with `ld -r`.

Run as `python -m ppcftrace.recordmcount OBJ [-o OUT]`.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ppcftrace.elf.errors import CorruptELF, ELFError
from ppcftrace.elf.file import ElfFile
from ppcftrace.elf.functions import function_names, within
from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS

__all__ = ["McountSite", "SiteColumns", "MCOUNT_NAMES", "find_sites", "site_columns",
           "sites_from_relocations", "relocation_site_columns", "sites_from_mcount_loc",
           "mcount_loc_addresses", "mcount_entry", "bl_sites", "mcount_loc_asm",
           "record_object", "RecordMcountError", "NotRelocatable"]

#: the names a profiling call may target (2008 GCC called the dot symbol)
MCOUNT_NAMES = ("_mcount", "._mcount")
MCOUNT_SECTION = "__mcount_loc"
#: call relocation types that reach _mcount: REL24 (both), PLTREL24 (ppc32 -fPIC),
#: R_PPC64_REL24_NOTOC / REL24_P9NOTOC (pcrel ELFv2)
CALL_RELOCS = {"ppc64": (10, 116, 124), "ppc32": (10, 18)}


class RecordMcountError(ELFError):
    """recordmcount cannot process this file."""


class NotRelocatable(RecordMcountError):
    """record_object() needs a relocatable object (ET_REL), not a linked image."""


class McountSite(NamedTuple):
    """One `_mcount` call: where it is, which function holds it, what it calls.

    `offset` is from the start of `section`; `address` is the absolute address in an
    image (None in an object). A named tuple: objects have tens of thousands of these.
    """

    section: str
    offset: int
    function: str | None
    symbol: str
    address: int | None = None

    def as_dict(self) -> dict:
        return {"section": self.section, "offset": self.offset, "function": self.function,
                "symbol": self.symbol}


# -- sites in objects -------------------------------------------------------------------

def _mcount_symbol_indices(elf: ElfFile) -> dict[int, str]:
    """Symbol-table indices named `_mcount` or `._mcount`, with their names."""
    table = elf.strtab.data if elf.strtab is not None else b""
    raw = elf.symbol_array
    out: dict[int, str] = {}
    for name in MCOUNT_NAMES:
        key = name.encode() + b"\0"
        # a name may share its tail with a longer one: every occurrence is a candidate
        at = table.find(key)
        offsets = []
        while at >= 0:
            offsets.append(at)
            at = table.find(key, at + 1)
        if offsets:
            for i in np.nonzero(np.isin(raw["name"], offsets))[0].tolist():
                out[i] = name
    return out


class SiteColumns(NamedTuple):
    """The sites as parallel lists (what `--json` prints for 20,000 sites without
    building 20,000 objects first)."""

    section: list[str]
    offset: list[int]
    function: list[str | None]
    symbol: list[str]


def relocation_site_columns(elf: ElfFile) -> SiteColumns:
    """The `_mcount` calls of a relocatable object, from its relocations, as columns."""
    cols = SiteColumns([], [], [], [])
    targets = _mcount_symbol_indices(elf)
    if not targets:
        return cols
    wanted = np.fromiter(targets, dtype=np.uint64)
    kinds = np.array(CALL_RELOCS[elf.arch], dtype=np.uint64)
    # per relocated code section: (offsets, symbol indices) of calls to _mcount
    hits: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for rsec in elf.reloc_sections:
        if rsec.info == 0 or not elf.sections[rsec.info].flags & SHF_EXECINSTR:
            continue
        offs, syms, types, _ = elf.reloc_arrays(rsec)
        hit = np.isin(syms, wanted) & np.isin(types, kinds)
        if hit.any():
            hits.setdefault(rsec.info, []).append((offs[hit], syms[hit]))
    if not hits:
        return cols
    table = elf.function_table
    for shndx in sorted(hits):
        offs = np.concatenate([h[0] for h in hits[shndx]])
        syms = np.concatenate([h[1] for h in hits[shndx]])
        order = np.argsort(offs, kind="stable")
        offs, syms = offs[order], syms[order]
        cols.function.extend(function_names(elf, table, table.lookup(shndx, offs)))
        cols.section.extend([elf.sections[shndx].name] * len(offs))
        cols.offset.extend(offs.tolist())
        cols.symbol.extend(targets[i] for i in syms.tolist())
    return cols


def sites_from_relocations(elf: ElfFile) -> list[McountSite]:
    """The `_mcount` calls of a relocatable object, from its relocations."""
    return list(map(McountSite, *relocation_site_columns(elf)))


def site_columns(elf: ElfFile) -> SiteColumns:
    """`find_sites` as columns."""
    if elf.is_relocatable:
        return relocation_site_columns(elf)
    sites = sites_from_mcount_loc(elf)
    return SiteColumns(*([s[k] for s in sites] for k in range(4)))


# -- sites in images --------------------------------------------------------------------

def mcount_loc_addresses(elf: ElfFile) -> np.ndarray:
    """The addresses recorded between __start_mcount_loc and __stop_mcount_loc (zeros,
    the linker's padding, skipped), in order."""
    start, stop = elf.symbol("__start_mcount_loc"), elf.symbol("__stop_mcount_loc")
    sec = elf.section(MCOUNT_SECTION)
    if start is not None and stop is not None and start.is_defined and stop.is_defined:
        holder = elf.section_at(start.value) or sec
        lo, hi = start.value, stop.value
    elif sec is not None:
        holder, lo, hi = sec, sec.addr, sec.addr + sec.size
    else:
        return np.zeros(0, np.uint64)
    if holder is None or holder.type == SHT_NOBITS or not (
            holder.addr <= lo <= hi <= holder.addr + holder.size):
        raise CorruptELF(f"__mcount_loc [{lo:#x}, {hi:#x}) is not inside a section with data",
                         name=elf.name)
    word = 8 if elf.bits == 64 else 4
    body = holder.data[lo - holder.addr: hi - holder.addr]
    addrs = np.frombuffer(body[: len(body) // word * word], dtype=">u8" if word == 8 else ">u4")
    addrs = addrs.astype(np.uint64)
    return addrs[addrs != 0]


def mcount_entry(elf: ElfFile) -> int | None:
    """The address `bl` reaches for `_mcount` (the dot symbol or descriptor entry on ELFv1)."""
    for name in ("._mcount", "_mcount"):
        addr = elf.entry_of(name)
        if addr is not None:
            return addr
    return None


def sites_from_mcount_loc(elf: ElfFile) -> list[McountSite]:
    """The sites of a linked image, from its __mcount_loc table."""
    return _image_sites(elf, mcount_loc_addresses(elf))


def _image_sites(elf: ElfFile, addrs: np.ndarray) -> list[McountSite]:
    table = elf.function_table
    symbol = "._mcount" if elf.symbol("._mcount") is not None else "_mcount"
    sites: list[McountSite] = []
    placed = np.zeros(len(addrs), bool)
    for sec in elf.sections:
        if not (sec.flags & SHF_ALLOC and sec.size) or sec.type == SHT_NOBITS:
            continue
        inside = within(addrs, sec.addr, sec.size) & ~placed   # overlaps count once
        if not inside.any():
            continue
        placed |= inside
        a = np.sort(addrs[inside])
        funcs = function_names(elf, table, table.lookup(sec.index, a))
        sites.extend(McountSite(sec.name, x - sec.addr, f, symbol, x)
                     for x, f in zip(a.tolist(), funcs))
    if not placed.all():
        bad = int(addrs[~placed][0])
        raise CorruptELF(f"__mcount_loc entry {bad:#x} is outside every section", name=elf.name)
    sites.sort(key=lambda s: s.address)
    return sites


def bl_sites(elf: ElfFile) -> list[McountSite]:
    """Cross-check for images: every `bl` in executable sections whose target is
    `_mcount`'s entry (decoded with the kernel's `is_bl_op`/`find_bl_target`)."""
    from ppcftrace.isa import find_bl_target, is_bl_op

    target = mcount_entry(elf)
    if target is None:
        return []
    found = []
    for sec in elf.sections:
        if not sec.flags & SHF_EXECINSTR or sec.type == SHT_NOBITS or sec.size < 4:
            continue
        words = np.frombuffer(sec.data[: sec.size // 4 * 4], dtype=">u4").astype(np.uint32)
        # vectorised pre-filter with the same mask as is_bl_op; confirm each one exactly
        for i in np.nonzero((words & 0xFC000003) == 0x48000001)[0].tolist():
            ip, op = sec.addr + 4 * i, int(words[i])
            if is_bl_op(op) and find_bl_target(ip, op, elf.arch) == target:
                found.append(ip)
    return _image_sites(elf, np.array(found, dtype=np.uint64))


def find_sites(elf: ElfFile) -> list[McountSite]:
    """The `_mcount` call sites of an object (relocations) or image (__mcount_loc)."""
    if elf.is_relocatable:
        return sites_from_relocations(elf)
    return sites_from_mcount_loc(elf)


# -- writing __mcount_loc ---------------------------------------------------------------

@dataclass(frozen=True)
class _Reference:
    """The symbol a section's `__mcount_loc` entries are written against."""

    section: str
    name: str
    offset: int              #: its offset in the section
    globalize: bool          #: local: recordmcount.pl's objcopy --globalize-symbol dance
    add: bool                #: ELFv1 code symbol not in the symbol table: add it first


def _references(elf: ElfFile, sections: set[str]) -> dict[str, _Reference]:
    """One reference per section with sites: the first global (not weak) function of
    the section, else its first local one (to be globalized), as recordmcount.pl picks.

    Where the script would die (a section whose only functions are weak: the weak
    symbol may resolve to another definition at link time), a local symbol is added
    instead: on ELFv1 the weak function's dot name, elsewhere an anchor
    `__mcount_loc_ref_<section index>` at the section's start.
    """
    by_section: dict[str, list] = {}
    for f in elf.functions:
        if f.section in sections:
            by_section.setdefault(f.section, []).append(f)
    refs = {}
    for name in sorted(sections):
        funcs = by_section.get(name, [])
        glob = [f for f in funcs if f.bind == "GLOBAL"]
        local = [f for f in funcs if f.bind == "LOCAL"]
        pick = (glob or local or [None])[0]
        if pick is None:
            weak = [f for f in funcs if f.bind == "WEAK"]
            if elf.has_descriptors and weak and elf.symbol(weak[0].name) is None:
                # ELFv1: a new local dot symbol at the weak function's code is safe
                refs[name] = _Reference(name, weak[0].name, weak[0].start, globalize=False,
                                        add=True)
            else:
                anchor = f"__mcount_loc_ref_{elf.section(name).index}"
                refs[name] = _Reference(name, anchor, 0, globalize=False, add=True)
            continue
        add = elf.has_descriptors and elf.symbol(pick.name) is None
        refs[name] = _Reference(name, pick.name, pick.start, globalize=pick.bind == "LOCAL",
                                add=add)
    return refs


def mcount_loc_asm(elf: ElfFile, sites: list[McountSite],
                   refs: dict[str, _Reference] | None = None) -> str:
    """The assembly recordmcount.pl writes: `__mcount_loc` with one entry per site."""
    if refs is None:
        refs = _references(elf, {s.section for s in sites})
    directive = ".quad" if elf.bits == 64 else ".long"
    lines = [f'\t.section {MCOUNT_SECTION},"a",@progbits',
             f"\t.p2align {3 if elf.bits == 64 else 2}"]
    for s in sites:
        ref = refs[s.section]
        lines.append(f"\t{directive} {ref.name} + {s.offset - ref.offset}")
    return "\n".join(lines) + "\n"


def record_object(obj_path: str | os.PathLike, out_path: str | os.PathLike | None = None,
                  arch: str | None = None) -> list[McountSite]:
    """Add `__mcount_loc` to a relocatable object, like recordmcount.pl; return the sites.

    Writes `out_path`, or replaces `obj_path` in place. An object with no site, or one
    that already has `__mcount_loc`, is copied unchanged. Every executable section is
    recorded (the script kept a list: .text, .sched.text, .spinlock.text...).
    """
    import tempfile

    from ppcftrace.toolchain import run, tool

    obj_path = os.fspath(obj_path)
    out_path = os.fspath(out_path) if out_path is not None else obj_path
    elf = ElfFile.open(obj_path)
    if not elf.is_relocatable:
        raise NotRelocatable("not a relocatable object (ET_REL)", name=obj_path)
    if arch is not None and arch != elf.arch:
        raise RecordMcountError(f"object is {elf.arch}, not {arch}", name=obj_path)
    arch = elf.arch
    if elf.section(MCOUNT_SECTION) is not None:
        _copy(obj_path, out_path)
        return sites_from_relocations(elf)
    sites = sites_from_relocations(elf)
    if not sites:
        _copy(obj_path, out_path)
        return sites
    refs = _references(elf, {s.section for s in sites})
    asm = mcount_loc_asm(elf, sites, refs)
    changed = sorted({r.name for r in refs.values() if r.globalize or r.add})
    with tempfile.TemporaryDirectory(prefix="recordmcount") as d:
        # fixed names, run inside d: nothing of this machine ends up in the object
        with open(os.path.join(d, "mcount_loc.s"), "w") as f:
            f.write(asm)
        bits = "-a64" if arch == "ppc64" else "-a32"
        run([tool(arch, "as"), bits, "-many", "-o", "mcount_loc.o", "mcount_loc.s"], cwd=d)
        _copy(obj_path, os.path.join(d, "input.o"))
        if changed:
            argv = [tool(arch, "objcopy")]
            for r in sorted(refs.values(), key=lambda r: r.name):
                if r.add:
                    # a dot symbol is code (function); an anchor is a bare label (notype)
                    kind = ",function" if r.name.startswith(".") else ""
                    argv += ["--add-symbol",
                             f"{r.name}={r.section}:{r.offset:#x},global{kind}"]
                elif r.globalize:
                    argv += ["--globalize-symbol", r.name]
            run(argv + ["input.o", "global.o"], cwd=d)
            run([tool(arch, "ld"), "-r", "global.o", "mcount_loc.o", "-o", "mix.o"], cwd=d)
            run([tool(arch, "objcopy"), *[a for n in changed for a in ("--localize-symbol", n)],
                 "mix.o", "result.o"], cwd=d)
        else:
            run([tool(arch, "ld"), "-r", "input.o", "mcount_loc.o", "-o", "result.o"], cwd=d)
        # replace atomically: a failure above leaves the original untouched
        tmp = out_path + ".recordmcount.tmp"
        _copy(os.path.join(d, "result.o"), tmp)
        os.replace(tmp, out_path)
    return sites


def _copy(src: str, dst: str) -> None:
    if os.path.abspath(src) == os.path.abspath(dst):
        return
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ppcftrace.recordmcount",
                                description="Add __mcount_loc to a -pg object, like "
                                            "recordmcount.pl.")
    p.add_argument("object")
    p.add_argument("-o", "--output", help="write here instead of replacing OBJECT")
    p.add_argument("--arch", choices=("ppc64", "ppc32"))
    args = p.parse_args(argv)
    try:
        sites = record_object(args.object, args.output, args.arch)
    except (ELFError, OSError, RuntimeError) as exc:
        print(f"recordmcount: error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.output or args.object}: {len(sites)} mcount site(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
