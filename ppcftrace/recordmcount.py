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
import tempfile
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ppcftrace.elf.errors import CorruptELF, ELFError
from ppcftrace.elf.file import ElfFile
from ppcftrace.elf.sections import SHF_EXECINSTR, SHT_NOBITS

__all__ = ["McountSite", "SiteColumns", "MCOUNT_NAMES", "find_sites", "site_columns", "sites_from_relocations",
           "sites_from_mcount_loc", "bl_sites", "mcount_loc_asm", "record_object",
           "RecordMcountError", "NotRelocatable"]

#: the names a profiling call may target (2008 GCC called the dot symbol)
MCOUNT_NAMES = ("_mcount", "._mcount")
MCOUNT_SECTION = "__mcount_loc"
#: call relocation types that reach _mcount: REL24 (both), PLTREL24 (ppc32 -fPIC),
#: R_PPC64_REL24_NOTOC / REL24_P9NOTOC (pcrel ELFv2)
CALL_RELOCS = {"ppc64": (10, 116, 124), "ppc32": (10, 18)}
STT_FUNC, STB_LOCAL, STB_WEAK = 2, 0, 2
SHN_LORESERVE = 0xFF00


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


# -- functions as arrays ----------------------------------------------------------------

@dataclass
class _FunctionTable:
    """Function code extents as parallel arrays, sorted by (section, start)."""

    shndx: np.ndarray
    start: np.ndarray
    size: np.ndarray
    name_off: np.ndarray     #: string-table offset of the (descriptor or code) symbol
    bind: np.ndarray
    dotted: np.ndarray       #: ELFv1 descriptor: the code symbol is "." + its name

    def lookup(self, shndx: int, offsets: np.ndarray) -> np.ndarray:
        """Index (into this table) of the function holding each offset, or -1."""
        lo, hi = np.searchsorted(self.shndx, [shndx, shndx + 1])
        if lo == hi:
            return np.full(len(offsets), -1, dtype=np.int64)
        starts = self.start[lo:hi]
        i = np.searchsorted(starts, offsets, side="right") - 1
        ok = i >= 0
        j = np.where(ok, i, 0) + lo
        # a zero-size symbol (assembly without .size) holds everything up to the next one
        ends = self.start[j] + np.maximum(self.size[j], 1)
        nxt = np.append(starts[1:], np.uint64(2**64 - 1))[np.where(ok, i, 0)]
        ends = np.where(self.size[j] == 0, nxt, ends)
        ok &= offsets < ends
        return np.where(ok, j, -1)


def _function_table(elf: ElfFile) -> _FunctionTable:
    raw = elf.symbol_array
    nsec = len(elf.sections)
    is_func = (raw["info"] & 15) == STT_FUNC
    opd = elf.section(".opd") if elf.has_descriptors else None
    shndx = raw["shndx"].astype(np.int64)
    value = raw["value"].astype(np.uint64)
    if opd is not None:
        desc = is_func & (shndx == opd.index)
        dv = value[desc]
        entry, esec = _descriptor_entries(elf, opd, dv)
        plain = is_func & ~desc & (shndx > 0) & (shndx < min(nsec, SHN_LORESERVE))
        table = [
            (esec, entry, raw["size"][desc], raw["name"][desc], raw["info"][desc] >> 4),
            (shndx[plain], value[plain], raw["size"][plain], raw["name"][plain],
             raw["info"][plain] >> 4),
        ]
        dotted = np.concatenate([np.ones(int(desc.sum()), bool), np.zeros(int(plain.sum()), bool)])
    else:
        plain = is_func & (shndx > 0) & (shndx < min(nsec, SHN_LORESERVE))
        table = [(shndx[plain], value[plain], raw["size"][plain], raw["name"][plain],
                  raw["info"][plain] >> 4)]
        dotted = np.zeros(int(plain.sum()), bool)
    cols = [np.concatenate([t[k] for t in table]).astype(np.uint64 if k in (1, 2) else np.int64)
            for k in range(5)]
    keep = cols[0] >= 0       # unresolved descriptors carry section -1
    cols = [c[keep] for c in cols]
    dotted = dotted[keep]
    # descriptors first among functions starting at the same place, then one per place:
    # a dot symbol beside its descriptor (2008 objects, or recordmcount's own) is the same code
    order = np.lexsort((~dotted, cols[1], cols[0]))
    cols, dotted = [c[order] for c in cols], dotted[order]
    first = np.ones(len(order), bool)
    first[1:] = (cols[0][1:] != cols[0][:-1]) | (cols[1][1:] != cols[1][:-1])
    return _FunctionTable(*(c[first] for c in cols), dotted=dotted[first])


def _descriptor_entries(elf: ElfFile, opd, dv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entry, section index) of the descriptors at .opd values `dv`; section -1 if none."""
    n = len(dv)
    entry = np.zeros(n, np.uint64)
    esec = np.full(n, -1, np.int64)
    if not n:
        return entry, esec
    if not elf.is_relocatable:
        if opd.type == SHT_NOBITS:
            return entry, esec
        words = np.frombuffer(opd.data[: len(opd.data) // 8 * 8], dtype=">u8")
        rel = dv - np.uint64(opd.addr)
        ok = (dv >= np.uint64(opd.addr)) & (rel // np.uint64(8) < np.uint64(len(words))) \
            & (rel % np.uint64(8) == 0)
        idx = np.where(ok, rel // np.uint64(8), 0).astype(np.int64)
        entry = np.where(ok, words[idx] if len(words) else 0, 0).astype(np.uint64)
        for sec in elf.sections:          # few sections: a loop is fine
            if sec.flags & SHF_EXECINSTR and sec.size:
                inside = ok & _within(entry, sec.addr, sec.size)
                esec[inside] = sec.index
        return entry, esec
    # object: R_PPC64_ADDR64 in .rela.opd at each descriptor's offset
    raw = elf.symbol_array
    offs, syms, types, addends = [], [], [], []
    for rsec in elf.reloc_sections_for(opd):
        o, s, t, a = elf.reloc_arrays(rsec)
        offs.append(o), syms.append(s), types.append(t), addends.append(a)
    if not offs:
        return entry, esec
    o, s, t, a = (np.concatenate(x) for x in (offs, syms, types, addends))
    m = t == 38                            # R_PPC64_ADDR64
    o, s, a = o[m], s[m].astype(np.int64), a[m]
    order = np.argsort(o, kind="stable")
    o, s, a = o[order], s[order], a[order]
    i = np.searchsorted(o, dv)
    found = i < len(o)
    i = np.where(found, i, 0)
    found &= o[i] == dv if len(o) else found
    target = s[i]
    entry = np.where(found, raw["value"][target].astype(np.uint64) + a[i].astype(np.uint64), 0)
    tsec = raw["shndx"][target].astype(np.int64)
    esec = np.where(found & (tsec > 0) & (tsec < min(len(elf.sections), SHN_LORESERVE)), tsec, -1)
    return entry.astype(np.uint64), esec


def _within(values: np.ndarray, start: int, size: int) -> np.ndarray:
    """values in [start, start + size), without overflowing 64 bits at the top."""
    lo = np.uint64(start)
    return (values >= lo) & (values - lo < np.uint64(size))


def _function_names(elf: ElfFile, table: _FunctionTable, idx: np.ndarray) -> list[str | None]:
    """The code-symbol name of each table index (None for -1), resolved in one pass."""
    out: list[str | None] = [None] * len(idx)
    hit = np.nonzero(idx >= 0)[0]
    if not len(hit):
        return out
    strtab = elf.strtab.data if elf.strtab is not None else b""
    rows = idx[hit]
    starts = table.name_off[rows]
    if len(strtab) == 0 or int(starts.max()) >= len(strtab):
        raise CorruptELF("symbol name offset outside string table", name=elf.name)
    # the end of each name is the first NUL at or after its start
    nuls = np.flatnonzero(np.frombuffer(strtab, dtype=np.uint8) == 0)
    k = np.searchsorted(nuls, starts)
    if int(k.max()) >= len(nuls):
        raise CorruptELF("unterminated symbol name in string table", name=elf.name)
    ends = nuls[k]
    names = [strtab[a:b].decode("utf-8", "replace") for a, b in zip(starts.tolist(), ends.tolist())]
    dotted = table.dotted[rows]
    if dotted.any():
        names = ["." + n if d else n for n, d in zip(names, dotted.tolist())]
    if len(hit) == len(idx):
        return names
    for i, n in zip(hit.tolist(), names):
        out[i] = n
    return out


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
    table = _function_table(elf)
    for shndx in sorted(hits):
        offs = np.concatenate([h[0] for h in hits[shndx]])
        syms = np.concatenate([h[1] for h in hits[shndx]])
        order = np.argsort(offs, kind="stable")
        offs, syms = offs[order], syms[order]
        cols.function.extend(_function_names(elf, table, table.lookup(shndx, offs)))
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
    table = _function_table(elf)
    symbol = "._mcount" if elf.symbol("._mcount") is not None else "_mcount"
    sites: list[McountSite] = []
    placed = np.zeros(len(addrs), bool)
    for sec in elf.sections:
        if not (sec.flags & 2 and sec.size) or sec.type == SHT_NOBITS:
            continue
        inside = _within(addrs, sec.addr, sec.size)
        if not inside.any():
            continue
        placed |= inside
        a = np.sort(addrs[inside])
        funcs = _function_names(elf, table, table.lookup(sec.index, a))
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
    from ppcftrace.isa.code_patching import find_bl_target, is_bl_op

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
                refs[name] = _Reference(weak[0].name, weak[0].start, globalize=False, add=True)
            else:
                anchor = f"__mcount_loc_ref_{elf.section(name).index}"
                refs[name] = _Reference(anchor, 0, globalize=False, add=True)
            continue
        add = elf.has_descriptors and elf.symbol(pick.name) is None
        refs[name] = _Reference(pick.name, pick.start, globalize=pick.bind == "LOCAL", add=add)
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
    that already has `__mcount_loc`, is copied unchanged.
    """
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
                             f"{r.name}={_section_of(refs, r)}:{r.offset:#x},global{kind}"]
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


def _section_of(refs: dict[str, _Reference], ref: _Reference) -> str:
    return next(sec for sec, r in refs.items() if r is ref)


def _copy(src: str, dst: str) -> None:
    if os.path.abspath(src) == os.path.abspath(dst):
        return
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ppcftrace.recordmcount",
                                description="Add __mcount_loc to a -pg object, like recordmcount.pl.")
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
