"""Chapter 1 checkers: accept the reference solutions, name typical mistakes.

The checkers' expected values come from ppcftrace.isa; the reach limits they use are
compared here with GNU as, which refuses a `bl` one word beyond them.
"""

from __future__ import annotations

import pytest

from conftest import need_toolchain
from ppcftrace.check import CheckResult, ch01
from ppcftrace.solutions import ch01 as sol

IP, TARGET = ch01.EX1_IP, ch01.EX1_TARGET


def verdict(checker, answer) -> CheckResult:
    return checker(answer, quiet=True)


# --- the framework ---------------------------------------------------------------------

def test_result_object_and_printing(capsys):
    good = ch01.ex1(sol.encode_bl(IP, TARGET))
    assert capsys.readouterr().out.startswith("ch01.ex1: Correct")
    assert good and good.ok and good.message.startswith("Correct")
    assert "Correct" in good._repr_html_() and "correct" in repr(good)
    bad = ch01.ex1(0x48000000)
    out = capsys.readouterr().out
    assert not bad and "Hint:" in out and bad.hint in out
    assert "&#10008;" in bad._repr_html_() and "not yet" in repr(bad)


def test_checker_survives_a_raising_function():
    def broken(ip, target):
        raise ZeroDivisionError("oops")

    result = verdict(ch01.ex1, broken)
    assert not result and "raised ZeroDivisionError" in result.message


@pytest.mark.parametrize("answer, expected", [
    ("0x48000001", "should be an int"),
    (3.0, "should be an int"),
])
def test_ex1_type_errors(answer, expected):
    assert expected in verdict(ch01.ex1, answer).message


def test_wrong_answers_do_not_reveal_the_answer():
    right = sol.encode_bl(IP, TARGET)
    for wrong in (right & ~1, right | 2, right + 4, 0x48000001 | (TARGET - IP) & 0xFFFFFFFF):
        result = verdict(ch01.ex1, wrong)
        assert not result
        assert f"{right:x}" not in (result.text.lower())


# --- exercise 1 ------------------------------------------------------------------------

def test_ex1_accepts_reference_value_and_function():
    assert verdict(ch01.ex1, sol.encode_bl(IP, TARGET))
    assert verdict(ch01.ex1, sol.encode_bl)


def _offset_field(offset: int) -> int:
    return offset & 0x03FFFFFC


@pytest.mark.parametrize("wrong, message", [
    (lambda ip, t: 0x48000000 | _offset_field(t - ip), "LK bit is not set"),
    (lambda ip, t: 0x48000003 | _offset_field(t - ip), "AA bit is set"),
    (lambda ip, t: 0x48000001 | _offset_field(ip - t), "wrong way"),
    (lambda ip, t: 0x48000001 | _offset_field(t - (ip + 4)), "one instruction away"),
    (lambda ip, t: 0x48000001 | (t - ip), "not a 32-bit instruction word"),
    (lambda ip, t: (0x48000001 + (t - ip)) & 0xFFFFFFFF, "primary opcode"),
    (lambda ip, t: 0x48000001 | ((t - ip) >> 2) & 0x03FFFFFC, "scaled wrongly"),
])
def test_ex1_names_the_mistake(wrong, message):
    as_value = verdict(ch01.ex1, wrong(IP, TARGET))
    as_function = verdict(ch01.ex1, wrong)
    assert not as_value and message in as_value.message
    assert not as_function and message in as_function.message


# --- exercise 2 ------------------------------------------------------------------------

def test_ex2_accepts_reference():
    assert verdict(ch01.ex2, sol.bl_reach)


@pytest.mark.parametrize("wrong, message", [
    (lambda s, b=64: ((s - 0x2000000) % 2**b, (s + 0x2000000) % 2**b), "one word out of reach"),
    (lambda s, b=64: ((s - 0x1FFFFFC) % 2**b, (s + 0x1FFFFFC) % 2**b), "one word short"),
    (lambda s, b=64: ((s - 0x800000) % 2**b, (s + 0x7FFFFF) % 2**b), "quarter"),
    (lambda s, b=64: (s - 0x2000000, s + 0x1FFFFFC), "outside the address space"),
    (lambda s, b=64: ((s + 0x1FFFFFC) % 2**b, (s - 0x2000000) % 2**b), "swapped"),
    (lambda s, b=64: [s - 0x2000000, s + 0x1FFFFFC], "expected a tuple"),
])
def test_ex2_names_the_mistake(wrong, message):
    result = verdict(ch01.ex2, wrong)
    assert not result and message in result.message


def test_ex2_rejects_a_value():
    assert "should be a function" in verdict(ch01.ex2, (1, 2)).message


def test_reach_limits_match_gnu_as():
    """GNU as accepts `bl` at both limits and refuses one word beyond each."""
    need_toolchain("ppc64")
    from ppcftrace.toolchain import gnu_assemble

    low, high = ch01.reach_limits()
    for offset in (low, high):
        word = int.from_bytes(gnu_assemble(f"bl .{offset:+#x}"), "big")
        assert word == sol.encode_bl(0, offset)
    for offset in (low - 4, high + 4):
        with pytest.raises(RuntimeError):
            gnu_assemble(f"bl .{offset:+#x}")


# --- exercise 3 ------------------------------------------------------------------------

def test_ex3_accepts_reference():
    assert verdict(ch01.ex3, sol.bl_target)


def _li(op: int) -> int:
    return op & 0x03FFFFFC


def _soff(op: int) -> int:
    return _li(op) - 0x04000000 if op & 0x02000000 else _li(op)


@pytest.mark.parametrize("wrong, message", [
    (lambda ip, op, b=64: (ip + _li(op)) % 2**b, "far forward"),
    (lambda ip, op, b=64: _soff(op), "the offset, not the target"),
    (lambda ip, op, b=64: ip + _soff(op), "outside the address space"),
    (lambda ip, op, b=64: (ip + _soff(op) + (op & 0xFC000000)) % 2**b, "leaked"),
    (lambda ip, op, b=64: (ip + 4 * _soff(op)) % 2**b, "scaled by 4"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch01.ex3, wrong)
    assert not result and message in result.message


# --- exercise 4 ------------------------------------------------------------------------

def test_ex4_accepts_reference():
    assert verdict(ch01.ex4, sol.is_bl_op)


@pytest.mark.parametrize("wrong, message", [
    (lambda op: op >> 26 == 18, "accepts b "),
    (lambda op: (op & 0x48000001) == 0x48000001, "accepts"),
    (lambda op: op & 1 == 1, "accepts"),
    (lambda op: (op & 0xFC000001) == 0x48000001, "accepts bla"),
    (lambda op: op == 0x48000001, "rejects bl (forward)"),
])
def test_ex4_names_the_mistake(wrong, message):
    result = verdict(ch01.ex4, wrong)
    assert not result and message in result.message


def test_feedback_is_shown_once_in_a_kernel(monkeypatch):
    """Under a Jupyter kernel the checker displays HTML feedback and the returned
    result displays nothing, so the feedback does not appear twice."""
    import IPython
    import IPython.display

    shown = []

    class FakeShell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell())
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj, raw=False: shown.append((obj, raw)))
    result = ch01.ex4(sol.is_bl_op)
    assert len(shown) == 1 and shown[0][1] is True
    assert "Correct" in shown[0][0]["text/html"] and "Correct" in shown[0][0]["text/plain"]
    result._ipython_display_()  # the cell's echo of the return value: silent
    assert len(shown) == 1
    result._ipython_display_()  # an explicit display later: shown
    assert len(shown) == 2 and shown[1][0] == shown[0][0]
