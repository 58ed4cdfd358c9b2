"""The two-nop race (Chapter 8): a task preempted inside a traced module call.

`racemod_yield()` (fixtures/modules/racemod.c) is loaded as a module and traced, so
its `_mcount` site calls `ftrace_caller` through the module's trampoline. On PPC64
that trampoline is a stub: it saves the module's r2 at 40(r1) and loads the
kernel's TOC, and the word after the site, `ld r2,40(r1)`, restores the module's r2
on the way back. `run_race()` runs the function on the interpreter, stops it inside
the tracer as if it had been preempted there, disables tracing while it is stopped
(the way `policy` writes the site), and lets it go on:

- `policy="b+8"` (the merged code, Milton Miller's fix, commit f48cb8b48b0b) leaves
  `ld r2,40(r1)` in place, so the returning task gets its TOC back;
- `policy="two-nops"` (the first posting) has overwritten it with a nop: r2 stays
  the kernel's TOC and the module's next TOC-relative access goes wrong.

`disabled=(w0, w1)` writes other words over the site instead (what-if sequences), and
`preempt=False` runs a fresh call of the function with the site as it is, no tracing.
Everything runs as PowerPC instructions; nothing about the outcome is scripted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ppcftrace.cpu import RETURN_ADDRESS, CpuError
from ppcftrace.errors import PpcftraceError
from ppcftrace.maccess import flush_icache_range

__all__ = ["RaceStep", "RaceResult", "RaceSetup", "RaceRun", "RaceError", "setup_race", "run_race", "STOP_IN",
           "FUNCTION", "MODULE"]

#: the function the task is "preempted" in: the tracer callback ftrace_caller calls
STOP_IN = "function_trace_call"
#: the traced module function and its module
FUNCTION = "racemod_yield"
MODULE = "racemod.o"


class RaceError(PpcftraceError):
    """A `RaceRun` step asked for in the wrong phase, or a run that never ends."""


@dataclass(frozen=True)
class RaceStep:
    """One executed instruction: its index, address, where that is, r2 before it, and
    the word fetched (None where nothing could be fetched)."""

    index: int
    pc: int
    where: str
    r2: int
    word: int | None = None


@dataclass
class RaceResult:
    """What happened to the task.

    `outcome` is "returned" (the function came back; `printed` holds the log lines it
    produced) or "fault" (`error` is the interpreter's exception). `words_*` are the
    two words at the site: as the traced task entered it, and after tracing was
    disabled. `r2_at_stop` is r2 inside the tracer; `r2_after_site` is r2 when the task
    reached the instruction after the site's two words (None if it never did).
    """

    arch: str
    policy: str
    preempted: bool
    site: int
    module_toc: int | None
    kernel_toc: int | None
    words_traced: tuple[int, int]
    words_disabled: tuple[int, int]
    r2_at_stop: int | None
    r2_after_site: int | None
    outcome: str
    value: int | None
    printed: list[str]
    trace: list[tuple[str, str]]
    error: CpuError | None = None
    steps: list[RaceStep] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """Did the function return and print its own banner?"""
        return self.outcome == "returned" and any(line.startswith("racemod:") for line in self.printed)


@dataclass
class RaceSetup:
    """A booted machine with racemod loaded and the scheduler initialised."""

    machine: object
    module: object
    entry: int          #: code address of racemod_yield
    site: int           #: its _mcount call site
    stop: int           #: where the task is stopped ("preempted")

    def words(self) -> tuple[int, int]:
        read = self.machine.memory.read_u32
        return read(self.site), read(self.site + 4)

    def where(self, pc: int) -> str:
        """A name for `pc`: kernel symbol, module symbol, or the stub / PLT entry it is."""
        from ppcftrace.viz.names import symbolizer

        return symbolizer(self.machine)(pc) or f"{pc:#x}"


def setup_race(arch: str = "ppc64", policy: str = "b+8") -> RaceSetup:
    """Boot `arch` with racemod loaded (its sites disabled by `policy`) and run sched_init()."""
    from ppcftrace.kernel import start_kernel
    from ppcftrace.machine import fixture_path

    m = start_kernel(arch, modules=[fixture_path(MODULE, arch)], policy=policy)
    mod = m.modules[-1]
    dot = "." if arch == "ppc64" else ""
    entry = mod.symbols[dot + FUNCTION]
    site = next(s for s in mod.mcount_sites if mod.lookup(s)[0] == dot + FUNCTION)
    m.cpu.call(m.entry("sched_init"), toc=m.toc)     # the runqueue start_kernel() sets up
    return RaceSetup(m, mod, entry, site, m.entry(STOP_IN))


def _step_until(setup: RaceSetup, stops: set[int], steps: list[RaceStep], watch: int,
                limit: int = 20_000) -> tuple[str, int | None]:
    """Step the CPU until it reaches one of `stops` or returns; record each step.

    Returns ("stop" | "return", r2 when pc first reached `watch`).
    """
    cpu = setup.machine.cpu
    done = RETURN_ADDRESS[cpu.arch]
    r2_at_watch = None
    for _ in range(limit):
        pc = cpu.pc
        if pc == watch and r2_at_watch is None:
            r2_at_watch = cpu.gpr[2]
        if pc == done:
            return "return", r2_at_watch
        if pc in stops and steps and steps[-1].pc != pc:
            return "stop", r2_at_watch
        steps.append(RaceStep(len(steps), pc, setup.where(pc), cpu.gpr[2], _fetch(setup, pc)))
        cpu.step()
    raise RaceError(f"racemod_yield did not finish in {limit} instructions")


def _fetch(setup: RaceSetup, pc: int) -> int | None:
    memory = setup.machine.memory
    return memory.read_u32(pc) if memory.is_mapped(pc, 4, "x") else None


def _write_site(setup: RaceSetup, words: tuple[int, int]) -> None:
    """Write a what-if sequence over the site (bypassing ftrace's checks), then flush."""
    m = setup.machine
    m.memory.write(setup.site, b"".join(w.to_bytes(4, "big") for w in words), "race")
    flush_icache_range(m, setup.site, setup.site + 8)


class RaceRun:
    """The experiment phase by phase, for views that step through it (RaceLab).

    `start()` traces the function (when `preempt`) and enters it; `run_to_stop()` steps
    to the tracer; `disable(words=None)` sets the tracer to nop (and writes `words`
    over the site, if given); `resume()` runs to the end or a fault; `result()` sums
    up. `phase` is "ready", "running", "stopped" or "done".
    """

    def __init__(self, policy: str = "b+8", arch: str = "ppc64", *, preempt: bool = True):
        self.policy, self.arch, self.preempt = policy, arch, preempt
        self.setup = setup_race(arch, policy)
        self.steps: list[RaceStep] = []
        self.phase = "ready"
        self.error: CpuError | None = None
        self.custom = False
        self.r2_at_stop: int | None = None
        self._r2_after: int | None = None
        self._log_start = len(self.setup.machine.log)
        self.words_traced = self.setup.words()

    def start(self, words: tuple[int, int] | None = None) -> None:
        """Trace the function (or, without preemption, write `words` over the site) and
        enter it: one instruction runs."""
        self._expect("ready")
        setup, m = self.setup, self.setup.machine
        if self.preempt:
            m.ftrace.set_ftrace_filter(FUNCTION if self.arch == "ppc32" else "." + FUNCTION)
            m.ftrace.current_tracer = "function"
            self.words_traced = setup.words()
        elif words is not None:
            _write_site(setup, words)
            self.custom = True
        cpu = m.cpu
        # call() runs the first instruction and stops at the breakpoint after it; from
        # there we step ourselves so that every r2 is on record
        cpu.breakpoints.add(setup.entry + 4)
        cpu.call(setup.entry, toc=setup.module.arch.toc)
        cpu.breakpoints.discard(setup.entry + 4)
        self.steps.append(RaceStep(0, setup.entry, setup.where(setup.entry), cpu.gpr[2],
                                   _fetch(setup, setup.entry)))
        self.phase = "running"

    def run_to_stop(self) -> bool:
        """Step until the task enters the tracer (True) or the run ends (False)."""
        self._expect("running")
        stops = {self.setup.stop} if self.preempt else set()
        if self._step(stops) == "stop":
            self.r2_at_stop = self.setup.machine.cpu.gpr[2]
            self.phase = "stopped"
            return True
        return False

    def disable(self, words: tuple[int, int] | None = None) -> None:
        """Tracing off while the task is away (the policy writes the site), then `words`."""
        self._expect("stopped")
        self.setup.machine.ftrace.current_tracer = "nop"
        if words is not None:
            _write_site(self.setup, words)
            self.custom = True
        self.phase = "running"

    def resume(self) -> None:
        """Run the task to its end, or to a fault."""
        self._expect("running")
        self._step(set())

    def _step(self, stops: set[int]) -> str:
        try:
            how, r2 = _step_until(self.setup, stops, self.steps, self.setup.site + 8)
        except CpuError as exc:
            self.error, how = exc, "fault"
            r2 = next((st.r2 for st in self.steps if st.pc == self.setup.site + 8), None)
        if r2 is not None and self._r2_after is None:
            self._r2_after = r2
        if how != "stop":
            self.phase = "done"
        return how

    def _expect(self, phase: str) -> None:
        if self.phase != phase:
            raise RaceError(f"the run is {self.phase}, not {phase}")

    def result(self) -> RaceResult:
        """What happened (call when `phase` is "done")."""
        self._expect("done")
        setup, m = self.setup, self.setup.machine
        return RaceResult(
            arch=self.arch, policy="custom" if self.custom else self.policy,
            preempted=self.preempt, site=setup.site, module_toc=setup.module.arch.toc,
            kernel_toc=m.toc, words_traced=self.words_traced, words_disabled=setup.words(),
            r2_at_stop=self.r2_at_stop, r2_after_site=self._r2_after,
            outcome="fault" if self.error else "returned",
            value=None if self.error else m.cpu.gpr[3], printed=m.log[self._log_start:],
            trace=m.ftrace.buffer.calls(), error=self.error, steps=self.steps,
        )


def run_race(policy: str = "b+8", arch: str = "ppc64", *, disabled: tuple[int, int] | None = None,
             preempt: bool = True) -> RaceResult:
    """Run racemod_yield with its site traced, stop it inside `function_trace_call`,
    disable tracing, resume; or (`preempt=False`) just call it with the site disabled.

    `disabled` replaces the words the policy wrote with a sequence of your own.
    """
    run = RaceRun(policy, arch, preempt=preempt)
    run.start(None if preempt else disabled)
    if run.run_to_stop():
        run.disable(disabled)
        run.resume()
    return run.result()
