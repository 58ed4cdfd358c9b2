"""PatchBench: run the kernel's patching on one record, see its checks pass or fail, undo.

`Bench(machine)` drives the real code: `ftrace.ftrace_make_nop` / `ftrace_make_call`
on one record, or a filter / tracer change through `machine.ftrace`. It does not
re-implement a single check. It lists, in the kernel's order, the checks the path
taken makes (`CHECKS`, one list per path: in reach, PPC64 stub, PPC32 PLT entry),
runs the operation, and marks the check that raised as failed (with its errno and
message), those before it as passed and those after as not reached.

Every operation is journaled (`memory.mark()`), and `undo()` rolls the words back
with `memory.undo()` and puts the records' flags and ftrace's own state back as they
were. Fault injection for the chapter: `corrupt_funcaddr()` (a stub's funcaddr) and
`protect()` (a region's permissions), both undoable.
"""

from __future__ import annotations

import errno as _errno
import re
from dataclasses import dataclass, field

from ppcftrace.errors import PpcftraceError
from ppcftrace.ftrace import FtraceError, ftrace_make_call, ftrace_make_nop
from ppcftrace.ftrace.arch import test_24bit_addr
from ppcftrace.ftrace.records import FTRACE_FL_ENABLED, FTRACE_FL_FAILED
from ppcftrace.isa import find_bl_target, is_bl_op
from ppcftrace.memory import MemoryFault
from ppcftrace.lab.journal import changed_words, read_words

__all__ = ["Check", "CheckStatus", "Outcome", "Bench", "BenchError", "CHECKS", "errno_name"]


class BenchError(PpcftraceError):
    """A PatchBench request that makes no sense (no such record, nothing to undo)."""

    errno = _errno.EINVAL


@dataclass(frozen=True)
class Check:
    """One check of a path: what it verifies, the errno it fails with, and a regex of the
    message the package raises for it (`{ip}`, `{ip4}`, `{tramp}` filled in per site)."""

    name: str
    errno: int | None
    pattern: str | None


@dataclass(frozen=True)
class CheckStatus:
    name: str
    status: str              #: "pass", "fail", "not reached" or "info"
    errno: int | None = None
    message: str = ""


def errno_name(err: int | None) -> str:
    """`-EINVAL (22)`: the kernel's return value for a positive errno."""
    if not err:
        return ""
    return f"-{_errno.errorcode.get(err, 'E?')} ({err})"


_READ, _WRITE = r"reading {ip} faulted", r"writing {ip} faulted"
_MODULE = Check("a module for the record (rec->arch.mod, or the one passed in)", None,
                r"^(No module loaded|Record mod)")
_FLUSH = Check("flush_icache_range(ip, ip + 8)", None, None)

#: the checks of each path, in the order the kernel makes them
CHECKS: dict[tuple[str, str], tuple[Check, ...]] = {
    ("near", "nop"): (
        Check("GET_ADDR(addr): read the function descriptor", _errno.EFAULT, r"^GET_ADDR"),
        Check("probe_kernel_read(ip): the site is readable", _errno.EFAULT, "ftrace_modify_code: " + _READ),
        Check("the site holds bl addr (the old word)", _errno.EINVAL, r"ftrace_modify_code: expected"),
        Check("probe_kernel_write(ip, nop)", _errno.EPERM, "ftrace_modify_code: " + _WRITE),
        _FLUSH),
    ("near", "call"): (
        Check("GET_ADDR(addr): read the function descriptor", _errno.EFAULT, r"^GET_ADDR"),
        Check("probe_kernel_read(ip): the site is readable", _errno.EFAULT, "ftrace_modify_code: " + _READ),
        Check("the site holds a nop (the old word)", _errno.EINVAL, r"ftrace_modify_code: expected"),
        Check("probe_kernel_write(ip, bl addr)", _errno.EPERM, "ftrace_modify_code: " + _WRITE),
        _FLUSH),
    ("ppc64", "nop"): (
        _MODULE,
        Check("probe_kernel_read(ip): the site is readable", _errno.EFAULT, "__ftrace_make_nop: " + _READ),
        Check("the site is a bl (is_bl_op)", _errno.EINVAL, r"^Not expected bl"),
        Check("the stub the bl goes to is readable", _errno.EFAULT, r"^Failed to read {tramp}$"),
        Check("its words are a module stub (addis, addi, std r2, ld r11, ld r2)", _errno.EINVAL,
              r"^Not a trampoline"),
        Check("the funcaddr at mod->arch.toc + offset + 32 is readable", _errno.EFAULT,
              r"^Failed to read"),
        Check("funcaddr is the entry of addr", _errno.EINVAL, r"^(addr does not match|GET_ADDR)"),
        Check("probe_kernel_read(ip + 4)", _errno.EFAULT, r"__ftrace_make_nop: reading {ip4} faulted"),
        Check("the next word is ld r2,40(r1)", _errno.EINVAL, r"^Next line is not ld"),
        Check("probe_kernel_write(ip, b .+8) (two nops under the first posting)", _errno.EPERM,
              "__ftrace_make_nop: " + _WRITE),
        _FLUSH),
    ("ppc64", "call"): (
        _MODULE,
        Check("probe_kernel_read(ip, 8): the site is readable", _errno.EFAULT, "__ftrace_make_call: " + _READ),
        Check("the words are {b .+8, ld r2,40(r1)} or {nop, nop}", _errno.EINVAL, r"^Expected NOPs"),
        Check("the module has a trampoline (mod->arch.tramp)", _errno.EINVAL, r"^No ftrace trampoline"),
        Check("bl tramp is in reach (create_branch)", _errno.EINVAL, r"^REL24 out of range"),
        Check("probe_kernel_write(ip, bl tramp; ld r2,40(r1))", _errno.EPERM, "__ftrace_make_call: " + _WRITE),
        _FLUSH),
    ("ppc32", "nop"): (
        _MODULE,
        Check("probe_kernel_read(ip): the site is readable", _errno.EFAULT, "__ftrace_make_nop: " + _READ),
        Check("the site is a bl (is_bl_op)", _errno.EINVAL, r"^Not expected bl"),
        Check("the PLT entry the bl goes to is readable", _errno.EFAULT, r"^Failed to read"),
        Check("its words are a PLT entry (lis, addi, mtctr, bctr)", _errno.EINVAL, r"^Not a trampoline"),
        Check("the PLT entry's target is addr", _errno.EINVAL, r"^Trampoline location"),
        Check("probe_kernel_write(ip, nop)", _errno.EPERM, "__ftrace_make_nop: " + _WRITE),
        _FLUSH),
    ("ppc32", "call"): (
        _MODULE,
        Check("probe_kernel_read(ip): the site is readable", _errno.EFAULT, "__ftrace_make_call: " + _READ),
        Check("the site holds a nop", _errno.EINVAL, r"^Expected NOP"),
        Check("the module has a trampoline (mod->arch.tramp)", _errno.EINVAL, r"^No ftrace trampoline"),
        Check("bl tramp is in reach (create_branch)", _errno.EINVAL, r"^REL24 out of range"),
        Check("probe_kernel_write(ip, bl tramp)", _errno.EPERM, "__ftrace_make_call: " + _WRITE),
        _FLUSH),
}


@dataclass
class Outcome:
    """What one operation did: the checks, the words before and after, the log lines."""

    operation: str
    ip: int | None
    ok: bool
    checks: list[CheckStatus]
    start: int | None = None
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    changed: set = field(default_factory=set)
    printk: list[str] = field(default_factory=list)
    errno: int | None = None
    message: str = ""


class Bench:
    """PatchBench's logic over a machine from `start_kernel` (with ftrace)."""

    WINDOW = 6  #: words shown around a site: two before, the site's two, two after

    def __init__(self, machine):
        if getattr(machine, "ftrace", None) is None:
            raise BenchError("PatchBench needs a machine with ftrace (start_kernel(ftrace=True))")
        self.machine = machine
        self.ftrace = machine.ftrace
        self.memory = machine.memory
        self.history: list[tuple[str, int, dict]] = []
        self.last: Outcome | None = None

    # -- choosing ------------------------------------------------------------------------

    def record(self, ip: int):
        rec = self.ftrace.record(ip)
        if rec is None:
            raise BenchError(f"no ftrace record at {ip:#x}")
        return rec

    def address_of(self, which: str) -> int:
        """The function pointer ftrace passes as `addr`: "_mcount" or "ftrace_caller"."""
        if which not in ("_mcount", "ftrace_caller"):
            raise BenchError(f"addr must be _mcount or ftrace_caller, not {which!r}")
        return self.ftrace.MCOUNT_ADDR if which == "_mcount" else self.ftrace.FTRACE_ADDR

    def path(self, ip: int, addr: int) -> str:
        """"near" when a bl at `ip` reaches `addr` (test_24bit_addr), else the arch."""
        return "near" if test_24bit_addr(self.ftrace.ctx, ip, addr) else self.machine.arch

    def _module_of(self, ip: int):
        return next((m for m in getattr(self.machine, "modules", ()) if m.base <= ip < m.base + m.size),
                    None)

    # -- operations ----------------------------------------------------------------------

    def make_nop(self, ip: int, addr: str = "auto") -> Outcome:
        """ftrace_make_nop(mod, rec, addr); `addr` "auto" = what the site calls now."""
        rec = self.record(ip)
        if addr == "auto":
            addr = "ftrace_caller" if rec.flags & FTRACE_FL_ENABLED else "_mcount"
        target = self.address_of(addr)
        # ftrace_init_module passes the module; later calls pass NULL and use rec->arch.mod
        mod = self._module_of(ip) if rec.mod is None else None

        def run():
            ftrace_make_nop(self.ftrace.ctx, mod, rec, target)
            rec.flags &= ~FTRACE_FL_ENABLED   # as __ftrace_replace_code does around it
        return self._patch(f"ftrace_make_nop(rec {ip:#x}, {addr})", ip, (self.path(ip, target), "nop"), run)

    def make_call(self, ip: int) -> Outcome:
        """ftrace_make_call(rec, FTRACE_ADDR)."""
        rec = self.record(ip)
        target = self.ftrace.FTRACE_ADDR

        def run():
            ftrace_make_call(self.ftrace.ctx, rec, target)
            rec.flags |= FTRACE_FL_ENABLED
        return self._patch(f"ftrace_make_call(rec {ip:#x})", ip, (self.path(ip, target), "call"), run)

    def set_filter(self, text: str, tracer: str = "function") -> Outcome:
        """`echo text > set_ftrace_filter` with `tracer` as current_tracer; one check per
        site the change patched, failed if ftrace reported it."""
        def run():
            self.ftrace.set_ftrace_filter(text)   # the filter first: only those sites change
            if self.ftrace.current_tracer != tracer:
                self.ftrace.current_tracer = tracer
        return self._bulk(f"set_ftrace_filter {text!r}, current_tracer {tracer}", run)

    def toggle_tracing(self, function: str) -> Outcome:
        """Trace `function` if it is not traced, stop tracing it if it is (`>>
        set_ftrace_filter` with the name or `!name`), with the function tracer on."""
        ft = self.ftrace
        traced = ft.current_tracer == "function" and function in ft.filter_functions()

        def run():
            ft.set_ftrace_filter(("!" if traced else "") + function, append=True)
            if ft.current_tracer != "function":
                ft.current_tracer = "function"
        verb = "stop tracing" if traced else "trace"
        return self._bulk(f"{verb} {function}", run)

    def set_tracer(self, tracer: str) -> Outcome:
        """`echo tracer > current_tracer`."""
        def run():
            self.ftrace.current_tracer = tracer
        return self._bulk(f"current_tracer {tracer}", run)

    def corrupt_funcaddr(self, stub: int, value: int) -> Outcome:
        """Overwrite the funcaddr doubleword of the PPC64 stub at `stub` (fault injection)."""
        if self.machine.arch != "ppc64":
            raise BenchError("stubs with a funcaddr are PPC64's; corrupt a PLT entry's words instead")
        mark, saved = self._save()
        try:
            self.memory.write_u64(stub + 32, value, tag="inject")
        except MemoryFault as exc:
            raise BenchError(f"cannot write the funcaddr at {stub + 32:#x}: {exc}") from None
        self.history.append((f"corrupt funcaddr of stub {stub:#x}", mark, saved))
        return self._done(Outcome(f"corrupt funcaddr of stub {stub:#x}", None, True, [],
                                  changed=changed_words(self.memory.journal[mark:])))

    def protect(self, region: str, perms: str) -> Outcome:
        """Change a region's permissions (make text read-only to inject -EPERM)."""
        mark, saved = self._save()
        self.memory.protect(region, perms)   # MapError for a bad name or perms
        self.history.append((f"protect {region} {perms}", mark, saved))
        return self._done(Outcome(f"protect {region!r} as {perms!r}", None, True, []))

    def undo(self) -> Outcome:
        """Undo the last operation: words (journal), records, ftrace state, permissions."""
        if not self.history:
            raise BenchError("nothing to undo")
        label, mark, saved = self.history.pop()
        touched = changed_words(self.memory.journal[mark:])
        self.memory.undo(mark)
        self._restore(saved)
        return self._done(Outcome(f"undo: {label}", None, True, [], changed=touched))

    # -- machinery -----------------------------------------------------------------------

    def _save(self) -> tuple[int, dict]:
        ft = self.ftrace
        state = {k: (v.copy() if isinstance(v, (list, dict)) else v) for k, v in vars(ft).items()
                 if isinstance(v, (bool, int, str, list, dict, type(None)))}
        return self.memory.mark(), {
            "ftrace": state,
            "records": [(r, r.flags, r.mod) for r in ft.records],
            "perms": {r.name: r.perms for r in self.memory.regions},
        }

    def _restore(self, saved: dict) -> None:
        for key, value in saved["ftrace"].items():
            setattr(self.ftrace, key, value)
        for rec, flags, mod in saved["records"]:
            rec.flags, rec.mod = flags, mod
        for name, perms in saved["perms"].items():
            try:
                self.memory.protect(name, perms)
            except PpcftraceError:
                pass   # unmapped since: nothing to restore

    def _done(self, outcome: Outcome) -> Outcome:
        self.last = outcome
        return outcome

    def _context(self, ip: int) -> dict[str, str]:
        try:
            op = self.memory.read_u32(ip)
            tramp = f"{find_bl_target(ip, op, self.machine.arch):x}" if is_bl_op(op) else "-"
        except MemoryFault:
            tramp = "-"
        return {"ip": f"{ip:#x}", "ip4": f"{ip + 4:#x}", "tramp": tramp}

    def _patch(self, label: str, ip: int, path: tuple[str, str], run) -> Outcome:
        checks = CHECKS[path]
        start = ip - 8
        before = read_words(self.memory, start, self.WINDOW)
        log_start = len(self.machine.log)
        mark, saved = self._save()
        context = self._context(ip)
        info = CheckStatus("test_24bit_addr(ip, addr): " + (
            "in reach, one word" if path[0] == "near" else "out of reach, through the module's "
            + ("stub" if path[0] == "ppc64" else "PLT entry")), "info")
        try:
            run()
        except FtraceError as err:
            failed = _which(checks, str(err), context)
            statuses = [info]
            for i, chk in enumerate(checks):
                if i < failed:
                    statuses.append(CheckStatus(chk.name, "pass"))
                elif i == failed:
                    statuses.append(CheckStatus(chk.name, "fail", err.errno, str(err)))
                else:
                    statuses.append(CheckStatus(chk.name, "not reached"))
            assert self.memory.mark() == mark, "a failed patch wrote memory"
            return self._done(Outcome(label, ip, False, statuses, start, before,
                                      read_words(self.memory, start, self.WINDOW), set(),
                                      self.machine.log[log_start:], err.errno, str(err)))
        self.history.append((label, mark, saved))
        statuses = [info] + [CheckStatus(c.name, "pass") for c in checks]
        return self._done(Outcome(label, ip, True, statuses, start, before,
                                  read_words(self.memory, start, self.WINDOW),
                                  changed_words(self.memory.journal[mark:]),
                                  self.machine.log[log_start:]))

    def _bulk(self, label: str, run) -> Outcome:
        """A change through ftrace's files: one check per site whose words changed, and
        one per record ftrace marked FAILED."""
        log_start = len(self.machine.log)
        mark, saved = self._save()
        was_failed = {id(r) for r in self.ftrace.records if r.flags & FTRACE_FL_FAILED}
        try:
            run()
        except FtraceError as err:
            self.memory.undo(mark)
            self._restore(saved)
            return self._done(Outcome(label, None, False, [CheckStatus(label, "fail", err.errno, str(err))],
                                      printk=self.machine.log[log_start:], errno=err.errno,
                                      message=str(err)))
        changed = changed_words(self.memory.journal[mark:])
        statuses = []
        name = self.ftrace.symbol_name
        for e in self.memory.journal[mark:]:
            statuses.append(CheckStatus(f"{name(e.address)} ({e.address:#x}): {e.tag}", "pass"))
        log = self.machine.log[log_start:]
        for rec in saved["records"]:
            r = rec[0]
            if r.flags & FTRACE_FL_FAILED and id(r) not in was_failed:
                statuses.append(CheckStatus(f"{name(r.ip)} ({r.ip:#x}): FAILED", "fail",
                                            message="; ".join(log)))
        ok = not any(s.status == "fail" for s in statuses)
        self.history.append((label, mark, saved))
        return self._done(Outcome(label, None, ok, statuses, changed=changed, printk=log,
                                  message="" if ok else "; ".join(log)))


def _which(checks: tuple[Check, ...], message: str, context: dict[str, str]) -> int:
    """The index of the check whose pattern matches the error message (the last check
    that can fail, if none does: better to show a failure than to hide it)."""
    for i, chk in enumerate(checks):
        if chk.pattern and re.search(chk.pattern.format(**{k: re.escape(v) for k, v in context.items()}),
                                     message):
            return i
    return max(i for i, c in enumerate(checks) if c.pattern)
