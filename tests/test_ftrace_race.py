"""Milton Miller's race, run: a task inside a traced call while its module site is disabled.

racemod_yield() is stopped inside the call its mcount site made (at
function_trace_call), the function tracer is switched off, and the task resumes. With
the merged `b .+8` the `ld r2,40(r1)` after the site is still there and the module
gets its TOC back; with the first posting's two nops it returns with the kernel's r2
and goes wrong (FACTS.md section 4, commit f48cb8b48b0b).
"""

from __future__ import annotations

from ppcftrace.kernel import start_kernel
from ppcftrace.machine import fixture_path

BANNER = "racemod: back from schedule, r2 intact"


def preempted_yield(policy: str):
    m = start_kernel("ppc64", modules=[str(fixture_path("racemod.o", "ppc64"))], policy=policy)
    assert m.cpu is not None          # ppcftrace.cpu is part of the package
    cpu, mod = m.cpu, m.modules[0]
    cpu.call_descriptor(m.kallsyms.address("start_kernel"))  # sched_init and friends
    start = len(m.log)
    m.ftrace.set_ftrace_filter("*racemod_yield")
    m.ftrace.current_tracer = "function"
    stop = m.entry("function_trace_call")
    cpu.breakpoints.add(stop)
    assert cpu.call(mod.symbols[".racemod_yield"], toc=mod.arch.toc) is None  # stopped inside
    m.ftrace.current_tracer = "nop"   # the site is patched under the sleeping task
    cpu.breakpoints.discard(stop)
    return m, cpu, mod, start


def test_b8_keeps_the_toc_restore():
    m, cpu, mod, start = preempted_yield("b+8")
    site = mod.mcount_sites[0]
    assert (m.memory.read_u32(site), m.memory.read_u32(site + 4)) == (0x48000008, 0xE8410028)
    assert cpu.run() == "return"
    assert m.log[start:] == [BANNER] and cpu.gpr[2] == mod.arch.toc


def test_two_nops_lose_the_toc():
    from ppcftrace.cpu import CpuError
    m, cpu, mod, start = preempted_yield("two-nops")
    try:
        cpu.run()
    except CpuError:
        return  # the module ran on with the kernel's TOC and crashed
    assert BANNER not in m.log[start:] or cpu.gpr[2] != mod.arch.toc
