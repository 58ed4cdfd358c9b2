"""A synthetic kernel of N traced functions, for kernel-scale runs (`boot --synthetic N`).

Real kernels have tens of thousands of mcount sites (FACTS.md section 5: "allocating
38175 entries in 14 pages" on a 2022 ppc64le boot). The fixture kernel has a few
dozen, so this module builds a machine of the same shape at any size: N functions
with GCC's -pg prologue, assembled with `ppcftrace.isa`, each calling `_mcount`, the
ftrace entry points (`_mcount`, `ftrace_caller` with its `ftrace_call` label,
`ftrace_stub`, `function_trace_call`), PPC64 descriptors in `.opd`, and a kallsyms
that gives dot names for PPC64 code. `add_module()` loads a synthetic module the way
module_64.c / module_32.c lay one out: its sites call `_mcount` through a stub (PPC64)
or PLT entry (PPC32), and `mod.arch.tramp` is one more to `ftrace_caller`.

`_mcount` and `ftrace_caller` are copied from the fixture kernel, so a synthetic
kernel runs the same tracer entry code. The result duck-types the parts of
`ppcftrace.machine.Machine` that ftrace and the `boot` command use: `arch`, `memory`,
`kallsyms`, `toc`, `entry()`, `mcount_sites`, `modules`, `module_notifiers`, `log`.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from ppcftrace.errors import PpcftraceError
from ppcftrace.isa import BRANCH_SET_LINK, assemble, create_branch
from ppcftrace.memory import AddressSpace

__all__ = ["SyntheticMachine", "SyntheticModule", "SyntheticError", "Stub", "ModArch", "synthetic_machine", "KERNELBASE",
           "MODULE_AREA", "PROLOGUE"]

KERNELBASE = {"ppc64": 0xC000000000000000, "ppc32": 0xC0000000}
MODULE_AREA = {"ppc64": 0xD000000000000000, "ppc32": 0xD1000000}

#: GCC -pg code per function: the `bl _mcount` is word PROLOGUE_SITE
PROLOGUE = {
    "ppc64": ("mflr r0", "std r0,16(r1)", "stdu r1,-112(r1)", "bl {mcount}", "nop",
              "addi r1,r1,112", "ld r0,16(r1)", "mtlr r0", "blr"),
    "ppc32": ("mflr r0", "stw r0,4(r1)", "bl {mcount}", "stwu r1,-16(r1)", "addi r1,r1,16",
              "lwz r0,4(r1)", "mtlr r0", "blr"),
}
PROLOGUE_SITE = {"ppc64": 3, "ppc32": 2}
#: bytes per synthetic function (prologue padded with nops)
FUNC_SIZE = 48



#: the entry_*.S functions, in the fixture kernel's order: one contiguous block
ENTRY_CODE = ("_mcount", "ftrace_caller", "ftrace_stub", "__host_printk", "__host_trace")


def fixture_entry_code(arch: str) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """The fixture kernel's entry_*.S block (ENTRY_CODE) and {name: (offset, size)},
    including the label `ftrace_call`. The block only branches inside itself (ftrace_caller
    falls through into ftrace_stub; `bl ftrace_stub` at ftrace_call), so it runs anywhere:
    the synthetic kernel executes the same tracer entry code as the fixture one."""
    from ppcftrace.elf import ElfFile
    from ppcftrace.machine import fixture_path

    elf = ElfFile.open(str(fixture_path("vmlinux", arch)))
    dot = "." if arch == "ppc64" else ""
    syms = {name: elf.symbol(dot + name) for name in ENTRY_CODE}
    start = syms["_mcount"].value
    end = max(s.value + s.size for s in syms.values())
    sec = elf.section_at(start)
    block = bytes(sec.data[start - sec.addr:end - sec.addr])
    where = {name: (s.value - start, s.size) for name, s in syms.items()}
    where["ftrace_call"] = (elf.symbol("ftrace_call").value - start, 0)
    return block, where


class SyntheticError(PpcftraceError):
    """A synthetic machine cannot be built as asked."""


class SyntheticKallsyms:
    """Symbol table: `lookup(addr) -> (name, offset, size)` and `address(name)`."""

    def __init__(self):
        self._addr: dict[str, int] = {}
        self._code: list[tuple[int, int, str]] = []  # (start, size, name), sorted
        self._starts: list[int] = []

    def add(self, name: str, address: int, size: int = 0, code: bool = True) -> None:
        self._addr[name] = address
        if code:
            i = bisect.bisect_left(self._starts, address)
            self._starts.insert(i, address)
            self._code.insert(i, (address, size, name))

    def add_sorted(self, entries: list[tuple[int, int, str]]) -> None:
        """Bulk add code symbols that lie above every existing one."""
        for start, size, name in entries:
            self._addr[name] = start
        self._code.extend(entries)
        self._starts.extend(e[0] for e in entries)

    def __contains__(self, name: str) -> bool:
        return name in self._addr

    def symbolize(self, address: int) -> str | None:
        hit = self.lookup(address)
        if hit is None:
            return None
        return f"{hit[0]}+{hit[1]:#x}" if hit[1] else hit[0]

    def address(self, name: str) -> int:
        try:
            return self._addr[name]
        except KeyError:
            raise SyntheticError(f"no symbol {name!r}") from None

    def lookup(self, address: int) -> tuple[str, int, int] | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return None
        start, size, name = self._code[i]
        if size and address >= start + size:
            return None
        return name, address - start, size


@dataclass(frozen=True)
class Stub:
    """A stub (PPC64) or PLT entry (PPC32): where it is, the code it reaches, its words."""

    address: int
    target: int
    words: tuple[int, ...]


@dataclass
class ModArch:
    """`mod->arch`: the module's TOC (PPC64 r2), its ftrace trampoline and its stubs."""

    toc: int | None = None
    tramp: int | None = None
    stubs: list = field(default_factory=list)


@dataclass(eq=False)
class SyntheticModule:
    name: str
    base: int
    size: int
    arch: ModArch
    mcount_sites: list[int]
    symbols: dict[str, int]

    def __contains__(self, address: int) -> bool:
        return self.base <= address < self.base + self.size

    def lookup(self, address: int) -> tuple[str, int] | None:
        """(name, offset) of the function holding `address`."""
        if address not in self:
            return None
        start = self.base + (address - self.base) // FUNC_SIZE * FUNC_SIZE
        for name, addr in self.symbols.items():
            if addr == start:
                return name, address - start
        return None


class SyntheticMachine:
    """A booted synthetic kernel (see the module docstring)."""

    def __init__(self, n: int, arch: str = "ppc64"):
        if arch not in KERNELBASE:
            raise SyntheticError(f"unknown arch {arch!r}: use 'ppc64' or 'ppc32'")
        if n < 0:
            raise SyntheticError(f"function count must be >= 0, not {n}")
        self.arch = arch
        self.memory = AddressSpace(64 if arch == "ppc64" else 32)
        self.kallsyms = SyntheticKallsyms()
        self.kernel = None
        self.modules: list[SyntheticModule] = []
        self.module_notifiers: list = []
        self.log: list[str] = []
        self.toc = None
        self._build_kernel(n)
        self._next_module = MODULE_AREA[arch]

    # -- layout ------------------------------------------------------------------

    def _dot(self, name: str) -> str:
        return "." + name if self.arch == "ppc64" else name

    def _build_kernel(self, n: int) -> None:
        arch, base = self.arch, KERNELBASE[self.arch]
        block, where = fixture_entry_code(arch)
        text_start = base + 0x1000
        fn_trace = text_start + ((len(block) + 15) & ~15)
        layout = {name: text_start + off for name, (off, _) in where.items() if name != "ftrace_call"}
        layout["function_trace_call"] = fn_trace
        sizes = {name: size for name, (_, size) in where.items()}
        sizes["function_trace_call"] = 4
        entry_names = ENTRY_CODE + ("function_trace_call",)
        funcs_start = fn_trace + 16
        text_end = funcs_start + n * FUNC_SIZE
        opd_start = (text_end + 0xFFF) & ~0xFFF
        names = entry_names + tuple(f"func_{i}" for i in range(n))
        opd_size = 24 * len(names) if arch == "ppc64" else 0
        image_end = opd_start + max(opd_size, 8)
        self.toc = (opd_start + opd_size + 0x8000) if arch == "ppc64" else None
        text = bytearray(text_end - base)
        text[text_start - base:text_start - base + len(block)] = block
        self.kallsyms.add("ftrace_call", text_start + where["ftrace_call"][0], 0, code=False)

        def fptr(name: str) -> int:
            # what C calls the function: its descriptor on PPC64, its code on PPC32
            return opd_start + 24 * names.index(name) if arch == "ppc64" else layout[name]

        mcount = layout["_mcount"]
        # function_trace_call(ip, parent_ip) { __host_trace(ip, parent_ip); }, as a tail call
        struct.pack_into(">I", text, fn_trace - base, create_branch(fn_trace, layout["__host_trace"], 0, arch))
        for name in entry_names:
            self.kallsyms.add(self._dot(name), layout[name], sizes[name])
            if arch == "ppc64":
                self.kallsyms.add(name, fptr(name), 24, code=False)
        # the N functions: one template, the bl patched per function
        words = [assemble(l.format(mcount=0), arch=arch) if "{mcount}" not in l else 0
                 for l in PROLOGUE[arch]]
        words += [assemble("nop")] * (FUNC_SIZE // 4 - len(words))
        template = struct.pack(f">{len(words)}I", *words)
        site_off = 4 * PROLOGUE_SITE[arch]
        sites, syms = [], []
        for i in range(n):
            addr = funcs_start + i * FUNC_SIZE
            o = addr - base
            text[o:o + FUNC_SIZE] = template
            ip = addr + site_off
            struct.pack_into(">I", text, o + site_off, create_branch(ip, mcount, BRANCH_SET_LINK, arch))
            sites.append(ip)
            syms.append((addr, FUNC_SIZE, self._dot(f"func_{i}")))
        self.kallsyms.add_sorted(syms)
        self.mcount_sites = sites
        self.memory.map("vmlinux .text", base, len(text), "rwx", bytes(text))
        opd = bytearray(max(opd_size, 8))
        if arch == "ppc64":
            for j, name in enumerate(names):
                entry = layout[name] if name in layout else funcs_start + (j - len(entry_names)) * FUNC_SIZE
                struct.pack_into(">QQQ", opd, 24 * j, entry, self.toc, 0)
                if name not in layout:
                    self.kallsyms.add(name, opd_start + 24 * j, 24, code=False)
        self.memory.map("vmlinux .opd", opd_start, image_end - opd_start + 0x10000, "rw", bytes(opd))
        self._fptr = fptr
        self.layout = layout

    def function_pointer(self, name: str) -> int:
        """The C function pointer of a kernel function (descriptor on PPC64)."""
        return self._fptr(name)

    def entry(self, name: str) -> int:
        """A kernel function's code address (`schedule` or `.schedule`)."""
        if self.arch == "ppc64" and not name.startswith("."):
            name = "." + name
        return self.kallsyms.address(name)

    # -- modules -------------------------------------------------------------------

    def _far_call(self, at: int, target_fptr: int, toc: int | None) -> tuple[list[int], bytes]:
        """A stub (PPC64, module_64.c) or PLT entry (PPC32, module_32.c) at `at` to a kernel function."""
        if self.arch == "ppc64":
            from ppcftrace.module64 import stub_words_for
            entry = self.memory.read_u64(target_fptr)
            ktoc = self.memory.read_u64(target_fptr + 8)
            words = [*stub_words_for(at, toc), 0]    # 7 instructions, then padding
            return words, struct.pack(">8IQQ", *words, entry, ktoc)
        from ppcftrace.module32 import plt_entry_words
        words = list(plt_entry_words(target_fptr))
        return words, struct.pack(">4I", *words)

    def add_module(self, name: str, nfuncs: int, *, tramp: bool = True) -> SyntheticModule:
        """Load a synthetic module of `nfuncs` traced functions; tell the module notifiers."""
        if any(m.name == name for m in self.modules):
            raise SyntheticError(f"module {name!r} is already loaded")
        arch = self.arch
        base = self._next_module
        stub_size = 48 if arch == "ppc64" else 16
        text_size = nfuncs * FUNC_SIZE
        stubs_at = base + ((text_size + 63) & ~63)
        size = ((stubs_at - base + 2 * stub_size + 0x10 + 0xFFF) & ~0xFFF) + 0x10000
        toc = base + size - 0x8000 if arch == "ppc64" else None
        data = bytearray(size)
        mcount_stub, tramp_stub = stubs_at, stubs_at + stub_size
        stubs = []
        for at, fn in ((mcount_stub, "_mcount"), (tramp_stub, "ftrace_caller")):
            words, raw = self._far_call(at, self._fptr(fn), toc)
            data[at - base:at - base + len(raw)] = raw
            stubs.append(Stub(at, self.entry(fn), tuple(words[:7 if arch == "ppc64" else 4])))
        words = [assemble(l, arch=arch) if "{mcount}" not in l else 0 for l in PROLOGUE[arch]]
        words += [assemble("nop")] * (FUNC_SIZE // 4 - len(words))
        site_off = 4 * PROLOGUE_SITE[arch]
        sites, symbols = [], {}
        for i in range(nfuncs):
            addr = base + i * FUNC_SIZE
            o = addr - base
            struct.pack_into(f">{len(words)}I", data, o, *words)
            ip = addr + site_off
            struct.pack_into(">I", data, o + site_off, create_branch(ip, mcount_stub, BRANCH_SET_LINK, arch))
            if arch == "ppc64":  # the caller restores its TOC after the stub (restore_r2)
                struct.pack_into(">I", data, o + site_off + 4, 0xE8410028)
            sites.append(ip)
            symbols[self._dot(f"{name}_func_{i}")] = addr
        self.memory.map(f"module.{name}", base, size, "rwx", bytes(data))
        mod = SyntheticModule(name, base, size, ModArch(toc, tramp_stub if tramp else None, stubs),
                              sites, symbols)
        for sym, addr in symbols.items():
            self.kallsyms.add(sym, addr, FUNC_SIZE)
        self.modules.append(mod)
        self._next_module = base + size + 0x1000
        for fn in list(self.module_notifiers):
            fn("load", mod)
        return mod

    def unload_module(self, name: str) -> None:
        """Tell the notifiers, then unmap the module."""
        mod = next((m for m in self.modules if m.name == name), None)
        if mod is None:
            raise SyntheticError(f"no module {name!r} is loaded")
        for fn in list(self.module_notifiers):
            fn("unload", mod)
        self.modules.remove(mod)
        self.memory.unmap(f"module.{name}")


def synthetic_machine(n: int, arch: str = "ppc64") -> SyntheticMachine:
    """A machine whose kernel has `n` traced functions (sites not yet converted)."""
    return SyntheticMachine(n, arch)
