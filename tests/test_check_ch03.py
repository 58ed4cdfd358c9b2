"""Chapter 3 checkers: accept the reference solutions, name typical mistakes.

What the checkers expect is compared here with the real thing: descriptor entries with
GNU objdump's dot-symbol labels, the reach of a displacement from r2 with GNU as.
"""

from __future__ import annotations

import re

import pytest

from conftest import need_toolchain
from ppcftrace.check import CheckResult, ch03
from ppcftrace.machine import fixture_path
from ppcftrace.solutions import ch03 as sol


def verdict(checker, answer) -> CheckResult:
    return checker(answer, quiet=True)


# --- exercise 1 ----------------------------------------------------------------------------

def test_ex1_expected_entries_are_objdumps_labels():
    """objdump labels each function's code `<.name>` at the descriptor's entry."""
    need_toolchain("ppc64")
    from ppcftrace.toolchain import run, tool

    out = run([tool("ppc64", "objdump"), "-d", str(fixture_path("vmlinux", "ppc64"))]).stdout
    labels = {m.group(2): int(m.group(1), 16)
              for m in re.finditer(r"^([0-9a-f]{16}) <\.([A-Za-z_0-9]+)>:$", out, re.M)}
    m = ch03.machine()
    for d in m.kernel.descriptors:
        assert sol.code_address(m, d.name) == labels[d.name] == d.entry


def test_ex1_accepts_reference_and_the_dot_symbol():
    assert verdict(ch03.ex1, sol.code_address)
    assert verdict(ch03.ex1, lambda m, n: m.kallsyms.address("." + n))


@pytest.mark.parametrize("wrong, message", [
    (lambda m, n: m.kallsyms.address(n), "descriptor's own address"),
    (lambda m, n: m.read_word(m.kallsyms.address(n) + 8), "TOC base"),
    (lambda m, n: m.read_word(m.kallsyms.address(n) + 8) - 0x8000, "start of the TOC"),
    (lambda m, n: m.read_word(m.kallsyms.address(n)) + 4, "is not where"),
    (lambda m, n: None, "should be an int"),
    (lambda m, n: 1 // 0, "raised ZeroDivisionError"),
])
def test_ex1_names_the_mistake(wrong, message):
    result = verdict(ch03.ex1, wrong)
    assert not result and message in result.text


# --- exercise 2 ----------------------------------------------------------------------------

def test_ex2_window_is_gnu_as():
    """GNU as takes `ld r3,d(r2)` at both ends of the window and refuses one step beyond."""
    need_toolchain("ppc64")
    from ppcftrace.toolchain import gnu_assemble

    r2 = 0xC000000000009200
    for d in (-0x8000, 0x7FFC):
        word = int.from_bytes(gnu_assemble(f"ld 3,{d}(2)"), "big")
        assert (word & 0xFFFC) == (d & 0xFFFC)
        assert sol.toc_displacement(r2, r2 + d) == d
    for d in (-0x8004, 0x8000):
        with pytest.raises(RuntimeError):
            gnu_assemble(f"ld 3,{d}(2)")
        assert sol.toc_displacement(r2, r2 + d) is None


def test_ex2_accepts_reference():
    assert verdict(ch03.ex2, sol.toc_displacement)


def _diff(r2, a):
    d = (a - r2) % 2**64
    return d - 2**64 if d >= 2**63 else d


@pytest.mark.parametrize("wrong, message", [
    (lambda r2, a: (a - r2) & 0xFFFF if -0x8000 <= _diff(r2, a) <= 0x7FFF else None, "16 bits"),
    (lambda r2, a: -_diff(r2, a) if -0x8000 <= _diff(r2, a) <= 0x7FFF else None, "wrong sign"),
    (lambda r2, a: _diff(r2, a), "out of reach"),
    (lambda r2, a: _diff(r2, a) if 0 <= _diff(r2, a) <= 0xFFFF else None, "None for an address within reach"),
    (lambda r2, a: _diff(r2, a) if -0x8000 <= _diff(r2, a) <= 0x8000 else None, "out of reach"),
    (lambda r2, a: a - r2 if -0x8000 <= a - r2 <= 0x7FFF else None, "None for an address within reach"),
    (lambda r2, a: (_diff(r2, a) + 4) if -0x8000 <= _diff(r2, a) <= 0x7FFF else None, "does not reach"),
])
def test_ex2_names_the_mistake(wrong, message):
    result = verdict(ch03.ex2, wrong)
    assert not result and message in result.text


# --- exercise 3 ----------------------------------------------------------------------------

def test_ex3_accepts_reference_and_other_correct_answers():
    assert verdict(ch03.ex3, sol.SCHED_PATTERNS)
    assert verdict(ch03.ex3, ".schedule .sched_init .sched_add_task")
    assert verdict(ch03.ex3, ["*sched*", "!*need_resched"])


@pytest.mark.parametrize("answer, message", [
    ("sched*", "would\nwork on a later one".replace("\n", " ")),
    ("schedule", "select nothing"),
    ("*sched*", "also select .need_resched, .set_need_resched"),
    ("*schedule", "miss 2 of the 3"),
    ([], "one or more patterns"),
    (42, "expected a pattern"),
])
def test_ex3_names_the_mistake(answer, message):
    result = verdict(ch03.ex3, answer)
    assert not result and message in result.text


def test_ex3_feedback_does_not_give_the_pattern():
    for answer in ("sched*", "*sched*", "*schedule"):
        assert ".sched*" not in verdict(ch03.ex3, answer).text
