"""Where a module's sections go: kernel/module.c's layout_sections() and module_alloc().

The kernel lays the allocated sections of a module out in four passes over the
section table — code, read-only data, writable data, anything else allocated —
each section at its alignment after the previous one; sections whose names start
with `.init` go to a second, init, area the same way. `module_alloc()` then takes
that many bytes of vmalloc space: the first free, page-aligned gap of the module
area, with a guard page after it as vmalloc leaves one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS

__all__ = ["LoadSection", "layout_sections", "module_alloc", "PAGE_SIZE", "MASKS"]

PAGE_SIZE = 0x1000
#: ARCH_SHF_SMALL is 0 on powerpc, so the kernel's fourth mask reduces to SHF_ALLOC
ARCH_SHF_SMALL = 0
#: (flags required, flags refused) of each pass, in kernel/module.c's order
MASKS = (
    (SHF_EXECINSTR | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_ALLOC, SHF_WRITE | ARCH_SHF_SMALL),
    (SHF_WRITE | SHF_ALLOC, ARCH_SHF_SMALL),
    (ARCH_SHF_SMALL | SHF_ALLOC, 0),
)


@dataclass
class LoadSection:
    """A section header as the loader edits it (the kernel edits its copy of sechdrs).

    `offset` is the place in the core or init area chosen by `layout_sections`
    (the kernel keeps it in sh_entsize); `addr` is the final address (sh_addr).
    """

    index: int
    name: str
    type: int
    flags: int
    size: int
    align: int
    data: bytes = field(repr=False, default=b"")
    info: int = 0
    offset: int | None = None
    init: bool = False
    addr: int = 0

    @property
    def allocated(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    @property
    def nobits(self) -> bool:
        return self.type == SHT_NOBITS


def _get_offset(size: int, section: LoadSection) -> tuple[int, int]:
    """(offset of `section`, new area size): ALIGN(size, sh_addralign ?: 1)."""
    align = section.align or 1
    offset = (size + align - 1) // align * align
    return offset, offset + section.size


def layout_sections(sections: list[LoadSection]) -> tuple[int, int, int]:
    """Give every allocated section an offset in the core or init area.

    Returns (core_size, core_text_size, init_size).
    """
    for s in sections:
        s.offset = None
    sizes = {False: 0, True: 0}
    text_size = 0
    for init in (False, True):
        for m, (need, refuse) in enumerate(MASKS):
            for s in sections:
                if (s.flags & need) != need or s.flags & refuse or s.offset is not None \
                        or s.name.startswith(".init") != init or s.index == 0:
                    continue
                s.offset, sizes[init] = _get_offset(sizes[init], s)
                s.init = init
            if m == 0 and not init:
                text_size = sizes[False]
    return sizes[False], text_size, sizes[True]


def module_alloc(memory, area: tuple[int, int], size: int,
                 taken: list[tuple[int, int]] = ()) -> int | None:
    """The lowest page-aligned address of `area` (start, end) with `size` bytes free.

    Free means: no region of `memory` and no range of `taken` within a guard page.
    Returns None when the area is full (the kernel's vmalloc returns NULL: -ENOMEM).
    """
    start, end = area
    need = (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE  # + guard page
    busy = [(r.start, r.end) for r in memory.regions if r.end > start and r.start < end]
    busy += [(a, b) for a, b in taken]
    busy.sort()
    at = start
    for lo, hi in busy:
        if lo >= at + need:
            break
        if hi > at:
            at = (hi + 2 * PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE  # keep a guard page
    if at + need > end:
        return None
    return at
