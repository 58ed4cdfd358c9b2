"""A hypothesis state machine over dynamic ftrace: filters, tracers, modules, faults.

Whatever the sequence, on both arches and both PPC64 policies:
- no byte outside the call sites (and the `bl` at ftrace_call) ever changes;
- every site is in one of its legal states (kernel: `bl _mcount`, `nop`,
  `bl ftrace_caller`; PPC64 module: `bl <stub>`/`b .+8`/`bl <tramp>` + `ld r2,40(r1)`;
  PPC32 module: `bl <plt>`/`nop`/`bl <tramp>`);
- a live record's ENABLED flag says whether its site calls the tracer;
- an operation that fails on a site leaves that site as it was.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ppcftrace.ftrace import FtraceDisabled
from ppcftrace.ftrace.records import FTRACE_FL_ENABLED, FTRACE_FL_FAILED
from ppcftrace.isa import find_bl_target, is_bl_op
from ppcftrace.kernel import start_kernel

NOP, B8, LD = 0x60000000, 0x48000008, 0xE8410028
PATTERNS = ["func_1", ".func_1", "*func_1", ".func_*", "*_2", "*func*", "!*func_1", "!.func_*",
            "*mod*", ".m0_func_0", "*", ""]


class FtraceMachine(RuleBasedStateMachine):
    arch = "ppc64"
    policy = "b+8"

    def __init__(self):
        super().__init__()
        self.m = start_kernel(self.arch, synthetic=6, cpu=False, policy=self.policy)
        self.f = self.m.ftrace
        self.mem = self.m.memory
        self.caller = self.m.layout["ftrace_caller"]
        self.mcount = self.m.layout["_mcount"]
        self.ftrace_call = self.m.kallsyms.address("ftrace_call")
        self.copies = {r.name: bytes(r.data) for r in self.mem.regions}
        self.allowed = {self.ftrace_call} | set(self.m.mcount_sites)
        self.loaded = 0

    # -- helpers -----------------------------------------------------------------------

    def attempt(self, fn, *args):
        try:
            fn(*args)
        except FtraceDisabled:
            assert self.f.ftrace_disabled

    def region_of_module(self, mod):
        return self.mem.region_at(mod.base)

    # -- rules ---------------------------------------------------------------------------

    @rule(pattern=st.sampled_from(PATTERNS), append=st.booleans())
    def set_filter(self, pattern, append):
        self.attempt(self.f.set_ftrace_filter, pattern, append)

    @rule(pattern=st.sampled_from(PATTERNS), append=st.booleans())
    def set_notrace(self, pattern, append):
        self.attempt(self.f.set_ftrace_notrace, pattern, append)

    @rule(tracer=st.sampled_from(["function", "nop"]))
    def set_tracer(self, tracer):
        self.f.current_tracer = tracer

    @precondition(lambda self: len(self.m.modules) < 3)
    @rule(n=st.integers(1, 3), tramp=st.booleans())
    def load(self, n, tramp):
        mod = self.m.add_module(f"m{self.loaded}", n, tramp=tramp)
        self.loaded += 1
        region = self.region_of_module(mod)
        # sites may change from here on; everything else must stay as loaded
        self.allowed |= set(mod.mcount_sites)
        if self.policy == "two-nops":  # the first posting rewrote the TOC restore too
            self.allowed |= {ip + 4 for ip in mod.mcount_sites}
        self.copies[region.name] = bytes(region.data)

    @precondition(lambda self: self.m.modules)
    @rule(i=st.integers(0, 2))
    def unload(self, i):
        mod = self.m.modules[i % len(self.m.modules)]
        name = self.region_of_module(mod).name
        self.m.unload_module(mod.name)
        self.copies.pop(name, None)

    @rule(target_module=st.booleans(), perms=st.sampled_from(["x", "rx"]),
          tracer=st.sampled_from(["function", "nop"]), data=st.data())
    def fault(self, target_module, perms, tracer, data):
        """Make text unreadable or read-only, change the tracer, restore."""
        if target_module and self.m.modules:
            region = self.region_of_module(data.draw(st.sampled_from(self.m.modules)))
        else:
            region = self.mem.region("vmlinux .text")
        before = bytes(region.data)
        old = region.perms
        self.mem.protect(region.name, perms)
        try:
            self.f.current_tracer = tracer
        finally:
            self.mem.protect(region.name, old)
        assert bytes(region.data) == before  # a failed write changes nothing

    @rule(data=st.data())
    def corrupt_then_toggle(self, data):
        """A module site holding an unexpected word: the failing site is left as it was."""
        if not self.m.modules:
            return
        mod = data.draw(st.sampled_from(self.m.modules))
        ip = data.draw(st.sampled_from(mod.mcount_sites))
        saved = self.mem.read_u32(ip)
        self.mem.write_u32(ip, 0x7C0802A6)
        self.f.current_tracer = "nop" if self.f.current_tracer == "function" else "function"
        assert self.mem.read_u32(ip) == 0x7C0802A6
        self.mem.write_u32(ip, saved)

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def bytes_outside_sites_unchanged(self):
        for region in self.mem.regions:
            ref = self.copies.get(region.name)
            if ref is None:
                continue
            now = bytes(region.data)
            if now == ref:
                continue
            for off in (i for i in range(0, len(ref), 4) if ref[i:i + 4] != now[i:i + 4]):
                assert region.start + off in self.allowed, hex(region.start + off)

    @invariant()
    def sites_legal(self):
        arch = self.arch
        for ip in self.m.mcount_sites:
            w = self.mem.read_u32(ip)
            assert w == NOP or (is_bl_op(w) and find_bl_target(ip, w, arch) in (self.mcount, self.caller))
        for mod in self.m.modules:
            mstub, tramp = (s.address for s in mod.arch.stubs)
            for ip in mod.mcount_sites:
                w0, w1 = self.mem.read_u32(ip), self.mem.read_u32(ip + 4)
                calls = is_bl_op(w0) and find_bl_target(ip, w0, arch) in (mstub, tramp)
                if arch == "ppc64":
                    assert w1 == LD and (calls or w0 == B8), (hex(w0), hex(w1))
                else:
                    assert calls or w0 == NOP

    @invariant()
    def flags_match_sites(self):
        if self.f.ftrace_disabled:
            return  # a killed ftrace keeps stale records (ftrace_release returns early), as 2.6.29
        for rec in self.f.records:
            if rec.flags & FTRACE_FL_FAILED:
                continue
            w = self.mem.read_u32(rec.ip)
            enabled = bool(rec.flags & FTRACE_FL_ENABLED)
            target = find_bl_target(rec.ip, w, self.arch) if is_bl_op(w) else None
            tramp = rec.mod.arch.tramp if rec.mod is not None else self.caller
            assert enabled == (target == tramp and target is not None), rec


SETTINGS = settings(max_examples=60, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class Ppc32Machine(FtraceMachine):
    arch = "ppc32"


class TwoNopsMachine(FtraceMachine):
    policy = "two-nops"

    @invariant()
    def sites_legal(self):
        for mod in self.m.modules:
            mstub, tramp = (s.address for s in mod.arch.stubs)
            for ip in mod.mcount_sites:
                w0, w1 = self.mem.read_u32(ip), self.mem.read_u32(ip + 4)
                calls = is_bl_op(w0) and find_bl_target(ip, w0) in (mstub, tramp) and w1 == LD
                assert calls or (w0, w1) == (NOP, NOP), (hex(w0), hex(w1))


TestPpc64 = FtraceMachine.TestCase
TestPpc64.settings = SETTINGS
TestPpc32 = Ppc32Machine.TestCase
TestPpc32.settings = SETTINGS
TestTwoNops = TwoNopsMachine.TestCase
TestTwoNops.settings = settings(SETTINGS, max_examples=10)
