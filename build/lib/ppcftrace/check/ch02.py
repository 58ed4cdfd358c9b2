"""Checkers for Chapter 2, "mcount and `-pg`".

Expected values come from the package: `ppcftrace.recordmcount` (the sites of an
object), `ppcftrace.ftrace.records` (the 2.6.29 page arithmetic) and
`ppcftrace.elf` (the functions of an object). The objects are the committed fixtures,
plus one made here in memory: racemod.o (ppc64) with its `_mcount` symbol renamed
`._mcount`, the name 2008 GCC called.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace.check import CheckResult, Mistake, call_safely, report, require_callable, require_int
from ppcftrace.elf import ElfFile
from ppcftrace.ftrace.records import entries_per_page, ftrace_pages
from ppcftrace.machine import fixture_path
from ppcftrace.recordmcount import find_sites

__all__ = ["dot_mcount_object", "objects", "ex1", "ex2", "ex3", "EX2_COUNTS"]

_ARCHES = ("ppc64", "ppc32")


def _rename_symbol(elf: ElfFile, old: str, new: str) -> bytes:
    """The file's bytes with symbol `old` renamed `new`: a copy of .strtab with the new
    name appended goes to the end of the file, and the symbol and the section header
    point at it (every other byte unchanged)."""
    data = bytearray(elf.data)
    strtab = elf.strtab
    sym = elf.symbol(old)
    if sym is None or strtab is None:
        raise ValueError(f"{elf.name}: no symbol {old!r}")
    new_off = len(data)
    name_off = strtab.size
    data += strtab.data + new.encode() + b"\0"
    wide = elf.bits == 64
    # Elf64_Shdr: sh_offset at 24, sh_size at 32; Elf32_Shdr: at 16 and 20
    hdr = elf.header.shoff + strtab.index * elf.header.shentsize
    fmt, (o_off, o_size) = (">Q", (24, 32)) if wide else (">I", (16, 20))
    struct.pack_into(fmt, data, hdr + o_off, new_off)
    struct.pack_into(fmt, data, hdr + o_size, strtab.size + len(new) + 1)
    # st_name is the first word of Elf64_Sym and Elf32_Sym
    struct.pack_into(">I", data, elf.symtab.offset + sym.index * elf.symtab.entsize, name_off)
    return bytes(data)


@lru_cache(maxsize=None)
def dot_mcount_object() -> ElfFile:
    """ppc64 racemod.o as 2008 GCC would have written it: calls to `._mcount`."""
    elf = ElfFile.open(fixture_path("racemod.o", "ppc64"))
    return ElfFile.from_bytes(_rename_symbol(elf, "_mcount", "._mcount"), "racemod-2008.o")


def objects() -> Iterator[tuple[str, ElfFile]]:
    """(description, object) for every object the checkers try."""
    for arch in _ARCHES:
        for name in ("hmod.o", "racemod.o"):
            yield f"{name} ({arch})", _open(name, arch)
    yield "racemod.o as 2008 GCC wrote it (ppc64, calls ._mcount)", dot_mcount_object()


@lru_cache(maxsize=None)
def _open(name: str, arch: str) -> ElfFile:
    return ElfFile.open(fixture_path(name, arch))


# --- Exercise 1: the sites of an object --------------------------------------------------

def _as_sites(value: Any, where: str) -> set[tuple[str, int]]:
    try:
        items = list(value)
    except TypeError:
        raise Mistake(f"expected a list of (section, offset) pairs, got "
                      f"{type(value).__name__}{where}", "return a list, e.g. [('.text', 0x14)]")
    out = set()
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], int)):
            raise Mistake(f"each site should be a (section name, offset) tuple, got "
                          f"{item!r}{where}", "the section's name, then the offset in it")
        out.add(item)
    return out


def _other_calls(elf: ElfFile) -> dict[tuple[str, int], str]:
    """Every call relocation of the object's code: (section, offset) -> callee."""
    calls = {}
    for rsec in elf.reloc_sections:
        target = elf.sections[rsec.info]
        if not target.flags & 4:          # SHF_EXECINSTR
            continue
        for r in elf.relocations(rsec):
            if r.type_name.endswith("REL24") and r.symbol is not None:
                # a section symbol has no name: show the section it stands for
                calls[(target.name, r.offset)] = r.symbol.name or str(r.symbol.section)
    return calls


def _diagnose_sites(got: set, elf: ElfFile, what: str) -> None:
    want = {(s.section, s.offset) for s in find_sites(elf)}
    if got == want:
        return
    where = f" in {what}"
    extra, missing = got - want, want - got
    if not got:
        hint = ("the relocation that links a ppc32 call is named differently"
                if elf.arch == "ppc32" else
                "look for the relocations whose symbol is the profiling function"
                if "2008" not in elf.name else
                "2008's GCC called the function by its dot name")
        raise Mistake(f"your function found no _mcount call{where}", hint)
    if {(s, o - 4) for s, o in got} == want or {(s, o + 4) for s, o in got} == want:
        raise Mistake(f"every offset is one instruction away from the bl{where}",
                      "the relocation's offset is the address of the bl itself")
    calls = _other_calls(elf)
    others = sorted({calls[x] for x in extra if x in calls})
    if others:
        raise Mistake(f"your list includes {len(extra)} call(s) to other functions"
                      f" ({', '.join(others[:3])}){where}",
                      "keep only the calls whose symbol is _mcount")
    if missing and not extra:
        hint = ("2008's GCC called the dot symbol: recordmcount.pl's pattern was \\.?_mcount"
                if "2008" in elf.name else "look at every relocation section of code")
        raise Mistake(f"your list misses {len(missing)} of the {len(want)} sites{where}", hint)
    raise Mistake(f"{len(extra)} of your sites are not _mcount calls and {len(missing)} "
                  f"are missing{where}",
                  "a site is the offset of a call relocation against _mcount")


def ex1(answer: Callable[[ElfFile], Any], *, quiet: bool = False) -> CheckResult:
    """Exercise 1: `find_mcount_calls(elf)`, the (section, offset) of every `_mcount`
    call of a relocatable object, tried on ppc64, ppc32 and 2008-style objects."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for what, elf in objects():
            where = f" for {what}"
            _diagnose_sites(_as_sites(call_safely(fn, elf), where), elf, what)
        return "your sites match recordmcount's on every object, 2008 names included"
    return report("ch02.ex1", check, quiet=quiet)


# --- Exercise 2: the pages line ----------------------------------------------------------

#: the entry counts Exercise 2 is tried on (per arch), exact multiples of a page included
EX2_COUNTS = (1, 21, 101, 102, 103, 203, 204, 205, 408, 10000, 20000, 38175)


def _ex2_cases() -> Iterator[tuple[int, str]]:
    for arch in _ARCHES:
        per_page = entries_per_page(arch)
        counts = sorted(set(EX2_COUNTS) | {per_page, 2 * per_page, per_page - 1})
        for n in counts:
            yield n, arch


def _pages_model(record_words: int, word_of: dict[str, int], rounding: str):
    """A page count computed with another record size, word size or rounding: the
    shapes typical wrong answers take."""
    def pages(entries: int, arch: str) -> int:
        word = word_of[arch]
        per_page = (4096 - 2 * word) // (record_words * word)
        if rounding == "ceil":
            return -(-entries // per_page)
        return entries // per_page + (1 if rounding == "+1" else 0)
    return pages


_WORDS = {"ppc64": 8, "ppc32": 4}
#: (model, message, hint): checked against all of the reader's answers at once
_PAGE_MISTAKES = (
    (_pages_model(5, _WORDS, "ceil"), "one page short for exact multiples of a page's records",
     "2.6.29 does not round up: read how ftrace_dyn_table_alloc() counts"),
    (_pages_model(5, _WORDS, "floor"), "one page short",
     "the kernel prints one page more than the whole pages the records fill"),
    (_pages_model(3, _WORDS, "+1"), "too few pages: your records are smaller than 2.6.29's",
     "struct dyn_ftrace still had its list_head in 2.6.29"),
    (_pages_model(3, _WORDS, "ceil"), "too few pages: your records are smaller than 2.6.29's",
     "struct dyn_ftrace still had its list_head in 2.6.29"),
    (_pages_model(5, {"ppc64": 8, "ppc32": 8}, "+1"), "right on ppc64, wrong on ppc32",
     "unsigned long and pointers are 4 bytes on ppc32"),
)


def _diagnose_pages(answers: dict[tuple[int, str], int]) -> None:
    wrong = [(n, a) for (n, a), got in answers.items() if got != ftrace_pages(n, a)]
    if not wrong:
        return
    entries, arch = wrong[0]
    where = f" (e.g. {answers[wrong[0]]} for {entries} entries on {arch})"
    for model, message, hint in _PAGE_MISTAKES:
        if all(model(n, a) == got for (n, a), got in answers.items()):
            raise Mistake(message + where, hint)
    raise Mistake(f"wrong page count for {len(wrong)} of {len(answers)} cases" + where,
                  "records per page = (page size - page header) // record size")


def ex2(answer: Callable[[int, str], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: `pages_needed(entries, arch)`, the M of "allocating N entries in M
    pages" in 2.6.29 with 4 KiB pages."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        answers = {(n, arch): require_int(call_safely(fn, n, arch), "the page count",
                                               "return the number of pages as an int")
                   for n, arch in _ex2_cases()}
        _diagnose_pages(answers)
        return "your page counts agree with ftrace's on both machines"
    return report("ch02.ex2", check, quiet=quiet)


# --- Exercise 3: notrace -----------------------------------------------------------------

def _traced_and_all(elf: ElfFile) -> tuple[set[str], set[str]]:
    traced = {s.function for s in find_sites(elf) if s.function}
    return traced, {f.name for f in elf.functions}


def _plain(names: set[str]) -> set[str]:
    """Names without their ELFv1 dot: `hmod_parse` and `.hmod_parse` are accepted alike."""
    return {n[1:] if n.startswith(".") else n for n in names}


def _diagnose_untraced(got: Any, elf: ElfFile, what: str) -> None:
    where = f" for {what}"
    try:
        names = set(got)
    except TypeError:
        raise Mistake(f"expected a set of function names, got {type(got).__name__}{where}",
                      "return a set of strings, e.g. {'foo'}")
    if not all(isinstance(n, str) for n in names):
        raise Mistake(f"every item should be a function name (str){where}",
                      "use the names of the object's functions")
    traced, every = _traced_and_all(elf)
    want = _plain(every - traced)
    names = _plain(names)
    if names == want:
        return
    if names and names == _plain(traced):
        raise Mistake(f"these are the functions that do call _mcount{where}",
                      "the exercise asks for the others")
    unknown = names - _plain(every)
    if unknown:
        raise Mistake(f"{len(unknown)} name(s) are not functions of the object ({sorted(unknown)[0]!r}){where}",
                      "take the names from elf.functions")
    if names & _plain(traced):
        raise Mistake(f"{len(names & _plain(traced))} of your functions do call _mcount{where}",
                      "a function is traced when a site lies within its extent")
    raise Mistake(f"your set misses {len(want - names)} function(s) without a site{where}",
                  "compare every function with the functions that hold a site")


def ex3(answer: Callable[[ElfFile], Any], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `untraced_functions(elf)`, the functions of an object that hold no
    `_mcount` call (names with or without the ELFv1 dot)."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for what, elf in objects():
            _diagnose_untraced(call_safely(fn, elf), elf, what)
        return "you found the notrace functions of every object"
    return report("ch02.ex3", check, quiet=quiet)
