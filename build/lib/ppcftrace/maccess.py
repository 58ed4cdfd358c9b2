"""probe_kernel_read/write and flush_icache_range (mm/maccess.c, asm/cacheflush.h).

The kernel reads and writes text through these so that a fault becomes an error
code instead of an oops. Here a `MemoryFault` from the address space becomes a
`ProbeFault` (errno EFAULT); callers map it to their own errno, as ftrace maps a
faulting write to -EPERM.

`flush_icache_range(target, start, end)` tells every icache listener that
[start, end) changed. Listeners live in `target.icache_flush_listeners` (a list on
the machine, or on a bare address space in tests): the CPU registers its icache
model there, so code patched without a flush keeps running stale instructions.
"""

from __future__ import annotations

import errno as _errno
from typing import Callable

from ppcftrace.errors import PpcftraceError
from ppcftrace.memory import MemoryFault

__all__ = ["probe_kernel_read", "probe_kernel_write", "flush_icache_range",
           "icache_flush_listeners", "ProbeFault"]


class ProbeFault(PpcftraceError):
    """`probe_kernel_read/write` hit a fault (the kernel's -EFAULT); `.fault` is the `MemoryFault`."""

    errno = _errno.EFAULT

    def __init__(self, fault: MemoryFault):
        super().__init__(str(fault))
        self.fault = fault


def probe_kernel_read(memory, address: int, size: int) -> bytes:
    """`size` bytes at `address`, or raise `ProbeFault` (the kernel's -EFAULT)."""
    try:
        return memory.read(address, size)
    except MemoryFault as fault:
        raise ProbeFault(fault) from None


def probe_kernel_write(memory, address: int, data: bytes, tag: object = None) -> None:
    """Store `data` at `address`, or raise `ProbeFault` having written nothing."""
    try:
        memory.write(address, data, tag)
    except MemoryFault as fault:
        raise ProbeFault(fault) from None


def icache_flush_listeners(target) -> list[Callable[[int, int], None]]:
    """The listener list of a machine or address space, created empty on first use."""
    listeners = getattr(target, "icache_flush_listeners", None)
    if listeners is None:
        listeners = []
        target.icache_flush_listeners = listeners
    return listeners


def flush_icache_range(target, start: int, end: int) -> None:
    """Tell `target`'s icache listeners that [start, end) was rewritten."""
    for fn in getattr(target, "icache_flush_listeners", ()) or ():
        fn(start, end)
