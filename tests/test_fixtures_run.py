"""The fixture kernels run: on real emulators, untraced and with every site calling
ftrace_caller, which must hand function_trace_call the site and the parent's return
address and leave the traced code undisturbed.

PPC32: the committed vmlinux in Unicorn. PPC64 (Unicorn cannot run 64-bit code): the
same sources relinked as a static program with a small C harness, under qemu-ppc64.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import need
from ppcftrace.machine import Machine

NOP = 0x60000000
#: what start_kernel prints (the literals of fixtures/kernel/main.c)
BOOT_LOG = ["Linux version 2.6.28-ppcftrace (fixture kernel)\n",
            "Kernel command line: console=hvc0 ftrace=function\n",
            "Freeing unused kernel memory: 0k freed\n"]


def bl(ip: int, target: int) -> int:
    """I-form `bl target` at ip (Power ISA: opcode 18, LI, AA=0, LK=1)."""
    return 0x48000001 | ((target - ip) & 0x03FFFFFC)


def is_call(word: int) -> bool:
    """`bl target` or `bctrl` (an indirect call through a function pointer)."""
    return (word & 0xFC000003) == 0x48000001 or word == 0x4E800421


def render(fmt: str, args: list[int], read_string) -> str:
    """printk's formatting for the conversions the fixtures use."""
    it = iter(args)

    def conv(m):
        value = next(it)
        if m.group(1) == "s":
            return read_string(value)
        value &= (1 << 64) - 1 if "l" in m.group(0) else (1 << 32) - 1
        bits = 64 if "l" in m.group(0) else 32
        if value >> (bits - 1):
            value -= 1 << bits
        return str(value) if m.group(1) == "d" else str(value & ((1 << bits) - 1))

    return re.sub(r"%l?([sdu])", conv, fmt)


def check_trace(records, sites, symbolize, is_call_return):
    """Every record names a site; every parent in the image follows a `bl`; idle
    brackets power_save with stop/start_critical_timings."""
    assert records
    names = []
    for ip, parent in records:
        assert ip in sites, hex(ip)
        if parent is not None:
            assert is_call_return(parent), hex(parent)
        names.append(symbolize(ip).split("+")[0].lstrip("."))
    expected = ["start_kernel", "printk", "sched_init", "printk", "rest_init",
                "kernel_thread", "sched_add_task", "schedule", "pick_next_task",
                "kernel_init", "printk", "cpu_idle", "stop_critical_timings",
                "start_critical_timings", "schedule"]
    it = iter(names)
    assert all(name in it for name in expected), names   # in this order
    idle = names[names.index("stop_critical_timings"):names.index("start_critical_timings")]
    assert any(n.endswith("_idle") for n in idle), names


# -- PPC32 under Unicorn ------------------------------------------------------------------

def run_ppc32(m: Machine, patch):
    unicorn = pytest.importorskip("unicorn")
    from unicorn import ppc_const as P

    uc = unicorn.Uc(unicorn.UC_ARCH_PPC, unicorn.UC_MODE_PPC32 | unicorn.UC_MODE_BIG_ENDIAN)
    pages = sorted({p for r in m.memory.regions
                    for p in range(r.start & ~0xFFF, r.end, 0x1000)})
    for page in pages:
        uc.mem_map(page, 0x1000)
    for r in m.memory.regions:
        uc.mem_write(r.start, bytes(r.data))
    for addr, word in patch:
        uc.mem_write(addr, word.to_bytes(4, "big"))

    def read_string(addr):
        return bytes(uc.mem_read(addr, 256)).split(b"\0")[0].decode()

    reg = [getattr(P, f"UC_PPC_REG_{i}") for i in range(11)]
    log, trace = [], []
    hooks = {m.entry("__host_printk"): lambda: log.append(render(
                 read_string(uc.reg_read(reg[3])), [uc.reg_read(reg[i]) for i in range(4, 11)],
                 read_string)),
             m.entry("__host_trace"): lambda: trace.append(
                 (uc.reg_read(reg[3]), uc.reg_read(reg[4])))}
    for addr, fn in hooks.items():
        uc.hook_add(unicorn.UC_HOOK_CODE, lambda *_a, fn=fn: fn(), begin=addr, end=addr)
    done = m.stack.start            # return address: emulation stops before running it
    sp = m.stack_top - 16
    uc.mem_write(sp, bytes(16))
    uc.reg_write(reg[1], sp)
    uc.reg_write(P.UC_PPC_REG_LR, done)
    uc.emu_start(m.entry("start_kernel"), done, count=200_000)
    assert uc.reg_read(reg[1]) == sp
    return log, trace, uc


def test_ppc32_kernel_boots_untraced_and_with_sites_as_nops():
    m = Machine.boot("ppc32")
    log, trace, _ = run_ppc32(m, [])
    assert log == BOOT_LOG and trace == []
    log, trace, _ = run_ppc32(m, [(s, NOP) for s in m.mcount_sites])
    assert log == BOOT_LOG and trace == []


def test_ppc32_ftrace_caller_reports_site_and_parent():
    m = Machine.boot("ppc32")
    caller, call = m.entry("ftrace_caller"), m.entry("ftrace_call")
    patch = [(s, bl(s, caller)) for s in m.mcount_sites]
    patch.append((call, bl(call, m.entry("function_trace_call"))))
    log, trace, uc = run_ppc32(m, patch)
    assert log == BOOT_LOG

    def is_call_return(parent):
        return is_call(int.from_bytes(bytes(uc.mem_read(parent - 4, 4)), "big"))

    records = [(ip, parent if m.kallsyms.lookup(parent) else None) for ip, parent in trace]
    check_trace(records, set(m.mcount_sites), m.kallsyms.symbolize, is_call_return)
