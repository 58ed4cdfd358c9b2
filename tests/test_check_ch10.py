"""Chapter 10 checkers: accept the reference solutions, name typical mistakes; the
reference solutions are also checked against GNU as."""

from __future__ import annotations

import pytest

from conftest import need_toolchain
from ppcftrace.check import ch10
from ppcftrace.solutions import ch10 as sol
from ppcftrace.toolchain import gnu_assemble


def verdict(checker, answer):
    return checker(answer, quiet=True)


def words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]


# --- exercise 1 --------------------------------------------------------------------------

def test_ex1_accepts_the_solution():
    assert verdict(ch10.ex1, sol.local_entry_offset)


@pytest.mark.parametrize("wrong, message", [
    (lambda o: ((o >> 5) & 7) * 4, "linearly"),
    (lambda o: 1 << ((o >> 5) & 7), "codes 0 and 1"),
    (lambda o: 4 << ((o >> 5) & 7), "four times"),
    (lambda o: (((1 << ((o >> 5) & 7)) >> 2) << 2) * 2 if (o >> 5) & 7 > 1 else 0, "factor of two"),
    (lambda o: sol.local_entry_offset(o) + (o & 0x1F), "low five bits"),
    (lambda o: o & 7, "visibility"),
    (lambda o: 5, "wrong offset"),
    (5, "should be a function"),
])
def test_ex1_names_the_mistake(wrong, message):
    result = verdict(ch10.ex1, wrong)
    assert not result and message in result.text


# --- exercise 2 --------------------------------------------------------------------------

@pytest.mark.toolchain
def test_ex2_solution_matches_gnu_as():
    need_toolchain("ppc64")
    stub, ip, caller = 0xC000000001FF00F0, 0xC000000000000378, 0xC000000000000048
    src = f"mflr 0\nbl .{caller - stub - 4:+#x}\nmtlr 0\nb .{ip + 4 - stub - 12:+#x}\n"
    assert sol.ool_stub(stub, ip, caller) == words(gnu_assemble(src, "ppc64"))
    assert verdict(ch10.ex2, sol.ool_stub)


def _mutate(fn):
    return lambda stub, ip, caller: fn(list(sol.ool_stub(stub, ip, caller)), stub, ip, caller)


@pytest.mark.parametrize("wrong, message", [
    (_mutate(lambda w, s, i, c: [w[1], w[0], w[2], w[3]]), "wrong order"),
    (_mutate(lambda w, s, i, c: [w[0], w[1] & ~1, w[2], w[3]]), "does not link"),
    (_mutate(lambda w, s, i, c: [w[0], 0x48000001 | ((c - s) & 0x03FFFFFC), w[2], w[3]]),
     "relative to the stub's start"),
    (_mutate(lambda w, s, i, c: [w[0], w[1], w[2], w[3] | 1]), "links"),
    (_mutate(lambda w, s, i, c: [w[0], w[1], w[2], 0x48000000 | ((i - s - 12) & 0x03FFFFFC)]),
     "the site itself"),
    (_mutate(lambda w, s, i, c: [0x7C0803A6, w[1], 0x7C0802A6, w[3]]), "wrong order"),
    (_mutate(lambda w, s, i, c: [0x60000000, w[1], w[2], w[3]]), "mflr r0"),
    (lambda s, i, c: [0, 0, 0], "list of 4"),
])
def test_ex2_names_the_mistake(wrong, message):
    result = verdict(ch10.ex2, wrong)
    assert not result and message in result.text


# --- exercise 3 --------------------------------------------------------------------------

def test_ex3_accepts_the_solution():
    assert verdict(ch10.ex3, sol.ftrace_target)


def _symmetric(ip, caller, tramps):
    for t in (caller, *tramps):
        if -0x2000000 <= t - ip <= 0x2000000:
            return t
    return None


def _tramp_first(ip, caller, tramps):
    for t in (*tramps, caller):
        if -0x2000000 <= t - ip <= 0x1FFFFFC:
            return t
    return None


def _never_none(ip, caller, tramps):
    return sol.ftrace_target(ip, caller, tramps) or tramps[-1]


def _caller_only(ip, caller, tramps):
    return caller if -0x2000000 <= caller - ip <= 0x1FFFFFC else None


@pytest.mark.parametrize("wrong, message", [
    (_symmetric, "out of a bl's reach"),
    (_tramp_first, "no trampoline needed"),
    (_never_none, "nothing is in reach"),
    (_caller_only, "answered None"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch10.ex3, wrong)
    assert not result and message in result.text


# --- exercise 4 --------------------------------------------------------------------------

@pytest.mark.toolchain
def test_ex4_solution_matches_gnu_as():
    need_toolchain("ppc32")
    for val in (0xC0012344, 0xC001FFFC, 0xD1000000):
        src = f"lis 12,{val:#x}@ha\naddi 12,12,{val:#x}@l\nmtctr 12\nbctr\n"
        assert sol.plt_entry_r12(val) == words(gnu_assemble(src, "ppc32"))
    assert verdict(ch10.ex4, sol.plt_entry_r12)


def _r11(val):
    return [0x3D600000 | (((val + 0x8000) >> 16) & 0xFFFF), 0x396B0000 | (val & 0xFFFF),
            0x7D6903A6, 0x4E800420]


def _no_ha(val):
    w = sol.plt_entry_r12(val)
    return [0x3D800000 | ((val >> 16) & 0xFFFF)] + w[1:]


def _ctr_r11(val):
    return sol.plt_entry_r12(val)[:2] + [0x7D6903A6, 0x4E800420]


@pytest.mark.parametrize("wrong, message", [
    (_r11, "2008 entry"),
    (_no_ha, "not adjusted"),
    (_ctr_r11, "mtctr r12"),
    (lambda v: sol.plt_entry_r12(v)[:3], "list of 4"),
])
def test_ex4_names_the_mistake(wrong, message):
    result = verdict(ch10.ex4, wrong)
    assert not result and message in result.text


def test_feedback_does_not_give_the_answer_away():
    result = verdict(ch10.ex4, _no_ha)
    right = sol.plt_entry_r12(0xC0012344)
    assert all(f"{w:08x}" not in result.text.lower() for w in right)
