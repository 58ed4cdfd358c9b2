"""Chapter 6 checkers: accept the reference solutions, name typical mistakes.

Expected values come from ppcftrace.ftrace; the words of the reference solution are
compared with GNU as, and the errnos with the kernel's include/linux/ftrace.h contract
(EFAULT read, EINVAL contents, EPERM write) on sites broken on purpose.
"""

from __future__ import annotations

import errno

import pytest

from conftest import need_toolchain
from ppcftrace import isa
from ppcftrace.check import ch06
from ppcftrace.ftrace import ArchContext, DynFtrace, FtraceError, ftrace_make_nop
from ppcftrace.solutions import ch06 as sol


def verdict(checker, answer):
    return checker(answer, quiet=True)


# --- Exercise 1 ---------------------------------------------------------------------------

def test_ex1_accepts_the_solution_as_value_and_function():
    ip, tramp = ch06.ex1_question()
    assert verdict(ch06.ex1, sol.module_site_after_make_call(ip, tramp))
    assert verdict(ch06.ex1, sol.module_site_after_make_call)


def test_ex1_solution_matches_gnu_as():
    need_toolchain("ppc64")
    from ppcftrace.toolchain import gnu_assemble
    ip, tramp = ch06.ex1_question()
    data = gnu_assemble(f"bl .+{tramp - ip:#x}\nld r2,40(r1)", "ppc64")
    assert sol.module_site_after_make_call(ip, tramp) == (
        int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big"))


@pytest.mark.parametrize("wrong, message", [
    (lambda ip, t: (isa.create_branch(ip, t, 1), isa.PPC_INST_NOP), "second word is a nop"),
    (lambda ip, t: (isa.PPC_INST_B_8, isa.PPC_INST_LD_TOC), "disabled site"),
    (lambda ip, t: (isa.create_branch(ip, t), isa.PPC_INST_LD_TOC), "does not set LK"),
    (lambda ip, t: (isa.create_branch(ip, t + 4, 1), isa.PPC_INST_LD_TOC), "one word away"),
    (lambda ip, t: (isa.create_branch(ip, t + 0x40, 1), isa.PPC_INST_LD_TOC), "not the module's trampoline"),
    (lambda ip, t: (ch06._linked_words()[ip][0], isa.PPC_INST_LD_TOC), "as the loader linked it"),
])
def test_ex1_names_the_mistake(wrong, message):
    ip, tramp = ch06.ex1_question()
    for answer in (wrong(ip, tramp), wrong):
        result = verdict(ch06.ex1, answer)
        assert not result and message in result.message, result.text
        assert result.hint


def test_ex1_rejects_a_non_pair():
    result = verdict(ch06.ex1, 0x48000001)
    assert not result and "two words" in result.message


# --- Exercise 2 ---------------------------------------------------------------------------

def test_ex2_accepts_names_numbers_and_negative_numbers():
    names = sol.errno_answers()
    assert verdict(ch06.ex2, names)
    assert verdict(ch06.ex2, {k: getattr(errno, v) for k, v in names.items()})
    assert verdict(ch06.ex2, {k: -getattr(errno, v) for k, v in names.items()})
    assert verdict(ch06.ex2, {k: "-" + v for k, v in names.items()})


def test_ex2_cases_follow_the_kernel_contract_and_change_nothing():
    """Each broken site fails with the errno of the step that fails; memory unchanged."""
    expected_step = {"a": "read", "b": "compare", "c": "write", "d": "compare", "e": "compare", "f": "read"}
    contract = {"read": errno.EFAULT, "compare": errno.EINVAL, "write": errno.EPERM}
    for case, step in expected_step.items():
        m, mod, ip = ch06.broken_site(case)
        before = m.memory.snapshot()
        with pytest.raises(FtraceError) as info:
            ftrace_make_nop(ArchContext(m.memory, "ppc64", flush_target=m), mod, DynFtrace(ip),
                            m.kernel.symbol("_mcount").value)
        assert info.value.errno == contract[step], case
        assert m.memory.diff(before) == []


@pytest.mark.parametrize("change, message", [
    ({"c": "EINVAL"}, "case c"),
    ({"a": "EINVAL"}, "case a"),
    ({"f": "EINVAL"}, "case f"),
    ({"d": "EFAULT"}, "case d"),
])
def test_ex2_names_the_wrong_case(change, message):
    answer = dict(sol.errno_answers(), **change)
    result = verdict(ch06.ex2, answer)
    assert not result and message in result.message and result.hint


def test_ex2_rejects_missing_and_bad_names():
    answer = sol.errno_answers()
    del answer["e"]
    assert "no answer for case(s) e" in verdict(ch06.ex2, answer).message
    assert "not an errno name" in verdict(ch06.ex2, dict(sol.errno_answers(), a="EOOPS")).message


# --- Exercise 3 ---------------------------------------------------------------------------

def test_ex3_accepts_the_solution():
    assert verdict(ch06.ex3, sol.modify_code)


def _write_first(memory, ip, old, new, flush):
    try:
        memory.write_u32(ip, new)
    except Exception:
        return -errno.EPERM
    flush(ip, ip + 8)
    return 0


def _no_flush(memory, ip, old, new, flush):
    return sol.modify_code(memory, ip, old, new, lambda s, e: None)


def _positive(memory, ip, old, new, flush):
    return -sol.modify_code(memory, ip, old, new, flush)


def _write_then_compare(memory, ip, old, new, flush):
    try:
        replaced = memory.read_u32(ip)
    except Exception:
        return -errno.EFAULT
    try:
        memory.write_u32(ip, new)
    except Exception:
        return -errno.EPERM
    if replaced != old:
        memory.write_u32(ip, replaced)
        return -errno.EINVAL
    flush(ip, ip + 8)
    return 0


@pytest.mark.parametrize("wrong, message", [
    (_write_first, "you reported success"),
    (_no_flush, "not flushed"),
    (_positive, "sign"),
    (_write_then_compare, "read-only text holding something other than old"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch06.ex3, wrong)
    assert not result and message in result.message, result.text
    assert result.hint
