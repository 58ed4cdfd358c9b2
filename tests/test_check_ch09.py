"""Chapter 9's checkers accept the reference solutions and name the usual mistakes."""

from __future__ import annotations

import errno

import pytest

from ppcftrace.check import ch09
from ppcftrace.solutions import ch09 as sol


def _msg(result) -> str:
    assert not result
    return result.text


# --- Exercise 1 -----------------------------------------------------------------------

def _no_stubs(words, ip, mcount, caller, stubs):
    return sol.site_state(words, ip, mcount, caller, {})


def _any_bl_is_mcount(words, ip, mcount, caller, stubs):
    state = sol.site_state(words, ip, mcount, caller, stubs)
    return "mcount" if state == "ftrace" else state


def _any_b_is_b8(words, ip, mcount, caller, stubs):
    if words[0] & 0xFC000003 == 0x48000000:
        return "b+8"
    return sol.site_state(words, ip, mcount, caller, stubs)


def _ignores_aa(words, ip, mcount, caller, stubs):
    w = words[0]
    if w & 0xFC000001 == 0x48000001:   # AA not looked at
        w &= ~2
    return sol.site_state((w, words[1]), ip, mcount, caller, stubs)


def test_ex1_accepts_the_reference():
    assert ch09.ex1(sol.site_state, quiet=True)


@pytest.mark.parametrize("wrong, text", [
    (_no_stubs, "look its target up in stubs"),
    (_any_bl_is_mcount, "_mcount and ftrace_caller are different targets"),
    (_any_b_is_b8, "only a branch exactly 8 bytes forward"),
    (_ignores_aa, "AA = 1"),
    (lambda *a: "traced", "return one of"),
    (lambda *a: 1 / 0, "raised ZeroDivisionError"),
    ("nop", "should be a function"),
])
def test_ex1_names_the_mistake(wrong, text):
    assert text in _msg(ch09.ex1(wrong, quiet=True))


# --- Exercise 2 -----------------------------------------------------------------------

def test_ex2_accepts_the_reference():
    assert ch09.ex2(sol.injected_errnos(), quiet=True)


def _with(key, value):
    answer = sol.injected_errnos()
    answer[key] = value
    return answer


@pytest.mark.parametrize("answer, text", [
    ({k: -v for k, v in sol.injected_errnos().items()}, "wrong sign"),
    (_with("read-only text", -errno.EFAULT), "EFAULT is for a read that faults"),
    (_with("corrupt funcaddr", -errno.EFAULT), "which check refuses first"),
    ({"corrupt funcaddr": -errno.EINVAL}, "expected a dict with the keys"),
    (_with("read-only text", "EPERM"), "give an int"),
])
def test_ex2_names_the_mistake(answer, text):
    assert text in _msg(ch09.ex2(answer, quiet=True))


# --- Exercise 3 -----------------------------------------------------------------------

def test_ex3_accepts_the_reference():
    assert ch09.ex3(sol.race_window, quiet=True)


@pytest.mark.parametrize("wrong, text", [
    (lambda pcs, site: sol.race_window(pcs, site) | {pcs.index(site)}, "you included the bl itself"),
    (lambda pcs, site: sol.race_window(pcs, site) - {max(sol.race_window(pcs, site))},
     "you left out the return to ip+4"),
    (lambda pcs, site: sol.race_window(pcs, site) | {max(sol.race_window(pcs, site)) + 1},
     "one index too many at the end"),
    (lambda pcs, site: set(range(len(pcs))), "not the right indices"),
    (lambda pcs, site: 7, "return a set"),
])
def test_ex3_names_the_mistake(wrong, text):
    assert text in _msg(ch09.ex3(wrong, quiet=True))
