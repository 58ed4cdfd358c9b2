"""Chapter 7 checkers: accept the reference solutions, name typical mistakes.

The PLT arithmetic of the reference solution is compared with GNU as (`lis r11,T@ha;
addi r11,r11,T@l` must load T); _mcount's LR/CTR come from the interpreter.
"""

from __future__ import annotations

import errno

import pytest

from conftest import need_toolchain
from ppcftrace.check import ch07
from ppcftrace.solutions import ch07 as sol


def verdict(checker, answer):
    return checker(answer, quiet=True)


# --- Exercise 1 ---------------------------------------------------------------------------

def test_ex1_accepts_the_solution():
    assert verdict(ch07.ex1, sol.plt_target)


def test_ex1_solution_agrees_with_gnu_as():
    need_toolchain("ppc32")
    from ppcftrace.toolchain import gnu_assemble
    targets = (0xC0001234, 0xC0018000, 0xD100FFFC, 0x00008000, 0xFFFF8000, 0x7FFF7FFC)
    src = "\n".join(f"lis r11,{t:#x}@ha\naddi r11,r11,{t:#x}@l" for t in targets)
    data = gnu_assemble(src, "ppc32")
    for i, t in enumerate(targets):
        w0, w1 = (int.from_bytes(data[8 * i + k:8 * i + k + 4], "big") for k in (0, 4))
        assert sol.plt_target(w0, w1) == t


@pytest.mark.parametrize("wrong, message", [
    (lambda w0, w1: ((w0 & 0xFFFF) << 16) | (w1 & 0xFFFF), "carry correction is missing"),
    (lambda w0, w1: ((((w0 & 0xFFFF) << 16) | (w1 & 0xFFFF)) + (0x10000 if w1 & 0x8000 else 0))
     & 0xFFFFFFFF, "wrong way"),
    (lambda w0, w1: sol.plt_target(w0, w1) - (1 << 32) if sol.plt_target(w0, w1) >> 31 else
     sol.plt_target(w0, w1), "outside 32 bits"),
    (lambda w0, w1: (w0 << 16 | (w1 & 0xFFFF)) - (0x10000 if w1 & 0x8000 else 0), "outside 32 bits"),
])
def test_ex1_names_the_mistake(wrong, message):
    result = verdict(ch07.ex1, wrong)
    assert not result and message in result.message, result.text


# --- Exercise 2 ---------------------------------------------------------------------------

def test_ex2_accepts_value_and_function():
    _, site, lr0 = ch07.ex2_question()
    assert verdict(ch07.ex2, sol.mcount_lr_ctr(site, lr0))
    assert verdict(ch07.ex2, sol.mcount_lr_ctr)


@pytest.mark.parametrize("wrong, message", [
    (lambda s, lr: (s + 4, lr), "swapped"),
    (lambda s, lr: (s + 4, s + 4), "still the return address"),
    (lambda s, lr: (lr, s), "call site itself"),
    (lambda s, lr: (lr, s + 8), "not where _mcount goes back"),
])
def test_ex2_names_the_mistake(wrong, message):
    _, site, lr0 = ch07.ex2_question()
    for answer in (wrong(site, lr0), wrong):
        result = verdict(ch07.ex2, answer)
        assert not result and message in result.message, result.text


def test_ex2_scenarios_run_mcount():
    calls = ch07._mcount_returns()
    assert len(calls) >= 5 and len({c[0] for c in calls}) >= 3
    assert all(ctr == site + 4 for _, site, _, _, ctr in calls)


# --- Exercise 3 ---------------------------------------------------------------------------

def test_ex3_accepts_the_solution():
    assert verdict(ch07.ex3, sol.ftrace_make_nop32)


def _no_carry(memory, ip, addr):
    """The solution with the PLT target rebuilt without the carry correction."""
    real = sol.plt_target
    try:
        sol.plt_target = lambda w0, w1: ((w0 & 0xFFFF) << 16) | (w1 & 0xFFFF)
        return sol.ftrace_make_nop32(memory, ip, addr)
    finally:
        sol.plt_target = real


def _no_target_check(memory, ip, addr):
    op = memory.read_u32(ip)
    if (op & 0xFC000003) != 0x48000001:
        return -errno.EINVAL
    memory.write_u32(ip, 0x60000000)
    return 0


def _two_nops(memory, ip, addr):
    ret = sol.ftrace_make_nop32(memory, ip, addr)
    if ret == 0:
        memory.write_u32(ip + 4, 0x60000000)
    return ret


def _either_form(memory, ip, addr):
    """Accepts the r12 entry too (the 2012 behaviour, not the 2008 one)."""
    ret = sol.ftrace_make_nop32(memory, ip, addr)
    if ret == -errno.EINVAL and memory.read_u32(ip) != 0x60000000:
        op = memory.read_u32(ip)
        if (op & 0xFC000003) == 0x48000001:
            memory.write_u32(ip, 0x60000000)
            return 0
    return ret


@pytest.mark.parametrize("wrong, message", [
    (_no_carry, "case 'carry'"),
    (_no_target_check, "case 'wrong target'"),
    (_two_nops, "memory after the call is not right"),
    (_either_form, "refuses"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch07.ex3, wrong)
    assert not result and message in result.message, result.text
    assert result.hint
