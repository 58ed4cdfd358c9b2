"""Stepping a traced module call, and the race with a chosen preemption point.

The stepped call must end exactly like an uninterrupted `cpu.call` of the same
function on a fresh machine (r3, log, trace), and the stub's `std r2,40(r1)` must put
the module's TOC (`Module.arch.toc`, from the loader) into the save slot.
"""

from __future__ import annotations

import pytest

from ppcftrace.isa import PPC_INST_LD_TOC
from ppcftrace.kernel import start_kernel
from ppcftrace.lab.preempt import PreemptError, in_window, run_preempted, traced_path
from ppcftrace.lab.stepper import StepError, StepSession
from ppcftrace.machine import fixture_path
from ppcftrace.race import run_race, setup_race


def _traced(name="hmod_hello"):
    m = start_kernel("ppc64", modules=[fixture_path("hmod.o")])
    m.ftrace.set_ftrace_filter("." + name)
    m.ftrace.current_tracer = "function"
    return m


def _string(m, text):
    m.memory.map("test strings", 0x7FFD0000, 0x1000, "rw", text.encode() + b"\0")
    return 0x7FFD0000


def test_stepping_ends_like_an_uninterrupted_call():
    ref = _traced()
    mod = ref.modules[0]
    expected = ref.cpu.call(mod.symbols[".hmod_hello"], _string(ref, "world"), toc=mod.arch.toc)
    s = StepSession(_traced(), "hmod_hello", "world")
    assert s.pc == s.entry and s.registers()[1].note == "hmod TOC"
    assert s.run() == "done" and s.done
    assert s.result == expected == 42
    assert s.printed() == ref.log[1:]
    assert s.machine.ftrace.buffer.calls() == ref.ftrace.buffer.calls()


def test_stub_saves_the_module_toc_in_40_r1():
    s = StepSession(_traced(), "hmod_hello", "world")
    mod = s.module
    site = next(ip for ip in mod.mcount_sites if mod.lookup(ip)[0] == ".hmod_hello")
    while s.pc != site:
        assert s.step() == "stepped"
    assert s.step() == "stepped" and s.pc == mod.arch.tramp and len(s.frames) == 2
    while s.where(s.pc).startswith("stub"):
        s.step()
    regs = {r.name: r for r in s.registers()}
    assert regs["40(r1)"].value == mod.arch.toc and regs["40(r1)"].note == "hmod TOC"
    assert regs["r2"].value == s.machine.toc and regs["r2"].note == "kernel TOC"
    assert s.step_out() == "stepped"                     # out of ftrace_caller
    assert s.pc == site + 4 and s.machine.memory.read_u32(s.pc) == PPC_INST_LD_TOC
    s.step()
    assert s.cpu.gpr[2] == mod.arch.toc


def test_step_over_breakpoints_and_errors():
    s = StepSession(_traced(), "hmod_hello", "world")
    compare = s.module.symbols[".hmod_compare"]
    assert s.toggle_breakpoint(compare)
    assert s.run() == "breakpoint" and s.pc == compare
    depth = len(s.frames)
    assert s.step_out() == "stepped" and len(s.frames) == depth - 1
    assert not s.toggle_breakpoint(compare)
    # step over a bl: one step in the caller
    while s.machine.memory.read_u32(s.pc) & 0xFC000003 != 0x48000001:
        s.step()
    pc = s.pc
    assert s.step_over() == "stepped" and s.pc == pc + 4
    assert s.run() == "done" and s.result == 42 and s.step() == "done"
    with pytest.raises(StepError):
        StepSession(_traced(), "no_such_function")
    with pytest.raises(StepError):
        StepSession(_traced(), "hmod_hello", 1.5)
    # an interpreter fault ends the session with .error, not an exception
    m = _traced()
    m.memory.write_u32(m.modules[0].arch.tramp + 32, 0)      # stub to address 0
    m.memory.write_u32(m.modules[0].arch.tramp + 36, 0)
    s = StepSession(m, "hmod_hello", "world")
    assert s.run() == "error" and s.done and "0x0" in str(s.error)


def test_preempted_inside_the_window_only_two_nops_fails():
    path = traced_path()
    site = setup_race().site
    inside = [s.index for s in path if in_window(path, site, s.index)]
    assert inside and path[inside[0] - 1].pc == site        # right after the bl
    stop = next(s.index for s in path if s.where == ".function_trace_call")
    assert stop in inside
    for at in (inside[0], stop, inside[-1]):
        assert run_preempted("b+8", at).ok
        bad = run_preempted("two-nops", at)
        assert bad.outcome == "fault" and not bad.ok
        assert bad.r2_at_stop is not None
    for at in (None, 0, inside[0] - 1, inside[-1] + 1, len(path) - 1):
        assert run_preempted("two-nops", at).ok
    # Chapter 8's fixed scenario (stopped in function_trace_call) agrees
    assert run_race("two-nops").outcome == run_preempted("two-nops", stop).outcome == "fault"
    assert run_race("b+8").ok
    with pytest.raises(PreemptError):
        run_preempted("b+8", len(path) + 5)


def test_a_newer_session_takes_the_cpu_over():
    m = _traced()
    first = StepSession(m, "hmod_hello", "world")
    first.step()
    second = StepSession(m, "hmod_compare", "abc", "abd")
    assert first.step() == "lost" and first.run() == "lost" and not first.active
    assert second.run() == "done" and second.result == 2**64 - 1      # strcmp: -1
    assert m.log[-1] == "hmod: strcmp(abc, abd) = -1"
