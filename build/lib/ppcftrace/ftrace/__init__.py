"""Dynamic ftrace for the simulated PowerPC machines (kernel/trace/ftrace.c and
arch/powerpc/kernel/ftrace.c, 2.6.29).

    records  struct dyn_ftrace, FTRACE_FL_*, the page arithmetic
    arch     ftrace_make_nop / ftrace_make_call / ftrace_modify_code (both arches)
    arch64   PPC64 module sites (stubs, b .+8)      arch32   PPC32 module sites (PLT)
    filters  set_ftrace_filter globs               trace    the trace buffer and file
    core     Ftrace(machine): boot conversion, modules, filters, tracers
"""

from ppcftrace.ftrace.arch import (ArchContext, ftrace_call_replace, ftrace_make_call, ftrace_make_nop,
                                   ftrace_modify_code, ftrace_update_ftrace_func)
from ppcftrace.ftrace.core import TRACERS, Ftrace
from ppcftrace.ftrace.errors import FtraceDisabled, FtraceError
from ppcftrace.ftrace.records import *  # noqa: F401,F403 - FTRACE_FL_* and DynFtrace
from ppcftrace.ftrace.trace import TraceBuffer, TraceEntry

__all__ = [
    "ArchContext", "Ftrace", "FtraceDisabled", "FtraceError", "TRACERS", "TraceBuffer", "TraceEntry",
    "ftrace_call_replace", "ftrace_make_call", "ftrace_make_nop", "ftrace_modify_code",
    "ftrace_update_ftrace_func", "DynFtrace",
]
