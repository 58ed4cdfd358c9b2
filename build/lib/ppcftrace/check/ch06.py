"""Checkers for Chapter 6, "From mcount to nops and back".

Expected values come from the package: `ppcftrace.ftrace` patches the sites
(`ftrace_make_nop`, `ftrace_make_call`, `ftrace_modify_code`) of a machine booted by
`ppcftrace.kernel.start_kernel` with the fixture kernel and modules; the broken sites
of Exercise 2 are made here with the memory layer's own tools (`protect`, `write`).
"""

from __future__ import annotations

import errno
from functools import lru_cache
from typing import Any, Callable, Iterator

from ppcftrace import isa
from ppcftrace.check import CheckResult, Mistake, call_safely, hexs, report, require_callable, require_int
from ppcftrace.ftrace import ArchContext, DynFtrace, FtraceError, ftrace_make_call, ftrace_make_nop
from ppcftrace.ftrace import ftrace_modify_code as _kernel_modify_code
from ppcftrace.memory import AddressSpace

__all__ = ["ex1_question", "CASES", "broken_site", "ex1", "ex2", "ex3"]

_MODULES = ("racemod.o", "hmod.o")


def _boot(ftrace: bool = True):
    from ppcftrace.kernel import start_kernel
    from ppcftrace.machine import fixture_path

    return start_kernel("ppc64", modules=[fixture_path(n) for n in _MODULES], ftrace=ftrace, cpu=False)


# --- Exercise 1: the words after ftrace_make_call ------------------------------------------

@lru_cache(maxsize=1)
def _enabled_module_sites() -> tuple[tuple[int, int, tuple[int, int]], ...]:
    """(ip, tramp, (w0, w1) after ftrace_make_call) for every PPC64 module site."""
    m = _boot()
    out = []
    for mod in m.modules:
        for ip in mod.mcount_sites:
            rec = m.ftrace.record(ip)
            ftrace_make_call(m.ftrace.ctx, rec, m.ftrace.FTRACE_ADDR)
            out.append((ip, mod.arch.tramp, (m.memory.read_u32(ip), m.memory.read_u32(ip + 4))))
    return tuple(out)


def ex1_question() -> tuple[int, int]:
    """(ip, tramp): racemod_yield's `_mcount` site and racemod's `mod->arch.tramp`."""
    ip, tramp, _ = _enabled_module_sites()[0]
    return ip, tramp


@lru_cache(maxsize=1)
def _linked_words() -> dict[int, tuple[int, int]]:
    """The module sites as the loader left them (before ftrace_init_module)."""
    m = _boot(ftrace=False)
    return {ip: (m.memory.read_u32(ip), m.memory.read_u32(ip + 4))
            for mod in m.modules for ip in mod.mcount_sites}


def _diagnose_words(answer: Any, ip: int, tramp: int, want: tuple[int, int]) -> None:
    where = f" (ip {ip:#x}, tramp {tramp:#x})"
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Mistake(f"expected two words (ip, ip+4), got {answer!r}" + where,
                      "a PPC64 module site is two instructions: the call and the word after it")
    w0, w1 = (require_int(w, "each word") for w in answer)
    if (w0, w1) == want:
        return
    if w1 != want[1]:
        if w1 == isa.PPC_INST_NOP:
            raise Mistake("the second word is a nop" + where,
                          "the call goes through a stub that loads the kernel's r2; what must "
                          "run when it returns?")
        raise Mistake(f"the second word {w1:#010x} is not what ftrace writes" + where,
                      "after the call the module needs its own TOC pointer back")
    if w0 == _linked_words().get(ip, (None,))[0]:
        raise Mistake("the first word is the site as the loader linked it (a call of _mcount)"
                      + where, "ftrace_make_call points the site at the module's trampoline")
    if w0 == isa.PPC_INST_B_8:
        raise Mistake("the first word is the disabled site's branch" + where,
                      "after ftrace_make_call the site calls something")
    if w0 & 0xFC000000 != 0x48000000:
        raise Mistake("the first word is not a branch" + where, "the call is a bl")
    if not w0 & 1:
        raise Mistake("the first word does not set LK, so nothing returns to ip+4" + where,
                      "a call is bl, with the link bit")
    if w0 & 2:
        raise Mistake("the first word is an absolute branch" + where, "AA must be 0")
    target = isa.find_bl_target(ip, w0)
    if target == tramp + 4 or target == tramp - 4:
        raise Mistake("the bl lands one word away from the trampoline" + where,
                      "the offset is relative to the bl's own address")
    if (tramp - target) % (1 << 64) == (target - tramp) % (1 << 64) or target == ip - (tramp - ip):
        raise Mistake("the bl goes the wrong way" + where, "offset = target - ip")
    raise Mistake(f"the bl calls {target:#x}, not the module's trampoline" + where,
                  "ftrace_caller is far out of reach of a module: use mod->arch.tramp")


def ex1(answer: tuple[int, int] | Callable[[int, int], tuple[int, int]], *,
        quiet: bool = False) -> CheckResult:
    """Exercise 1: the two words at racemod_yield's site after ftrace_make_call, or a
    function `(ip, tramp) -> (w0, w1)` for any PPC64 module site."""
    def check() -> str:
        sites = _enabled_module_sites()
        if callable(answer):
            for ip, tramp, want in sites:
                _diagnose_words(call_safely(answer, ip, tramp), ip, tramp, want)
            return f"right for all {len(sites)} module sites of racemod and hmod"
        ip, tramp, want = sites[0]
        _diagnose_words(answer, ip, tramp, want)
        return ""
    return report("ch06.ex1", check, quiet=quiet)


# --- Exercise 2: which errno? ------------------------------------------------------------

#: the broken sites of Exercise 2: letter -> what was done before ftrace_make_nop
CASES = {
    "a": "kernel site (schedule); kernel text made unreadable",
    "b": "kernel site (schedule); its bl _mcount already replaced by a nop",
    "c": "kernel site (schedule); kernel text made read-only",
    "d": "module site (racemod_yield); the stub's funcaddr changed to printk's entry",
    "e": "module site (racemod_yield); the word after the bl changed to a nop",
    "f": "module site (racemod_yield); the bl pointed 1 MiB past the module, at unmapped memory",
}


def broken_site(case: str):
    """A fresh machine (sites as linked, no ftrace) with `case` applied, and the site:
    `(machine, mod or None, ip)`. Then ftrace_make_nop(ctx, mod, DynFtrace(ip), MCOUNT_ADDR)."""
    if case not in CASES:
        raise KeyError(f"no case {case!r}: one of {', '.join(CASES)}")
    m = _boot(ftrace=False)
    mem = m.memory
    kernel_ip = next(s for s in m.mcount_sites if m.kallsyms.lookup(s)[0] == ".schedule")
    mod = m.modules[0]
    mod_ip = mod.mcount_sites[0]
    if case == "a":
        mem.protect("vmlinux .text", "")
    elif case == "b":
        mem.write_u32(kernel_ip, isa.PPC_INST_NOP)
    elif case == "c":
        mem.protect("vmlinux .text", "r")
    elif case == "d":
        stub = isa.find_bl_target(mod_ip, mem.read_u32(mod_ip))
        funcaddr = mod.arch.toc + _stub_offset(mem, stub) + 32
        mem.write_u64(funcaddr, m.entry("printk"))
    elif case == "e":
        mem.write_u32(mod_ip + 4, isa.PPC_INST_NOP)
    elif case == "f":
        far = mod.base + mod.size + 0x100000
        mem.write_u32(mod_ip, isa.create_branch(mod_ip, far, isa.BRANCH_SET_LINK))
    if case in "abc":
        return m, None, kernel_ip
    return m, mod, mod_ip


def _stub_offset(mem, stub: int) -> int:
    from ppcftrace.ftrace.arch64 import stub_offset
    return stub_offset(mem.read_u32(stub), mem.read_u32(stub + 4))


@lru_cache(maxsize=1)
def _case_errnos() -> dict[str, int]:
    """What ftrace_make_nop returns (as a positive errno) for each case."""
    out = {}
    for case in CASES:
        m, mod, ip = broken_site(case)
        ctx = ArchContext(m.memory, "ppc64", flush_target=m)
        try:
            ftrace_make_nop(ctx, mod, DynFtrace(ip), m.kernel.symbol("_mcount").value)
        except FtraceError as err:
            out[case] = err.errno
        else:
            out[case] = 0
    return out


_NAMES = {errno.EFAULT: "EFAULT", errno.EINVAL: "EINVAL", errno.EPERM: "EPERM"}
_HINTS = {
    errno.EFAULT: "which step fails first when a word cannot even be read?",
    errno.EINVAL: "everything can be read and written here; is it what ftrace expects?",
    errno.EPERM: "reading and comparing succeed; what is left?",
}


def _as_errno(value: Any, case: str) -> int:
    if isinstance(value, str):
        name = value.strip().lstrip("-").upper()
        code = getattr(errno, name, None)
        if not isinstance(code, int):
            raise Mistake(f"case {case}: {value!r} is not an errno name",
                          "use EFAULT, EINVAL or EPERM (or their numbers)")
        return code
    return abs(require_int(value, f"the answer for case {case}", "give an errno name such as "
                           "'EINVAL' or a number such as errno.EINVAL"))


def ex2(answer: dict[str, Any], *, quiet: bool = False) -> CheckResult:
    """Exercise 2: a dict case -> errno ('EFAULT', errno.EFAULT or -14 all count)."""
    def check() -> str:
        if not isinstance(answer, dict):
            raise Mistake(f"expected a dict from case letter to errno, got {type(answer).__name__}",
                          "for example {'a': 'EINVAL', ...}")
        missing = [c for c in CASES if c not in answer]
        if missing:
            raise Mistake(f"no answer for case(s) {', '.join(missing)}", "answer every case a-f")
        want = _case_errnos()
        wrong = [c for c in CASES if _as_errno(answer[c], c) != want[c]]
        if wrong:
            c = wrong[0]
            got = _as_errno(answer[c], c)
            raise Mistake(f"case {c} ({CASES[c]}): not {_NAMES.get(got, got)}"
                          + (f"; {len(wrong) - 1} other case(s) wrong too" if len(wrong) > 1 else ""),
                          _HINTS[want[c]])
        return "each failing check stops ftrace_make_nop before anything is written"
    return report("ch06.ex2", check, quiet=quiet)


# --- Exercise 3: ftrace_modify_code ------------------------------------------------------

_BASE = 0x10000
_WORDS = (0x48000001 | 0x100, isa.PPC_INST_NOP, 0x7C0802A6, 0x4E800020)


class _Flushes:
    """A flush_target whose listener records each (start, end)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.icache_flush_listeners = [lambda s, e: self.calls.append((s, e))]


def _space(perms: str) -> AddressSpace:
    mem = AddressSpace(64)
    mem.map("text", _BASE, 0x1000, perms, b"".join(w.to_bytes(4, "big") for w in _WORDS))
    return mem


def _modify_cases() -> Iterator[tuple[str, str, int, int, int]]:
    """(description, perms, ip, old, new)."""
    bl, nop = _WORDS[0], _WORDS[1]
    yield "a site holding old", "rwx", _BASE, bl, nop
    yield "a site holding old (nop back to bl)", "rwx", _BASE + 4, nop, bl
    yield "a site holding something other than old", "rwx", _BASE, nop, bl
    yield "an unmapped address", "rwx", _BASE + 0x2000, bl, nop
    yield "a site in read-only text holding old", "rx", _BASE, bl, nop
    yield "a site in read-only text holding something other than old", "rx", _BASE + 8, bl, nop
    yield "a site in unreadable memory", "", _BASE, bl, nop
    yield "the last word of the region", "rwx", _BASE + 0xFFC, 0, nop


def _run_kernel(perms: str, ip: int, old: int, new: int):
    mem, flushes = _space(perms), _Flushes()
    try:
        _kernel_modify_code(ArchContext(mem, "ppc64", flush_target=flushes), ip, old, new)
        ret = 0
    except FtraceError as err:
        ret = -err.errno
    return ret, bytes(mem.region("text").data), flushes.calls


def ex3(answer: Callable[..., int], *, quiet: bool = False) -> CheckResult:
    """Exercise 3: `modify_code(memory, ip, old, new, flush) -> 0 | -errno`."""
    def check() -> str:
        fn = require_callable(answer, "the answer")
        for what, perms, ip, old, new in _modify_cases():
            want_ret, want_text, want_flush = _run_kernel(perms, ip, old, new)
            mem, flushes = _space(perms), _Flushes()
            before = bytes(mem.region("text").data)
            ret = call_safely(fn, mem, ip, old, new, lambda s, e: flushes.calls.append((s, e)))
            where = f" for {what} (ip {ip:#x}, old {old:#010x}, new {new:#010x})"
            if isinstance(ret, bool) or not isinstance(ret, int):
                raise Mistake(f"your function returned {ret!r}" + where,
                              "return 0 or a negative errno, as the kernel does")
            text = bytes(mem.region("text").data)
            if ret != want_ret:
                if ret == -want_ret:
                    raise Mistake(f"the sign of the errno is wrong{where}",
                                  "kernel functions return -EFAULT, -EINVAL, -EPERM")
                if want_ret == 0:
                    raise Mistake(f"you returned {hexs(ret)}{where}", "this case should succeed")
                if ret == 0:
                    raise Mistake(f"you reported success{where}", _HINTS[-want_ret])
                raise Mistake(f"you returned -{_NAMES.get(-ret, -ret)}{where}", _HINTS[-want_ret])
            if want_ret and text != before:
                raise Mistake(f"the site changed although the call failed{where}",
                              "verify first, then write: a failure leaves memory as it was")
            if text != want_text:
                raise Mistake(f"memory after the call is not what it should be{where}",
                              "write exactly one word, new, at ip")
            if want_ret == 0 and not any(s <= ip and ip + 4 <= e for s, e in flushes.calls):
                raise Mistake(f"the new word was written but the instruction cache was not "
                              f"flushed{where}",
                              "a CPU may go on executing the old instruction until you call flush")
            if want_ret and flushes.calls and not want_flush:
                raise Mistake(f"you flushed although nothing was written{where}",
                              "flush only after a successful write")
        return "read, compare, write, flush: in the kernel's order"
    return report("ch06.ex3", check, quiet=quiet)
