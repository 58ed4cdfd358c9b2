"""A port of the arch hooks as the ftrace core calls it (for `check.conformance`).

`StudentHooks(impl)` turns the C-style results of a port (0, or a negative errno)
into what `ppcftrace.ftrace.core` expects (return, or raise `FtraceError`), turns any
other exception into `StudentCrash` (which the core does not catch, so the scenario
reports it), and logs every call as (hook, ip, errno).
"""

from __future__ import annotations

import errno
import traceback
from pathlib import Path

from ppcftrace.ftrace import FtraceError
from ppcftrace.maccess import ProbeFault
from ppcftrace.memory import MemoryFault

__all__ = ["StudentHooks", "StudentCrash", "TimeLimit", "describe_exception", "where_in", "errname"]


def errname(err: int) -> str:
    """'-EINVAL' for EINVAL, '0' for success."""
    return f"-{errno.errorcode.get(err, str(err))}" if err else "0"


class StudentCrash(Exception):
    """The port's hook raised, or returned something that is not an errno.

    Not an `FtraceError`, so it goes through the ftrace core to the scenario.
    """


class TimeLimit(Exception):
    """A scenario ran out of time (the port's code loops?)."""


class StudentHooks:
    """The port as the ftrace core calls it: return values become `FtraceError`s,
    exceptions become `StudentCrash`, and every call is logged as (hook, ip, errno)."""

    def __init__(self, impl, name: str = "your"):
        self.impl = impl
        self.name = name
        self.calls: list[tuple[str, int, int]] = []

    def take_calls(self) -> list[tuple[str, int, int]]:
        """The calls made since the last take."""
        calls, self.calls = self.calls, []
        return calls

    def ftrace_make_nop(self, ctx, mod, rec, addr: int) -> None:
        self._call("ftrace_make_nop", rec.ip, ctx, mod, rec, addr)

    def ftrace_make_call(self, ctx, rec, addr: int) -> None:
        self._call("ftrace_make_call", rec.ip, ctx, rec, addr)

    def _call(self, hook: str, ip: int, *args) -> None:
        fn = getattr(self.impl, hook, None)
        if not callable(fn):
            raise StudentCrash(f"{self.name} port has no {hook}() function")
        try:
            ret = fn(*args)
        except FtraceError as exc:
            err = exc.errno
        except (ProbeFault, MemoryFault) as exc:
            raise StudentCrash(f"{self.name} {hook} let {type(exc).__name__} escape for the site at "
                               f"{ip:#x} ({exc}){where_in(exc)}: catch it and return -EFAULT "
                               "(reading) or -EPERM (writing)") from None
        except TimeLimit:
            raise
        except Exception as exc:  # the port's own bug
            raise StudentCrash(f"{self.name} {hook} raised {type(exc).__name__}: {exc} for the site "
                               f"at {ip:#x}{where_in(exc)}") from None
        else:
            if ret is None or (type(ret) is int and ret <= 0):
                err = -ret if ret else 0
            else:
                raise StudentCrash(f"{self.name} {hook} returned {ret!r} for the site at {ip:#x}: "
                                   "return 0, or a negative errno such as -errno.EINVAL")
        self.calls.append((hook, ip, err))
        if err:
            raise FtraceError(err, f"{hook} returned {errname(err)}", ip=ip)


#: the package's own files: a traceback frame outside them is the port's code
_PACKAGE = Path(__file__).resolve().parent.parent


def where_in(exc: BaseException) -> str:
    """' (student.py, line 12)': the innermost frame outside ppcftrace (the port's
    code), or '' when every frame is the package's own."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if _PACKAGE not in path.parents or path.parent.name == "solutions":
            return f" ({path.name}, line {frame.lineno})"
    return ""


def describe_exception(exc: BaseException) -> str:
    """One line for an exception that stopped a scenario."""
    if isinstance(exc, StudentCrash):
        return str(exc)
    from ppcftrace.cpu import CpuError, InstructionLimit

    if isinstance(exc, InstructionLimit):
        return f"the CPU ran {exc.limit} instructions without returning (a loop in patched code?)"
    if isinstance(exc, CpuError):
        return f"the CPU stopped: {exc}"
    return f"{type(exc).__name__}: {exc}{where_in(exc)}"
