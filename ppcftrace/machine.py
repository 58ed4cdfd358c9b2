"""The simulated machine: a kernel image booted into an address space.

What arch setup leaves behind before ftrace_init() runs: the image loaded at
KERNELBASE, the kernel TOC in r2 (PPC64), kallsyms, the exported symbols read from
`__ksymtab`, the mcount call sites read from `__mcount_loc` (the records ftrace will
make), a kernel stack, and the module area where module_alloc() will place modules.

    >>> m = Machine.boot("ppc64")
    >>> m.kallsyms.lookup(m.kallsyms.address(".schedule") + 8)
    ('.schedule', 8)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ppcftrace.elf import ElfFile
from ppcftrace.elf.sections import SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS
from ppcftrace.errors import PpcftraceError
from ppcftrace.kallsyms import Kallsyms, UnknownSymbol
from ppcftrace.memory import AddressSpace, Region

__all__ = ["Machine", "ModuleArea", "MachineError", "BadKernel", "UnknownArch",
           "KERNELBASE", "MODULES_VADDR", "MODULES_SIZE", "THREAD_SIZE",
           "STACK_FRAME_OVERHEAD", "STACK_BASE", "ARCHES", "fixture_path"]

ARCHES = ("ppc64", "ppc32")

#: where the kernel is linked (arch/powerpc/include/asm/page.h)
KERNELBASE = {"ppc64": 0xC000000000000000, "ppc32": 0xC0000000}

#: Start of the module area (vmalloc space). PPC64: VMALLOC_START, the 0xd region.
#: PPC32: VMALLOC_START = high_memory + VMALLOC_OFFSET (16 MiB), rounded to 16 MiB;
#: with 256 MiB of lowmem (0xc0000000..0xd0000000) that is 0xd1000000. Either way
#: modules sit far more than 32 MiB from kernel text, so no `bl` from a module
#: reaches the kernel directly: that is why stubs (PPC64) and PLT entries (PPC32) exist.
MODULES_VADDR = {"ppc64": 0xD000000000000000, "ppc32": 0xD1000000}
#: how much of that space the simulated machine hands out to modules
MODULES_SIZE = {"ppc64": 0x10000000, "ppc32": 0x04000000}

#: the kernel stack of the boot task (asm/thread_info.h: 16 KiB on PPC64, 8 KiB on PPC32)
THREAD_SIZE = {"ppc64": 0x4000, "ppc32": 0x2000}
#: a minimal frame below which a callee may save its LR (asm/ptrace.h)
STACK_FRAME_OVERHEAD = {"ppc64": 112, "ppc32": 16}
#: where the stack is placed: in lowmem, 1 MiB above KERNELBASE, clear of the image
STACK_BASE = {"ppc64": KERNELBASE["ppc64"] + 0x100000, "ppc32": KERNELBASE["ppc32"] + 0x100000}

_DATA = Path(__file__).resolve().parent / "data"


class MachineError(PpcftraceError):
    """The machine cannot be set up as asked."""


class UnknownArch(MachineError):
    """An architecture other than ppc64 or ppc32."""


class BadKernel(MachineError):
    """The image is not a kernel this machine can boot (wrong arch, base, tables)."""


def fixture_path(name: str, arch: str = "ppc64") -> Path:
    """Path of a committed fixture, e.g. fixture_path("hmod.o", "ppc32")."""
    _check_arch(arch)
    path = _DATA / arch / name
    if not path.is_file():
        raise MachineError(f"no fixture {arch}/{name}")
    return path


def _check_arch(arch: str) -> None:
    if arch not in ARCHES:
        raise UnknownArch(f"unknown architecture {arch!r} (ppc64 or ppc32)")


@lru_cache(maxsize=8)
def _open_image(path: str, mtime: float) -> ElfFile:
    # images are immutable once read; machines share them
    return ElfFile.open(path)


@dataclass(frozen=True)
class ModuleArea:
    """The reserved range modules are placed in; nothing is mapped until a module is."""

    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size

    def __contains__(self, address: int) -> bool:
        return self.start <= address < self.end


@dataclass(eq=False)
class Machine:
    """A booted simulated kernel; build one with `Machine.boot()`."""

    arch: str
    kernel: ElfFile
    memory: AddressSpace
    kallsyms: Kallsyms
    toc: int | None                 #: kernel r2 (PPC64); None on PPC32
    exports: dict[str, int]         #: EXPORT_SYMBOL name -> value (PPC64: descriptor)
    mcount_sites: list[int]         #: __mcount_loc entries, in table order
    stack: Region
    module_area: ModuleArea
    modules: list = field(default_factory=list)
    #: fn(event, module) called after a module loads ("load") and before it goes ("unload")
    module_notifiers: list = field(default_factory=list)

    @classmethod
    def boot(cls, arch: str = "ppc64", kernel: str | os.PathLike | None = None) -> "Machine":
        """Load the fixture kernel (or the image at `kernel`) into a fresh address space."""
        _check_arch(arch)
        path = Path(kernel) if kernel is not None else fixture_path("vmlinux", arch)
        image = _open_image(str(path), path.stat().st_mtime)
        _check_image(image, arch)
        memory = AddressSpace(64 if arch == "ppc64" else 32)
        with memory.unjournaled():
            for sec in image.sections:
                if sec.flags & SHF_ALLOC and sec.size:
                    memory.map(f"vmlinux {sec.name}", sec.addr, sec.size, section_perms(sec),
                               b"" if sec.type == SHT_NOBITS else sec.data)
            stack = memory.map("kernel stack", STACK_BASE[arch], THREAD_SIZE[arch], "rw")
        kallsyms = Kallsyms.from_elf(image)
        machine = cls(arch=arch, kernel=image, memory=memory, kallsyms=kallsyms,
                      toc=kernel_toc(image) if arch == "ppc64" else None,
                      exports={}, mcount_sites=[], stack=stack,
                      module_area=ModuleArea(MODULES_VADDR[arch], MODULES_SIZE[arch]))
        machine.exports = machine._read_ksymtab()
        machine.mcount_sites = machine._read_mcount_loc()
        return machine

    # -- what boot reads from memory, as the kernel does --------------------------------
    @property
    def word_size(self) -> int:
        return 8 if self.arch == "ppc64" else 4

    def read_word(self, address: int) -> int:
        """An `unsigned long` of the machine at `address`."""
        return (self.memory.read_u64 if self.arch == "ppc64" else self.memory.read_u32)(address)

    def _table(self, start: str, stop: str) -> tuple[int, int]:
        try:
            return self.kallsyms.address(start), self.kallsyms.address(stop)
        except UnknownSymbol as exc:
            raise BadKernel(f"kernel has no {exc}") from None

    def _read_ksymtab(self) -> dict[str, int]:
        """{name: value} from the struct kernel_symbol pairs in __ksymtab."""
        start, stop = self._table("__start___ksymtab", "__stop___ksymtab")
        w = self.word_size
        exports = {}
        for p in range(start, stop, 2 * w):
            value, name = self.read_word(p), self.read_word(p + w)
            exports[self.memory.read_cstring(name).decode("ascii")] = value
        return exports

    def _read_mcount_loc(self) -> list[int]:
        """The words between __start_mcount_loc and __stop_mcount_loc (zeros kept:
        ftrace_convert_nops() is the one that skips them)."""
        start, stop = self._table("__start_mcount_loc", "__stop_mcount_loc")
        return [self.read_word(p) for p in range(start, stop, self.word_size)]

    # -- conveniences ---------------------------------------------------------------------
    @property
    def stack_top(self) -> int:
        """First address above the kernel stack (r1 starts a frame below it)."""
        return self.stack.end

    def entry(self, name: str) -> int:
        """A function's code address: `schedule` or `.schedule` (PPC64 follows the
        descriptor), or any symbol's address."""
        if self.arch == "ppc64" and not name.startswith("."):
            dot = "." + name
            if dot in self.kallsyms:
                return self.kallsyms.address(dot)
        return self.kallsyms.address(name)

    def resolve_function(self, name: str) -> tuple[int, int | None, object | None]:
        """(code address, TOC to call it with, module or None) of a function in a loaded
        module or the kernel: `hmod_hello` or `.hmod_hello`; modules are searched first,
        as a module's own static names shadow nothing in the kernel."""
        dot = "." if self.arch == "ppc64" else ""
        bare = name.strip().lstrip(".")
        for mod in self.modules:
            if dot + bare in mod.symbols:
                return mod.symbols[dot + bare], getattr(mod.arch, "toc", None), mod
        return self.entry(bare), self.toc, None

    # -- modules (ppcftrace.module does the work) -----------------------------------------
    def load_module(self, obj, name: str | None = None, **options):
        """Load a module object like insmod; see `ppcftrace.module.load_module`."""
        from ppcftrace.module import load_module
        return load_module(self, obj, name, **options)

    def unload_module(self, name: str):
        """Remove a loaded module like rmmod; see `ppcftrace.module.unload_module`."""
        from ppcftrace.module import unload_module
        return unload_module(self, name)

    def __repr__(self) -> str:
        return (f"<Machine {self.arch}: {len(self.kallsyms)} symbols, "
                f"{len(self.exports)} exports, {len(self.mcount_sites)} mcount sites, "
                f"{len(self.modules)} modules>")


def section_perms(sec) -> str:
    """Permissions of a kernel section in memory. Text is rwx: the 2008 kernel had no
    read-only text and patched its own code in place."""
    if sec.flags & SHF_EXECINSTR:
        return "rwx"
    return "rw" if sec.flags & SHF_WRITE else "r"


def kernel_toc(image: ElfFile) -> int:
    """The kernel's r2: the TOC base every .opd descriptor of the image carries."""
    tocs = {d.toc for d in image.descriptors}
    if len(tocs) != 1:
        raise BadKernel(f"{image.name}: expected one TOC base in .opd, found "
                        f"{len(tocs)}")
    return tocs.pop()


def _check_image(image: ElfFile, arch: str) -> None:
    if image.is_relocatable:
        raise BadKernel(f"{image.name}: a relocatable object, not a linked kernel image")
    if image.arch != arch:
        raise BadKernel(f"{image.name}: a {image.arch} image, not {arch}")
    low = min((s.addr for s in image.sections if s.flags & SHF_ALLOC and s.size),
              default=None)
    if low != KERNELBASE[arch]:
        where = "no loadable section" if low is None else f"starts at {low:#x}"
        raise BadKernel(f"{image.name}: {where}, not at KERNELBASE {KERNELBASE[arch]:#x}")
