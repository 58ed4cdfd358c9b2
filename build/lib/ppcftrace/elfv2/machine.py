"""A booted ELFv2 kernel: the Chapter 10 machine.

`boot()` maps the ELFv2 fixture (`ppcftrace/data/elfv2/vmlinux`: the fixture
kernel's C built with `-mabi=elfv2 -mprofile-kernel`) the way `Machine.boot`
maps the 2008 one. The differences are the ABI's: no `.opd`, so the kernel's r2
is the linker's `.TOC.` symbol rather than the TOC word of every descriptor,
and a function's address is its code (its global entry point).

`start_kernel()` is `ppcftrace.kernel.start_kernel` for this machine: ftrace
with the ELFv2 arch hooks (`ppcftrace.ftrace.arch_elfv2`), a CPU with the host
calls, then modules (loaded by `ppcftrace.module64v2`). `call()` runs a
function from its global entry point, with r12 set as an ELFv2 caller sets it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ppcftrace.elf import ElfFile
from ppcftrace.elf.sections import SHF_ALLOC, SHT_NOBITS
from ppcftrace.kallsyms import Kallsyms
from ppcftrace.machine import (KERNELBASE, MODULES_SIZE, MODULES_VADDR, STACK_BASE, THREAD_SIZE,
                               BadKernel, Machine, ModuleArea, section_perms)
from ppcftrace.memory import AddressSpace

__all__ = ["DATA", "fixture_path", "boot", "start_kernel", "call", "kernel_toc"]

#: the committed ELFv2 fixtures
DATA = Path(__file__).resolve().parent.parent / "data" / "elfv2"


def fixture_path(name: str) -> Path:
    """Path of an ELFv2 fixture: `vmlinux`, `hmod.o`, `racemod.o`."""
    return DATA / name


def kernel_toc(image: ElfFile) -> int:
    """The kernel's r2: the value of the linker-defined `.TOC.` (.got + 0x8000)."""
    sym = image.symbol(".TOC.")
    if sym is None:
        raise BadKernel(f"{image.name}: no .TOC. symbol")
    return sym.value


def boot(kernel: str | os.PathLike | None = None) -> Machine:
    """Load the ELFv2 fixture kernel (or the ELFv2 image at `kernel`) into a fresh
    64-bit address space; the result is an ordinary `Machine` (arch "ppc64")."""
    image = ElfFile.open(Path(kernel) if kernel is not None else fixture_path("vmlinux"))
    if image.arch != "ppc64" or image.abi != "elfv2" or image.is_relocatable:
        raise BadKernel(f"{image.name}: not a linked ppc64 ELFv2 image ({image.arch}, {image.abi})")
    low = min(s.addr for s in image.sections if s.flags & SHF_ALLOC and s.size)
    if low != KERNELBASE["ppc64"]:
        raise BadKernel(f"{image.name}: starts at {low:#x}, not at KERNELBASE")
    memory = AddressSpace(64)
    with memory.unjournaled():
        for sec in image.sections:
            if sec.flags & SHF_ALLOC and sec.size:
                memory.map(f"vmlinux {sec.name}", sec.addr, sec.size, section_perms(sec),
                           b"" if sec.type == SHT_NOBITS else sec.data)
        stack = memory.map("kernel stack", STACK_BASE["ppc64"], THREAD_SIZE["ppc64"], "rw")
    machine = Machine(arch="ppc64", kernel=image, memory=memory,
                      kallsyms=Kallsyms.from_elf(image), toc=kernel_toc(image),
                      exports={}, mcount_sites=[], stack=stack,
                      module_area=ModuleArea(MODULES_VADDR["ppc64"], MODULES_SIZE["ppc64"]))
    machine.exports = machine._read_ksymtab()
    machine.mcount_sites = machine._read_mcount_loc()
    return machine


def start_kernel(modules=(), ftrace: bool = True, *, cpu: bool = True,
                 kernel: str | os.PathLike | None = None) -> Machine:
    """Boot, attach ftrace (ELFv2 hooks) and a CPU, load `modules` (paths or (path, name))."""
    from ppcftrace.kernel import attach_cpu
    from ppcftrace.maccess import icache_flush_listeners

    machine = boot(kernel)
    machine.log = []
    icache_flush_listeners(machine)
    machine.ftrace = None
    if ftrace:
        from ppcftrace.ftrace.arch_elfv2 import FtraceElfV2
        machine.ftrace = FtraceElfV2(machine)
        machine.ftrace.ftrace_init()
        machine.module_notifiers.append(machine.ftrace.module_notifier)
    machine.cpu = attach_cpu(machine) if cpu else None
    for obj in modules:
        path, name = obj if isinstance(obj, tuple) else (obj, None)
        machine.load_module(path, name)
    return machine


def call(machine: Machine, function: str | int, *args: int, max_instructions: int | None = None):
    """Call a function by name or address at its global entry point (r12 = its address,
    as an ELFv2 caller from another TOC sets it); return r3."""
    if isinstance(function, str):
        address = _function_address(machine, function)
    else:
        address = function
    machine.cpu.set_gpr(12, address)
    return machine.cpu.call(address, *args, max_instructions=max_instructions)


def _function_address(machine: Machine, name: str) -> int:
    for module in machine.modules:
        if name in module.symbols:
            return module.symbols[name]
    return machine.kallsyms.address(name)
