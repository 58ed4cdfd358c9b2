"""Host calls: kernel functions whose body is Python (printk, the function tracer)."""

from __future__ import annotations

from typing import Callable


def host_closure(cpu, fn: Callable):
    """A compiled 'instruction' that calls `fn(cpu)` and returns to LR like `blr`.

    r3 receives fn's return value unless it is None.
    """
    g, st, M = cpu.gpr, cpu.state, cpu.mask

    def f(pc):
        cpu.pc = pc                        # the run loop keeps the PC in a local
        result = fn(cpu)
        if result is not None:
            g[3] = result & M
        return st.lr & ~3
    return f
