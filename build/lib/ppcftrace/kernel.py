"""start_kernel(): a booted machine with ftrace, a CPU and the host calls wired up.

What the `boot` and `trace` commands and the chapters start from. The order follows
init/main.c as far as ftrace is concerned: the image is loaded (`Machine.boot`),
`ftrace_init()` turns every `__mcount_loc` site into a nop and prints "ftrace:
allocating %ld entries in %d pages", then modules load, each converted by
`ftrace_init_module()` through `machine.module_notifiers`.

Wiring:
- `machine.log`: the kernel log, a list of lines (printk and ftrace write to it);
- `machine.icache_flush_listeners`: called by `flush_icache_range()`; the CPU's
  instruction cache model is registered there;
- `machine.ftrace`: the `Ftrace` (None with ftrace=False);
- `machine.cpu`: the interpreter, when `ppcftrace.cpu` is available (cpu=False skips
  it), with host calls `__host_printk` (`ppcftrace.printk` formatting; each line into
  `machine.log`) and
  `__host_trace` (function_trace_call's back end: `(ip, parent_ip)` into the trace
  buffer; its clock advances 1 µs per entry, so traces are reproducible).
"""

from __future__ import annotations

import os
from typing import Iterable

from ppcftrace.errors import PpcftraceError
from ppcftrace.maccess import icache_flush_listeners

__all__ = ["start_kernel", "attach_cpu"]


def start_kernel(arch: str = "ppc64", modules: Iterable = (), ftrace: bool = True, *,
                 cpu: bool = True, kernel: str | os.PathLike | None = None, synthetic: int | None = None,
                 **options):
    """Boot `arch`, attach ftrace (options go to `Ftrace`) and a CPU, load `modules`.

    Each module is a path or `(path, name)`. `synthetic=N` boots a synthetic kernel of
    N functions (`ppcftrace.synthetic`) instead of the fixture image.
    """
    if synthetic is not None:
        from ppcftrace.synthetic import synthetic_machine
        machine = synthetic_machine(synthetic, arch)
    else:
        from ppcftrace.machine import Machine
        machine = Machine.boot(arch, kernel)
    if getattr(machine, "log", None) is None:
        machine.log = []
    icache_flush_listeners(machine)
    machine.ftrace = None
    if ftrace:
        from ppcftrace.ftrace import Ftrace
        machine.ftrace = Ftrace(machine, **options)
        machine.ftrace.ftrace_init()
        machine.module_notifiers.append(machine.ftrace.module_notifier)
    machine.cpu = attach_cpu(machine) if cpu else None
    for obj in modules:
        path, name = obj if isinstance(obj, tuple) else (obj, None)
        if synthetic is not None:
            machine.add_module(name or f"mod{len(machine.modules)}", int(path))
        else:
            machine.load_module(path, name)
    return machine


def attach_cpu(machine):
    """A CPU on `machine.memory` with the host calls, or None when ppcftrace.cpu is missing."""
    try:
        from ppcftrace.cpu import CPU
    except ImportError:
        return None
    kw = {"stack_top": machine.stack_top} if hasattr(machine, "stack_top") else {}
    cpu = CPU(machine.memory, machine.arch, **kw)
    icache_flush_listeners(machine).append(cpu.flush_icache_range)
    entry = getattr(machine, "entry", None) or (lambda n: machine.kallsyms.address(
        "." + n if machine.arch == "ppc64" else n))

    def host_trace(c) -> None:
        if machine.ftrace is not None:
            machine.ftrace.function_trace_call(c.gpr[3], c.gpr[4])

    host_printk = _printk_host_call(machine)

    for name, fn in (("__host_trace", host_trace), ("__host_printk", host_printk)):
        try:
            cpu.add_host_call(entry(name), fn)
        except PpcftraceError:  # an image without the hook: nothing to intercept
            pass
    return cpu


def _symbolize(machine, addr: int) -> str:
    """%pS: `name+0xoff/0xsize [module]`, as print_ip_sym shows it."""
    if getattr(machine, "ftrace", None) is not None:
        return machine.ftrace.print_ip_sym(addr).split("] ", 1)[1]
    return machine.kallsyms.symbolize(addr) or f"{addr:#x}"


def _printk_host_call(machine):
    """printk's back end: ppcftrace.printk formats; each line goes to `machine.log`."""
    from ppcftrace.printk import printk_host_call

    texts: list[str] = []
    inner = printk_host_call(texts, symbolize=lambda addr: _symbolize(machine, addr))

    def host_printk(cpu) -> int:
        count = inner(cpu)
        machine.log.extend(texts.pop().splitlines())
        return count
    return host_printk
