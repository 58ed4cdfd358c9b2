"""Chapter 7 reference solutions: a PPC32 PLT entry's target, the LR and CTR that
_mcount leaves, and __ftrace_make_nop for PPC32 module sites."""

from __future__ import annotations

import errno

from ppcftrace.memory import MemoryFault


def plt_target(w0: int, w1: int) -> int:
    """Exercise 1: the address `lis r11,hi; addi r11,r11,lo` loads into r11."""
    target = ((w0 & 0xFFFF) << 16) | (w1 & 0xFFFF)
    if target & 0x8000:               # addi adds lo as a negative number
        target -= 0x10000
    return target & 0xFFFFFFFF


def mcount_lr_ctr(site: int, lr_at_entry: int) -> tuple[int, int]:
    """Exercise 2: (LR, CTR) at _mcount's bctr, for a call from `site` in a function
    entered with LR = lr_at_entry."""
    ctr = site + 4                    # mflr r0; mtctr r0: just past the bl
    lr = lr_at_entry                  # lwz r0,4(r1); mtlr r0: the prologue's saved LR
    return lr, ctr


def ftrace_make_nop32(memory, ip: int, addr: int) -> int:
    """Exercise 3: disable a PPC32 module site that calls `addr` through a PLT entry."""
    try:
        op = memory.read_u32(ip)
    except MemoryFault:
        return -errno.EFAULT
    if (op & 0xFC000003) != 0x48000001:            # is_bl_op
        return -errno.EINVAL
    offset = op & 0x03FFFFFC
    if offset & 0x02000000:
        offset -= 0x04000000
    entry = (ip + offset) & 0xFFFFFFFF             # find_bl_target
    try:
        jmp = [memory.read_u32(entry + 4 * i) for i in range(4)]
    except MemoryFault:
        return -errno.EFAULT
    if ((jmp[0] & 0xFFFF0000) != 0x3D600000       # lis r11,hi
            or (jmp[1] & 0xFFFF0000) != 0x396B0000  # addi r11,r11,lo
            or jmp[2] != 0x7D6903A6                # mtctr r11
            or jmp[3] != 0x4E800420):              # bctr
        return -errno.EINVAL
    if plt_target(jmp[0], jmp[1]) != addr:
        return -errno.EINVAL
    try:
        memory.write_u32(ip, 0x60000000)           # one nop: no TOC to restore
    except MemoryFault:
        return -errno.EPERM
    return 0
