"""The processor: registers, a decode cache of compiled closures, and the run loop."""

from __future__ import annotations

from typing import Callable, Iterable

from ppcftrace.cpu.compile import compile_word
from ppcftrace.cpu.errors import CpuError, CpuMemoryFault, InstructionLimit
from ppcftrace.cpu.hostcalls import host_closure
from ppcftrace.cpu.state import Registers
from ppcftrace.memory import AddressSpace, MemoryFault

#: where `call()` returns to: the top of the address space, never mapped here
RETURN_ADDRESS = {"ppc64": 0xFFFF_FFFF_FFFF_FEE0, "ppc32": 0xFFFF_FEE0}
#: the stack `call()` maps when none was given: [top - size, top)
DEFAULT_STACK_TOP = 0x8000_0000
DEFAULT_STACK_SIZE = 0x10000
#: the MSR at reset: kernel mode, translation on, interrupts enabled (SF on ppc64)
MSR_KERNEL = {"ppc64": 0x8000_0000_0000_9032, "ppc32": 0x9032}
#: bytes `call()` leaves above r1 for the callee to save LR in its caller's frame
CALLER_FRAME = {"ppc64": 112, "ppc32": 16}


class CPU:
    """A big-endian PowerPC processor running code from an `AddressSpace`.

    `arch` is "ppc64" (64-bit mode) or "ppc32" (a 32-bit processor). Instructions are
    compiled once per address into closures; writes to memory drop the closures of the
    words they touch, unless `icache_enabled`, when the old closure keeps running until
    `flush_icache_range()` covers it, as a real instruction cache does.
    """

    def __init__(self, memory: AddressSpace, arch: str = "ppc64", *,
                 stack_top: int | None = None, max_instructions: int = 5_000_000,
                 journal_stores: bool = False):
        if arch not in RETURN_ADDRESS:
            raise CpuError(f"unknown arch {arch!r} (ppc64 or ppc32)")
        self.arch = arch
        self.is64 = arch == "ppc64"
        self.bits = 64 if self.is64 else 32
        self.mask = (1 << self.bits) - 1
        self.memory = memory
        self.state = Registers()
        self.state.msr = MSR_KERNEL[arch]
        self.gpr = self.state.gpr
        self.pc = 0
        self.stack_top = stack_top
        self.max_instructions = max_instructions
        #: instructions executed since creation
        self.instructions = 0
        self.breakpoints: set[int] = set()
        self.icache_line = 128
        self._icache_enabled = False
        self._code: dict[int, Callable] = {}
        self._host: dict[int, Callable] = {}
        self.readers = {1: memory.read_u8, 2: memory.read_u16, 4: memory.read_u32, 8: memory.read_u64}
        #: journal the program's own stores in `memory.journal` (tagged "cpu")?
        self.journal_stores = journal_stores
        self.writers = {n: self._make_writer(n) for n in (1, 2, 4, 8)}
        self.cr0 = self._make_cr0()
        memory.add_write_observer(self._on_write)

    def _make_writer(self, size: int):
        write, m = self.memory.write, (1 << (8 * size)) - 1

        def store(address: int, value: int) -> None:
            write(address, (value & m).to_bytes(size, "big"), "cpu", journal=self.journal_stores)
        return store

    def _make_cr0(self):
        st, top = self.state, self.bits - 1

        def cr0(r: int) -> None:
            c = 2 if r == 0 else 8 if r >> top else 4
            st.cr = (st.cr & 0x0FFFFFFF) | ((c | st.so) << 28)
        return cr0

    # -- registers ----------------------------------------------------------------

    lr = property(lambda self: self.state.lr, lambda self, v: setattr(self.state, "lr", v & self.mask))
    msr = property(lambda self: self.state.msr, lambda self, v: setattr(self.state, "msr", v & self.mask))
    ctr = property(lambda self: self.state.ctr, lambda self, v: setattr(self.state, "ctr", v & self.mask))
    cr = property(lambda self: self.state.cr, lambda self, v: setattr(self.state, "cr", v & 0xFFFFFFFF))
    xer = property(lambda self: self.state.xer, lambda self, v: setattr(self.state, "xer", v & 0xFFFFFFFF))

    def set_gpr(self, n: int, value: int) -> None:
        self.gpr[n] = value & self.mask

    @property
    def regs(self) -> dict[str, int]:
        """A snapshot: r0..r31, pc, lr, ctr, cr, xer, msr."""
        out = {f"r{i}": v for i, v in enumerate(self.gpr)}
        out.update(pc=self.pc, lr=self.state.lr, ctr=self.state.ctr, cr=self.state.cr, xer=self.state.xer,
                   msr=self.state.msr)
        return out

    def stack(self, count: int = 16) -> list[tuple[int, int]]:
        """(address, value) of the register-sized words from r1 up, as far as mapped."""
        size = self.bits // 8
        out = []
        for i in range(count):
            addr = (self.gpr[1] + i * size) & self.mask
            try:
                out.append((addr, self.readers[size](addr)))
            except MemoryFault:
                break
        return out

    # -- the decode cache and the instruction cache -------------------------------

    @property
    def icache_enabled(self) -> bool:
        return self._icache_enabled

    @icache_enabled.setter
    def icache_enabled(self, on: bool) -> None:
        if self._icache_enabled and not on:
            self._code.clear()             # without the model, memory is what runs
        self._icache_enabled = bool(on)

    def flush_icache_range(self, start: int, end: int) -> None:
        """Forget the compiled instructions in [start, end), as flush_icache_range() does."""
        code = self._code
        start &= ~3
        if (end - start) // 4 > len(code):
            for pc in [pc for pc in code if start <= pc < end]:
                del code[pc]
        else:
            for pc in range(start, end, 4):
                code.pop(pc, None)

    def _on_write(self, address: int, size: int) -> None:
        if not self._icache_enabled and self._code:
            if size <= 8:                  # a store: at most two words to forget
                self._code.pop(address & ~3, None)
                self._code.pop((address + size - 1) & ~3, None)
            else:
                self.flush_icache_range(address, address + size)

    def _translate(self, pc: int) -> Callable:
        fn = self._host.get(pc)
        if fn is None:
            try:
                word = self.memory.fetch(pc)
            except MemoryFault as e:
                raise CpuMemoryFault(e.address, "x", pc, 4, e.reason) from None
            fn = compile_word(self, word, pc)
        self._code[pc] = fn
        return fn

    # -- host calls -----------------------------------------------------------------

    def add_host_call(self, address: int, fn: Callable) -> None:
        """Run `fn(cpu)` in Python when the PC reaches `address`, then return to LR."""
        self._host[address] = host_closure(self, fn)
        self._code.pop(address, None)

    def remove_host_call(self, address: int) -> None:
        self._host.pop(address, None)
        self._code.pop(address, None)

    # -- running --------------------------------------------------------------------

    def step(self) -> int:
        """Execute one instruction (breakpoints ignored); return the new PC."""
        self._run(frozenset(), 1, strict=False)
        return self.pc

    def run(self, until: int | Iterable[int] | None = None, max_instructions: int | None = None) -> str:
        """Run until the PC reaches `until`, a breakpoint or the `call()` return address.

        The instruction at the starting PC always executes (so a run continues from a
        breakpoint). Returns "until", "breakpoint" or "return"; raises `InstructionLimit`
        after `max_instructions` without a stop.
        """
        targets = set() if until is None else {until} if isinstance(until, int) else set(until)
        targets = {t & self.mask for t in targets}
        stops = frozenset(targets | self.breakpoints | {RETURN_ADDRESS[self.arch]})
        self._run(stops, self.max_instructions if max_instructions is None else max_instructions)
        if self.pc in targets:
            return "until"
        if self.pc in self.breakpoints:
            return "breakpoint"
        return "return"

    def step_out(self, max_instructions: int | None = None) -> str:
        """Run until the current function returns: PC = LR at entry with the same r1.

        Call it at the function's entry, before the prologue saves LR.
        """
        ret, sp = self.state.lr & ~3, self.gpr[1]
        while True:
            reason = self.run(until=ret, max_instructions=max_instructions)
            if reason != "until" or self.gpr[1] == sp:
                return reason

    def _run(self, stops: frozenset, limit: int, strict: bool = True) -> None:
        code = self._code
        translate = self._translate
        pc = self.pc
        n = 0
        try:
            if limit > 0:                  # the first instruction runs even at a stop
                fn = code.get(pc) or translate(pc)
                pc = fn(pc)
                n = 1
            while n < limit:
                if pc in stops:
                    break
                fn = code.get(pc)
                if fn is None:
                    fn = translate(pc)
                pc = fn(pc)
                n += 1
            else:
                if strict and pc not in stops:
                    raise InstructionLimit(limit, pc)
        except MemoryFault as e:
            raise CpuMemoryFault(e.address, e.access, pc, e.size, e.reason) from None
        finally:
            self.pc = pc
            self.instructions += n

    # -- calling functions ----------------------------------------------------------

    def _stack_pointer(self) -> int:
        top = self.stack_top
        if top is None:
            if self.memory.region_at(DEFAULT_STACK_TOP - 1) is None:
                self.memory.map("stack", DEFAULT_STACK_TOP - DEFAULT_STACK_SIZE, DEFAULT_STACK_SIZE, "rw")
            top = DEFAULT_STACK_TOP
        return (top - CALLER_FRAME[self.arch] - 16) & ~15 & self.mask

    def call(self, address: int, *args: int, toc: int | None = None,
             max_instructions: int | None = None) -> int | None:
        """Call the function at `address` with `args` in r3..r10; return r3.

        Sets r1 to a fresh stack frame, r2 to `toc` when given, and LR to a return
        address that stops the run. Returns None if a breakpoint stopped it first
        (`run()` continues).
        """
        if len(args) > 8:
            raise CpuError(f"call() takes at most 8 register arguments (r3..r10), not {len(args)}")
        sp = self._stack_pointer()
        # a null back chain ends the stack
        self.memory.write(sp, bytes(self.bits // 8), "cpu", journal=self.journal_stores)
        g = self.gpr
        g[1] = sp
        if toc is not None:
            g[2] = toc & self.mask
        for i, a in enumerate(args):
            g[3 + i] = a & self.mask
        self.state.lr = RETURN_ADDRESS[self.arch]
        self.pc = address & self.mask
        if self.run(max_instructions=max_instructions) != "return":
            return None
        return g[3]

    def call_descriptor(self, descriptor: int, *args: int, max_instructions: int | None = None) -> int | None:
        """Call through a ppc64 ELFv1 function descriptor (entry, TOC, environment)."""
        entry = self.memory.read_u64(descriptor)
        toc = self.memory.read_u64(descriptor + 8)
        return self.call(entry, *args, toc=toc, max_instructions=max_instructions)
