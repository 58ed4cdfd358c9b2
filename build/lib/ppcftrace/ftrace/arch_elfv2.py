"""PowerPC ftrace for an ELFv2 `-mprofile-kernel` kernel (arch/powerpc/kernel/trace/
ftrace.c, Linux 4.6-6.5, CONFIG_MPROFILE_KERNEL).

A site is `mflr r0; bl _mcount` at a function's local entry point, and the
`bl` is the only word ftrace touches: `nop` when disabled, `bl ftrace_caller`
(kernel text) or `bl <the module's ftrace stub>` (a module) when enabled. No
`b .+8`: nothing follows the call that a preempted task could miss, because the
stub does not change r2 (`ftrace_caller` saves and restores it).

What changed from 2008 (`ppcftrace.ftrace.arch` / `arch64`):

- a function pointer is code: `ppc_function_entry()` (skip the global entry
  sequence) replaces the descriptor load;
- `__ftrace_make_nop` asks the stub for its target (`module_trampoline_target`:
  the magic word, then the 8-byte target) instead of decoding the stub's
  `addis/addi` against the module's TOC, and checks that the word before the
  site is `mflr r0` (or `std r0,16(r1)`, GCC's older sequence) instead of
  looking for `ld r2,40(r1)` after it;
- `__ftrace_make_call` checks the module's ftrace stub the same way before
  branching to it.

Functions take the `ArchContext` of `ppcftrace.ftrace.arch` and raise its
`FtraceError` with the kernel's errno and message; a failure writes nothing.
`FtraceElfV2` is the generic core with these hooks plugged in.
"""

from __future__ import annotations

import errno

from ppcftrace.elfv2.abi import ppc_function_entry, ppc_global_function_entry
from ppcftrace.ftrace.arch import (ArchContext, MCOUNT_INSN_SIZE, _ptr, branch_or_zero, fail,
                                   ftrace_modify_code, module_tramp, test_24bit_addr)
from ppcftrace.ftrace.core import Ftrace
from ppcftrace.ftrace.errors import FtraceError
from ppcftrace.isa import PPC_INST_MFLR, PPC_INST_NOP, PPC_INST_STD_LR, find_bl_target, is_bl_op
from ppcftrace.maccess import ProbeFault, flush_icache_range, probe_kernel_read, probe_kernel_write
from ppcftrace.module64v2 import FUNCDATA_OFFSET, MAGIC_OFFSET, STUB_MAGIC

__all__ = ["ftrace_call_replace", "ftrace_make_nop", "ftrace_make_call",
           "ftrace_update_ftrace_func", "module_trampoline_target", "FtraceElfV2"]



def _read_u32(ctx: ArchContext, at: int) -> int:
    return int.from_bytes(probe_kernel_read(ctx.memory, at, 4), "big")


def ftrace_call_replace(ctx: ArchContext, ip: int, addr: int, link: bool = True) -> int:
    """`bl` (or `b`) from `ip` to the local entry of function `addr`; 0 if out of reach."""
    word = branch_or_zero(ip, ppc_function_entry(ctx.memory, addr), ctx.arch)
    return word if link or not word else word & ~1


def module_trampoline_target(ctx: ArchContext, mod, addr: int) -> int:
    """The target of the module stub at `addr`: it must be in the module and carry
    STUB_MAGIC; raises FtraceError(EFAULT) with the kernel's message otherwise."""
    name = getattr(mod, "name", "?")
    base, size = getattr(mod, "base", 0), getattr(mod, "size", 0)
    if not base <= addr < base + size:
        fail(ctx, errno.EFAULT, f"module_trampoline_target: stub {addr:x} not in module {name}")
    try:
        magic = _read_u32(ctx, addr + MAGIC_OFFSET)
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"module_trampoline_target: fault reading magic for stub "
             f"{addr:x} for {name}")
    if magic != STUB_MAGIC:
        fail(ctx, errno.EFAULT, f"module_trampoline_target: bad magic for stub {addr:x} for {name}")
    try:
        return int.from_bytes(probe_kernel_read(ctx.memory, addr + FUNCDATA_OFFSET, 8), "big")
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"module_trampoline_target: fault reading funcdata for stub "
             f"{addr:x} for {name}")


def _patch(ctx: ArchContext, ip: int, word: int, tag: str, what: str) -> None:
    """patch_instruction(): one word, then the icache flush."""
    try:
        probe_kernel_write(ctx.memory, ip, word.to_bytes(4, "big"), tag)
    except ProbeFault:
        fail(ctx, errno.EPERM, what, ip=ip)
    flush_icache_range(ctx.flush_target, ip, ip + MCOUNT_INSN_SIZE)


def __ftrace_make_nop(ctx: ArchContext, mod, rec, addr: int) -> None:
    """Disable a module site: bl -> stub whose target is `addr`, after `mflr r0`;
    then one `nop`."""
    ip = rec.ip
    try:
        op = _read_u32(ctx, ip)
    except ProbeFault:
        fail(ctx, errno.EFAULT, "Fetching opcode failed.", ip=ip)
    if not is_bl_op(op):
        fail(ctx, errno.EINVAL, f"Not expected bl: opcode is {op:08x}", ip=ip)
    tramp = find_bl_target(ip, op, "ppc64")
    try:
        ptr = module_trampoline_target(ctx, mod, tramp)
    except FtraceError:
        fail(ctx, errno.EFAULT, "Failed to get trampoline target", ip=ip)
    entry = ppc_global_function_entry(addr)
    if ptr != entry:
        fail(ctx, errno.EINVAL, f"addr {ptr:x} does not match expected {entry:x}", ip=ip)
    try:
        prev = _read_u32(ctx, ip - 4)
    except ProbeFault:
        fail(ctx, errno.EFAULT, "Fetching instruction at ip-4 failed.", ip=ip)
    if prev not in (PPC_INST_MFLR, PPC_INST_STD_LR):
        fail(ctx, errno.EINVAL, f"Unexpected instruction {prev:08x} around bl _mcount", ip=ip)
    _patch(ctx, ip, PPC_INST_NOP, "ftrace_make_nop", "Patching NOP failed.")


def __ftrace_make_call(ctx: ArchContext, rec, addr: int) -> None:
    """Enable a module site: nop there, the module's ftrace stub reaching `addr`;
    then `bl stub`."""
    ip = rec.ip
    try:
        op = _read_u32(ctx, ip)
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"__ftrace_make_call: reading {ip:#x} faulted", printk=False, ip=ip)
    if op != PPC_INST_NOP:
        fail(ctx, errno.EINVAL, f"Unexpected call sequence at {ip:x}: {op:08x}", ip=ip)
    tramp = module_tramp(rec.mod)
    if tramp is None:
        fail(ctx, errno.EINVAL, "No ftrace trampoline", ip=ip)
    try:
        ptr = module_trampoline_target(ctx, rec.mod, tramp)
    except FtraceError:
        fail(ctx, errno.EFAULT, "Failed to get trampoline target", ip=ip)
    entry = ppc_global_function_entry(addr)
    if ptr != entry:
        fail(ctx, errno.EINVAL, f"addr {ptr:x} does not match expected {entry:x}", ip=ip)
    bl = branch_or_zero(ip, tramp, "ppc64")
    if not bl:
        fail(ctx, errno.EINVAL, "REL24 out of range!", ip=ip)
    _patch(ctx, ip, bl, "ftrace_make_call", f"__ftrace_make_call: writing {ip:#x} faulted")


def ftrace_make_nop(ctx: ArchContext, mod, rec, addr: int) -> None:
    """Turn the `bl addr` at `rec.ip` into a `nop` (one word, kernel or module)."""
    ip = rec.ip
    if test_24bit_addr(ctx, ip, ppc_function_entry(ctx.memory, addr)):
        old = ftrace_call_replace(ctx, ip, addr)
        return ftrace_modify_code(ctx, ip, old, PPC_INST_NOP, "ftrace_make_nop")
    if rec.mod is None:
        if mod is None:
            fail(ctx, errno.EFAULT, f"No module loaded addr={addr:x}", ip=ip)
    elif mod is not None and mod is not rec.mod:
        fail(ctx, errno.EINVAL, f"Record mod {_ptr(ctx, rec.mod)} not equal to passed in mod "
             f"{_ptr(ctx, mod)}", ip=ip)
    else:
        mod = rec.mod
    __ftrace_make_nop(ctx, mod, rec, addr)
    rec.mod = mod


def ftrace_make_call(ctx: ArchContext, rec, addr: int) -> None:
    """Turn the `nop` at `rec.ip` into `bl addr`, or `bl` the module's ftrace stub."""
    ip = rec.ip
    if test_24bit_addr(ctx, ip, ppc_function_entry(ctx.memory, addr)):
        new = ftrace_call_replace(ctx, ip, addr)
        return ftrace_modify_code(ctx, ip, PPC_INST_NOP, new, "ftrace_make_call")
    if rec.mod is None:
        fail(ctx, errno.EINVAL, "No module loaded", ip=ip)
    __ftrace_make_call(ctx, rec, addr)


def ftrace_update_ftrace_func(ctx: ArchContext, ftrace_call: int, func: int) -> None:
    """Point the `bl` at `ftrace_call` at the local entry of `func`."""
    try:
        old = _read_u32(ctx, ftrace_call)
    except ProbeFault:
        fail(ctx, errno.EFAULT, f"ftrace_update_ftrace_func: reading {ftrace_call:#x} faulted",
             printk=False, ip=ftrace_call)
    new = ftrace_call_replace(ctx, ftrace_call, func)
    ftrace_modify_code(ctx, ftrace_call, old, new, "ftrace_update_ftrace_func")


class _Ops:
    """The arch hooks the generic core calls (`Ftrace(arch_ops=...)`)."""

    ftrace_make_nop = staticmethod(ftrace_make_nop)
    ftrace_make_call = staticmethod(ftrace_make_call)


class FtraceElfV2(Ftrace):
    """`Ftrace` on an ELFv2 machine: these hooks, and `ftrace_call` pointed at a
    function's local entry point rather than through a descriptor."""

    def __init__(self, machine, **options):
        options.setdefault("arch_ops", _Ops)
        super().__init__(machine, **options)

    def ftrace_update_ftrace_func(self, func: str) -> None:
        ip = self.symbol_address("ftrace_call")
        try:
            ftrace_update_ftrace_func(self.ctx, ip, self.function_pointer(func))
        except FtraceError as err:
            self.ftrace_bug(-err.errno, ip)
