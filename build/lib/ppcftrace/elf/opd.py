"""PPC64 ELFv1 function descriptors (.opd): entry address, TOC base, environment.

A function symbol `foo` names a 24-byte descriptor; the code is at the descriptor's
first doubleword, which tools name `.foo`. In a linked image the doublewords are in the
section's bytes; in a relocatable object they are zeros still to be filled by the
linker, so they are read from `.rela.opd`: R_PPC64_ADDR64 against a symbol gives the
entry (symbol value + addend, in that symbol's section) and R_PPC64_TOC marks the TOC
doubleword (its addend is relative to the object's TOC base).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Descriptor", "DESCRIPTOR_SIZE", "R_PPC64_ADDR64", "R_PPC64_TOC"]

DESCRIPTOR_SIZE = 24
R_PPC64_ADDR64, R_PPC64_TOC = 38, 51


@dataclass(frozen=True)
class Descriptor:
    """One function descriptor.

    In an image, `address`, `entry` and `toc` are addresses. In an object, `address` is
    the offset in .opd, `entry` the offset in section `section`, and `toc` the addend of
    the R_PPC64_TOC relocation (None when the object has none).
    """

    name: str
    address: int
    entry: int
    toc: int | None
    env: int
    section: str | None = None

    @property
    def dot_name(self) -> str:
        return "." + self.name


def read_words(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """The three doublewords at `offset` of .opd's bytes, or None when out of range."""
    if offset < 0 or offset + DESCRIPTOR_SIZE > len(data):
        return None
    return struct.unpack_from(">QQQ", data, offset)
