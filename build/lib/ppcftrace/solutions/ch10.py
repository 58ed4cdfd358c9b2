"""Chapter 10 reference solutions: ELFv2 entry points, out-of-line stubs, far sites."""

from __future__ import annotations


def local_entry_offset(st_other: int) -> int:
    """Exercise 1: bytes from the global to the local entry point, from st_other."""
    code = (st_other >> 5) & 7            # bits 5-7 of st_other
    return ((1 << code) >> 2) << 2        # 0, 1 -> 0; n -> 4 << (n - 2)


def ool_stub(stub: int, ip: int, caller: int) -> list[int]:
    """Exercise 2: the four words of the out-of-line stub at `stub` for site `ip`."""
    def branch(at: int, target: int, link: int) -> int:
        return 0x48000000 | ((target - at) & 0x03FFFFFC) | link
    return [0x7C0802A6,                         # mflr r0: the traced function's LR
            branch(stub + 4, caller, 1),        # bl ftrace_caller
            0x7C0803A6,                         # mtlr r0
            branch(stub + 12, ip + 4, 0)]       # b back, past the site


def ftrace_target(ip: int, caller: int, tramps: list[int]) -> int | None:
    """Exercise 3: what a kernel site at `ip` should `bl` to: ftrace_caller when a
    `bl` reaches it, else the first trampoline in reach, else None."""
    def reaches(target: int) -> bool:
        return -0x2000000 <= target - ip <= 0x1FFFFFC
    for target in (caller, *tramps):
        if reaches(target):
            return target
    return None


def plt_entry_r12(val: int) -> list[int]:
    """Exercise 4: a PPC32 PLT entry to `val` after 2012: lis/addi/mtctr on r12."""
    lo = val & 0xFFFF
    ha = ((val + 0x8000) >> 16) & 0xFFFF   # the high half, adjusted for a signed lo
    return [0x3D800000 | ha,                # lis   r12,ha
            0x398C0000 | lo,                # addi  r12,r12,lo
            0x7D8903A6,                     # mtctr r12
            0x4E800420]                     # bctr
