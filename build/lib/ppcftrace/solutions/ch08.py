"""Chapter 8 reference solutions: r2 after the race, which disabled sequences are
safe, and the irqsoff tracer's measurement around idle."""

from __future__ import annotations


def r2_after_site(module_toc: int, kernel_toc: int) -> dict[str, int]:
    """Exercise 1: r2 when the preempted task reaches the word after the site."""
    return {
        "b+8": module_toc,        # it returns onto ld r2,40(r1): the stub's saved r2
        "two-nops": kernel_toc,   # it returns onto a nop: r2 stays as the stub set it
    }


def safe_sequences() -> dict[str, tuple[bool, bool]]:
    """Exercise 2: (safe for a task preempted inside the tracer, safe for a new call)."""
    return {
        "a": (True, True),     # b .+8; ld r2,40(r1): the merged code
        "b": (False, True),    # nop; nop: the first posting
        "c": (True, False),    # nop; ld r2,40(r1): a new call loads r2 from a slot no stub wrote
        "d": (False, True),    # b .+8; nop: the restore is gone for a returning task
    }


def max_irqsoff(events, honour_stop: bool = True) -> int:
    """Exercise 3: the longest irqs-off section the tracer measures."""
    longest, irqs_off, opened = 0, False, None
    for e in sorted(events, key=lambda e: e.time):
        closes = e.kind == "irqs_on" or (honour_stop and e.kind == "stop")
        if closes and opened is not None:
            longest = max(longest, e.time - opened)
            opened = None
        if e.kind == "irqs_on":
            irqs_off = False
        elif e.kind == "irqs_off":
            irqs_off = True
            opened = e.time if opened is None else opened
        elif honour_stop and e.kind == "start" and irqs_off and opened is None:
            opened = e.time
    return longest
