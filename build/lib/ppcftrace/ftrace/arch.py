"""The PowerPC side of dynamic ftrace (arch/powerpc/kernel/ftrace.c, 2.6.29).

`ftrace_make_nop`, `ftrace_make_call`, `ftrace_modify_code`, `ftrace_call_replace`
and `ftrace_update_ftrace_func`, shared by PPC64 and PPC32. A site the target can
reach with a `bl` (core kernel) is one word, `bl addr` <-> `nop`. A site that cannot
(a module, 0xd000... against 0xc000...) calls through a stub or PLT entry; the
`__ftrace_make_nop` / `__ftrace_make_call` for that case live in `arch64` and
`arch32`.

Each function takes an `ArchContext` first (the memory, the log, the options) where
the kernel uses globals, and raises `FtraceError` with the kernel's errno where the
kernel returns one: -EFAULT (reading faulted), -EINVAL (contents not as expected),
-EPERM (writing faulted). Every check comes before the write, so a failure changes
nothing. Where the kernel `printk`s, the same text goes to `ctx.printk`; the texts
are quoted from arch/powerpc/kernel/ftrace.c as released in v2.6.29. Where the kernel
prints nothing (ftrace_modify_code, the plain read/write faults), `FtraceError.printk`
is None and the exception's message is ours.

Function pointers: on PPC64 ELFv1 a C function pointer (MCOUNT_ADDR, FTRACE_ADDR,
ftrace_trace_function) is the address of a descriptor; `GET_ADDR(addr)` loads the
entry point from it. `test_24bit_addr()` tests the pointer itself, as the kernel
does: the kernel's descriptors sit in its own .opd, in reach of kernel text and out
of reach of the module area.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Callable

from ppcftrace.ftrace.errors import FtraceError
from ppcftrace.isa import BRANCH_SET_LINK, BranchOutOfRange, PPC_INST_NOP, create_branch
from ppcftrace.maccess import ProbeFault, flush_icache_range, probe_kernel_read, probe_kernel_write
from ppcftrace.memory import MemoryFault

__all__ = [
    "ArchContext", "MCOUNT_INSN_SIZE", "POLICIES", "PLT_FORMS",
    "ftrace_make_nop", "ftrace_make_call", "ftrace_modify_code", "ftrace_call_replace",
    "ftrace_update_ftrace_func", "test_24bit_addr", "GET_ADDR", "fail",
]

MCOUNT_INSN_SIZE = 4
#: how a PPC64 module site is disabled: "b+8" (merged, Milton Miller's fix) or
#: "two-nops" (the first posting, which loses the TOC restore of a preempted task)
POLICIES = ("b+8", "two-nops")
#: the PPC32 PLT entry forms __ftrace_make_nop accepts: r11 (2008), r12 (2012), either
PLT_FORMS = ("r11", "r12", "either")


@dataclass
class ArchContext:
    """What the arch code reaches through globals in the kernel."""

    memory: object                      #: the AddressSpace holding text
    arch: str = "ppc64"                 #: "ppc64" or "ppc32"
    printk: Callable[[str], None] | None = None   #: the kernel log (KERN_ERR lines)
    flush_target: object = None         #: holder of icache_flush_listeners (default: memory)
    policy: str = "b+8"
    plt: str = "r11"
    _entries: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.arch not in ("ppc64", "ppc32"):
            raise FtraceError(errno.EINVAL, f"unknown arch {self.arch!r}: use 'ppc64' or 'ppc32'")
        if self.policy not in POLICIES:
            raise FtraceError(errno.EINVAL, f"unknown policy {self.policy!r}: use one of {', '.join(POLICIES)}")
        if self.plt not in PLT_FORMS:
            raise FtraceError(errno.EINVAL, f"unknown PLT form {self.plt!r}: use one of {', '.join(PLT_FORMS)}")
        if self.flush_target is None:
            self.flush_target = self.memory
        if self.arch == "ppc64":
            from ppcftrace.ftrace import arch64 as ops
        else:
            from ppcftrace.ftrace import arch32 as ops
        #: the module holding this arch's __ftrace_make_nop / __ftrace_make_call
        self.ops = ops

    @property
    def pointer_digits(self) -> int:
        """Hex digits of a `%p` (zero-padded to the pointer width, no 0x, as 2008 printk)."""
        return 16 if self.arch == "ppc64" else 8


def fail(ctx: ArchContext, err: int, message: str, *, printk: bool = True, ip: int | None = None):
    """Log `message` (when the kernel printk's it) and raise FtraceError(err)."""
    if printk and ctx.printk is not None:
        ctx.printk(message)
    raise FtraceError(err, message, printk=message if printk else None, ip=ip)


def GET_ADDR(ctx: ArchContext, addr: int) -> int:  # noqa: N802 - the kernel's name
    """The entry point of function pointer `addr`: PPC64 loads it from the descriptor."""
    if ctx.arch == "ppc32":
        return addr
    entry = ctx._entries.get(addr)
    if entry is None:
        try:
            entry = ctx.memory.read_u64(addr)
        except MemoryFault as fault:
            # the kernel dereferences the descriptor directly and would oops here
            fail(ctx, errno.EFAULT, f"GET_ADDR: no function descriptor at {addr:#x} ({fault})", printk=False)
        ctx._entries[addr] = entry  # descriptors of kernel functions never change
    return entry


def ftrace_call_replace(ctx: ArchContext, ip: int, addr: int) -> int:
    """The `bl GET_ADDR(addr)` word for `ip` (2.6.29 masks the offset; no range check)."""
    return 0x48000001 | ((GET_ADDR(ctx, addr) - ip) & 0x03FFFFFC)


def test_24bit_addr(ctx: ArchContext, ip: int, addr: int) -> bool:
    """True when a `b` at `ip` could reach `addr` (the kernel asks create_branch)."""
    try:
        create_branch(ip, addr, 0, ctx.arch)
    except BranchOutOfRange:
        return False
    return True


def ftrace_modify_code(ctx: ArchContext, ip: int, old: int, new: int, tag: object = "ftrace") -> None:
    """Replace the word `old` at `ip` by `new`: read (-EFAULT), compare (-EINVAL), write
    (-EPERM), then flush_icache_range(ip, ip + 8). The kernel logs nothing here."""
    try:
        replaced = probe_kernel_read(ctx.memory, ip, MCOUNT_INSN_SIZE)
    except ProbeFault as fault:
        fail(ctx, errno.EFAULT, f"ftrace_modify_code: reading {ip:#x} faulted ({fault.fault.reason})",
             printk=False, ip=ip)
    if replaced != old.to_bytes(4, "big"):
        fail(ctx, errno.EINVAL, f"ftrace_modify_code: expected {old:08x} at {ip:#x}, found {replaced.hex()}",
             printk=False, ip=ip)
    try:
        probe_kernel_write(ctx.memory, ip, new.to_bytes(4, "big"), tag)
    except ProbeFault as fault:
        fail(ctx, errno.EPERM, f"ftrace_modify_code: writing {ip:#x} faulted ({fault.fault.reason})",
             printk=False, ip=ip)
    flush_icache_range(ctx.flush_target, ip, ip + 8)


def ftrace_make_nop(ctx: ArchContext, mod, rec, addr: int) -> None:
    """Turn the call of `addr` at `rec.ip` into a nop (a `b .+8` on PPC64 modules)."""
    ip = rec.ip
    if test_24bit_addr(ctx, ip, addr):
        old = ftrace_call_replace(ctx, ip, addr)
        return ftrace_modify_code(ctx, ip, old, PPC_INST_NOP, "ftrace_make_nop")
    # Out of range: a module's site. Use the record's module, or the one passed in.
    if rec.mod is None:
        if mod is None:
            fail(ctx, errno.EFAULT, f"No module loaded addr={addr:x}", ip=ip)
    elif mod is not None:
        if mod is not rec.mod:
            fail(ctx, errno.EINVAL, f"Record mod {_ptr(ctx, rec.mod)} not equal to passed in mod "
                 f"{_ptr(ctx, mod)}", ip=ip)
    else:
        mod = rec.mod
    ctx.ops.__ftrace_make_nop(ctx, mod, rec, addr)
    # The kernel stores rec->arch.mod before checking the site; we store it only on
    # success so that a failed call leaves the record as it was.
    rec.mod = mod


def ftrace_make_call(ctx: ArchContext, rec, addr: int) -> None:
    """Turn the nop at `rec.ip` into a call of `addr` (of the module's trampoline when out of range)."""
    ip = rec.ip
    if test_24bit_addr(ctx, ip, addr):
        new = ftrace_call_replace(ctx, ip, addr)
        return ftrace_modify_code(ctx, ip, PPC_INST_NOP, new, "ftrace_make_call")
    if rec.mod is None:
        fail(ctx, errno.EINVAL, "No module loaded", ip=ip)
    ctx.ops.__ftrace_make_call(ctx, rec, addr)


def ftrace_update_ftrace_func(ctx: ArchContext, ftrace_call: int, func: int) -> None:
    """Point the `bl` at label `ftrace_call` (inside ftrace_caller) at function pointer `func`."""
    try:
        old = int.from_bytes(probe_kernel_read(ctx.memory, ftrace_call, MCOUNT_INSN_SIZE), "big")
    except ProbeFault as fault:
        # the kernel memcpy()s the old word directly
        fail(ctx, errno.EFAULT, f"ftrace_update_ftrace_func: reading {ftrace_call:#x} faulted "
             f"({fault.fault.reason})", printk=False, ip=ftrace_call)
    new = ftrace_call_replace(ctx, ftrace_call, func)
    ftrace_modify_code(ctx, ftrace_call, old, new, "ftrace_update_ftrace_func")


def module_tramp(mod) -> int | None:
    """`mod->arch.tramp`: the module's stub / PLT entry to ftrace_caller (None if never made)."""
    return getattr(getattr(mod, "arch", None), "tramp", None) or None


def branch_or_zero(ip: int, target: int, arch: str) -> int:
    """create_branch(ip, target, BRANCH_SET_LINK) with the kernel's 0 for "cannot branch"."""
    try:
        return create_branch(ip, target, BRANCH_SET_LINK, arch)
    except BranchOutOfRange:
        return 0


def _ptr(ctx: ArchContext, mod) -> str:
    """`%p` of a module. We print its base address where the kernel prints the address
    of its struct module (our modules have no struct in simulated memory)."""
    value = getattr(mod, "base", None)
    if value is None:
        value = id(mod)
    return f"{value & ((1 << (4 * ctx.pointer_digits)) - 1):0{ctx.pointer_digits}x}"
