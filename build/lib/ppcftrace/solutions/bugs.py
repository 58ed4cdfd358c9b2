"""Seeded bugs: `Port` with one mistake each, for the tests and the appendix.

Each class changes one method of `ppcftrace.solutions.port.Port` the way students
(and, for two of them, the 2008 patch series) got it wrong. `BUGS` maps a short name
to the class, the conformance scenario that must catch it, the arch it shows on, and
words the scenario's reason must contain.
"""

from __future__ import annotations

import errno
from typing import NamedTuple

from ppcftrace.maccess import ProbeFault
from ppcftrace.solutions.port import NOP, Port

__all__ = ["WrongMask", "NoTocCheck", "TwoNops", "NoFlush", "WriteFirst", "WrongErrno", "LooseMtctr",
           "BUGS", "Bug"]


class WrongMask(Port):
    """is_bl_op tests the opcode only, so `b`, `ba` and `bla` pass for `bl`."""

    def is_bl_op(self, op: int) -> bool:
        return (op & 0xFC000000) == 0x48000000


class NoTocCheck(Port):
    """PPC64: never looks at the word after the bl (must be `ld r2,40(r1)`)."""

    def check_toc_restore(self, ctx, ip: int) -> int:
        return 0


class TwoNops(Port):
    """PPC64: the first posting, `nop; nop` over `bl; ld r2,40(r1)` (the race)."""

    DISABLED64 = (NOP, NOP)


class NoFlush(Port):
    """Writes the site but never flushes the instruction cache."""

    def flush(self, ctx, ip: int) -> None:
        pass


class WriteFirst(Port):
    """Writes the new word, then checks the old one: a mismatch leaves the site changed."""

    def ftrace_modify_code(self, ctx, ip: int, old: int, new: int) -> int:
        try:
            replaced = self.read32(ctx, ip)
        except ProbeFault:
            return -errno.EFAULT
        ret = self.patch(ctx, ip, [new])
        if ret:
            return ret
        return 0 if replaced == old else -errno.EINVAL


class WrongErrno(Port):
    """Reports a faulting write as -EFAULT (the kernel's -EPERM)."""

    def patch(self, ctx, ip: int, words) -> int:
        ret = super().patch(ctx, ip, words)
        return -errno.EFAULT if ret == -errno.EPERM else ret


class LooseMtctr(Port):
    """PPC32: ignores the register of `mtctr` in the PLT entry (mask 0xfc1fffff).

    Wrong by the 2008 rules, yet no scenario catches it: the appendix's example of
    what the suite does not check (its fault cases change that word to a nop).
    """

    def is_plt(self, words: list[int]) -> bool:
        loose = words[:2] + [words[2] & 0xFC1FFFFF | 0x01600000] + words[3:]
        return super().is_plt(loose)


class Bug(NamedTuple):
    """A seeded bug: its class, the scenario that fails, the arch, words of the reason."""

    cls: type
    scenario: str
    arch: str
    words: tuple[str, ...]


BUGS = {
    "wrong mask": Bug(WrongMask, "faults", "ppc64", ("is_bl_op",)),
    "no ld r2 check": Bug(NoTocCheck, "faults", "ppc64", ("ld r2,40(r1)",)),
    "two nops": Bug(TwoNops, "race", "ppc64", ("r2", "b .+8")),
    "no icache flush": Bug(NoFlush, "icache", "ppc32", ("flush_icache_range",)),
    "writes before verifying": Bug(WriteFirst, "faults", "ppc32", ("changed memory",)),
    "wrong errno": Bug(WrongErrno, "faults", "ppc32", ("EPERM",)),
}
