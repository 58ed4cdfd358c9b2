"""The kernel's branch helpers (arch/powerpc/lib/code-patching.c, kernel/ftrace.c, 2008).

Same names, same arithmetic; where the kernel returns 0 for "cannot branch",
`create_branch` raises `BranchOutOfRange` carrying the offset.
"""

from __future__ import annotations

from ppcftrace.isa.errors import BranchOutOfRange

BRANCH_SET_LINK = 0x1
BRANCH_ABSOLUTE = 0x2

_BITS = {"ppc64": 64, "ppc32": 32}


def _signed(value: int, bits: int) -> int:
    """`value` as a C `long` of `bits` bits."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def is_offset_in_branch_range(offset: int) -> bool:
    """True when an I-form branch reaches `offset` bytes: −0x2000000…+0x1fffffc, aligned."""
    return -0x2000000 <= offset <= 0x1FFFFFC and not offset & 3


def create_branch(ip: int, target: int, flags: int = 0, arch: str = "ppc64") -> int:
    """The `b`/`bl`/`ba` word at `ip` that reaches `target`; raises `BranchOutOfRange`
    (with `.offset`) where the kernel returns 0, including a misaligned offset."""
    bits = _BITS[arch]
    offset = target if flags & BRANCH_ABSOLUTE else target - ip
    offset = _signed(offset, bits)  # the kernel computes in a C long
    if not is_offset_in_branch_range(offset):
        why = "misaligned" if -0x2000000 <= offset <= 0x1FFFFFC else "out of range"
        raise BranchOutOfRange(f"cannot branch from {ip:#x} to {target:#x}: "
                               f"offset {offset:#x} {why}", offset=offset)
    return 0x48000000 | (flags & 0x3) | (offset & 0x03FFFFFC)


def is_bl_op(op: int) -> bool:
    """True for `bl` (I-form, LK = 1, AA = 0)."""
    return (op & 0xFC000003) == 0x48000001


def find_bl_target(ip: int, op: int, arch: str = "ppc64") -> int:
    """The target of the `bl` word `op` at `ip`, wrapped to the address size."""
    offset = op & 0x03FFFFFC
    if offset & 0x02000000:  # sign-extend the 26-bit offset
        offset -= 0x04000000
    return (ip + offset) & ((1 << _BITS[arch]) - 1)


def PPC_LO(v: int) -> int:  # noqa: N802 - the kernel's name
    """Low 16 bits (`@l`)."""
    return v & 0xFFFF


def PPC_HI(v: int) -> int:  # noqa: N802
    """Bits 16–31 (`@h`)."""
    return (v >> 16) & 0xFFFF


def PPC_HA(v: int) -> int:  # noqa: N802
    """High half adjusted for a signed low half (`@ha`): `PPC_HI(v + 0x8000)`."""
    return PPC_HI(v + 0x8000)
