"""Out-of-line ftrace stubs (Linux 6.13, commit eec37961a56a), simulated on the ELFv2
machine.

Instead of a profiling sequence inside every function, each function keeps one
patchable word, and a 16-byte stub per function sits in an area near the end of
kernel text:

    function:  ...                     stub (struct ftrace_ool_stub):
    ip:        nop  <->  b stub            mflr  r0
               ...                         bl    ftrace_caller
                                           mtlr  r0
                                           b     ip+4

The stub is written once, when the record is made (`ftrace_init_ool_stub`);
enabling and disabling a function then flips its one word between `nop` and
`b stub`. `ftrace_caller` finds `ip` from the stub's last word (our fixture's
`ftrace_caller_ool`).

Our fixture is compiled with `-mprofile-kernel`, so each function still has the
`mflr r0` before its site (harmless: the stub repeats it); the site word is the
one a 6.13 kernel patches. `OutOfLineOps` is a complete set of arch hooks for
`FtraceElfV2(machine, arch_ops=...)`: boot conversion writes the stubs, and every
filter, tracer and trace works unchanged on top.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from ppcftrace.ftrace import arch_elfv2
from ppcftrace.ftrace.arch import fail, ftrace_modify_code
from ppcftrace.isa import BRANCH_SET_LINK, PPC_INST_MFLR, PPC_INST_MTLR, PPC_INST_NOP, create_branch
from ppcftrace.machine import KERNELBASE

__all__ = ["OOL_STUB_SIZE", "OOL_AREA_BASE", "ool_stub_words", "OolStubArea", "OutOfLineOps",
           "start_kernel_ool"]

#: sizeof(struct ftrace_ool_stub): four instructions
OOL_STUB_SIZE = 16
#: where our machine puts the stub area: inside `bl` reach of all kernel text (the
#: kernel places it at the end of .text, `ftrace_ool_stub_text_end`)
OOL_AREA_BASE = KERNELBASE["ppc64"] + 0x80000


def ool_stub_words(stub: int, ip: int, caller: int) -> tuple[int, int, int, int]:
    """`mflr r0; bl caller; mtlr r0; b ip+4` for a stub at `stub` serving site `ip`."""
    return (PPC_INST_MFLR, create_branch(stub + 4, caller, BRANCH_SET_LINK),
            PPC_INST_MTLR, create_branch(stub + 12, ip + 4))


@dataclass
class OolStubArea:
    """The mapped stub area: `stubs` maps a site to its stub, in record order."""

    base: int
    count: int
    stubs: dict[int, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.count * OOL_STUB_SIZE

    def stub_for(self, ip: int) -> int | None:
        return self.stubs.get(ip)


class OutOfLineOps:
    """Arch hooks for out-of-line sites: boot conversion (the -mprofile-kernel
    `bl _mcount` -> nop) writes the site's stub; then `ftrace_make_call` writes
    `b stub` over the nop and `ftrace_make_nop` writes the nop back."""

    def __init__(self, machine, caller: str = "ftrace_caller_ool", base: int = OOL_AREA_BASE):
        count = max(1, len([ip for ip in machine.mcount_sites if ip]))
        self.machine = machine
        self.caller = machine.kallsyms.address(caller)
        self.area = OolStubArea(base, count)
        machine.memory.map("ftrace ool stubs", base, self.area.size, "rwx")

    def _check_room(self, ctx, rec) -> None:
        if len(self.area.stubs) >= self.area.count:
            fail(ctx, errno.EINVAL, f"No space in ftrace_ool_stub area for {rec.ip:x}", ip=rec.ip)

    # the kernel's ftrace_init_ool_stub()
    def ftrace_init_ool_stub(self, ctx, rec) -> int:
        area = self.area
        self._check_room(ctx, rec)
        stub = area.base + OOL_STUB_SIZE * len(area.stubs)
        words = ool_stub_words(stub, rec.ip, self.caller)
        data = b"".join(w.to_bytes(4, "big") for w in words)
        ctx.memory.write(stub, data, "ftrace_init_ool_stub")
        area.stubs[rec.ip] = stub
        return stub

    def _stub(self, ctx, rec) -> int:
        stub = self.area.stub_for(rec.ip)
        if stub is None:
            fail(ctx, errno.EINVAL, f"no out-of-line stub for {rec.ip:x}", ip=rec.ip)
        return stub

    def ftrace_make_nop(self, ctx, mod, rec, addr: int) -> None:
        stub = self.area.stub_for(rec.ip)
        if stub is None:  # boot: the compiler's `bl _mcount`, then the stub
            self._check_room(ctx, rec)   # verify first: a failure writes nothing
            arch_elfv2.ftrace_make_nop(ctx, mod, rec, addr)
            self.ftrace_init_ool_stub(ctx, rec)
            return
        ftrace_modify_code(ctx, rec.ip, create_branch(rec.ip, stub), PPC_INST_NOP,
                           "ftrace_make_nop")

    def ftrace_make_call(self, ctx, rec, addr: int) -> None:
        stub = self._stub(ctx, rec)
        ftrace_modify_code(ctx, rec.ip, PPC_INST_NOP, create_branch(rec.ip, stub),
                           "ftrace_make_call")


def start_kernel_ool(*, cpu: bool = True):
    """The ELFv2 machine with out-of-line ftrace: `machine.ool` is the `OutOfLineOps`."""
    from ppcftrace.elfv2.machine import boot
    from ppcftrace.kernel import attach_cpu
    from ppcftrace.maccess import icache_flush_listeners

    machine = boot()
    machine.log = []
    icache_flush_listeners(machine)
    machine.ool = OutOfLineOps(machine)
    machine.ftrace = arch_elfv2.FtraceElfV2(machine, arch_ops=machine.ool)
    machine.ftrace.ftrace_init()
    machine.module_notifiers.append(machine.ftrace.module_notifier)
    machine.cpu = attach_cpu(machine) if cpu else None
    return machine
