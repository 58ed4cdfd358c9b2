"""The two-nop race with the preemption point chosen by the reader (RaceLab's logic).

`ppcftrace.race` sets the scenario up (`setup_race`: racemod loaded, its sites
disabled by the chosen policy, the scheduler initialised) and stops the task at one
fixed place, inside the tracer. Here the task may be preempted before any
instruction of the traced run: `traced_path()` lists those instructions, and
`run_preempted(policy, at=k)` steps `racemod_yield` with its site traced, stops it
before instruction k, disables tracing while it is away (`current_tracer = nop`,
which writes the site the way `policy` says) and lets it run on. The result is a
`race.RaceResult`, so it reads like Chapter 8's.

Preempted between the `bl` to the trampoline and the return to the word after it,
the task comes back to that word: under "b+8" it is still `ld r2,40(r1)`; under
"two-nops" it is a nop, r2 keeps the kernel's TOC and the module goes wrong.
"""

from __future__ import annotations

from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.stepper import StepSession
from ppcftrace.race import FUNCTION, RaceResult, RaceStep, setup_race

__all__ = ["traced_path", "run_preempted", "PreemptError", "in_window"]


class PreemptError(PpcftraceError):
    """A preemption point outside the traced run."""


def _session(arch: str, policy: str):
    setup = setup_race(arch, policy)
    ftrace = setup.machine.ftrace
    ftrace.set_ftrace_filter(FUNCTION if arch == "ppc32" else "." + FUNCTION)
    ftrace.current_tracer = "function"
    return setup, StepSession(setup.machine, FUNCTION)


def _record(setup, session: StepSession, steps: list[RaceStep]) -> None:
    cpu = session.cpu
    steps.append(RaceStep(len(steps), cpu.pc, setup.where(cpu.pc), cpu.gpr[2]))


def traced_path(arch: str = "ppc64", limit: int = 20_000) -> list[RaceStep]:
    """Every instruction of one traced `racemod_yield()` call, nobody preempting it."""
    setup, session = _session(arch, "b+8")
    steps: list[RaceStep] = []
    while not session.done and len(steps) < limit:
        _record(setup, session, steps)
        session.step()
    return steps


def in_window(steps: list[RaceStep], site: int, at: int) -> bool:
    """Is instruction `at` inside the traced call, after the site's `bl` and before the
    return to the word after it?"""
    entered = next((s.index for s in steps if s.pc == site), None)
    back = next((s.index for s in steps if s.pc == site + 4 and entered is not None
                 and s.index > entered), None)
    return entered is not None and back is not None and entered < at <= back


def run_preempted(policy: str = "b+8", at: int | None = None, arch: str = "ppc64",
                  limit: int = 20_000) -> RaceResult:
    """Run the traced call, preempted before instruction `at` (None: never preempted)."""
    setup, session = _session(arch, policy)
    m = setup.machine
    words_traced = setup.words()
    log_start = len(m.log)
    steps: list[RaceStep] = []
    r2_at_stop = None
    while not session.done and len(steps) < limit:
        if at is not None and len(steps) == at:
            r2_at_stop = session.cpu.gpr[2]
            m.ftrace.current_tracer = "nop"   # tracing disabled while the task is away
        _record(setup, session, steps)
        session.step()
    if at is not None and r2_at_stop is None:
        raise PreemptError(f"the traced call has {len(steps)} instructions; preempt before one of "
                           f"0..{len(steps) - 1}")
    after = next((s.r2 for s in steps if s.pc == setup.site + 8), None)
    error = session.error
    return RaceResult(
        arch=arch, policy=policy, preempted=at is not None, site=setup.site,
        module_toc=setup.module.arch.toc, kernel_toc=m.toc, words_traced=words_traced,
        words_disabled=setup.words(), r2_at_stop=r2_at_stop, r2_after_site=after,
        outcome="fault" if error else "returned", value=None if error else session.result,
        printed=m.log[log_start:], trace=m.ftrace.buffer.calls(), error=error, steps=steps)
