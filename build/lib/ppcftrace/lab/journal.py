"""Reading words for the views, and which words the write journal says changed."""

from __future__ import annotations

from typing import Iterable

from ppcftrace.memory import MemoryFault

__all__ = ["read_words", "changed_words"]


def read_words(memory, start: int, count: int) -> list[int | None]:
    """`count` words from `start`; None where memory cannot be read."""
    out: list[int | None] = []
    for i in range(count):
        try:
            out.append(memory.read_u32(start + 4 * i))
        except MemoryFault:
            out.append(None)
    return out


def changed_words(entries: Iterable) -> set[int]:
    """The word addresses touched by journal entries (`memory.journal[mark:]`)."""
    out: set[int] = set()
    for e in entries:
        first, last = e.address & ~3, (e.address + max(len(e.new), 1) - 1) & ~3
        out.update(range(first, last + 4, 4))
    return out
