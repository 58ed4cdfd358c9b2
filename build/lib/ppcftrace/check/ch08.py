"""Checkers for Chapter 8, "The two-nop race".

Expected values come from the package: `ppcftrace.race.run_race` runs racemod on the
interpreter (the race itself, and what-if sequences written over the site), and
`ppcftrace.irqsoff` measures the idle loop.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import CheckResult, Mistake, call_safely, report, require_callable, require_int
from ppcftrace.irqsoff import Event, critical_sections, idle_events, max_irqsoff
from ppcftrace.race import run_race

__all__ = ["ex1", "ex1_question", "SEQUENCES", "ex2", "ex3"]

_POLICIES = ("b+8", "two-nops")


# --- Exercise 1: r2 after the race ----------------------------------------------------------

@lru_cache(maxsize=1)
def _races():
    return {p: run_race(p) for p in _POLICIES}


def ex1_question() -> tuple[int, int]:
    """(module TOC, kernel TOC) of the race machine."""
    r = _races()["b+8"]
    return r.module_toc, r.kernel_toc


def ex1(answer: dict[str, int] | Callable[[int, int], dict[str, int]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 1: {policy: r2 when the preempted task reaches the word after the site},
    or a function `(module_toc, kernel_toc) -> that dict`."""
    def check() -> str:
        mod_toc, kern_toc = ex1_question()
        got = call_safely(answer, mod_toc, kern_toc) if callable(answer) else answer
        if not isinstance(got, dict) or set(got) != set(_POLICIES):
            raise Mistake(f"expected a dict with keys {', '.join(_POLICIES)}, got {got!r}",
                          "one r2 value per policy")
        want = {p: r.r2_after_site for p, r in _races().items()}
        vals = {p: require_int(got[p], f"r2 for {p}") for p in _POLICIES}
        if vals == want:
            return ""
        if vals == {"b+8": want["two-nops"], "two-nops": want["b+8"]}:
            raise Mistake("the two policies are swapped",
                          "which of the two leaves ld r2,40(r1) in place?")
        names = {mod_toc: "the module's TOC", kern_toc: "the kernel's TOC"}
        for p in _POLICIES:
            if vals[p] != want[p]:
                what = names.get(vals[p], f"{vals[p]:#x}")
                hint = ("the task returns to ip+4; what does that word do to r2?" if p == "b+8"
                        else "the stub loaded r2 on the way in; does anything reload it?")
                raise Mistake(f"under {p}, r2 is not {what}", hint)
        raise Mistake("not right", "compare the words at ip+4 under each policy")
    return report("ch08.ex1", check, quiet=quiet)


# --- Exercise 2: which disabled sequences are safe ---------------------------------------------

#: candidate words for a disabled PPC64 module site: letter -> (ip, ip+4)
SEQUENCES = {
    "a": (isa.PPC_INST_B_8, isa.PPC_INST_LD_TOC),
    "b": (isa.PPC_INST_NOP, isa.PPC_INST_NOP),
    "c": (isa.PPC_INST_NOP, isa.PPC_INST_LD_TOC),
    "d": (isa.PPC_INST_B_8, isa.PPC_INST_NOP),
}


@lru_cache(maxsize=1)
def _safety() -> dict[str, tuple[bool, bool]]:
    """letter -> (a preempted task survives, a new call survives), run on the interpreter."""
    return {k: (run_race(disabled=w).ok, run_race(disabled=w, preempt=False).ok)
            for k, w in SEQUENCES.items()}


def ex2(answer: dict[str, tuple[bool, bool]], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: {letter: (safe for a preempted task, safe for a new call)}."""
    def check() -> str:
        if not isinstance(answer, dict) or set(answer) != set(SEQUENCES):
            raise Mistake(f"expected a dict with keys {', '.join(SEQUENCES)}",
                          "one (preempted, new call) pair per sequence")
        want = _safety()
        for k in SEQUENCES:
            pair = answer[k]
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise Mistake(f"sequence {k}: expected a pair of booleans, got {pair!r}",
                              "(safe for a preempted task, safe for a new call)")
            pre, new = (bool(v) for v in pair)
            if pre != want[k][0]:
                raise Mistake(f"sequence {k}: wrong for the task preempted inside the tracer",
                              "it comes back to ip+4 with the kernel's r2")
            if new != want[k][1]:
                raise Mistake(f"sequence {k}: wrong for a new call of the function",
                              "a new call never went through the stub: what is at 40(r1)?")
        return "only b .+8 with ld r2,40(r1) behind it is safe both ways"
    return report("ch08.ex2", check, quiet=quiet)


# --- Exercise 3: the irqsoff measurement ----------------------------------------------------

def _event_cases() -> Iterator[list[Event]]:
    for arch in ("ppc64", "ppc32"):
        yield idle_events(arch, sleep=5000)
    yield [Event(0, "irqs_off"), Event(10, "stop"), Event(500, "start"), Event(530, "irqs_on")]
    yield [Event(0, "irqs_off"), Event(40, "stop"), Event(45, "start"), Event(60, "irqs_on")]
    yield [Event(0, "start"), Event(5, "irqs_off"), Event(9, "irqs_on"), Event(20, "stop")]
    yield [Event(0, "irqs_off"), Event(3, "irqs_off"), Event(50, "irqs_on")]
    yield [Event(0, "irqs_off"), Event(10, "stop"), Event(20, "irqs_on"), Event(30, "start"),
           Event(40, "irqs_off"), Event(45, "irqs_on")]
    rng = random.Random(8)
    for _ in range(200):
        t, events = 0, []
        for _ in range(rng.randrange(1, 10)):
            t += rng.randrange(1, 1000)
            events.append(Event(t, rng.choice(("irqs_off", "irqs_on", "stop", "start"))))
        yield events


def _no_restart(events: list[Event]) -> int:
    """What a tracer that never reopens after `stop` would report."""
    filtered = [e for e in events if e.kind != "start"]
    return max_irqsoff(filtered)


def ex3(answer: Callable[..., int], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `max_irqsoff(events)` honouring stop/start_critical_timings."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for events in _event_cases():
            got = require_int(call_safely(fn, list(events)), "the latency")
            want = max_irqsoff(events)
            if got == want:
                continue
            shown = ", ".join(f"{e.kind}@{e.time}" for e in events[:8])
            where = f" for events [{shown}{', ...' if len(events) > 8 else ''}]"
            if got == max_irqsoff(events, honour_stop=False):
                raise Mistake("you measured straight through stop/start" + where,
                              "stop_critical_timings ends the section as if interrupts came on")
            if got == _no_restart(events):
                raise Mistake("timing never restarts after stop" + where,
                              "start_critical_timings opens a new section while interrupts are off")
            sections = critical_sections(events)
            if sections and got == sum(e - s for s, e in sections):
                raise Mistake("you added the sections up" + where, "the tracer reports the longest one")
            raise Mistake("the latency is not what the tracer reports" + where,
                          "start only reopens timing while interrupts are off; a second "
                          "irqs_off does not restart the clock")
        return "stop and start split the idle loop's section around the nap"
    return report("ch08.ex3", check, quiet=quiet)
