"""What can be wrong with an ELF file, as exceptions.

Every failure to read a file ends in one of these, with a one-line message naming the
problem and where it is (an offset, a section, a table index).
"""

from __future__ import annotations

from ppcftrace.errors import PpcftraceError

__all__ = ["ELFError", "NotELF", "UnsupportedMachine", "UnsupportedEndianness",
           "TruncatedELF", "CorruptELF"]


class ELFError(PpcftraceError):
    """Base class: the file cannot be read as a PowerPC ELF object or image."""

    def __init__(self, message: str, *, name: str | None = None):
        super().__init__(f"{name}: {message}" if name else message)


class NotELF(ELFError):
    """The file does not start with the ELF magic, or its class/version is invalid."""


class UnsupportedMachine(ELFError):
    """A valid ELF file for another machine (x86-64, ARM...) or word size."""


class UnsupportedEndianness(ELFError):
    """A little-endian PowerPC file: the simulated machines are big-endian."""


class TruncatedELF(ELFError):
    """A header, table or section extends beyond the end of the file."""


class CorruptELF(ELFError):
    """A field holds an impossible value: an entry size, a link, an index, a name."""
