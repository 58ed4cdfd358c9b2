"""The state of an mcount call site, read from the words in memory.

A site is in one of four states, whatever path ftrace took to put it there:

    mcount   `bl _mcount` as linked (directly, or through a stub / PLT entry to it)
    nop      disabled: `nop` (kernel sites, PPC32 modules; two nops on a PPC64 module
             under the first posting's policy)
    b+8      disabled PPC64 module site: `b .+8` over the `bl`, `ld r2,40(r1)` kept
    ftrace   traced: `bl ftrace_caller`, or `bl` to the module's trampoline to it

anything else is `other` (a word ftrace would refuse). The words are decoded with
`isa.decode`; where a `bl` goes through a stub, the stub's target is what memory says
now (the PPC64 funcaddr, the PPC32 `lis`/`addi` pair), so a corrupted stub shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ppcftrace import isa

__all__ = ["SITE_STATES", "STATE_LABELS", "SiteState", "classify_site", "stub_target"]

#: the states, in legend order
SITE_STATES = ("mcount", "nop", "b+8", "ftrace", "other")
#: how the map's legend names each state
STATE_LABELS = {
    "mcount": "call _mcount",
    "nop": "nop",
    "b+8": "b .+8",
    "ftrace": "call ftrace_caller",
    "other": "other (unexpected words)",
}


@dataclass(frozen=True)
class SiteState:
    """A site's state, its two words, and where its `bl` goes (`via` a stub or not)."""

    state: str
    words: tuple[int, int]
    target: int | None = None   #: final code address of a call (after the stub)
    via: int | None = None      #: the stub / PLT entry the `bl` goes to, if any

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def stub_target(memory, address: int, arch: str) -> int | None:
    """The code address a stub (PPC64: funcaddr at +32) or PLT entry (PPC32: the
    `lis`/`addi` pair) at `address` jumps to now; None if unreadable."""
    from ppcftrace.memory import MemoryFault

    try:
        if arch == "ppc64":
            return memory.read_u64(address + 32)
        from ppcftrace.ftrace.arch32 import plt_target
        return plt_target(memory.read_u32(address), memory.read_u32(address + 4))
    except MemoryFault:
        return None


def classify_site(words: tuple[int, int], ip: int, arch: str, *, mcount: int, ftrace_caller: int,
                  stubs: Mapping[int, int | None] = {}) -> SiteState:
    """Classify the two words at `ip`. `mcount` and `ftrace_caller` are code addresses;
    `stubs` maps each stub / PLT entry address to the code address it jumps to."""
    w0, w1 = words
    try:
        insn = isa.decode(w0, address=ip, arch=arch)
    except isa.DecodeError:
        return SiteState("other", words)
    if insn.mnemonic == "nop":
        return SiteState("nop", words)
    if insn.op != "b" or insn.fields["AA"]:
        return SiteState("other", words)
    if not insn.fields["LK"]:
        return SiteState("b+8" if insn.target == (ip + 8) & _mask(arch) else "other", words)
    target, via = insn.target, None
    if target in stubs:
        via, target = target, stubs[target]
    if target == mcount:
        return SiteState("mcount", words, target, via)
    if target == ftrace_caller:
        return SiteState("ftrace", words, target, via)
    return SiteState("other", words, target, via)


def _mask(arch: str) -> int:
    return (1 << (64 if arch == "ppc64" else 32)) - 1
