"""Stepping a call on the interpreter: what CpuStepper shows and does.

`StepSession(machine, "hmod_hello", "world")` sets up a call of a kernel or module
function on `machine.cpu` (r1 a fresh frame, r2 the callee's TOC, LR the return
address that ends the run) without running it, then steps it one instruction at a
time. It keeps the call stack the program builds (every branch-and-link pushes its
return address and r1; reaching that address with that r1 pops it), which is what
`step_over` and `step_out` need. String arguments are copied into a scratch region.
The machine has one CPU, so a newer session takes it over; the older one then answers
"lost" to every step.

`registers()` gives what the chapter watches on PPC64: r1, r2 (named as the kernel's
or a module's TOC), r11, r12, LR, CTR and the TOC save slot 40(r1); each marked when
the last step changed it. An interpreter error ends the session with `.error` set,
never an exception.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from ppcftrace import isa
from ppcftrace.cpu import RETURN_ADDRESS, CpuError
from ppcftrace.cpu.errors import InstructionLimit
from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.mapmodel import MemoryMapModel
from ppcftrace.memory import MemoryFault

__all__ = ["StepSession", "resolve_function", "StepError", "Register", "ARGS_REGION", "TOC_SAVE"]

#: the scratch region string arguments are copied into
ARGS_REGION = "lab: call arguments"
ARGS_BASE = {"ppc64": 0x7FFE0000, "ppc32": 0x7FFE0000}
#: where ELFv1 code saves r2 around a call through a stub
TOC_SAVE = 40
_LINKING = ("b", "bc", "bclr", "bcctr")
#: the session that set up the call each CPU is running (one processor, one call)
_OWNER: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: bytes of the scratch region handed out so far, per region
_ARGS_USED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class StepError(PpcftraceError):
    """The call cannot be set up: unknown function, bad arguments."""


@dataclass(frozen=True)
class Register:
    """One row of the register view."""

    name: str
    value: int | None
    changed: bool
    note: str = ""


def resolve_function(machine, name: str) -> tuple[int, int | None, object]:
    """(code address, TOC to call it with, module or None) of a module or kernel function
    (`hmod_hello` or `.hmod_hello`)."""
    try:
        return machine.resolve_function(name)
    except PpcftraceError:
        raise StepError(f"no function {name!r} in the kernel or a loaded module") from None


class StepSession:
    """One call of `function(*args)` on `machine.cpu`, stepped by the reader."""

    def __init__(self, machine, function: str, *args: int | str, limit: int = 200_000):
        if getattr(machine, "cpu", None) is None:
            raise StepError("the machine has no CPU (start_kernel(cpu=True))")
        self.machine, self.cpu, self.arch = machine, machine.cpu, machine.arch
        self.map = MemoryMapModel(machine)
        self.function = function
        self.entry, self.toc, self.module = resolve_function(machine, function)
        self.limit = limit
        self.error: CpuError | None = None
        self.result: int | None = None
        self.executed = 0
        values = [self._argument(a, i) for i, a in enumerate(args)]
        try:   # call() with no instructions to run: the frame is set up, the PC at entry
            self.cpu.call(self.entry, *values, toc=self.toc, max_instructions=0)
        except InstructionLimit:
            pass
        except CpuError as exc:
            raise StepError(f"cannot call {function}: {exc}") from None
        _OWNER[self.cpu] = self
        self.frames: list[tuple[int, int]] = [(RETURN_ADDRESS[self.arch], self.cpu.gpr[1])]
        self._previous = self._raw_registers()
        self._before = dict(self._previous)
        self.log_start = len(getattr(machine, "log", []))

    # -- set-up ----------------------------------------------------------------------

    def _argument(self, value: int | str, index: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise StepError(f"argument {index + 1}: give an int or a str, not {type(value).__name__}")
        if isinstance(value, int):
            return value
        mem = self.machine.memory
        try:
            region = mem.region(ARGS_REGION)
        except PpcftraceError:
            region = mem.map(ARGS_REGION, ARGS_BASE[self.arch], 0x1000, "rw")
        data = value.encode() + b"\0"
        if len(data) > region.size:
            raise StepError(f"argument {index + 1}: string longer than {region.size - 1} bytes")
        # sessions share the region: take the next free bytes, starting over when full
        used = _ARGS_USED.get(region, 0)
        if used + len(data) > region.size:
            used = 0
        mem.write(region.start + used, data, journal=False)
        _ARGS_USED[region] = used + (len(data) + 7) // 8 * 8
        return region.start + used

    # -- state -----------------------------------------------------------------------

    @property
    def pc(self) -> int:
        return self.cpu.pc

    @property
    def active(self) -> bool:
        """False once a newer session has set up another call on the same CPU."""
        return _OWNER.get(self.cpu) is self

    @property
    def done(self) -> bool:
        """The call returned, or the interpreter stopped it with an error."""
        return self.error is not None or self.cpu.pc == RETURN_ADDRESS[self.arch]

    def where(self, address: int) -> str:
        return self.map.where(address)

    def _raw_registers(self) -> dict[str, int | None]:
        g, cpu = self.cpu.gpr, self.cpu
        out: dict[str, int | None] = {"r1": g[1], "r2": g[2], "r3": g[3], "r11": g[11], "r12": g[12],
                                      "lr": cpu.lr, "ctr": cpu.ctr}
        if self.arch == "ppc64":
            try:
                out["40(r1)"] = self.machine.memory.read_u64(g[1] + TOC_SAVE)
            except MemoryFault:
                out["40(r1)"] = None
        return out

    def _toc_note(self, value: int | None) -> str:
        if value is None or self.arch != "ppc64":
            return ""
        if value == getattr(self.machine, "toc", None):
            return "kernel TOC"
        for mod in getattr(self.machine, "modules", ()):
            if value == getattr(mod.arch, "toc", None):
                return f"{mod.name} TOC"
        return ""

    def registers(self) -> list[Register]:
        """The watched registers; `changed` = the last step changed it."""
        now = self._raw_registers()
        out = []
        for name, value in now.items():
            note = ""
            if name in ("r2", "40(r1)"):
                note = self._toc_note(value)
            elif name in ("lr", "ctr", "r11", "r12") and value:
                where = self.where(value)
                note = "" if where.startswith("0x") else where
            out.append(Register(name, value, value != self._previous.get(name), note))
        return out

    # -- stepping --------------------------------------------------------------------

    def _step1(self) -> None:
        cpu = self.cpu
        pc = cpu.pc
        try:
            insn = isa.decode(self.machine.memory.fetch(pc), pc, self.arch)
            links = insn.op in _LINKING and insn.fields.get("LK")
        except (PpcftraceError, MemoryFault):
            links = False   # the step itself reports what is wrong with this word
        sp = cpu.gpr[1]
        cpu.step()
        self.executed += 1
        if links:
            self.frames.append((pc + 4, sp))
        while len(self.frames) > 1 and cpu.pc == self.frames[-1][0] and cpu.gpr[1] == self.frames[-1][1]:
            self.frames.pop()

    def _until(self, stop) -> str:
        """Step until `stop()` or a breakpoint, the end of the call, an error or the limit;
        "lost" when another session owns the CPU now."""
        if not self.active:
            return "lost"
        self._previous = self._raw_registers()
        if self.done:
            return "done"
        first = True
        try:
            for _ in range(self.limit):
                if not first and self.cpu.pc in self.cpu.breakpoints:
                    return "breakpoint"
                self._step1()
                first = False
                if self.cpu.pc == RETURN_ADDRESS[self.arch]:
                    self.result = self.cpu.gpr[3]
                    return "done"
                if stop():
                    return "stepped"
        except CpuError as exc:
            self.error = exc
            return "error"
        return "limit"

    def step(self) -> str:
        """One instruction."""
        return self._until(lambda: True)

    def step_over(self) -> str:
        """One instruction; a call runs to its return."""
        depth = len(self.frames)
        return self._until(lambda: len(self.frames) <= depth)

    def step_out(self) -> str:
        """Run until the current function returns to its caller."""
        depth = len(self.frames)
        return self._until(lambda: len(self.frames) < depth)

    def run(self) -> str:
        """Run to a breakpoint or the end of the call."""
        return self._until(lambda: False)

    def toggle_breakpoint(self, address: int) -> bool:
        """Set or clear a breakpoint; True when it is now set."""
        bps = self.cpu.breakpoints
        if address in bps:
            bps.discard(address)
            return False
        bps.add(address)
        return True

    def printed(self) -> list[str]:
        """Kernel log lines since the session started."""
        return list(getattr(self.machine, "log", [])[self.log_start:])
