"""Dynamic ftrace's generic core (kernel/trace/ftrace.c, 2.6.29) over a simulated machine.

`Ftrace(machine)` keeps one `DynFtrace` record per mcount call site and drives the
arch code (`arch.py`) the way the kernel did:

- `ftrace_init()` at boot: count the `__mcount_loc` entries, print "ftrace:
  allocating %ld entries in %d pages", and turn every site into a nop
  (`ftrace_code_disable()` -> `ftrace_make_nop(NULL, rec, MCOUNT_ADDR)`), skipping
  zero entries. Modules get the same at load (`ftrace_init_module()`, through
  `machine.module_notifiers`); unloading frees their records (`ftrace_release()`).
- Filters (`set_ftrace_filter`, `set_ftrace_notrace`), `current_tracer` (`nop`,
  `function`), `tracing_on`, and the files that show records.
- Enabling: each record to trace gets `ftrace_make_call(rec, FTRACE_ADDR)`, the
  `bl` at `ftrace_call` is pointed at `function_trace_call`; disabling undoes both.
- Failures: `ftrace_bug()` logs the kernel's lines and kills ftrace
  (`ftrace_disabled`); the record is marked FAILED (and freed where the kernel frees it).

Site failures do not raise: the kernel carries on and reports in its log. Operations
on a killed ftrace raise `FtraceDisabled` (-ENODEV), as the debugfs files did.
"""

from __future__ import annotations

import bisect
import errno
from typing import Callable, Iterable

from ppcftrace.ftrace import arch as reference_arch
from ppcftrace.ftrace.arch import ArchContext, ftrace_update_ftrace_func
from ppcftrace.ftrace.errors import FtraceDisabled, FtraceError
from ppcftrace.ftrace.filters import glob_matches, parse_glob, split_patterns
from ppcftrace.ftrace.records import (
    FTRACE_FL_CONVERTED, FTRACE_FL_ENABLED, FTRACE_FL_FAILED, FTRACE_FL_FILTER, FTRACE_FL_FREE,
    FTRACE_FL_NOTRACE, PAGE_SIZE, DynFtrace, entries_per_page,
)
from ppcftrace.ftrace.trace import TraceBuffer

__all__ = ["Ftrace", "TRACERS"]

#: the tracers `current_tracer` accepts
TRACERS = ("function", "nop")


class Ftrace:
    """Dynamic ftrace attached to `machine` (which needs `arch`, `memory`, the kernel's
    symbols and `mcount_sites`).

    Options: `policy` ("b+8" or "two-nops": how PPC64 module sites are disabled),
    `plt` ("r11", "r12", "either": PPC32 PLT forms accepted), `match_adjust`
    (later kernels' `arch_ftrace_match_adjust`: `schedule` matches `.schedule`),
    `glob` ("2.6.29" or "2.6.30" matching), `page_size` (for the pages line),
    `arch_ops` (what provides ftrace_make_nop / ftrace_make_call; default `ftrace.arch`).
    """

    def __init__(self, machine, *, policy: str = "b+8", plt: str = "r11", match_adjust: bool = False,
                 glob: str = "2.6.29", page_size: int = PAGE_SIZE,
                 printk: Callable[[str], None] | None = None, arch_ops=None):
        self.machine = machine
        #: the arch hooks called for each site: anything with ftrace_make_nop(ctx, mod, rec,
        #: addr) and ftrace_make_call(ctx, rec, addr) (ppcftrace.check.conformance plugs a
        #: student's port in here); default the reference, ppcftrace.ftrace.arch
        self.arch_ops = arch_ops if arch_ops is not None else reference_arch
        self.arch = machine.arch
        self.memory = machine.memory
        self._printk = printk
        self.ctx = ArchContext(self.memory, self.arch, printk=self.printk, flush_target=machine,
                               policy=policy, plt=plt)
        if glob not in ("2.6.29", "2.6.30"):
            raise FtraceError(errno.EINVAL, f"unknown glob semantics {glob!r}: use '2.6.29' or '2.6.30'")
        self.match_adjust = match_adjust
        self.glob_semantics = glob
        self.page_size = page_size
        #: every record not freed, in allocation order (the kernel's ftrace pages)
        self.records: list[DynFtrace] = []
        self._names: dict[int, str] = {}
        self._symbol_starts: list[int] | None = None
        self._addresses: dict[str, int] = {}
        self._by_ip: dict[int, DynFtrace] = {}
        #: ftrace_disabled: set by ftrace_kill() after an anomaly; stronger than ftrace_enabled
        self.ftrace_disabled = False
        #: the kernel.ftrace_enabled sysctl
        self.ftrace_enabled = False
        self.ftrace_filtered = False
        self.ftrace_start_up = 0
        #: the function ftrace_caller calls (a symbol name): ftrace_stub or function_trace_call
        self.ftrace_trace_function = "ftrace_stub"
        self.saved_ftrace_func: str | None = None
        self._tracer = "nop"
        self.system_state = "booting"
        self.ftrace_update_cnt = 0
        self.ftrace_update_tot_cnt = 0
        self.buffer = TraceBuffer(symbolize=self.symbol_name)

    # -- the machine side ---------------------------------------------------------

    def printk(self, line: str) -> None:
        """Append a line to the kernel log (`machine.log`)."""
        if self._printk is not None:
            self._printk(line)
            return
        log = getattr(self.machine, "log", None)
        if log is None:
            log = self.machine.log = []
        if hasattr(log, "append"):
            log.append(line)
        else:
            log.write(line + "\n")

    def function_pointer(self, name: str) -> int:
        """The C value of function `name`: its descriptor on PPC64 ELFv1, its code on PPC32."""
        return self.symbol_address(name)

    def symbol_address(self, name: str) -> int:
        """The address of kernel symbol `name` (the ELF symbol; `ftrace_call` is a code label)."""
        cached = self._addresses.get(name)
        if cached is None:
            cached = self._addresses[name] = self.machine.kallsyms.address(name)
        return cached

    @property
    def MCOUNT_ADDR(self) -> int:  # noqa: N802 - the kernel's name
        return self.function_pointer("_mcount")

    @property
    def FTRACE_ADDR(self) -> int:  # noqa: N802
        return self.function_pointer("ftrace_caller")

    def symbol_name(self, addr: int) -> str:
        """kallsyms_lookup's name for `addr` (a dot name for PPC64 code); hex if unknown."""
        found = self.lookup(addr)
        return found[0] if found else f"{addr:#x}"

    def lookup(self, addr: int) -> tuple[str, int, int | None, str | None] | None:
        """(name, offset, size or None, module name or None) for `addr` (kallsyms_lookup)."""
        found = self.machine.kallsyms.lookup(addr)
        if found:
            name, offset = found[0], found[1]
            return name, offset, self._kernel_symbol_size(addr - offset), None
        for mod in self._modules():
            if mod.base <= addr < mod.base + mod.size:
                found = mod.lookup(addr)
                if found:
                    return found[0], found[1], None, mod.name
        return None

    def _kernel_symbol_size(self, start: int) -> int | None:
        """Distance to the next symbol, as kallsyms_lookup_size_offset() computes it."""
        if self._symbol_starts is None:
            symbols = getattr(self.machine.kallsyms, "symbols", None)
            if symbols is None:
                return None
            self._symbol_starts = sorted({s.address for s in symbols})
        i = bisect.bisect_right(self._symbol_starts, start)
        return self._symbol_starts[i] - start if i < len(self._symbol_starts) else None

    def print_ip_sym(self, ip: int) -> str:
        """`[<%p>] %pS`: the address and symbol+offset/size [module]."""
        digits = self.ctx.pointer_digits
        found = self.lookup(ip)
        if found is None:
            return f"[<{ip:0{digits}x}>] {ip:#x}"
        name, offset, size, modname = found
        sym = f"{name}+{offset:#x}" + (f"/{size:#x}" if size is not None else "")
        if modname:
            sym += f" [{modname}]"
        return f"[<{ip:0{digits}x}>] {sym}"

    def rec_name(self, rec: DynFtrace) -> str:
        """The kallsyms name of a record's function (cached: names do not move)."""
        name = self._names.get(rec.ip)
        if name is None:
            name = self._names[rec.ip] = self.symbol_name(rec.ip)
        return name

    # -- records ------------------------------------------------------------------

    def _check_enabled(self, what: str) -> None:
        if self.ftrace_disabled:
            raise FtraceDisabled(what)

    def ftrace_kill(self) -> None:
        """Stop ftrace for good: ftrace_disabled = 1, ftrace_enabled = 0, func = ftrace_stub."""
        self.ftrace_disabled = True
        self.ftrace_enabled = False
        self.ftrace_trace_function = "ftrace_stub"

    def ftrace_bug(self, failed: int, ip: int) -> None:
        """Report a failed site the way 2.6.29 did, and kill ftrace (FTRACE_WARN_ON_ONCE).

        The kernel also prints a WARN_ON_ONCE backtrace first; we do not simulate it.
        """
        where = self.print_ip_sym(ip)
        if failed == -errno.EFAULT:
            self.printk(f"ftrace faulted on modifying {where}")
        elif failed == -errno.EINVAL:
            try:
                actual = ":".join(f"{b:02x}" for b in self.memory.read(ip, 4))
            except Exception:  # the kernel would oops reading it; say so
                actual = "??:??:??:??"
            self.printk(f"ftrace failed to modify {where}")
            self.printk(f" actual: {actual}")
        elif failed == -errno.EPERM:
            self.printk(f"ftrace faulted on writing {where}")
        else:
            self.printk(f"ftrace faulted on unknown error {where}")
        self.ftrace_kill()

    def ftrace_dyn_table_alloc(self, num_to_init: int) -> bool:
        """Print the allocation line (or "No functions to be traced?"); False when none."""
        if not num_to_init:
            self.printk("ftrace: No functions to be traced?")
            return False
        cnt = num_to_init // entries_per_page(self.arch, self.page_size)
        self.printk(f"ftrace: allocating {num_to_init} entries in {cnt + 1} pages")
        return True

    def ftrace_init(self, sites: Iterable[int] | None = None) -> None:
        """Boot-time setup: count the `__mcount_loc` entries and convert every site to a nop."""
        sites = list(self.machine.mcount_sites if sites is None else sites)
        if not self.ftrace_dyn_table_alloc(len(sites)):
            self.ftrace_disabled = True
            return
        self.ftrace_enabled = True
        self.ftrace_convert_nops(None, sites)
        self.system_state = "running"

    def ftrace_init_module(self, mod, sites: Iterable[int] | None = None) -> None:
        """Convert a freshly loaded module's sites (ftrace_init_module)."""
        sites = list(mod.mcount_sites if sites is None else sites)
        if self.ftrace_disabled or not sites:
            return
        self.ftrace_convert_nops(mod, sites)

    def ftrace_convert_nops(self, mod, sites: list[int]) -> None:
        """Record every non-zero site, then convert the new records (ftrace_update_code)."""
        new = []
        for addr in sites:
            # linkers pad between objects' __mcount_loc sections: skip NULL entries
            if not addr or self.ftrace_disabled:
                continue
            rec = DynFtrace(addr)
            self.records.append(rec)
            self._by_ip[addr] = rec
            new.append(rec)
        self.ftrace_update_code(mod, new)

    def ftrace_update_code(self, mod, new: list[DynFtrace]) -> None:
        """Make each new record's site a nop; on failure report, mark FAILED and free it.

        The kernel pushed new records on the front of a list, so it converts them last
        first; after a failure ftrace is disabled and the rest stay unconverted.
        """
        self.ftrace_update_cnt = 0
        mcount = self.MCOUNT_ADDR
        ctx = self.ctx
        for rec in reversed(new):
            if self.ftrace_disabled:
                return
            try:
                self.arch_ops.ftrace_make_nop(ctx, mod, rec, mcount)
            except FtraceError as err:
                self.ftrace_bug(-err.errno, rec.ip)
                rec.flags |= FTRACE_FL_FAILED
                self._free(rec)
                continue
            rec.flags |= FTRACE_FL_CONVERTED
            self.ftrace_update_cnt += 1
        self.ftrace_update_tot_cnt += self.ftrace_update_cnt

    def _free(self, rec: DynFtrace) -> None:
        rec.flags |= FTRACE_FL_FREE
        self.records.remove(rec)
        self._names.pop(rec.ip, None)
        if self._by_ip.get(rec.ip) is rec:
            del self._by_ip[rec.ip]

    def ftrace_release(self, start: int, size: int) -> int:
        """Free the records in [start, start + size) (a module going away); return how many."""
        if self.ftrace_disabled or not start:
            return 0
        end = start + size
        gone = [r for r in self.records if start <= r.ip < end]
        for rec in gone:
            rec.flags |= FTRACE_FL_FREE
            self._names.pop(rec.ip, None)
            if self._by_ip.get(rec.ip) is rec:
                del self._by_ip[rec.ip]
        keep = set(map(id, gone))
        self.records = [r for r in self.records if id(r) not in keep]
        return len(gone)

    def module_notifier(self, event: str, mod) -> None:
        """`machine.module_notifiers` callback: convert on "load", release on "unload"."""
        if event == "load":
            self.ftrace_init_module(mod)
        elif event == "unload":
            self.ftrace_release(mod.base, mod.size)

    def record(self, ip: int) -> DynFtrace | None:
        """The live record for call site `ip`, or None."""
        return self._by_ip.get(ip)

    # -- patching everything ----------------------------------------------------------

    def _core_kernel_text(self, ip: int) -> bool:
        """core_kernel_text(): is `ip` in the kernel image rather than a module?"""
        for mod in self._modules():
            if mod.base <= ip < mod.base + mod.size:
                return False
        return True

    def _modules(self) -> list:
        return list(getattr(self.machine, "modules", None) or ())

    def _wanted(self, rec: DynFtrace, enable: bool) -> bool | None:
        """2.6.29's flag dance: should `rec` call the tracer (True), not (False), or is
        it already right (None)?"""
        fl = rec.flags
        if fl & FTRACE_FL_NOTRACE:
            return False if fl & FTRACE_FL_ENABLED else None
        if self.ftrace_filtered and enable:
            fl &= FTRACE_FL_FILTER | FTRACE_FL_ENABLED
            if fl == FTRACE_FL_FILTER | FTRACE_FL_ENABLED or not fl:
                return None
            return fl == FTRACE_FL_FILTER
        if bool(fl & FTRACE_FL_ENABLED) == enable:
            return None
        return enable

    def __ftrace_replace_code(self, rec: DynFtrace, enable: bool, ftrace_addr: int) -> bool | None:
        """Patch `rec` into its wanted state; None when there was nothing to do."""
        want = self._wanted(rec, enable)
        if want is None:
            return None
        if want:
            self.arch_ops.ftrace_make_call(self.ctx, rec, ftrace_addr)
            rec.flags |= FTRACE_FL_ENABLED
        else:
            self.arch_ops.ftrace_make_nop(self.ctx, None, rec, ftrace_addr)
            rec.flags &= ~FTRACE_FL_ENABLED
        return want

    def ftrace_replace_code(self, enable: bool) -> None:
        """Bring every record to its wanted state; failures mark FAILED (and free or report).

        The kernel flips ENABLED before patching; we flip it after a successful patch so
        a FAILED record's flags still describe its site.
        """
        ftrace_addr = self.FTRACE_ADDR
        for rec in list(self.records):
            if rec.flags & (FTRACE_FL_FREE | FTRACE_FL_FAILED):
                continue
            try:
                self.__ftrace_replace_code(rec, enable, ftrace_addr)
            except FtraceError as err:
                if not rec.flags & FTRACE_FL_CONVERTED:
                    continue
                rec.flags |= FTRACE_FL_FAILED
                if self.system_state == "booting" or not self._core_kernel_text(rec.ip):
                    self._free(rec)
                else:
                    self.ftrace_bug(-err.errno, rec.ip)

    def ftrace_update_ftrace_func(self, func: str) -> None:
        """Point `ftrace_call`'s `bl` at `func` (a symbol name); a failure is an ftrace bug."""
        ip = self.symbol_address("ftrace_call")
        try:
            ftrace_update_ftrace_func(self.ctx, ip, self.function_pointer(func))
        except FtraceError as err:
            self.ftrace_bug(-err.errno, ip)

    def ftrace_run_update_code(self, enable: bool | None, update_func: bool) -> None:
        """__ftrace_modify_code: enable (True) / disable (False) calls, then the function."""
        if enable is not None:
            self.ftrace_replace_code(enable)
        if update_func:
            self.ftrace_update_ftrace_func(self.ftrace_trace_function)

    def ftrace_startup(self) -> None:
        """One more user: enable the call sites, update ftrace_call if the function changed."""
        if self.ftrace_disabled:
            return
        self.ftrace_start_up += 1
        update = self.saved_ftrace_func != self.ftrace_trace_function
        if update:
            self.saved_ftrace_func = self.ftrace_trace_function
        if self.ftrace_enabled:
            self.ftrace_run_update_code(True, update)

    def ftrace_shutdown(self) -> None:
        """One user fewer: disable the call sites when none is left."""
        if self.ftrace_disabled:
            return
        self.ftrace_start_up -= 1
        disable = False if not self.ftrace_start_up else None
        update = self.saved_ftrace_func != self.ftrace_trace_function
        if update:
            self.saved_ftrace_func = self.ftrace_trace_function
        if (disable is not None or update) and self.ftrace_enabled:
            self.ftrace_run_update_code(disable, update)

    def set_ftrace_enabled(self, on: bool) -> None:
        """Write /proc/sys/kernel/ftrace_enabled (ftrace_enable_sysctl): off turns every
        enabled site back into a nop, on re-enables them while a tracer is registered."""
        self._check_enabled("ftrace_enabled")
        on = bool(on)
        if on == self.ftrace_enabled:
            return
        self.ftrace_enabled = on
        if on:
            self.saved_ftrace_func = None  # ftrace_startup_sysctl: force the next update
            if self.ftrace_start_up:
                self.ftrace_replace_code(True)
            if self._tracer == "function":
                self.ftrace_trace_function = "function_trace_call"
        else:
            self.ftrace_trace_function = "ftrace_stub"
            if self.ftrace_start_up:
                self.ftrace_replace_code(False)

    # -- tracers ----------------------------------------------------------------------

    @property
    def current_tracer(self) -> str:
        """The tracer in use: "nop" or "function". Setting it patches the call sites."""
        return self._tracer

    @current_tracer.setter
    def current_tracer(self, name: str) -> None:
        name = name.strip()
        if name not in TRACERS:
            raise FtraceError(errno.EINVAL, f"current_tracer: no tracer {name!r} (available: "
                              f"{' '.join(TRACERS)})")
        if name == self._tracer:
            return
        if self._tracer == "function":
            self.unregister_ftrace_function()
        self._tracer = name
        if name == "function":
            self.buffer.clear()  # function_trace_init -> tracing_reset_online_cpus
            self.register_ftrace_function("function_trace_call")

    def register_ftrace_function(self, func: str) -> None:
        """Make `func` the traced callback and enable the call sites."""
        if self.ftrace_disabled:
            return
        if self.ftrace_enabled:
            self.ftrace_trace_function = func
        self.ftrace_startup()

    def unregister_ftrace_function(self) -> None:
        """Back to ftrace_stub; the last user gone, disable the call sites."""
        self.ftrace_trace_function = "ftrace_stub"
        self.ftrace_shutdown()

    @property
    def tracing_on(self) -> bool:
        """Whether traced calls are recorded into the buffer (the tracing_on file)."""
        return self.buffer.recording

    @tracing_on.setter
    def tracing_on(self, on: bool) -> None:
        self.buffer.recording = bool(int(on)) if isinstance(on, str) else bool(on)

    def function_trace_call(self, ip: int, parent_ip: int, **context) -> None:
        """The host side of the traced kernel's function_trace_call(ip, parent_ip)."""
        if self._tracer == "function" and not self.ftrace_disabled:
            self.buffer.function_trace_call(ip, parent_ip, **context)

    def trace(self) -> str:
        """The text of the trace file."""
        return self.buffer.render(self._tracer)

    # -- filters ----------------------------------------------------------------------

    def ftrace_filter_reset(self, enable: bool) -> None:
        """Clear FILTER (enable) or NOTRACE flags of every usable record."""
        flag = FTRACE_FL_FILTER if enable else FTRACE_FL_NOTRACE
        if enable:
            self.ftrace_filtered = False
        for rec in self.records:
            if not rec.flags & FTRACE_FL_FAILED:
                rec.flags &= ~flag

    def ftrace_match(self, pattern: str, enable: bool) -> int:
        """Set (or, with `!`, clear) FILTER/NOTRACE on records whose name matches; return the count.

        As in 2.6.29, a filter pattern turns filtering on even when it matches nothing.
        """
        flag = FTRACE_FL_FILTER if enable else FTRACE_FL_NOTRACE
        glob = parse_glob(pattern)
        if enable:
            self.ftrace_filtered = True
        matched = 0
        for rec in self.records:
            if rec.flags & FTRACE_FL_FAILED:
                continue
            if glob_matches(glob, self.rec_name(rec), semantics=self.glob_semantics,
                            match_adjust=self.match_adjust):
                matched += 1
                if glob.negate:
                    rec.flags &= ~flag
                else:
                    rec.flags |= flag
        return matched

    def _set_regex(self, text: str, append: bool, enable: bool) -> None:
        self._check_enabled("set_ftrace_filter" if enable else "set_ftrace_notrace")
        if not append:
            self.ftrace_filter_reset(enable)
        for pattern in split_patterns(text):
            self.ftrace_match(pattern, enable)
        # ftrace_regex_release: re-apply when tracing is running
        if self.ftrace_start_up and self.ftrace_enabled:
            self.ftrace_run_update_code(True, False)

    def set_ftrace_filter(self, text: str, append: bool = False) -> None:
        """Write to set_ftrace_filter (`>` truncates first, `>>` with append=True adds)."""
        self._set_regex(text, append, True)

    def set_ftrace_notrace(self, text: str, append: bool = False) -> None:
        """Write to set_ftrace_notrace."""
        self._set_regex(text, append, False)

    # -- the files --------------------------------------------------------------------

    def _names_where(self, what: str, test: Callable[[DynFtrace], bool]) -> list[str]:
        self._check_enabled(what)
        return [self.rec_name(r) for r in self.records if test(r)]

    def available_filter_functions(self) -> list[str]:
        """One name per usable record (not FREE, not FAILED), in record order."""
        return self._names_where("available_filter_functions",
                                 lambda r: not r.flags & (FTRACE_FL_FREE | FTRACE_FL_FAILED))

    def failures(self) -> list[str]:
        """Names of the FAILED records (the 2.6.29 `failures` file)."""
        return self._names_where("failures", lambda r: r.flags & FTRACE_FL_FAILED
                                 and not r.flags & FTRACE_FL_FREE)

    def filter_functions(self) -> list[str]:
        """Reading set_ftrace_filter: the records with FILTER."""
        return self._names_where("set_ftrace_filter", lambda r: r.flags & FTRACE_FL_FILTER
                                 and not r.flags & FTRACE_FL_FAILED)

    def notrace_functions(self) -> list[str]:
        """Reading set_ftrace_notrace: the records with NOTRACE."""
        return self._names_where("set_ftrace_notrace", lambda r: r.flags & FTRACE_FL_NOTRACE
                                 and not r.flags & FTRACE_FL_FAILED)

    def enabled_functions(self) -> list[str]:
        """The records whose site calls ftrace_caller (a later kernel's file; ENABLED here)."""
        return self._names_where("enabled_functions", lambda r: r.flags & FTRACE_FL_ENABLED
                                 and not r.flags & FTRACE_FL_FAILED)

    FILES = ("available_filter_functions", "set_ftrace_filter", "set_ftrace_notrace",
             "enabled_functions", "failures", "current_tracer", "available_tracers",
             "tracing_on", "trace")

    def read(self, name: str) -> str:
        """The text of /sys/kernel/debug/tracing/<name>."""
        lists = {"available_filter_functions": self.available_filter_functions,
                 "set_ftrace_filter": self.filter_functions,
                 "set_ftrace_notrace": self.notrace_functions,
                 "enabled_functions": self.enabled_functions, "failures": self.failures}
        if name in lists:
            return "".join(n + "\n" for n in lists[name]())
        if name == "current_tracer":
            return self._tracer + "\n"
        if name == "available_tracers":
            return " ".join(TRACERS) + "\n"
        if name == "tracing_on":
            return f"{int(self.tracing_on)}\n"
        if name == "trace":
            return self.trace()
        raise FtraceError(errno.ENOENT, f"no tracing file {name!r} (files: {', '.join(self.FILES)})")

    def write(self, name: str, text: str, append: bool = False) -> None:
        """`echo text > name` (or `>>` with append=True)."""
        if name == "set_ftrace_filter":
            self.set_ftrace_filter(text, append)
        elif name == "set_ftrace_notrace":
            self.set_ftrace_notrace(text, append)
        elif name == "current_tracer":
            self.current_tracer = text
        elif name == "tracing_on":
            self.tracing_on = text.strip() not in ("0", "")
        elif name == "trace":
            self.buffer.clear()
        else:
            raise FtraceError(errno.EACCES, f"tracing file {name!r} is not writable")
