"""The live lab's plain logic: what the widgets of `ppcftrace.widgets` show and do.

    journal   the words a view shows, and which ones the write journal changed
    sites     the state of an mcount call site, read from memory with `isa.decode`
    mapmodel  the memory map: regions, sites by state, stubs, arrows, reach, zoom
    bench     PatchBench operations: the kernel's checks as a pass/fail list, undo
    stepper   stepping a call on the interpreter: registers, save slot, step over/out
    preempt   the two-nop race with the preemption point chosen by the reader

Everything here runs without Jupyter; the widgets only parse fields and render.
"""

from ppcftrace.lab.sites import SITE_STATES, SiteState, classify_site

__all__ = ["SITE_STATES", "SiteState", "classify_site"]
