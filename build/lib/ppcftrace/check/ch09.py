"""Checkers for Chapter 9, "A live kernel".

Expected values come from the package: a site's state from `lab.sites.classify_site`
(over `isa.decode`), the errno of each injected fault from running the kernel's
patching code on a booted machine (`lab.bench.Bench`), and the race window from the
traced run on the interpreter (`lab.preempt`). The usual mistakes are recognised: a
`bl` not followed through its stub, any `b` taken for `b .+8`, an absolute branch
taken for a call, positive errnos, EFAULT and EPERM swapped, the window one
instruction off at either end.
"""

from __future__ import annotations

import errno
import random
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import CheckResult, Mistake, call_safely, report, require_callable
from ppcftrace.lab.sites import SITE_STATES, classify_site

__all__ = ["ex1", "ex2", "ex3", "SCENARIOS", "site_cases"]


# --- Exercise 1: a site's state from its words -------------------------------------------

@lru_cache(maxsize=1)
def _machine_cases() -> tuple:
    """(words, ip, mcount, ftrace_caller, stubs) of every site of a booted machine with
    hmod loaded: as linked, disabled, and traced."""
    from ppcftrace.kernel import start_kernel
    from ppcftrace.lab.mapmodel import MemoryMapModel
    from ppcftrace.machine import fixture_path

    out = []
    for ftrace in (False, True):
        m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], ftrace=ftrace, cpu=False)
        if ftrace:
            m.ftrace.set_ftrace_filter(".hmod_hello .hmod_parse .schedule .printk")
            m.ftrace.current_tracer = "function"
        model = MemoryMapModel(m)
        stubs = {s.address: s.target for s in model.stubs}
        for site in model.sites:
            out.append((site.state.words, site.ip, model.mcount, model.ftrace_caller, stubs))
    return tuple(out)


def site_cases() -> Iterator[tuple]:
    """The inputs Exercise 1's checker tries: real sites, then crafted words."""
    yield from _machine_cases()
    words, ip, mcount, caller, stubs = next(c for c in _machine_cases() if c[4])
    stub = next(iter(stubs))
    rng = random.Random(9)
    for _ in range(40):
        site = 0xD000000000000000 + 4 * rng.randrange(0x100, 0x4000)
        crafted = [
            isa.PPC_INST_NOP, isa.PPC_INST_B_8, 0x4800000C, 0x48000004,              # b .+12, b .+4
            isa.create_branch(site, stub, isa.BRANCH_SET_LINK),                        # bl stub
            isa.create_branch(site, stub, 0),                                          # b stub
            isa.create_branch(site, stub, isa.BRANCH_SET_LINK) | 2,                   # bla, AA=1
            isa.create_branch(site, site + 0x100, isa.BRANCH_SET_LINK),                # bl elsewhere
            isa.PPC_INST_LD_TOC,
        ]
        yield ((rng.choice(crafted), isa.PPC_INST_LD_TOC), site, mcount, caller, stubs)
    # kernel-style direct calls, in reach
    for target in (mcount, caller):
        for delta in (0x40, 0x1000, 0x1FFFF0):
            site = target + delta
            yield ((isa.create_branch(site, target, isa.BRANCH_SET_LINK), isa.PPC_INST_NOP),
                   site, mcount, caller, {})


def _hint(words, ip, stubs, want: str, got: Any) -> str:
    w0 = words[0]
    linked = w0 & 0xFC000003 == 0x48000001
    if linked and isa.find_bl_target(ip, w0) in stubs and got == "other":
        return "a bl into a stub is a call of what the stub jumps to: look its target up in stubs"
    if want == "ftrace" and got == "mcount" or want == "mcount" and got == "ftrace":
        return "_mcount and ftrace_caller are different targets: compare where the bl goes"
    if want == "other" and got == "b+8":
        return "only a branch exactly 8 bytes forward without link (0x48000008) is b .+8"
    if want == "other" and w0 & 0xFC000000 == 0x48000000 and w0 & 2:
        return "AA = 1: this branch is absolute, so it is no call of _mcount or ftrace_caller"
    if want == "other" and got in ("mcount", "ftrace") and not linked:
        return "a b without the link bit is not a call"
    if want == "other" and got in ("mcount", "ftrace"):
        return "a bl counts only when it reaches _mcount or ftrace_caller (maybe via a stub)"
    return "decode the first word: opcode, AA, LK, and the target"


def ex1(answer: Callable[..., str], *, quiet: bool = False) -> CheckResult:
    """Exercise 1: `site_state(words, ip, mcount, ftrace_caller, stubs)`."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        tried = 0
        for words, ip, mcount, caller, stubs in site_cases():
            got = call_safely(fn, words, ip, mcount, caller, dict(stubs))
            if got not in SITE_STATES:
                raise Mistake(f"your function returned {got!r}; return one of {', '.join(SITE_STATES)}",
                              "a plain string such as \"nop\"")
            want = classify_site(words, ip, "ppc64", mcount=mcount, ftrace_caller=caller,
                                 stubs=stubs).state
            if got != want:
                raise Mistake(f"words {words[0]:08x} {words[1]:08x} at {ip:#x}: you said {got!r}",
                              _hint(words, ip, stubs, want, got))
            tried += 1
        return f"{tried} sites classified as the map classifies them"
    return report("ch09.ex1", check, quiet=quiet)


# --- Exercise 2: which errno for which broken thing ---------------------------------------

#: the faults of Exercise 2 (as in the chapter): name -> what is broken
SCENARIOS = {
    "corrupt funcaddr": "the funcaddr of hmod's trampoline stub is overwritten, then the "
                        "traced site of hmod_hello is disabled",
    "read-only text": "kernel text is made read-only, then schedule is enabled",
    "bl into unmapped memory": "the bl at hmod_hello's traced site is pointed at unmapped "
                               "memory, then the site is disabled",
}


@lru_cache(maxsize=1)
def _scenario_errnos() -> dict[str, int]:
    """Each scenario run on a fresh machine: the kernel's (negative) return value."""
    from ppcftrace.kernel import start_kernel
    from ppcftrace.lab.bench import Bench
    from ppcftrace.machine import fixture_path

    def fresh():
        m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False)
        b = Bench(m)
        site = next(r.ip for r in m.ftrace.records if m.ftrace.rec_name(r) == ".hmod_hello")
        b.make_call(site)
        return m, b, site

    out = {}
    m, b, site = fresh()
    b.corrupt_funcaddr(m.modules[0].arch.tramp, 0xC0DE)
    out["corrupt funcaddr"] = -b.make_nop(site).errno
    m, b, site = fresh()
    b.protect("vmlinux .text", "rx")
    out["read-only text"] = -b.make_call(next(r.ip for r in m.ftrace.records
                                              if m.ftrace.rec_name(r) == ".schedule")).errno
    m, b, site = fresh()
    m.memory.write_u32(site, 0x48000001 | (-0x10000 & 0x03FFFFFC))
    out["bl into unmapped memory"] = -b.make_nop(site).errno
    return out


def ex2(answer: dict[str, int], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: {scenario: the value the kernel returns}, e.g. -errno.EINVAL."""
    def check() -> None:
        if not isinstance(answer, dict) or set(answer) != set(SCENARIOS):
            raise Mistake(f"expected a dict with the keys {', '.join(map(repr, SCENARIOS))}",
                          "one return value per scenario, e.g. -errno.EINVAL")
        want = _scenario_errnos()
        for name in SCENARIOS:
            got = answer[name]
            if isinstance(got, bool) or not isinstance(got, int):
                raise Mistake(f"{name}: give an int such as -errno.EINVAL, not {type(got).__name__}")
            if got == -want[name]:
                raise Mistake(f"{name}: right errno, wrong sign",
                              "the kernel returns errors as negative numbers (-EINVAL)")
            if got != want[name]:
                swapped = {-errno.EFAULT: -errno.EPERM, -errno.EPERM: -errno.EFAULT}
                hint = ("EFAULT is for a read that faults, EPERM for a write that faults"
                        if swapped.get(got) == want[name] else
                        "which check refuses first: reading, comparing, or writing?")
                raise Mistake(f"{name}: the kernel does not return {got}", hint)
    return report("ch09.ex2", check, quiet=quiet)


# --- Exercise 3: the race window -----------------------------------------------------------

@lru_cache(maxsize=1)
def _real_path() -> tuple[tuple[int, ...], int]:
    from ppcftrace.lab.preempt import traced_path
    from ppcftrace.race import setup_race

    return tuple(s.pc for s in traced_path()), setup_race().site


def _window(pcs: tuple[int, ...], site: int) -> set[int]:
    from ppcftrace.lab.preempt import in_window
    from ppcftrace.race import RaceStep

    steps = [RaceStep(i, pc, "", 0) for i, pc in enumerate(pcs)]
    return {i for i in range(len(pcs)) if in_window(steps, site, i)}


def _paths() -> Iterator[tuple[tuple[int, ...], int]]:
    yield _real_path()
    rng = random.Random(3)
    for _ in range(30):
        site = 0xD000000000000100
        before = [site - 4 * k for k in range(rng.randrange(1, 6), 0, -1)]
        inside = [0xC000000000000000 + 4 * rng.randrange(0, 500) for _ in range(rng.randrange(1, 30))]
        after = [site + 4, site + 8] + [site + 12 + 4 * k for k in range(rng.randrange(0, 5))]
        yield tuple(before + [site] + inside + after), site


def ex3(answer: Callable[..., Any], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `race_window(pcs, site)` -> the preemption points that crash."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for pcs, site in _paths():
            got = call_safely(fn, list(pcs), site)
            try:
                got = set(got)
            except TypeError:
                raise Mistake(f"return a set (or list) of indices, not {type(got).__name__}") from None
            want = _window(pcs, site)
            if got == want:
                continue
            entered, back = min(want) - 1, max(want)
            where = f" (the bl at index {entered}, the return to ip+4 at index {back})"
            if got == want | {entered}:
                raise Mistake("you included the bl itself" + where,
                              "preempted before the bl runs, the task meets the disabled site")
            if got == want - {back}:
                raise Mistake("you left out the return to ip+4" + where,
                              "preempted there, the task has not run ld r2,40(r1) yet")
            if got == want | {back + 1}:
                raise Mistake("one index too many at the end" + where,
                              "after ld r2,40(r1) has run, r2 is back")
            raise Mistake("not the right indices" + where,
                          "between the bl and the return, the task is inside the traced call")
        return "those are the points where only b .+8 saves the task"
    return report("ch09.ex3", check, quiet=quiet)
