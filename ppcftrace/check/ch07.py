"""Checkers for Chapter 7, "PPC32: one word and a trampoline".

Expected values come from the package: `ppcftrace.ftrace.arch32` (`plt_target`,
`__ftrace_make_nop`), `ppcftrace.module32.plt_entry_words` (PLT entries for the
scenarios) and the interpreter (`ppcftrace.cpu`) running the fixture kernel's
`_mcount`. Scenarios start from the PPC32 machine with hmod and racemod loaded and
their sites as linked (`bl` to a PLT entry for `_mcount`).
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import CheckResult, Mistake, call_safely, hexs, report, require_callable, require_int
from ppcftrace.ftrace import ArchContext, DynFtrace, FtraceError
from ppcftrace.ftrace import arch32
from ppcftrace.module32 import plt_entry_words

__all__ = ["ex1", "ex2", "ex2_question", "ex3", "NOP_CASES", "nop_scenario"]

_M32 = 0xFFFFFFFF


# --- Exercise 1: the PLT entry's target ----------------------------------------------------

def _plt_cases() -> Iterator[tuple[int, int]]:
    """(w0, w1): lis/addi pairs with lo on both sides of 0x8000, hi at both ends."""
    for target in (0xC0001234, 0xC0018000, 0xC001FFFC, 0xC0007FFC, 0xD1000000, 0x00008000,
                   0xFFFF8000, 0x0000FFFC, 0x12348000, 0xFFFFFFFC):
        yield plt_entry_words(target)[:2]
    rng = random.Random(7)
    for _ in range(300):
        yield plt_entry_words(rng.getrandbits(32) & ~3)[:2]


def _diagnose_plt(got: Any, w0: int, w1: int) -> None:
    got = require_int(got, "the target")
    want = arch32.plt_target(w0, w1)
    if got == want:
        return
    where = f" (lis word {w0:#010x}, addi word {w1:#010x})"
    hi, lo = w0 & 0xFFFF, w1 & 0xFFFF
    if got & _M32 == want:
        raise Mistake("the target is outside 32 bits" + where,
                      "a PPC32 address wraps around: reduce it modulo 2**32")
    if got == (hi << 16 | lo) and lo & 0x8000:
        raise Mistake("the carry correction is missing" + where,
                      "addi adds its immediate as a signed 16-bit number")
    if got & _M32 == ((hi << 16 | lo) + 0x10000) & _M32:
        raise Mistake("the correction goes the wrong way" + where,
                      "a negative low half makes the sum smaller than hi << 16")
    if got & 0xFFFF != lo or got >> 32:
        raise Mistake("the opcode and register bits leaked into the target" + where,
                      "keep only the 16-bit immediate of each word")
    raise Mistake("the target is wrong" + where, "hi in the top half, lo in the bottom, "
                  "then correct for lo's sign")


def ex1(answer: Callable[[int, int], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 1: `plt_target(w0, w1)`, the address a lis/addi pair loads."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for w0, w1 in _plt_cases():
            _diagnose_plt(call_safely(fn, w0, w1), w0, w1)
        return "the carry correction is right on both sides of 0x8000"
    return report("ch07.ex1", check, quiet=quiet)


# --- Exercise 2: LR and CTR at _mcount's bctr ------------------------------------------------

def _boot(ftrace: bool = False):
    from ppcftrace.kernel import start_kernel
    from ppcftrace.machine import fixture_path

    return start_kernel("ppc32", modules=[fixture_path(n, "ppc32") for n in ("racemod.o", "hmod.o")],
                        ftrace=ftrace, cpu=True)


@lru_cache(maxsize=1)
def _mcount_returns() -> tuple[tuple[str, int, int, int, int], ...]:
    """(function, site, LR at its entry, LR at bctr, CTR at bctr) for each `_mcount` call
    made while cpu_idle() runs with every site calling _mcount (no ftrace)."""
    m = _boot()
    cpu = m.cpu
    cpu.call(m.entry("sched_init"))
    mcount = m.entry("_mcount")
    bctr = next(mcount + 4 * i for i in range(8) if m.memory.read_u32(mcount + 4 * i) == isa.PPC_INST_BCTR)
    entries = {}
    for site in m.mcount_sites:
        name, offset = m.kallsyms.lookup(site)
        entries[site - offset] = (name, site)
    cpu.breakpoints |= set(entries) | {bctr}
    out, lr_at = [], {}
    cpu.breakpoints.add(m.entry("cpu_idle") + 4)
    cpu.call(m.entry("cpu_idle"))
    cpu.breakpoints.discard(m.entry("cpu_idle") + 4)
    lr_at[entries[m.entry("cpu_idle")][1]] = cpu.lr
    current = entries[m.entry("cpu_idle")]
    while cpu.run() == "breakpoint":
        if cpu.pc in entries:
            current = entries[cpu.pc]
            lr_at[current[1]] = cpu.lr
        elif cpu.pc == bctr:
            site = cpu.ctr - 4
            name = m.kallsyms.lookup(site)[0]
            out.append((name, site, lr_at[site], cpu.lr, cpu.ctr))
    return tuple(out)


#: which _mcount call Exercise 2 asks about: the second (cpu_idle's callee)
_EX2_CALL = 1


def ex2_question() -> tuple[str, int, int]:
    """(function, site, LR at the function's entry) for the first _mcount call made by a
    function that cpu_idle() called (need_resched)."""
    name, site, lr, _, _ = _mcount_returns()[_EX2_CALL]
    return name, site, lr


def _diagnose_lr_ctr(got: Any, name: str, site: int, lr0: int, lr: int, ctr: int) -> None:
    where = f" ({name}: site {site:#x}, LR at entry {lr0:#x})"
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Mistake(f"expected a pair (LR, CTR), got {got!r}" + where, "return two addresses")
    g_lr, g_ctr = (require_int(v, "LR and CTR") for v in got)
    if (g_lr, g_ctr) == (lr, ctr):
        return
    if (g_lr, g_ctr) == (ctr, lr):
        raise Mistake("LR and CTR are swapped" + where, "which register does bctr jump through?")
    if g_ctr != ctr:
        if g_ctr == site:
            raise Mistake("CTR is the call site itself" + where,
                          "mflr r0 reads the return address the bl left")
        raise Mistake(f"CTR {g_ctr:#x} is not where _mcount goes back to" + where,
                      "_mcount returns to the instruction after the bl")
    if g_lr == site + 4:
        raise Mistake("LR is still the return address of the bl" + where,
                      "_mcount reloads LR from 4(r1), where the prologue saved it")
    raise Mistake(f"LR {g_lr:#x} is not what _mcount restores" + where,
                  "the -pg prologue stored the function's own LR at 4(r1) before the bl")


def ex2(answer: tuple[int, int] | Callable[[int, int], tuple[int, int]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 2: (LR, CTR) at _mcount's bctr for `ex2_question()`, or a function
    `(site, lr_at_entry) -> (LR, CTR)` tried on every _mcount call of cpu_idle()."""
    def check() -> str:
        calls = _mcount_returns()
        if callable(answer):
            for name, site, lr0, lr, ctr in calls:
                _diagnose_lr_ctr(call_safely(answer, site, lr0), name, site, lr0, lr, ctr)
            return f"right for all {len(calls)} calls of _mcount while cpu_idle() ran"
        _diagnose_lr_ctr(answer, *calls[_EX2_CALL])
        return ""
    return report("ch07.ex2", check, quiet=quiet)


# --- Exercise 3: __ftrace_make_nop on PPC32 ------------------------------------------------------

#: scenarios for Exercise 3: name -> what was done to the machine before the call
NOP_CASES = {
    "good": "racemod_yield's site, as linked, addr = _mcount",
    "hmod": "every site of hmod, as linked, addr = _mcount",
    "wrong target": "racemod_yield's site, addr = printk",
    "not a bl": "racemod_yield's site already a nop",
    "site unreadable": "a site in the unmapped module-area guard page",
    "PLT unreadable": "the bl pointed at unmapped memory 1 MiB past the module",
    "r12 entry": "the PLT entry rewritten in the 2012 r12 form",
    "carry": "the PLT entry rewritten to a target whose low half is >= 0x8000, addr = that target",
    "not bctr": "the PLT entry's last word changed to blr",
    "read-only": "the module made read-only",
}
_CARRY_TARGET = 0xC0009ABC


def nop_scenario(case: str):
    """(machine, module, [(ip, addr)]) for a case of NOP_CASES, on a fresh PPC32 machine."""
    if case not in NOP_CASES:
        raise KeyError(f"no case {case!r}: one of {', '.join(NOP_CASES)}")
    m = _boot()
    mem = m.memory
    mod = m.modules[0]
    ip = mod.mcount_sites[0]
    mcount = m.entry("_mcount")
    plt = isa.find_bl_target(ip, mem.read_u32(ip), "ppc32")
    sites = [(ip, mcount)]
    if case == "hmod":
        sites = [(s, mcount) for s in m.modules[1].mcount_sites]
    elif case == "wrong target":
        sites = [(ip, m.entry("printk"))]
    elif case == "not a bl":
        mem.write_u32(ip, isa.PPC_INST_NOP)
    elif case == "site unreadable":
        sites = [(mod.base + mod.size + 0x100, mcount)]
    elif case == "PLT unreadable":
        mem.write_u32(ip, isa.create_branch(ip, mod.base + mod.size + 0x100000,
                                            isa.BRANCH_SET_LINK, "ppc32"))
    elif case == "r12 entry":
        _write_words(mem, plt, plt_entry_words(mcount, "r12"))
    elif case == "carry":
        _write_words(mem, plt, plt_entry_words(_CARRY_TARGET))
        sites = [(ip, _CARRY_TARGET)]
    elif case == "not bctr":
        mem.write_u32(plt + 12, isa.PPC_INST_BLR)
    elif case == "read-only":
        for name in mod.regions:
            mem.protect(name, "rx")
    return m, mod, sites


def _write_words(mem, addr: int, words) -> None:
    for i, w in enumerate(words):
        mem.write_u32(addr + 4 * i, w)


def _module_bytes(m, mod) -> bytes:
    return b"".join(bytes(m.memory.region(n).data) for n in mod.regions)


def _run(case: str, fn: Callable | None) -> list[tuple[int, int, int, bytes]]:
    """[(ip, addr, return value, module bytes after)] for each site of `case`."""
    m, mod, sites = nop_scenario(case)
    out = []
    for ip, addr in sites:
        if fn is None:
            ctx = ArchContext(m.memory, "ppc32", flush_target=m)
            try:
                arch32.__ftrace_make_nop(ctx, mod, DynFtrace(ip), addr)
                ret = 0
            except FtraceError as err:
                ret = -err.errno
        else:
            ret = call_safely(fn, m.memory, ip, addr)
        out.append((ip, addr, ret, _module_bytes(m, mod)))
    return out


_HINTS = {
    "wrong target": "rebuild the PLT entry's target and compare it with addr",
    "not a bl": "check that the site still holds a bl before following it",
    "site unreadable": "reading the site can fault",
    "PLT unreadable": "reading the PLT entry can fault too",
    "r12 entry": "the 2008 code accepts exactly lis r11 / addi r11,r11 / mtctr r11 / bctr",
    "carry": "addi adds its immediate as a signed number",
    "not bctr": "check all four words of the entry",
    "read-only": "the write can fault",
}


def ex3(answer: Callable[[Any, int, int], int], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `ftrace_make_nop32(memory, ip, addr) -> 0 | -errno` for PPC32 module sites."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for case in NOP_CASES:
            want = _run(case, None)
            got = _run(case, fn)
            for (ip, addr, w_ret, w_mem), (_, _, g_ret, g_mem) in zip(want, got):
                where = f" in case '{case}' ({NOP_CASES[case]}; ip {ip:#x}, addr {addr:#x})"
                hint = _HINTS.get(case, "follow the bl, check the entry, compare, write one nop")
                if isinstance(g_ret, bool) or not isinstance(g_ret, int):
                    raise Mistake(f"your function returned {g_ret!r}{where}",
                                  "return 0 or a negative errno")
                if g_ret != w_ret:
                    if g_ret == -w_ret:
                        raise Mistake(f"the errno's sign is wrong{where}", "return -EINVAL, not EINVAL")
                    if w_ret == 0:
                        raise Mistake(f"you returned {hexs(g_ret)} for a site that can be "
                                      f"disabled{where}", hint)
                    if g_ret == 0:
                        raise Mistake(f"you disabled a site the 2008 code refuses{where}", hint)
                    raise Mistake(f"you returned {hexs(g_ret)}{where}", hint)
                if g_mem != w_mem:
                    if w_ret:
                        raise Mistake(f"you changed memory although the call fails{where}",
                                      "check everything before writing")
                    raise Mistake(f"memory after the call is not right{where}",
                                  "on PPC32 one word is replaced, by a nop")
        return "every check of the 2008 code, in order, and one nop written"
    return report("ch07.ex3", check, quiet=quiet)
