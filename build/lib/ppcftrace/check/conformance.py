"""Conformance suite for a port of the PowerPC dynamic ftrace hooks.

`conformance(impl, arch="ppc64")` plugs `impl` into the simulator's ftrace core
(`Ftrace(machine, arch_ops=...)`) and runs every scenario of
`ppcftrace.check.scenarios` against it: boot conversion, module sites, filters, injected
faults, the PPC64 preemption race and the instruction cache. It returns a
`ConformanceReport`: truthy when every scenario passes, printable in a terminal,
an HTML table in Jupyter. The module itself is callable, so
`ppcftrace.check.conformance(impl)` works like the chapter checkers.

`impl` is anything with these attributes (a module, an object, or a class, which is
instantiated), the kernel's hooks with the context first:

    ftrace_make_nop(ctx, mod, rec, addr)
    ftrace_make_call(ctx, rec, addr)

Each returns 0 (or None) on success and a negative errno on failure (-EFAULT,
-EINVAL, -EPERM), or raises `ppcftrace.ftrace.FtraceError`. `ctx` is the
`ArchContext` the reference gets (`ctx.memory`, `ctx.arch`, `ctx.flush_target`);
`rec` is a `DynFtrace` (`rec.ip`, `rec.mod`); `mod` a loaded module (`mod.arch.toc`,
`mod.arch.tramp`) or None. The reference, `ppcftrace.ftrace.arch`, is such a module.

Whatever the port does, the suite goes on: an exception in a hook is reported for
its scenario, the CPU stops after `scenarios.CPU_LIMIT` instructions, and each
scenario has a time limit (on Unix, in the main thread).

From a terminal: `python -m ppcftrace.check.conformance student.py --arch ppc32`.
"""

from __future__ import annotations

import argparse
import errno
import html
import importlib
import importlib.util
import re
import signal
import sys
import threading
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ppcftrace.check import CheckResult
from ppcftrace.check.porthooks import (StudentCrash, StudentHooks, TimeLimit, describe_exception,
                                       where_in)
from ppcftrace.check.scenarios import SCENARIOS, TITLES
from ppcftrace.errors import PpcftraceError

__all__ = ["conformance", "ConformanceReport", "StudentHooks", "StudentCrash", "TimeLimit",
           "load_port", "main", "HOOKS"]

#: the hooks a port must define
HOOKS = ("ftrace_make_nop", "ftrace_make_call")
ARCHES = ("ppc64", "ppc32")


@contextmanager
def time_limit(seconds: float | None):
    """Raise TimeLimit after `seconds` (SIGALRM: Unix main thread only; else no limit)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeLimit(f"the scenario took more than {seconds:g} s (a loop that never ends?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class ConformanceReport:
    """One `CheckResult` per scenario (`exercise` = the scenario's name), plus the
    individual checks of each in `details`. Truthy when every scenario passed."""

    arch: str
    port: str
    results: list[CheckResult]
    details: dict[str, list[str]] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[str]:
        """Names of the scenarios that failed."""
        return [r.exercise for r in self.results if not r.ok]

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.exercise == name:
                return r
        raise KeyError(name)

    def _status(self, r: CheckResult) -> str:
        return "n/a " if r.exercise in self.skipped else "PASS" if r.ok else "FAIL"

    @property
    def summary(self) -> str:
        passed = sum(r.ok for r in self.results)
        return f"{self.port} on {self.arch}: {passed} of {len(self.results)} scenarios pass"

    def __str__(self) -> str:
        lines = [self.summary]
        for r in self.results:
            lines.append(f"  {self._status(r)} {r.exercise:8} {r.message}")
            if r.hint:
                lines.append(f"  {'':4} {'':8} Hint: {r.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ConformanceReport {self.summary}>"

    def _repr_html_(self) -> str:
        def text(s: str) -> str:            # `code` in messages as <code>
            return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(s))

        colours = {"PASS": "#1b7f3b", "FAIL": "#b00020", "n/a ": "#555"}
        rows = []
        for r in self.results:
            status = self._status(r)
            hint = f"<br><em>Hint:</em> {text(r.hint)}" if r.hint else ""
            rows.append(
                f'<tr><td style="color:{colours[status]};font-weight:bold">{status.strip()}</td>'
                f"<td><code>{html.escape(r.exercise)}</code></td>"
                f"<td>{html.escape(TITLES.get(r.exercise, ''))}</td>"
                f"<td>{text(r.message)}{hint}</td></tr>")
        return (f'<div class="ppcftrace-conformance" style="background:#fff;color:#1a1a1a">'
                f"<p><strong>{html.escape(self.summary)}</strong></p>"
                '<table><thead><tr><th>result</th><th>scenario</th><th>what it checks</th>'
                "<th>what happened</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def _port_name(impl) -> str:
    if isinstance(impl, types.ModuleType):
        return impl.__name__
    return type(impl).__name__


def conformance(impl, arch: str = "ppc64", *, scenarios=None, time_limit_s: float | None = 120
                ) -> ConformanceReport:
    """Run the conformance scenarios (all, or the names in `scenarios`) against `impl`."""
    if arch not in ARCHES:
        raise PpcftraceError(f"unknown arch {arch!r}: use 'ppc64' or 'ppc32'", errno=errno.EINVAL)
    names = list(SCENARIOS) if scenarios is None else list(scenarios)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise PpcftraceError(f"unknown scenario {unknown[0]!r}: choose from {', '.join(SCENARIOS)}",
                             errno=errno.EINVAL)
    if isinstance(impl, type):
        impl = impl()
    report = ConformanceReport(arch, _port_name(impl), [])
    missing = [h for h in HOOKS if not callable(getattr(impl, h, None))]
    for name in names:
        if missing:
            result = CheckResult(name, False, f"the port has no {missing[0]}()",
                                 f"define {', '.join(HOOKS)} with the context as first argument")
            report.results.append(result)
            continue
        hooks = StudentHooks(impl)
        try:
            with time_limit(time_limit_s):
                outcome = SCENARIOS[name](arch, hooks)
        except (Exception, TimeLimit) as exc:  # never let the port crash the suite
            report.results.append(CheckResult(name, False, describe_exception(exc),
                                              "the scenario stopped here; fix this first"))
            report.details[name] = ["FAIL " + describe_exception(exc)]
            continue
        report.results.append(CheckResult(name, outcome.ok, outcome.message, outcome.hint))
        report.details[name] = outcome.details
        if not outcome.applicable:
            report.skipped.add(name)
    return report


# -- the command line -----------------------------------------------------------------

def load_port(spec: str, attr: str | None = None):
    """The port named by `spec`: a .py file or a module name, with `attr` (or
    `module:attr`) naming an object or class inside it."""
    if ":" in spec and not Path(spec).exists():
        spec, attr = spec.rsplit(":", 1)
    path = Path(spec)
    try:
        if path.suffix == ".py" or path.exists():
            if not path.is_file():
                raise PpcftraceError(f"{spec}: no such file", errno=errno.ENOENT)
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.path.insert(0, str(path.resolve().parent))
            try:
                module_spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
        else:
            module = importlib.import_module(spec)
    except PpcftraceError:
        raise
    except Exception as exc:
        raise PpcftraceError(f"{spec}: cannot import it: {type(exc).__name__}: {exc}{where_in(exc)}",
                             errno=errno.ENOEXEC) from None
    if attr is None:
        return module
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PpcftraceError(f"{spec}: has no {attr!r}", errno=errno.ENOENT) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ppcftrace.check.conformance",
        description="Run the ftrace arch-hook conformance suite against a port "
                    "(a .py file or module defining ftrace_make_nop and ftrace_make_call).")
    parser.add_argument("port", help="student.py, a module name, or module:Class")
    parser.add_argument("--arch", choices=ARCHES + ("both",), default="both")
    parser.add_argument("--attr", help="an object or class inside the file to test (e.g. Port)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every check made")
    args = parser.parse_args(argv)
    try:
        impl = load_port(args.port, args.attr)
    except PpcftraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ok = True
    for arch in (ARCHES if args.arch == "both" else (args.arch,)):
        report = conformance(impl, arch, scenarios=args.scenario)
        print(report)
        if args.verbose:
            for name, lines in report.details.items():
                print(f"  {name}:")
                print("".join(f"    {line}\n" for line in lines), end="")
        ok = ok and bool(report)
    return 0 if ok else 1


class _CallableModule(types.ModuleType):
    """Lets `ppcftrace.check.conformance(impl)` call `conformance(impl)`."""

    def __call__(self, impl, arch: str = "ppc64", **options) -> ConformanceReport:
        return conformance(impl, arch, **options)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
