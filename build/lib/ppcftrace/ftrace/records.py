"""`struct dyn_ftrace`: one record per mcount call site (include/linux/ftrace.h, 2.6.29).

The flags are the 2.6.29 enum. Sizes follow the 2.6.29 layouts, which decide how
many records fit in a page and so the "allocating %ld entries in %d pages" line:

    struct dyn_ftrace  { struct list_head list; unsigned long ip; unsigned long flags;
                         struct dyn_arch_ftrace arch; }   /* arch = { struct module *mod; } */
    struct ftrace_page { struct ftrace_page *next; unsigned long index;
                         struct dyn_ftrace records[]; }

(2.6.30 replaced `list` by unions and shrank the record to three words.)
"""

from __future__ import annotations

__all__ = [
    "FTRACE_FL_FREE", "FTRACE_FL_FAILED", "FTRACE_FL_FILTER", "FTRACE_FL_ENABLED",
    "FTRACE_FL_NOTRACE", "FTRACE_FL_CONVERTED", "FTRACE_FL_FROZEN", "FLAG_NAMES",
    "DynFtrace", "flag_names", "sizeof_dyn_ftrace", "sizeof_ftrace_page",
    "entries_per_page", "ftrace_pages", "PAGE_SIZE", "NR_TO_INIT",
]

FTRACE_FL_FREE = 1 << 0
FTRACE_FL_FAILED = 1 << 1
FTRACE_FL_FILTER = 1 << 2
FTRACE_FL_ENABLED = 1 << 3
FTRACE_FL_NOTRACE = 1 << 4
FTRACE_FL_CONVERTED = 1 << 5
FTRACE_FL_FROZEN = 1 << 6

FLAG_NAMES = {
    FTRACE_FL_FREE: "FREE", FTRACE_FL_FAILED: "FAILED", FTRACE_FL_FILTER: "FILTER",
    FTRACE_FL_ENABLED: "ENABLED", FTRACE_FL_NOTRACE: "NOTRACE",
    FTRACE_FL_CONVERTED: "CONVERTED", FTRACE_FL_FROZEN: "FROZEN",
}

#: We use 4 KiB pages on both machines (some ppc64 configs used 64 KiB pages).
PAGE_SIZE = 4096
#: the 2008 generic code's guess of the number of sites ("estimate from running different kernels")
NR_TO_INIT = 10000

_WORD = {"ppc64": 8, "ppc32": 4}


class DynFtrace:
    """A call site: `ip` (the address of the `bl _mcount`), `flags`, and `mod` (`rec->arch.mod`)."""

    __slots__ = ("ip", "flags", "mod")

    def __init__(self, ip: int, flags: int = 0, mod: object = None):
        self.ip = ip
        self.flags = flags
        self.mod = mod

    def __repr__(self) -> str:
        mod = getattr(self.mod, "name", self.mod)
        return f"DynFtrace(ip={self.ip:#x}, flags={'|'.join(flag_names(self.flags)) or 0}, mod={mod!r})"


def flag_names(flags: int) -> list[str]:
    """The names of the FTRACE_FL_* bits set in `flags`, lowest bit first."""
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]


def sizeof_dyn_ftrace(arch: str) -> int:
    """sizeof(struct dyn_ftrace) in 2.6.29: list (2 words) + ip + flags + arch.mod = 5 words."""
    return 5 * _WORD[arch]


def sizeof_ftrace_page(arch: str) -> int:
    """sizeof(struct ftrace_page): next + index (the records[] array adds nothing)."""
    return 2 * _WORD[arch]


def entries_per_page(arch: str, page_size: int = PAGE_SIZE) -> int:
    """ENTRIES_PER_PAGE = (PAGE_SIZE - sizeof(struct ftrace_page)) / sizeof(struct dyn_ftrace)."""
    return (page_size - sizeof_ftrace_page(arch)) // sizeof_dyn_ftrace(arch)


def ftrace_pages(count: int, arch: str, page_size: int = PAGE_SIZE) -> int:
    """The page count ftrace_dyn_table_alloc() prints: count / ENTRIES_PER_PAGE + 1."""
    return count // entries_per_page(arch, page_size) + 1
