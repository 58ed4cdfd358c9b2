"""The glob matching of set_ftrace_filter / set_ftrace_notrace (kernel/trace/ftrace.c).

2.6.29's `ftrace_match()` knows four forms, decided by where the `*`s are:

    foo     MATCH_FULL         the name equals "foo"
    foo*    MATCH_FRONT_ONLY   the name starts with "foo" (text after a second * is ignored)
    *foo    MATCH_END_ONLY     the *first* "foo" in the name ends the name (strstr)
    *foo*   MATCH_MIDDLE_ONLY  "foo" occurs in the name

and a leading `!` clears the flag instead of setting it. Two quirks of the 2008 code
are kept on purpose (``semantics="2.6.29"``): `*foo` tests only the first occurrence,
so `*foo` misses "foofoo"; and a lone `*` is MATCH_END_ONLY of the empty string, which
matches no (non-empty) name. ``semantics="2.6.30"`` gives the later
`ftrace_setup_glob()` behaviour (suffix test; `*` matches everything).

On PPC64 ELFv1 the names are dot symbols (".schedule"), so `schedule` and `sched*`
match nothing; `*schedule` and `.sched*` do. Later kernels added
`arch_ftrace_match_adjust()`, which drops the dot when the pattern has none
(`match_adjust=True`).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "MATCH_FULL", "MATCH_FRONT_ONLY", "MATCH_MIDDLE_ONLY", "MATCH_END_ONLY",
    "Glob", "parse_glob", "glob_matches", "arch_ftrace_match_adjust", "split_patterns",
]

MATCH_FULL, MATCH_FRONT_ONLY, MATCH_MIDDLE_ONLY, MATCH_END_ONLY = range(4)


class Glob(NamedTuple):
    """A parsed pattern: match `kind`, the text to compare, and whether it starts with `!`."""

    kind: int
    search: str
    negate: bool
    pattern: str


def parse_glob(pattern: str) -> Glob:
    """Parse one pattern the way 2.6.29's ftrace_match() scans its buffer."""
    negate = pattern.startswith("!")
    buff = pattern[1:] if negate else pattern
    kind, search = MATCH_FULL, buff
    for i, ch in enumerate(buff):
        if ch != "*":
            continue
        if i == 0:
            kind, search = MATCH_END_ONLY, buff[1:]
            continue
        # the second '*' (or a first one not at the start) ends the pattern
        if kind == MATCH_END_ONLY:
            kind, search = MATCH_MIDDLE_ONLY, buff[1:i]
        else:
            kind, search = MATCH_FRONT_ONLY, buff[:i]
        break
    return Glob(kind, search, negate, pattern)


def arch_ftrace_match_adjust(name: str, search: str) -> str:
    """PPC64 ELFv1 (later kernels): ignore the name's leading dot unless the pattern has one."""
    if name.startswith(".") and not search.startswith("."):
        return name[1:]
    return name


def glob_matches(glob: Glob, name: str, *, semantics: str = "2.6.29", match_adjust: bool = False) -> bool:
    """True when `name` (a kallsyms name) matches `glob` (ignoring its `!`)."""
    if match_adjust:
        name = arch_ftrace_match_adjust(name, glob.search)
    kind, search = glob.kind, glob.search
    if kind == MATCH_FULL:
        return name == search
    if kind == MATCH_FRONT_ONLY:
        return name.startswith(search)
    if kind == MATCH_MIDDLE_ONLY:
        return search in name
    if semantics == "2.6.29":
        # strstr() finds the first occurrence; it must end the name
        at = name.find(search)
        return at >= 0 and at + len(search) == len(name)
    return name.endswith(search)


def split_patterns(text: str) -> list[str]:
    """The patterns in a write to set_ftrace_filter: whitespace-separated words."""
    return text.split()
