"""PPC64 module call sites (arch/powerpc/kernel/ftrace.c, 2.6.29, CONFIG_PPC64).

A module calls `_mcount` through a stub in its own stub area (module_64.c):

    site:  bl   <stub>           stub:  addis r12,r2,HA(off)     off = stub - module r2
           ld   r2,40(r1)               addi  r12,r12,LO(off)
                                        std   r2,40(r1)
                                        ld    r11,32(r12)       funcaddr (target entry)
                                        ld    r2,40(r12)        target TOC
                                        mtctr r11; bctr

`__ftrace_make_nop` follows the `bl` to the stub, checks its five words, recomputes
`off` from the first two and reads the funcaddr at `mod->arch.toc + off + 32`. Only
when that is the entry of `addr` and the next word restores r2 does it write
`b .+8` over the `bl`, keeping `ld r2,40(r1)` for a task preempted inside the traced
call (Milton Miller's review). `policy="two-nops"` writes the first posting's
`nop; nop` instead.
"""

from __future__ import annotations

import errno

from ppcftrace.ftrace.arch import GET_ADDR, branch_or_zero, fail, module_tramp
from ppcftrace.isa import (
    PPC_INST_ADDI_R12_R12, PPC_INST_ADDIS_R12_R2, PPC_INST_B_8, PPC_INST_LD_R2_R12,
    PPC_INST_LD_R11_R12, PPC_INST_LD_TOC, PPC_INST_NOP, PPC_INST_STD_TOC, find_bl_target, is_bl_op,
)
from ppcftrace.maccess import ProbeFault, flush_icache_range, probe_kernel_read, probe_kernel_write

__all__ = ["STUB_WORDS", "__ftrace_make_nop", "__ftrace_make_call", "stub_offset"]

#: (mask, value) of the five stub words __ftrace_make_nop checks
STUB_WORDS = (
    (0xFFFF0000, PPC_INST_ADDIS_R12_R2),   # addis r12,r2,<high>
    (0xFFFF0000, PPC_INST_ADDI_R12_R12),   # addi  r12,r12,<low>
    (0xFFFFFFFF, PPC_INST_STD_TOC),        # std   r2,40(r1)
    (0xFFFFFFFF, PPC_INST_LD_R11_R12),     # ld    r11,32(r12)
    (0xFFFFFFFF, PPC_INST_LD_R2_R12),      # ld    r2,40(r12)
)


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]


def stub_offset(w0: int, w1: int) -> int:
    """The stub's TOC offset: `(u16)w0 << 16` plus the sign-extended `(s16)w1`, as a C int."""
    lo = w1 & 0xFFFF
    offset = ((w0 & 0xFFFF) << 16) + (lo - 0x10000 if lo & 0x8000 else lo)
    offset &= 0xFFFFFFFF
    return offset - (1 << 32) if offset & 0x80000000 else offset


def __ftrace_make_nop(ctx, mod, rec, addr: int) -> None:
    """Disable a module site: verify bl -> stub -> funcaddr == GET_ADDR(addr) and the
    `ld r2,40(r1)` after it, then write `b .+8` (or two nops under policy "two-nops")."""
    ip = rec.ip
    try:
        op = int.from_bytes(probe_kernel_read(ctx.memory, ip, 4), "big")
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"__ftrace_make_nop: reading {ip:#x} faulted", printk=False, ip=ip)
    # Make sure that this is still a 24bit jump
    if not is_bl_op(op):
        fail(ctx, errno.EINVAL, f"Not expected bl: opcode is {op:x}", ip=ip)
    tramp = find_bl_target(ip, op, "ppc64")
    try:
        jmp = _words(probe_kernel_read(ctx.memory, tramp, 20))
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"Failed to read {tramp:x}", ip=ip)
    if any((word & mask) != value for word, (mask, value) in zip(jmp, STUB_WORDS)):
        fail(ctx, errno.EINVAL, "Not a trampoline", ip=ip)
    # the stub holds its target at r2 + offset + 32 (struct ppc64_stub_entry's funcaddr)
    toc = getattr(mod.arch, "toc", None) or 0
    where = (toc + stub_offset(jmp[0], jmp[1]) + 32) & 0xFFFFFFFFFFFFFFFF
    try:
        ptr = int.from_bytes(probe_kernel_read(ctx.memory, where, 8), "big")
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"Failed to read {where:x}", ip=ip)
    if ptr != GET_ADDR(ctx, addr):
        fail(ctx, errno.EINVAL, f"addr does not match {ptr:x}", ip=ip)
    try:
        op = int.from_bytes(probe_kernel_read(ctx.memory, ip + 4, 4), "big")
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"__ftrace_make_nop: reading {ip + 4:#x} faulted", printk=False, ip=ip)
    if op != PPC_INST_LD_TOC:
        fail(ctx, errno.EINVAL, f"Next line is not ld! ({op:08x})", ip=ip)
    if ctx.policy == "two-nops":
        new = PPC_INST_NOP.to_bytes(4, "big") * 2
    else:
        new = PPC_INST_B_8.to_bytes(4, "big")
    try:
        probe_kernel_write(ctx.memory, ip, new, "ftrace_make_nop")
    except ProbeFault:
        fail(ctx, errno.EPERM, f"__ftrace_make_nop: writing {ip:#x} faulted", printk=False, ip=ip)
    flush_icache_range(ctx.flush_target, ip, ip + 8)


_B8_LD = (PPC_INST_B_8, PPC_INST_LD_TOC)
_NOP_NOP = (PPC_INST_NOP, PPC_INST_NOP)


def __ftrace_make_call(ctx, rec, addr: int) -> None:
    """Enable a module site: require `{b .+8, ld r2,40(r1)}` or `{nop, nop}` and a
    trampoline, then write `bl mod->arch.tramp` + `ld r2,40(r1)`."""
    ip = rec.ip
    try:
        op = tuple(_words(probe_kernel_read(ctx.memory, ip, 8)))
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"__ftrace_make_call: reading {ip:#x} faulted", printk=False, ip=ip)
    if op != _B8_LD and op != _NOP_NOP:
        fail(ctx, errno.EINVAL, f"Expected NOPs but have {op[0]:x} {op[1]:x}", ip=ip)
    tramp = module_tramp(rec.mod)
    if tramp is None:
        fail(ctx, errno.EINVAL, "No ftrace trampoline", ip=ip)
    bl = branch_or_zero(ip, tramp, "ppc64")
    if not bl:
        fail(ctx, errno.EINVAL, "REL24 out of range!", ip=ip)
    new = bl.to_bytes(4, "big") + PPC_INST_LD_TOC.to_bytes(4, "big")
    try:
        probe_kernel_write(ctx.memory, ip, new, "ftrace_make_call")
    except ProbeFault:
        fail(ctx, errno.EPERM, f"__ftrace_make_call: writing {ip:#x} faulted", printk=False, ip=ip)
    flush_icache_range(ctx.flush_target, ip, ip + 8)
