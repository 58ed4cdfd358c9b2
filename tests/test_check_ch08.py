"""Chapter 8 checkers: accept the reference solutions, name typical mistakes.

The expected values are the interpreter's (ppcftrace.race) and the irqsoff model's;
tests/test_race.py checks those against the ELF files.
"""

from __future__ import annotations

import pytest

from ppcftrace.check import ch08
from ppcftrace.irqsoff import Event
from ppcftrace.solutions import ch08 as sol


def verdict(checker, answer):
    return checker(answer, quiet=True)


def test_ex1_accepts_value_and_function():
    assert verdict(ch08.ex1, sol.r2_after_site(*ch08.ex1_question()))
    assert verdict(ch08.ex1, sol.r2_after_site)


@pytest.mark.parametrize("wrong, message", [
    (lambda m, k: {"b+8": k, "two-nops": m}, "swapped"),
    (lambda m, k: {"b+8": m, "two-nops": m}, "under two-nops"),
    (lambda m, k: {"b+8": k, "two-nops": k}, "under b+8"),
    (lambda m, k: {"b+8": m}, "expected a dict"),
])
def test_ex1_names_the_mistake(wrong, message):
    result = verdict(ch08.ex1, wrong)
    assert not result and message in result.message, result.text


def test_ex2_accepts_the_solution():
    assert verdict(ch08.ex2, sol.safe_sequences())


@pytest.mark.parametrize("change, message", [
    ({"b": (True, True)}, "sequence b: wrong for the task preempted"),
    ({"c": (True, True)}, "sequence c: wrong for a new call"),
    ({"d": (True, True)}, "sequence d: wrong for the task preempted"),
    ({"a": True}, "pair of booleans"),
])
def test_ex2_names_the_mistake(change, message):
    result = verdict(ch08.ex2, dict(sol.safe_sequences(), **change))
    assert not result and message in result.message, result.text


def test_ex3_accepts_the_solution():
    assert verdict(ch08.ex3, sol.max_irqsoff)


def _through(events):
    return sol.max_irqsoff(events, honour_stop=False)


def _no_restart(events):
    return sol.max_irqsoff([e for e in events if e.kind != "start"])


def _summed(events):
    total, opened = 0, None
    for e in sorted(events, key=lambda e: e.time):
        if e.kind in ("irqs_on", "stop") and opened is not None:
            total, opened = total + e.time - opened, None
        elif e.kind in ("irqs_off", "start") and opened is None:
            opened = e.time
    return total


@pytest.mark.parametrize("wrong, message", [
    (_through, "straight through"),
    (_no_restart, "never restarts"),
    (_summed, "added the sections up"),
    (lambda events: "83", "should be an int"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch08.ex3, wrong)
    assert not result and message in result.message, result.text


def test_ex3_hand_made_events():
    events = [Event(0, "irqs_off"), Event(10, "stop"), Event(500, "start"), Event(530, "irqs_on")]
    assert sol.max_irqsoff(events) == 30 and sol.max_irqsoff(events, honour_stop=False) == 530
