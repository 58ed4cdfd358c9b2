"""PPC32 module call sites (arch/powerpc/kernel/ftrace.c, 2.6.29, !CONFIG_PPC64).

A module calls `_mcount` through a PLT entry (module_32.c):

    site:  bl <entry>        entry:  lis   r11,HA(target)
                                     addi  r11,r11,LO(target)
                                     mtctr r11
                                     bctr

`__ftrace_make_nop` checks the four words, rebuilds the target as
`(hi << 16) | lo`, minus 0x10000 when lo is negative, compares it with `addr` and
writes one `nop`. There is no TOC, so one word is enough. Commit 3c75296562f4 (2012)
moved the entries to r12 (`lis r12` / `addi r12,r12` / `mtctr r12`); `plt="r12"` or
`plt="either"` accepts that form.
"""

from __future__ import annotations

import errno

from ppcftrace.ftrace.arch import branch_or_zero, fail, module_tramp
from ppcftrace.isa import (
    PPC_INST_ADDI_R11_R11, PPC_INST_ADDI_R12_R12, PPC_INST_BCTR, PPC_INST_LIS_R11, PPC_INST_LIS_R12,
    PPC_INST_MTCTR_R11, PPC_INST_MTCTR_R12, PPC_INST_NOP, find_bl_target, is_bl_op,
)
from ppcftrace.maccess import ProbeFault, flush_icache_range, probe_kernel_read, probe_kernel_write

__all__ = ["PLT_WORDS", "__ftrace_make_nop", "__ftrace_make_call", "plt_target"]

#: (mask, value) of the four PLT words, per register form
PLT_WORDS = {
    "r11": ((0xFFFF0000, PPC_INST_LIS_R11), (0xFFFF0000, PPC_INST_ADDI_R11_R11),
            (0xFFFFFFFF, PPC_INST_MTCTR_R11), (0xFFFFFFFF, PPC_INST_BCTR)),
    "r12": ((0xFFFF0000, PPC_INST_LIS_R12), (0xFFFF0000, PPC_INST_ADDI_R12_R12),
            (0xFFFFFFFF, PPC_INST_MTCTR_R12), (0xFFFFFFFF, PPC_INST_BCTR)),
}


def _is_plt(jmp: list[int], form: str) -> bool:
    forms = ("r11", "r12") if form == "either" else (form,)
    return any(all((w & m) == v for w, (m, v) in zip(jmp, PLT_WORDS[f])) for f in forms)


def plt_target(w0: int, w1: int) -> int:
    """The address a PLT entry loads: `(hi << 16) | lo`, less 0x10000 when lo & 0x8000."""
    tramp = (w1 & 0xFFFF) | ((w0 & 0xFFFF) << 16)
    if tramp & 0x8000:
        tramp -= 0x10000
    return tramp & 0xFFFFFFFF


def __ftrace_make_nop(ctx, mod, rec, addr: int) -> None:
    """Disable a module site: verify bl -> PLT entry -> addr, then write one `nop`."""
    ip = rec.ip
    try:
        op = int.from_bytes(probe_kernel_read(ctx.memory, ip, 4), "big")
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"__ftrace_make_nop: reading {ip:#x} faulted", printk=False, ip=ip)
    if not is_bl_op(op):
        fail(ctx, errno.EINVAL, f"Not expected bl: opcode is {op:x}", ip=ip)
    tramp = find_bl_target(ip, op, "ppc32")
    try:
        data = probe_kernel_read(ctx.memory, tramp, 16)
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"Failed to read {tramp:x}", ip=ip)
    jmp = [int.from_bytes(data[i:i + 4], "big") for i in range(0, 16, 4)]
    if not _is_plt(jmp, ctx.plt):
        fail(ctx, errno.EINVAL, "Not a trampoline", ip=ip)
    tramp = plt_target(jmp[0], jmp[1])
    if tramp != addr:
        fail(ctx, errno.EINVAL, f"Trampoline location {tramp:08x} does not match addr", ip=ip)
    try:
        probe_kernel_write(ctx.memory, ip, PPC_INST_NOP.to_bytes(4, "big"), "ftrace_make_nop")
    except ProbeFault:
        fail(ctx, errno.EPERM, f"__ftrace_make_nop: writing {ip:#x} faulted", printk=False, ip=ip)
    flush_icache_range(ctx.flush_target, ip, ip + 8)


def __ftrace_make_call(ctx, rec, addr: int) -> None:
    """Enable a module site: require a `nop` and a trampoline, write `bl mod->arch.tramp`."""
    ip = rec.ip
    try:
        op = int.from_bytes(probe_kernel_read(ctx.memory, ip, 4), "big")
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"__ftrace_make_call: reading {ip:#x} faulted", printk=False, ip=ip)
    if op != PPC_INST_NOP:
        fail(ctx, errno.EINVAL, f"Expected NOP but have {op:x}", ip=ip)
    tramp = module_tramp(rec.mod)
    if tramp is None:
        fail(ctx, errno.EINVAL, "No ftrace trampoline", ip=ip)
    bl = branch_or_zero(ip, tramp, "ppc32")
    if not bl:
        fail(ctx, errno.EINVAL, "REL24 out of range!", ip=ip)
    try:
        probe_kernel_write(ctx.memory, ip, bl.to_bytes(4, "big"), "ftrace_make_call")
    except ProbeFault:
        fail(ctx, errno.EPERM, f"__ftrace_make_call: writing {ip:#x} faulted", printk=False, ip=ip)
    flush_icache_range(ctx.flush_target, ip, ip + 8)
