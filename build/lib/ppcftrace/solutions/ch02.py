"""Chapter 2 reference solutions: mcount call sites, the ftrace pages line, notrace."""

from __future__ import annotations

#: the call relocations GCC emits for `bl _mcount` (ppc64, ppc32)
CALL_RELOCATIONS = {"R_PPC64_REL24", "R_PPC_REL24"}


def find_mcount_calls(elf) -> list[tuple[str, int]]:
    """Exercise 1: (section, offset) of every `_mcount` call in a relocatable object."""
    sites = []
    for section in elf.sections:
        if not section.name.startswith(".rela"):      # .rela.text, .rela.init.text, ...
            continue
        for rel in elf.relocations(section):
            name = rel.symbol.name if rel.symbol else ""
            if rel.type_name in CALL_RELOCATIONS and name.lstrip(".") == "_mcount":
                sites.append((elf.sections[section.info].name, rel.offset))
    return sorted(sites)


def pages_needed(entries: int, arch: str) -> int:
    """Exercise 2: M in "ftrace: allocating N entries in M pages" (2.6.29, 4 KiB pages)."""
    word = 8 if arch == "ppc64" else 4
    record = 5 * word                    # struct dyn_ftrace: list (2), ip, flags, arch.mod
    per_page = (4096 - 2 * word) // record   # struct ftrace_page: next, index
    return entries // per_page + 1       # ftrace_dyn_table_alloc(): cnt / ENTRIES_PER_PAGE + 1


def untraced_functions(elf) -> set[str]:
    """Exercise 3: the functions of an object that hold no `_mcount` call (notrace)."""
    traced = set()
    for section, offset in find_mcount_calls(elf):
        # the site belongs to the last function starting at or before it
        before = [f for f in elf.functions if f.section == section and f.start <= offset]
        traced.add(max(before, key=lambda f: f.start).name)
    return {f.name for f in elf.functions} - traced
