"""A model of the irqsoff latency tracer around the idle loop (Chapter 8).

The irqsoff tracer (kernel/trace/trace_irqsoff.c) starts timing a critical section
when interrupts go off and stops when they come back on; it reports the longest
section. The idle loop sleeps in `ppc_md.power_save()` with interrupts off, so it
would report every sleep as a huge latency. "ftrace, PPC: do not latency trace idle"
(in the 2008 series) brackets the sleep with `stop_critical_timings()` (end the
current section, as if interrupts came on) and `start_critical_timings()` (start a
new one).

Time here is the interpreter's instruction count, plus `sleep` units for the nap in
`power_save` (whose real length is the time to the next interrupt). `idle_events()`
runs the fixture's `cpu_idle()` on the interpreter and collects the events;
`max_irqsoff()` measures them, honouring stop/start or (as before the patch)
ignoring them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ppcftrace.errors import PpcftraceError

__all__ = ["IrqsoffError", "Event", "KINDS", "critical_sections", "max_irqsoff", "idle_events", "POWER_SAVE"]

#: the event kinds: interrupts off/on, and idle's two calls into the tracer
KINDS = ("irqs_off", "irqs_on", "stop", "start")
#: the fixture's ppc_md.power_save, per arch
POWER_SAVE = {"ppc64": "power4_idle", "ppc32": "ppc6xx_idle"}


class IrqsoffError(PpcftraceError, ValueError):
    """An event of unknown kind, or an idle loop that does not return."""


@dataclass(frozen=True)
class Event:
    """At `time`, `kind` happened (one of KINDS); `where` names the code, for display."""

    time: int
    kind: str
    where: str = ""


def critical_sections(events: Iterable[Event], honour_stop: bool = True) -> list[tuple[int, int]]:
    """The (start, end) times the tracer measures, in order.

    A section opens when interrupts go off (or at `start` while they are off) and
    closes when they come on (or at `stop`). With `honour_stop=False` the tracer
    ignores stop/start, as before the patch.
    """
    sections = []
    irqs_off = False
    opened: int | None = None
    for e in sorted(events, key=lambda e: e.time):
        if e.kind not in KINDS:
            raise IrqsoffError(f"unknown event kind {e.kind!r} (one of {', '.join(KINDS)})")
        if e.kind == "irqs_off":
            irqs_off = True
            if opened is None:
                opened = e.time
        elif e.kind == "irqs_on":
            irqs_off = False
            if opened is not None:
                sections.append((opened, e.time))
            opened = None
        elif not honour_stop:
            continue
        elif e.kind == "stop":
            if opened is not None:
                sections.append((opened, e.time))
            opened = None
        elif irqs_off and opened is None:     # "start" with interrupts still off
            opened = e.time
    return sections


def max_irqsoff(events: Iterable[Event], honour_stop: bool = True) -> int:
    """The latency the tracer reports: the longest critical section (0 if none)."""
    return max((end - start for start, end in critical_sections(events, honour_stop)), default=0)


def idle_events(arch: str = "ppc64", sleep: int = 100_000) -> list[Event]:
    """Run the fixture's cpu_idle() with interrupts off throughout; return its events.

    Time is the instruction count; reaching power_save adds `sleep` (the nap).
    """
    from ppcftrace.cpu import RETURN_ADDRESS
    from ppcftrace.kernel import start_kernel

    m = start_kernel(arch)
    cpu = m.cpu
    cpu.call(m.entry("sched_init"), toc=m.toc)
    marks = {m.entry("stop_critical_timings"): "stop", m.entry("start_critical_timings"): "start"}
    nap = m.entry(POWER_SAVE[arch])
    entry = m.entry("cpu_idle")
    cpu.breakpoints.add(entry + 4)            # enter, then step by hand
    cpu.call(entry, toc=m.toc)
    cpu.breakpoints.discard(entry + 4)
    events = [Event(0, "irqs_off", "cpu_idle")]
    time, done = 1, RETURN_ADDRESS[arch]
    while cpu.pc != done:
        pc = cpu.pc
        if pc in marks:
            events.append(Event(time, marks[pc], _name(m, pc)))
        if pc == nap:
            time += sleep
        cpu.step()
        time += 1
        if time > sleep + 100_000:
            raise IrqsoffError("cpu_idle did not return")
    events.append(Event(time, "irqs_on", "cpu_idle returns"))
    return events


def _name(machine, pc: int) -> str:
    found = machine.kallsyms.lookup(pc)
    return found[0] if found else f"{pc:#x}"
