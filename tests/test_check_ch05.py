"""Chapter 5 checkers: accept the reference solutions, name typical mistakes.

The reference solutions are compared with GNU as (which computes `@ha`/`@l` and
encodes the PLT entry's instructions itself) and with the PLT entries the loader wrote.
"""

from __future__ import annotations

import random

import pytest

from conftest import need_toolchain
from ppcftrace import isa
from ppcftrace.check import CheckResult, ch05
from ppcftrace.solutions import ch05 as sol

VALUES = [0xC001FFFC, 0xC0007FFC, 0xC0008000, 0xFFFF8000, 0x00008000, 0xD1000000, 0]
VALUES += [random.Random(50).getrandbits(32) & ~3 for _ in range(40)]


def verdict(checker, answer) -> CheckResult:
    return checker(answer, quiet=True)


# --- the reference solutions against the real thing -------------------------------------

@pytest.mark.parametrize("reg", ["r11", "r12"])
def test_plt_entry_matches_gnu_as(reg):
    need_toolchain("ppc32")
    from ppcftrace.toolchain import gnu_assemble

    n = reg[1:]
    lines = []
    for v in VALUES:
        lines += [f"lis {n},{v:#x}@ha", f"addi {n},{n},{v:#x}@l", f"mtctr {n}", "bctr"]
    data = gnu_assemble("\n".join(lines) + "\n", "ppc32")
    words = [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
    for i, v in enumerate(VALUES):
        entry = sol.plt_entry(v, reg)
        assert entry == tuple(words[4 * i:4 * i + 4]), hex(v)
        assert (entry[0] & 0xFFFF, entry[1] & 0xFFFF) == sol.ha_lo(v)
        assert sol.plt_target(entry[0], entry[1]) == v


def test_solutions_agree_with_the_loaded_module():
    for reg in ("r11", "r12"):
        machine, module = ch05.fixture(reg)
        for entry in module.arch.stubs:
            words = tuple(machine.memory.read_u32(entry.address + 4 * k) for k in range(4))
            assert sol.plt_entry(entry.target, reg) == words
            assert sol.plt_target(*words[:2]) == entry.target
            assert machine.kallsyms.lookup(entry.target)[1] == 0
        assert module.arch.tramp in [e.address for e in module.arch.stubs]


# --- exercise 1 --------------------------------------------------------------------------

def test_ex1_accepts_reference_value_and_function():
    assert verdict(ch05.ex1, sol.ha_lo(ch05.EX1_VALUE))
    assert verdict(ch05.ex1, sol.ha_lo)


@pytest.mark.parametrize("wrong, message", [
    (lambda v: (v >> 16, v & 0xFFFF), "misses the carry"),
    (lambda v: sol.ha_lo(v)[::-1], "swapped"),
    (lambda v: (sol.ha_lo(v)[0], (v & 0xFFFF) - (0x10000 if v & 0x8000 else 0)), "negative"),
    (lambda v: ((v >> 16) + 1 & 0xFFFF, v & 0xFFFF), "not needed"),
    (lambda v: ((v + 0x8000) >> 16, v & 0xFFFF), "16 bits"),
])
def test_ex1_names_the_mistake(wrong, message):
    result = verdict(ch05.ex1, wrong)
    assert not result and message in result.message, result.text


def test_ex1_value_feedback_does_not_reveal_the_answer():
    ha, _lo = sol.ha_lo(ch05.EX1_VALUE)
    result = verdict(ch05.ex1, (ch05.EX1_VALUE >> 16, ch05.EX1_VALUE & 0xFFFF))
    assert not result and "carry" in result.message and f"{ha:#x}" not in result.text


def test_ex1_example_needs_the_carry():
    # the exercise is about the carry: bit 15 of the value's low half is set
    assert ch05.EX1_VALUE & 0x8000 and isa.PPC_HA(ch05.EX1_VALUE) != isa.PPC_HI(ch05.EX1_VALUE)


# --- exercise 2 --------------------------------------------------------------------------

def test_ex2_accepts_reference():
    assert verdict(ch05.ex2, sol.plt_target)


@pytest.mark.parametrize("wrong, message", [
    (lambda a, b: ((a & 0xFFFF) << 16) | (b & 0xFFFF), "0x10000 too high"),
    (lambda a, b: (((a & 0xFFFF) << 16) | (b & 0xFFFF)) - 0x10000, "0x10000 too low"),
    (lambda a, b: ((b & 0xFFFF) << 16) | (a & 0xFFFF), "swapped"),
    (lambda a, b: (a << 16) | b, "leaked"),
    (lambda a, b: sol.plt_target(a, b) - (1 << 32) if sol.plt_target(a, b) >> 31
     else sol.plt_target(a, b), "not a 32-bit address"),
    (lambda a, b: (((a & 0xFFFF) << 16) | (b & 0xFFFF))
     + (0x10000 if b & 0x8000 else 0), "wrong way"),
])
def test_ex2_names_the_mistake(wrong, message):
    result = verdict(ch05.ex2, wrong)
    assert not result and message in result.message, result.text


# --- exercise 3 --------------------------------------------------------------------------

def test_ex3_accepts_reference_value_and_function():
    assert verdict(ch05.ex3, sol.plt_entry(ch05.ex3_target()))
    assert verdict(ch05.ex3, sol.plt_entry)


def _with(i, word):
    def entry(target, reg="r11"):
        words = list(sol.plt_entry(target, reg))
        words[i] = word(target, reg, words[i])
        return tuple(words)
    return entry


@pytest.mark.parametrize("wrong, message", [
    (lambda t, reg="r11": sol.plt_entry(t, "r11"), "uses r11"),
    (_with(0, lambda t, reg, w: (w & 0xFFFF0000) | isa.PPC_HI(t)), "misses the carry"),
    (_with(1, lambda t, reg, w: (w & 0xFFFF0000) | (t >> 16)), "addi immediate"),
    (_with(1, lambda t, reg, w: w & ~0x001F0000), "wrong registers"),
    (_with(3, lambda t, reg, w: w | 1), "bctrl"),
    (_with(2, lambda t, reg, w: isa.PPC_INST_MTLR), "mtctr"),
    (lambda t, reg="r11": sol.plt_entry(t, reg)[:3], "four words"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch05.ex3, wrong)
    assert not result and message in result.message, result.text


def test_ex3_value_answer():
    words = sol.plt_entry(ch05.ex3_target())
    assert not verdict(ch05.ex3, words[::-1])
    assert "r12" in verdict(ch05.ex3, sol.plt_entry(ch05.ex3_target(), "r12")).message
