"""Appendix "Port it yourself": a port of the PowerPC dynamic ftrace hooks, written
the way a student would, from FACTS section 4 and the kernel's arch/powerpc/kernel/ftrace.c.

`Port` is one implementation of the three hooks the ftrace core calls:

    ftrace_make_nop(ctx, mod, rec, addr)   the site calls addr: make it a nop
    ftrace_make_call(ctx, rec, addr)       the site is a nop: make it call addr
    ftrace_modify_code(ctx, ip, old, new)  replace one word, verify first

Each returns 0 or a negative errno (-EFAULT reading faulted, -EINVAL contents not
as expected, -EPERM writing faulted), as the C functions do. `ctx` is the
`ArchContext` the reference gets: `ctx.memory` (the address space), `ctx.arch`
("ppc64"/"ppc32") and `ctx.flush_target` (what `flush_icache_range` tells). The
methods are small so that `ppcftrace.solutions.bugs` can break one at a time, and
`ppcftrace.check.conformance` must pass `Port()` on both arches.
"""

from __future__ import annotations

import errno

from ppcftrace.maccess import ProbeFault, flush_icache_range, probe_kernel_read, probe_kernel_write

__all__ = ["Port", "NOP", "B_8", "LD_R2_40"]

NOP = 0x60000000        # ori r0,r0,0
B_8 = 0x48000008        # b .+8: jump over the next word
LD_R2_40 = 0xE8410028   # ld r2,40(r1): restore the module's TOC (ELFv1)
#: PPC64 stub words 0-4 as (mask, value): addis r12,r2,HA; addi r12,r12,LO;
#: std r2,40(r1); ld r11,32(r12); ld r2,40(r12)
STUB64 = ((0xFFFF0000, 0x3D820000), (0xFFFF0000, 0x398C0000), (0xFFFFFFFF, 0xF8410028),
          (0xFFFFFFFF, 0xE96C0020), (0xFFFFFFFF, 0xE84C0028))
#: PPC32 PLT entry (2008, r11): lis r11,HA; addi r11,r11,LO; mtctr r11; bctr
PLT32 = ((0xFFFF0000, 0x3D600000), (0xFFFF0000, 0x396B0000), (0xFFFFFFFF, 0x7D6903A6),
         (0xFFFFFFFF, 0x4E800420))


def s16(value: int) -> int:
    """The low 16 bits of value as a signed number."""
    value &= 0xFFFF
    return value - 0x10000 if value & 0x8000 else value


class Port:
    """The arch hooks of dynamic ftrace for PPC32 and PPC64 (ELFv1), by hand."""

    #: what a disabled PPC64 module site holds: `b .+8` over the bl, `ld r2,40(r1)` kept
    DISABLED64 = (B_8,)

    # -- reading and writing text -------------------------------------------------

    def read32(self, ctx, addr: int) -> int:
        """The word at addr (raises ProbeFault when reading faults)."""
        return int.from_bytes(probe_kernel_read(ctx.memory, addr, 4), "big")

    def flush(self, ctx, ip: int) -> None:
        """Make the CPU fetch the new instructions at ip (the two words of a site)."""
        flush_icache_range(ctx.flush_target, ip, ip + 8)

    def patch(self, ctx, ip: int, words) -> int:
        """Write words at ip, then flush: 0, or -EPERM when the write faults."""
        data = b"".join(w.to_bytes(4, "big") for w in words)
        try:
            probe_kernel_write(ctx.memory, ip, data)
        except ProbeFault:
            return -errno.EPERM
        self.flush(ctx, ip)
        return 0

    def ftrace_modify_code(self, ctx, ip: int, old: int, new: int) -> int:
        """Replace the word old at ip by new: read, compare, then write."""
        try:
            replaced = self.read32(ctx, ip)
        except ProbeFault:
            return -errno.EFAULT
        if replaced != old:
            return -errno.EINVAL
        return self.patch(ctx, ip, [new])

    # -- branches (Chapter 1) -------------------------------------------------------

    def is_bl_op(self, op: int) -> bool:
        """Opcode 18 with AA = 0 and LK = 1."""
        return (op & 0xFC000003) == 0x48000001

    def bl_target(self, ctx, ip: int, op: int) -> int:
        """Where the bl word op at ip goes."""
        offset = op & 0x03FFFFFC
        if offset & 0x02000000:
            offset -= 0x04000000
        return (ip + offset) % (1 << (64 if ctx.arch == "ppc64" else 32))

    def branch(self, ip: int, target: int) -> int:
        """The word of `bl target` at ip, or 0 when target is out of reach."""
        offset = target - ip
        if offset < -0x2000000 or offset > 0x1FFFFFC or offset & 3:
            return 0
        return 0x48000001 | (offset & 0x03FFFFFC)

    def entry(self, ctx, addr: int) -> int:
        """The code address of function pointer addr (PPC64: word 0 of its descriptor)."""
        if ctx.arch == "ppc32":
            return addr
        return int.from_bytes(probe_kernel_read(ctx.memory, addr, 8), "big")

    # -- the hooks --------------------------------------------------------------------

    def ftrace_make_nop(self, ctx, mod, rec, addr: int) -> int:
        """Disable the site at rec.ip, which calls addr (directly, or through a stub/PLT entry)."""
        bl = self.branch(rec.ip, self.entry(ctx, addr))
        if bl:                                   # core kernel: one word
            return self.ftrace_modify_code(ctx, rec.ip, bl, NOP)
        if mod is None:
            mod = rec.mod                        # later calls: the module met at load
        elif rec.mod is not None and rec.mod is not mod:
            return -errno.EINVAL
        if mod is None:
            return -errno.EFAULT                 # "No module loaded"
        if ctx.arch == "ppc64":
            ret = self.make_nop_stub(ctx, mod, rec, addr)
        else:
            ret = self.make_nop_plt(ctx, rec, addr)
        if ret == 0:
            rec.mod = mod                        # remember it for make_call
        return ret

    def ftrace_make_call(self, ctx, rec, addr: int) -> int:
        """Enable the site at rec.ip: call addr, or the module's trampoline to it."""
        bl = self.branch(rec.ip, self.entry(ctx, addr))
        if bl:
            return self.ftrace_modify_code(ctx, rec.ip, NOP, bl)
        if rec.mod is None or not rec.mod.arch.tramp:
            return -errno.EINVAL                 # "No module loaded" / no trampoline
        bl = self.branch(rec.ip, rec.mod.arch.tramp)
        if not bl:
            return -errno.EINVAL
        try:
            site = [self.read32(ctx, rec.ip), self.read32(ctx, rec.ip + 4)]
        except ProbeFault:
            return -errno.EFAULT
        if ctx.arch == "ppc32":
            return self.patch(ctx, rec.ip, [bl]) if site[0] == NOP else -errno.EINVAL
        if site not in ([B_8, LD_R2_40], [NOP, NOP]):
            return -errno.EINVAL
        return self.patch(ctx, rec.ip, [bl, LD_R2_40])

    # -- module sites ---------------------------------------------------------------

    def follow_bl(self, ctx, ip: int, count: int) -> list[int] | int:
        """The count words at the target of the bl at ip, or a negative errno."""
        try:
            op = self.read32(ctx, ip)
        except ProbeFault:
            return -errno.EFAULT
        if not self.is_bl_op(op):
            return -errno.EINVAL                 # "Not expected bl"
        tramp = self.bl_target(ctx, ip, op)
        try:
            return [self.read32(ctx, tramp + 4 * i) for i in range(count)]
        except ProbeFault:
            return -errno.EFAULT

    def make_nop_stub(self, ctx, mod, rec, addr: int) -> int:
        """PPC64: bl -> stub whose funcaddr is addr's entry, then `ld r2,40(r1)`: write b .+8."""
        stub = self.follow_bl(ctx, rec.ip, 5)
        if isinstance(stub, int):
            return stub
        if any(word & mask != value for word, (mask, value) in zip(stub, STUB64)):
            return -errno.EINVAL                 # "Not a trampoline"
        offset = ((stub[0] & 0xFFFF) << 16) + s16(stub[1])
        offset = (offset + 0x80000000) % (1 << 32) - 0x80000000   # a C int: may be negative
        try:
            funcaddr = int.from_bytes(probe_kernel_read(ctx.memory, mod.arch.toc + offset + 32, 8), "big")
        except ProbeFault:
            return -errno.EFAULT
        if funcaddr != self.entry(ctx, addr):
            return -errno.EINVAL                 # "addr does not match"
        ret = self.check_toc_restore(ctx, rec.ip + 4)
        return ret if ret else self.patch(ctx, rec.ip, self.DISABLED64)

    def check_toc_restore(self, ctx, ip: int) -> int:
        """0 when the word at ip is `ld r2,40(r1)`, else -EINVAL (-EFAULT if unreadable)."""
        try:
            return 0 if self.read32(ctx, ip) == LD_R2_40 else -errno.EINVAL
        except ProbeFault:
            return -errno.EFAULT

    def is_plt(self, words: list[int]) -> bool:
        """Do the four words match the PLT entry pattern?"""
        return all(word & mask == value for word, (mask, value) in zip(words, PLT32))

    def make_nop_plt(self, ctx, rec, addr: int) -> int:
        """PPC32: bl -> PLT entry that loads addr: write one nop."""
        plt = self.follow_bl(ctx, rec.ip, 4)
        if isinstance(plt, int):
            return plt
        if not self.is_plt(plt):
            return -errno.EINVAL                 # "Not a trampoline"
        target = (((plt[0] & 0xFFFF) << 16) + s16(plt[1])) & 0xFFFFFFFF
        if target != addr:
            return -errno.EINVAL                 # "Trampoline location ... does not match"
        return self.patch(ctx, rec.ip, [NOP])
