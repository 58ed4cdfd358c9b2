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
from ppcftrace.maccess import flush_icache_range

__all__ = ["RaceStep", "RaceResult", "RaceSetup", "setup_race", "run_race", "STOP_IN",
           "FUNCTION", "MODULE"]

#: the function the task is "preempted" in: the tracer callback ftrace_caller calls
STOP_IN = "function_trace_call"
#: the traced module function and its module
FUNCTION = "racemod_yield"
MODULE = "racemod.o"


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
    raise RuntimeError(f"racemod_yield did not finish in {limit} instructions")


def _fetch(setup: RaceSetup, pc: int) -> int | None:
    memory = setup.machine.memory
    return memory.read_u32(pc) if memory.is_mapped(pc, 4, "x") else None


def _write_site(setup: RaceSetup, words: tuple[int, int]) -> None:
    """Write a what-if sequence over the site (bypassing ftrace's checks), then flush."""
    m = setup.machine
    m.memory.write(setup.site, b"".join(w.to_bytes(4, "big") for w in words), "race")
    flush_icache_range(m, setup.site, setup.site + 8)


def run_race(policy: str = "b+8", arch: str = "ppc64", *, disabled: tuple[int, int] | None = None,
             preempt: bool = True) -> RaceResult:
    """Run racemod_yield with its site traced, stop it inside `function_trace_call`,
    disable tracing, resume; or (`preempt=False`) just call it with the site disabled.

    `disabled` replaces the words the policy wrote with a sequence of your own.
    """
    setup = setup_race(arch, policy)
    m, cpu, ftrace = setup.machine, setup.machine.cpu, setup.machine.ftrace
    log_start = len(m.log)
    steps: list[RaceStep] = []
    words_traced = setup.words()
    r2_at_stop = None
    if preempt:
        ftrace.set_ftrace_filter(FUNCTION if arch == "ppc32" else "." + FUNCTION)
        ftrace.current_tracer = "function"
        words_traced = setup.words()
    elif disabled is not None:
        _write_site(setup, disabled)
    # Enter the function (one instruction: call() stops at the breakpoint after it),
    # then step it ourselves so that every r2 is on record.
    cpu.breakpoints.add(setup.entry + 4)
    cpu.call(setup.entry, toc=setup.module.arch.toc)
    cpu.breakpoints.discard(setup.entry + 4)
    steps.append(RaceStep(0, setup.entry, setup.where(setup.entry), cpu.gpr[2],
                          _fetch(setup, setup.entry)))
    watch = setup.site + 8
    error = None
    try:
        how, r2_after = _step_until(setup, {setup.stop} if preempt else set(), steps, watch)
        if how == "stop":
            r2_at_stop = cpu.gpr[2]
            ftrace.current_tracer = "nop"          # disabled while the task is away
            if disabled is not None:
                _write_site(setup, disabled)
            how, r2_after = _step_until(setup, set(), steps, watch)
    except CpuError as exc:
        error, r2_after = exc, next((s.r2 for s in steps if s.pc == watch), None)
    words_disabled = setup.words()
    return RaceResult(
        arch=arch, policy=policy if disabled is None else "custom", preempted=preempt,
        site=setup.site, module_toc=setup.module.arch.toc, kernel_toc=m.toc,
        words_traced=words_traced, words_disabled=words_disabled,
        r2_at_stop=r2_at_stop, r2_after_site=r2_after,
        outcome="fault" if error else "returned", value=None if error else cpu.gpr[3],
        printed=m.log[log_start:], trace=ftrace.buffer.calls(), error=error, steps=steps,
    )
