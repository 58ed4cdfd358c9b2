"""The conformance scenarios: scripts that drive a port of the arch hooks on a booted machine.

Each scenario takes `(arch, hooks)` (`hooks`: a `conformance.StudentHooks` around the
port) and returns an `Outcome`. Most run the same script twice, once with the
reference (`ppcftrace.ftrace.arch`) and once with the port, and compare what the
machines hold at each step (`Snapshot`): the error each hook returned per site, every
byte of memory, and the trace. Nothing expected is written down here; the reference
computes it.

    boot     ftrace_init() converts every kernel site
    modules  module sites: nop at load, call through the stub/PLT entry, nop again
    filter   set_ftrace_filter / notrace with the function tracer, run on the CPU
    faults   read fault -> -EFAULT, write fault -> -EPERM, wrong words -> -EINVAL;
             memory unchanged after each failure (hooks called directly)
    race     PPC64: a task preempted inside a traced module call resumes after disable
    icache   with the CPU's instruction cache on, a patched site must be flushed
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ppcftrace.check.porthooks import StudentCrash, StudentHooks, TimeLimit, describe_exception, errname
from ppcftrace.disasm import disassemble_word
from ppcftrace.ftrace import ArchContext, DynFtrace, FtraceError
from ppcftrace.ftrace import arch as reference_arch

__all__ = ["Outcome", "Snapshot", "SCENARIOS", "SCRIPTS", "TITLES", "FAULT_CASES", "run_scenario"]

#: modules every multi-module scenario loads
MODULES = ("hmod.o", "racemod.o")
#: instructions a single run on the CPU may take (the longest here takes about 700)
CPU_LIMIT = 200_000
ERRNO_TEXT = {errno.EFAULT: "reading faulted", errno.EPERM: "writing faulted",
              errno.EINVAL: "the words are not what ftrace expects", 0: "success"}


@dataclass
class Outcome:
    """A scenario's verdict: `ok`, one-line `message`, a `hint`, and every check made."""

    ok: bool
    message: str
    hint: str = ""
    details: list[str] = field(default_factory=list)
    applicable: bool = True


# -- machines ---------------------------------------------------------------------

def boot(arch: str, hooks, modules=(), *, cpu: bool = False, ftrace: bool = True):
    """start_kernel with the port plugged into the ftrace core."""
    from ppcftrace.kernel import start_kernel
    from ppcftrace.machine import fixture_path

    paths = [str(fixture_path(name, arch)) for name in modules]
    options = {"arch_ops": hooks} if ftrace else {}
    m = start_kernel(arch, modules=paths, ftrace=ftrace, cpu=cpu, **options)
    if m.cpu is not None:
        m.cpu.max_instructions = CPU_LIMIT
    return m


def where(m, addr: int) -> str:
    """`name+0x10` for a kernel or module address (the module's name in brackets)."""
    from ppcftrace.module import module_lookup

    name = m.kallsyms.symbolize(addr)
    if name:
        return name
    for mod in m.modules:
        for stub in mod.arch.stubs:
            if stub.address <= addr < stub.address + 4 * len(stub.words):
                target = m.kallsyms.symbolize(stub.target) or f"{stub.target:#x}"
                kind = "stub" if m.arch == "ppc64" else "PLT entry"
                return f"{kind} to {target}+{addr - stub.address:#x} [{mod.name}]"
    found = module_lookup(m, addr)
    if found:
        mod, sym, off = found
        return f"{sym}+{off:#x} [{mod.name}]" if sym else f"{mod.name}+{off:#x}"
    return f"{addr:#x}"


def insn(m, addr: int, word: int) -> str:
    """`nop` (60000000): the word's disassembly and hex."""
    line = disassemble_word(word, addr, m.arch, lambda a: where(m, a))
    return f"`{line.text}` ({word:08x})"


def peek(m, addr: int, size: int) -> bytes:
    """Bytes of memory whatever the region's permissions (for messages)."""
    region = m.memory.region_at(addr)
    off = addr - region.start
    return bytes(region.data[off:off + size])


def call_function(m, modname: str | None, name: str) -> None:
    """Run a kernel (modname None) or module function on the CPU from a fresh frame."""
    entry, toc, _ = m.resolve_function(name)   # modules first, then the kernel
    m.cpu.call(entry, toc=toc)


# -- snapshots and their comparison -------------------------------------------------

STACKS = ("kernel stack", "stack")


@dataclass
class Snapshot:
    """What a machine holds after one step of a script."""

    label: str
    memory: dict                 #: region name -> (start, bytes)
    calls: list                  #: (hook, ip, errno) made since the previous snapshot
    trace: list                  #: (function, parent) names in the trace buffer
    log: list
    disabled: bool
    trace_hint: str = ""         #: what a trace difference means at this step
    machine: object = field(default=None, repr=False, compare=False)


def snapshot(m, hooks, label: str, trace_hint: str = "") -> Snapshot:
    calls = hooks.take_calls()
    memory = {r.name: (r.start, bytes(r.data)) for r in m.memory.regions if r.name not in STACKS}
    ft = m.ftrace
    return Snapshot(label, memory, calls, ft.buffer.calls() if ft else [], list(m.log),
                    bool(ft and ft.ftrace_disabled), trace_hint, m)


def memory_difference(m, ref: Snapshot, got: Snapshot) -> tuple[str, int] | None:
    """(message about the first differing word, how many words differ), or None."""
    first, count = None, 0
    for name, (start, want) in ref.memory.items():
        have = got.memory.get(name, (start, b""))[1]
        if have == want:
            continue
        for off in range(0, max(len(want), len(have)), 4):
            w, h = want[off:off + 4], have[off:off + 4]
            if w != h:
                count += 1
                if first is None and len(w) == 4 and len(h) == 4:
                    addr = start + off
                    first = (f"{addr:#x} ({where(m, addr)}) should hold {insn(m, addr, int.from_bytes(w, 'big'))}"
                             f" but holds {insn(m, addr, int.from_bytes(h, 'big'))}")
    if not count:
        return None
    return first or "a region differs in size", count


def compare(m, ref: Snapshot, got: Snapshot) -> tuple[str, str] | None:
    """(message, hint) for the first way `got` differs from `ref`, or None."""
    want_err = {(h, ip): e for h, ip, e in ref.calls}
    for hook, ip, err in got.calls:
        expected = want_err.get((hook, ip), 0)
        if err != expected:
            now = int.from_bytes(peek(m, ip, 4), "big")
            holds = f"; the site holds {insn(m, ip, now)}"
            return (f"{ref.label}: your {hook} returned {errname(err)} for the site at {ip:#x} "
                    f"({where(m, ip)}), expected {errname(expected)}{holds}",
                    "the ftrace core calls your hook the way the kernel does; see which check "
                    "refused a correct site" if err else "this site should have been refused")
    if got.disabled and not ref.disabled:
        lines = [line for line in got.log if line not in ref.log][:2]
        return (f"{ref.label}: ftrace disabled itself (ftrace_bug): {' / '.join(lines)}",
                "a hook failed where the reference succeeds")
    diff = memory_difference(m, ref, got)
    if diff:
        text, count = diff
        more = f" ({count} words differ)" if count > 1 else ""
        return f"{ref.label}: {text}{more}", _memory_hint(text)
    if got.trace != ref.trace:
        missing = [c for c in ref.trace if c not in got.trace]
        extra = [c for c in got.trace if c not in ref.trace]
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"{f} <-{p}" for f, p in missing[:3]))
        if extra:
            parts.append("unexpected " + ", ".join(f"{f} <-{p}" for f, p in extra[:3]))
        return (f"{ref.label}: the trace differs: {'; '.join(parts) or 'order differs'}",
                ref.trace_hint or "memory is right, so the CPU ran something else")
    return None


def _memory_hint(text: str) -> str:
    if "holds `nop` (60000000)" in text and "48000008" in text.split("but holds")[0]:
        return ("a disabled PPC64 module site is `b .+8` over the bl, with `ld r2,40(r1)` "
                "left in place")
    if "but holds `bl" in text:
        return "the site was not converted: did your hook return an error or write elsewhere?"
    return "compare what your hook writes with the site forms of FACTS section 4"


Script = Callable[[str, object], Iterator[Snapshot]]


def compare_scripts(arch: str, hooks, script: Script) -> Outcome:
    """Run `script` with the reference and with the port; compare snapshot by snapshot."""
    reference = list(script(arch, StudentHooks(reference_arch, "the reference")))
    details: list[str] = []
    steps = script(arch, hooks)
    for ref in reference:
        try:
            got = next(steps)
        except TimeLimit:
            raise
        except Exception as exc:  # the port's code, or the CPU running what it wrote
            message = f"{ref.label}: {describe_exception(exc)}"
            failed = [(h, ip, e) for h, ip, e in hooks.calls if e]
            if failed and not isinstance(exc, StudentCrash):
                hook, ip, err = failed[0]
                message = (f"{ref.label}: your {hook} returned {errname(err)} for the site at {ip:#x}, "
                           f"ftrace_bug() disabled ftrace, and then: {describe_exception(exc)}")
                hint = "your hook refused a correct site, so ftrace killed itself: fix that first"
            else:
                hint = _exception_hint(exc)
            details.append("FAIL " + message)
            return Outcome(False, message, hint, details)
        problem = compare(got.machine, ref, got)
        if problem:
            details.append("FAIL " + problem[0])
            return Outcome(False, problem[0], problem[1], details)
        details.append(f"ok   {ref.label}")
    return Outcome(True, f"all {len(reference)} steps match the reference", "", details)


def _exception_hint(exc: Exception) -> str:
    from ppcftrace.cpu import CpuError

    if isinstance(exc, CpuError):
        return "the CPU ran into what the hooks wrote: compare the site's words with FACTS section 4"
    return "fix the exception first: the scenario could not go on"


# -- the scripts ----------------------------------------------------------------------

def boot_script(arch: str, hooks) -> Iterator[Snapshot]:
    m = boot(arch, hooks)
    yield snapshot(m, hooks, "boot (ftrace_init converts every kernel site)")


def modules_script(arch: str, hooks) -> Iterator[Snapshot]:
    m = boot(arch, hooks, MODULES)
    yield snapshot(m, hooks, "loading hmod and racemod (ftrace_init_module)")
    m.ftrace.current_tracer = "function"
    yield snapshot(m, hooks, "enabling every site (current_tracer = function)")
    m.ftrace.current_tracer = "nop"
    yield snapshot(m, hooks, "disabling every site (current_tracer = nop)")
    m.ftrace.current_tracer = "function"
    yield snapshot(m, hooks, "enabling every site again")


def filter_script(arch: str, hooks) -> Iterator[Snapshot]:
    m = boot(arch, hooks, ("hmod.o",), cpu=True)
    ft = m.ftrace
    ft.set_ftrace_filter("*hmod_* *str*")
    ft.current_tracer = "function"
    yield snapshot(m, hooks, "set_ftrace_filter '*hmod_* *str*', current_tracer = function")
    call_function(m, "hmod", "init_module")
    yield snapshot(m, hooks, "running hmod's init_module, traced")
    ft.set_ftrace_notrace("*parse*")
    ft.set_ftrace_filter("*init_module", append=True)
    yield snapshot(m, hooks, "set_ftrace_notrace '*parse*', set_ftrace_filter >> '*init_module'")
    call_function(m, "hmod", "init_module")
    yield snapshot(m, hooks, "running init_module again")
    ft.current_tracer = "nop"
    call_function(m, "hmod", "init_module")
    yield snapshot(m, hooks, "current_tracer = nop, init_module once more (no new entries)")


def icache_script(arch: str, hooks) -> Iterator[Snapshot]:
    m = boot(arch, hooks, ("hmod.o",), cpu=True)
    m.cpu.icache_enabled = True
    ft = m.ftrace
    stale = ("the sites hold the right words, but the CPU ran the old ones: call "
             "flush_icache_range(ip, ip + 8) after writing a site")
    call_function(m, "hmod", "init_module")        # the CPU now caches the nops
    yield snapshot(m, hooks, "running init_module with every site a nop")
    ft.set_ftrace_filter("*hmod_hello *strlen")
    ft.current_tracer = "function"
    call_function(m, "hmod", "init_module")
    yield snapshot(m, hooks, "enabling hmod_hello and strlen, then running init_module "
                   "(icache on)", stale)
    ft.current_tracer = "nop"
    call_function(m, "hmod", "init_module")
    yield snapshot(m, hooks, "disabling them, then running init_module (icache on)", stale)


#: the scenarios that run a script with the reference and with the port, and compare
SCRIPTS: dict[str, Script] = {
    "boot": boot_script,
    "modules": modules_script,
    "filter": filter_script,
    "icache": icache_script,
}


def _compared(name: str) -> Callable[[str, object], Outcome]:
    def scenario(arch: str, hooks) -> Outcome:
        return compare_scripts(arch, hooks, SCRIPTS[name])
    scenario.__name__ = f"{name}_scenario"
    return scenario


# -- faults: the hooks called directly on prepared sites --------------------------------

@dataclass
class FaultCase:
    """One injected fault: which site, which hook, what to break, the errno expected."""

    label: str
    module: bool                  #: a module site (else a kernel site)
    hook: str                     #: "ftrace_make_nop" or "ftrace_make_call"
    inject: Callable              #: fn(m, site, mod, rec) breaking something
    expected: int
    hint: str
    arches: tuple = ("ppc64", "ppc32")


def _protect(perms: str):
    def inject(m, site, mod, rec):
        region = m.memory.region_at(site)
        m.memory.protect(region.name, perms)
    return inject


def _write(offset: int, word: Callable[[object, int, int], int]):
    """Replace the word at site + offset by word(m, site, old)."""
    def inject(m, site, mod, rec):
        old = m.memory.read_u32(site + offset)
        m.memory.write_u32(site + offset, word(m, site, old))
    return inject


def _tramp_word(index: int, change: Callable[[int], int]):
    """Change word `index` of the stub / PLT entry the module site calls."""
    def inject(m, site, mod, rec):
        op = m.memory.read_u32(site)
        target = _bl_target(m, site, op)
        m.memory.write_u32(target + 4 * index, change(m.memory.read_u32(target + 4 * index)))
    return inject


def _bl_target(m, ip: int, op: int) -> int:
    off = op & 0x03FFFFFC
    if off & 0x02000000:
        off -= 0x04000000
    return (ip + off) & ((1 << (64 if m.arch == "ppc64" else 32)) - 1)


def _stub_funcaddr(m, site, mod, rec):
    """PPC64: point the stub's funcaddr (stub + 32) 8 bytes past _mcount's entry."""
    stub = _bl_target(m, site, m.memory.read_u32(site))
    m.memory.write_u64(stub + 32, m.memory.read_u64(stub + 32) + 8)


def _rec_mod(value: str):
    def inject(m, site, mod, rec):
        rec.mod = None if value == "none" else next(x for x in m.modules if x is not mod)
    return inject


_READ = "read it with probe_kernel_read and return -EFAULT when that faults"
_WRITE = "a faulting probe_kernel_write is -EPERM"
_MASK = "is_bl_op must check AA and LK as well as the opcode (mask 0xfc000003)"

FAULT_CASES = [
    # make_nop on a site that calls _mcount (as linked)
    FaultCase("make_nop, kernel site, text unreadable", False, "ftrace_make_nop", _protect(""),
              errno.EFAULT, _READ),
    FaultCase("make_nop, kernel site, text read-only", False, "ftrace_make_nop", _protect("rx"),
              errno.EPERM, _WRITE),
    FaultCase("make_nop, kernel site calls _mcount+8 instead", False, "ftrace_make_nop",
              _write(0, lambda m, s, old: old + 8), errno.EINVAL,
              "compare the whole word with the bl you expect before writing"),
    FaultCase("make_nop, module site, module unreadable", True, "ftrace_make_nop", _protect(""),
              errno.EFAULT, _READ),
    FaultCase("make_nop, module site, module read-only", True, "ftrace_make_nop", _protect("rx"),
              errno.EPERM, _WRITE),
    FaultCase("make_nop, module site holds `b` (no link) where the bl was", True, "ftrace_make_nop",
              _write(0, lambda m, s, old: old & ~1), errno.EINVAL, _MASK),
    FaultCase("make_nop, module site holds `bla` (absolute)", True, "ftrace_make_nop",
              _write(0, lambda m, s, old: old | 2), errno.EINVAL, _MASK),
    FaultCase("make_nop, the stub / PLT entry is not one (its third word changed)", True,
              "ftrace_make_nop", _tramp_word(2, lambda w: 0x60000000), errno.EINVAL,
              "check every word of the stub / PLT entry against its pattern"),
    FaultCase("make_nop, the stub's funcaddr is not _mcount", True, "ftrace_make_nop", _stub_funcaddr,
              errno.EINVAL, "read the stub's funcaddr at mod.arch.toc + offset + 32 and compare "
              "it with the entry of addr", ("ppc64",)),
    FaultCase("make_nop, the PLT entry loads another address", True, "ftrace_make_nop",
              _tramp_word(1, lambda w: (w & ~0xFFFF) | ((w + 8) & 0xFFFF)), errno.EINVAL,
              "rebuild the PLT entry's target from lis/addi (lo is signed) and compare it with addr",
              ("ppc32",)),
    FaultCase("make_nop, the word after the bl is not `ld r2,40(r1)`", True, "ftrace_make_nop",
              _write(4, lambda m, s, old: 0x60000000), errno.EINVAL,
              "check that the word after the bl is ld r2,40(r1) (0xe8410028) before writing b .+8",
              ("ppc64",)),
    FaultCase("make_nop, rec.mod is another module than mod", True, "ftrace_make_nop",
              _rec_mod("other"), errno.EINVAL,
              "when both mod and rec.mod are set they must be the same module"),
    # make_call on a site already made a nop by the reference
    FaultCase("make_call, kernel site, text unreadable", False, "ftrace_make_call", _protect(""),
              errno.EFAULT, _READ),
    FaultCase("make_call, kernel site, text read-only", False, "ftrace_make_call", _protect("rx"),
              errno.EPERM, _WRITE),
    FaultCase("make_call, kernel site holds `bl _mcount`, not a nop", False, "ftrace_make_call",
              None, errno.EINVAL, "make_call must find a nop at the site before writing"),
    FaultCase("make_call, module site, module unreadable", True, "ftrace_make_call", _protect(""),
              errno.EFAULT, _READ),
    FaultCase("make_call, module site, module read-only", True, "ftrace_make_call", _protect("rx"),
              errno.EPERM, _WRITE),
    FaultCase("make_call, module site still calls _mcount's stub / PLT entry", True,
              "ftrace_make_call", None, errno.EINVAL,
              "make_call must find the disabled form at the site before writing"),
    FaultCase("make_call, module site holds `b .+8; nop`", True, "ftrace_make_call",
              _write(4, lambda m, s, old: 0x60000000), errno.EINVAL,
              "a disabled PPC64 site is `b .+8; ld r2,40(r1)` (or the old `nop; nop`)", ("ppc64",)),
    FaultCase("make_call, rec.mod is None (no module recorded)", True, "ftrace_make_call",
              _rec_mod("none"), errno.EINVAL, "make_call finds the trampoline through rec.mod"),
]


def _fault_machine(arch: str, case: FaultCase):
    """A machine with sites as linked (or, for make_call cases, disabled by the reference)."""
    m = boot(arch, None, MODULES, ftrace=False)
    mod = m.modules[0] if case.module else None
    ctx = ArchContext(m.memory, arch, flush_target=m)
    mcount = m.kallsyms.address("_mcount")
    if case.module:
        site = mod.mcount_sites[0]
    else:
        site = next(s for s in m.mcount_sites if s and where(m, s).lstrip(".").startswith("schedule+"))
    rec = DynFtrace(site)
    if case.hook == "ftrace_make_call" and case.inject is not None:
        reference_arch.ftrace_make_nop(ctx, mod, rec, mcount)
    elif case.hook == "ftrace_make_call":
        rec.mod = mod            # the site still calls _mcount: nothing converted it
    return m, ctx, site, mod, rec, mcount


def run_fault_case(arch: str, hooks, case: FaultCase) -> str | None:
    """None when the port handled the case, else what went wrong (one line)."""
    m, ctx, site, mod, rec, mcount = _fault_machine(arch, case)
    if case.inject is not None:
        case.inject(m, site, mod, rec)
    before = {r.name: bytes(r.data) for r in m.memory.regions}
    words = peek(m, site, 8)     # the region may be unreadable now
    ftrace_addr = m.kallsyms.address("ftrace_caller")
    try:
        if case.hook == "ftrace_make_nop":
            hooks.ftrace_make_nop(ctx, mod, rec, mcount)
        else:
            hooks.ftrace_make_call(ctx, rec, ftrace_addr)
        err = 0
    except FtraceError as e:
        err = e.errno
    except StudentCrash as e:
        return f"{case.label}: {e}"
    hooks.take_calls()
    site_text = (f"the site {site:#x} ({where(m, site)}) held "
                 f"{insn(m, site, int.from_bytes(words[:4], 'big'))}")
    if err != case.expected:
        return (f"{case.label}: your {case.hook} returned {errname(err)} ({ERRNO_TEXT.get(err, '?')}), "
                f"expected {errname(case.expected)} ({ERRNO_TEXT[case.expected]}); {site_text}")
    for region in m.memory.regions:
        if before.get(region.name) != bytes(region.data):
            old, new = before[region.name], bytes(region.data)
            off = next(i for i in range(0, len(new), 4) if old[i:i + 4] != new[i:i + 4])
            addr = region.start + off
            return (f"{case.label}: your {case.hook} returned {errname(err)} but changed memory at "
                    f"{addr:#x} ({where(m, addr)}): {insn(m, addr, int.from_bytes(old[off:off + 4], 'big'))}"
                    f" became {insn(m, addr, int.from_bytes(new[off:off + 4], 'big'))}")
    return None


def faults_scenario(arch: str, hooks) -> Outcome:
    details, problems = [], []
    cases = [c for c in FAULT_CASES if arch in c.arches]
    for case in cases:
        problem = run_fault_case(arch, hooks, case)
        if problem is None:
            details.append(f"ok   {case.label}: {errname(case.expected)}")
        else:
            details.append("FAIL " + problem)
            problems.append((problem, case))
    if not problems:
        return Outcome(True, f"all {len(cases)} injected faults refused with the right errno, "
                       "memory unchanged", "", details)
    problem, case = problems[0]
    hint = case.hint
    if "changed memory" in problem:
        hint = "verify before you write: a refused site must be left exactly as it was"
    more = f" ({len(problems)} of {len(cases)} cases wrong)" if len(problems) > 1 else ""
    return Outcome(False, problem + more, hint, details)


# -- the race ------------------------------------------------------------------------

RACE_BANNER = "racemod: back from schedule, r2 intact"


def race_scenario(arch: str, hooks) -> Outcome:
    """Stop racemod_yield inside the tracer, disable tracing with the port, resume."""
    from ppcftrace.cpu import CpuError

    if arch != "ppc64":
        return Outcome(True, "not applicable: PPC32 has no TOC to restore, one nop is enough",
                       applicable=False)
    m = boot(arch, hooks, ("racemod.o",), cpu=True)
    cpu, mod = m.cpu, m.modules[0]
    failed = [(h, ip, e) for h, ip, e in hooks.take_calls() if e]
    if failed:
        return Outcome(False, f"booting with racemod: your {failed[0][0]} returned {errname(failed[0][2])} "
                       f"for the site at {failed[0][1]:#x} ({where(m, failed[0][1])})",
                       "the boot and modules scenarios show why; the race needs them to pass")
    cpu.call(m.entry("sched_init"), toc=m.toc)
    site = next(s for s in mod.mcount_sites if where(m, s).startswith(".racemod_yield"))
    m.ftrace.set_ftrace_filter("*racemod_yield")
    m.ftrace.current_tracer = "function"
    failed = [(h, ip, e) for h, ip, e in hooks.take_calls() if e]
    if failed:
        return Outcome(False, f"enabling racemod_yield: your {failed[0][0]} returned "
                       f"{errname(failed[0][2])} at {failed[0][1]:#x}", "the modules scenario shows why")
    stop = m.entry("function_trace_call")
    cpu.breakpoints.add(stop)
    if cpu.call(mod.symbols[".racemod_yield"], toc=mod.arch.toc) is not None:
        return Outcome(False, "the traced racemod_yield never reached the tracer",
                       "enabling a module site writes `bl <trampoline>; ld r2,40(r1)`")
    cpu.breakpoints.discard(stop)
    start = len(m.log)
    m.ftrace.current_tracer = "nop"          # the site is patched under the sleeping task
    failed = [(h, ip, e) for h, ip, e in hooks.take_calls() if e]
    w0, w1 = m.memory.read_u32(site), m.memory.read_u32(site + 4)
    disabled = f"{insn(m, site, w0)}; {insn(m, site + 4, w1)}"
    try:
        cpu.run()
        crash = None
    except CpuError as exc:
        crash = exc
    back = crash is None and RACE_BANNER in m.log[start:] and cpu.gpr[2] == mod.arch.toc
    if back and not failed:
        return Outcome(True, f"the preempted task resumed with its TOC (site disabled as {disabled})")
    if failed:
        return Outcome(False, f"disabling racemod_yield under the preempted task: your {failed[0][0]} "
                       f"returned {errname(failed[0][2])}", "make_nop is called with mod = None here: "
                       "use the module your make_nop remembered in rec.mod")
    what = (f"crashed ({crash})" if crash else
            f"came back with r2 = {cpu.gpr[2]:#x}, not the module's TOC {mod.arch.toc:#x}")
    hint = ("a task inside the traced call returns to the word after the bl; "
            "keep `ld r2,40(r1)` there and write `b .+8` over the bl")
    if w1 == 0xE8410028 and crash is None:
        hint = "the r2 restore is in place, yet the task lost its TOC: look at what b .+8 skips"
    return Outcome(False, f"a task preempted inside the traced call resumed after the site was "
                   f"disabled as {disabled} and {what}: r2 was not restored by ld r2,40(r1)", hint)


SCENARIOS: dict[str, Callable[[str, object], Outcome]] = {
    "boot": _compared("boot"),
    "modules": _compared("modules"),
    "filter": _compared("filter"),
    "faults": faults_scenario,
    "race": race_scenario,
    "icache": _compared("icache"),
}

TITLES = {
    "boot": "boot conversion: every kernel site becomes a nop",
    "modules": "module sites: nop at load, call through the stub/PLT entry, nop again",
    "filter": "the ftrace core drives your hooks: filters, tracer on and off, run on the CPU",
    "faults": "injected faults: -EFAULT, -EPERM, -EINVAL, memory unchanged",
    "race": "PPC64: a task preempted inside a traced module call resumes after disable",
    "icache": "instruction cache: a patched site is flushed, so the CPU runs the new words",
}


def run_scenario(name: str, arch: str, hooks) -> Outcome:
    return SCENARIOS[name](arch, hooks)
