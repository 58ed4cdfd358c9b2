"""ELFv2 `-mprofile-kernel` ftrace (ppcftrace.ftrace.arch_elfv2): the one-word patch
against GNU as, a traced module function run on the interpreter against what
readelf/objdump say about the object, and the kernel's checks.
"""

from __future__ import annotations

import errno
import re
import subprocess

import pytest

from conftest import need, need_toolchain
from ppcftrace.elfv2.machine import DATA, call, fixture_path, start_kernel
from ppcftrace.ftrace import ArchContext, DynFtrace, FtraceError
from ppcftrace.ftrace import arch_elfv2
from ppcftrace.toolchain import gnu_assemble


def gnu(tool: str, *args: str) -> str:
    need("powerpc64-linux-gnu-" + tool)
    return subprocess.run(["powerpc64-linux-gnu-" + tool, *args], check=True,
                          capture_output=True, text=True).stdout


def readelf_symbols(path) -> dict[str, tuple[int, int]]:
    """name -> (value, local entry offset) of FUNC/NOTYPE symbols (readelf -sW)."""
    out = {}
    for line in gnu("readelf", "-sW", str(path)).splitlines():
        m = re.match(r"\s*\d+: ([0-9a-f]+)\s+\d+ (?:FUNC|NOTYPE)\s+\w+\s+\w+\s+"
                     r"(?:\[<localentry>: (\d+)\]\s+)?\S+ (\S+)$", line)
        if m:
            out[m.group(3)] = (int(m.group(1), 16), int(m.group(2) or 0))
    return out


def word_at(machine, ip: int) -> int:
    return machine.memory.read_u32(ip)


def gnu_branch(ip: int, target: int, link: bool = True) -> int:
    return int.from_bytes(gnu_assemble(f"{'bl' if link else 'b'} .{target - ip:+#x}", "ppc64"), "big")


@pytest.fixture
def machine():
    return start_kernel([fixture_path("hmod.o")])


@pytest.mark.toolchain
def test_boot_and_load_leave_one_nop_per_site(machine):
    need_toolchain("ppc64")
    nop = int.from_bytes(gnu_assemble("nop", "ppc64"), "big")
    mflr = int.from_bytes(gnu_assemble("mflr 0", "ppc64"), "big")
    sites = [ip for ip in machine.mcount_sites if ip] + machine.modules[0].mcount_sites
    assert len(machine.ftrace.records) == len(sites)
    for ip in sites:
        assert word_at(machine, ip) == nop and word_at(machine, ip - 4) == mflr


@pytest.mark.toolchain
def test_enabled_sites_are_one_bl_as_gnu_as_encodes_it(machine):
    need_toolchain("ppc64")
    kernel = readelf_symbols(DATA / "vmlinux")
    caller = kernel["ftrace_caller"][0]
    machine.ftrace.current_tracer = "function"
    mod = machine.modules[0]
    for ip in machine.mcount_sites:
        assert word_at(machine, ip) == gnu_branch(ip, caller)
    for ip in mod.mcount_sites:
        word = word_at(machine, ip)
        offset = ((word & 0x03FFFFFC) ^ 0x02000000) - 0x02000000
        stub = ip + offset
        assert word == gnu_branch(ip, stub)
        assert machine.memory.read(stub + 28, 4) == b"stub"
        assert machine.memory.read_u64(stub + 32) == caller
    # ftrace_call now calls function_trace_call's local entry point
    fn, local = kernel["function_trace_call"]
    assert local == 8
    ftrace_call = kernel["ftrace_call"][0]
    assert word_at(machine, ftrace_call) == gnu_branch(ftrace_call, fn + local)
    # and everything goes back
    machine.ftrace.current_tracer = "nop"
    for ip in machine.mcount_sites + mod.mcount_sites:
        if ip:
            assert word_at(machine, ip) == 0x60000000


@pytest.mark.toolchain
def test_traced_module_function_runs_and_reports_its_site(machine):
    """init_module -> hmod_hello -> count_vowels, hmod_compare; hmod_parse by a tail
    call. Each trace line's ip must be the module's `bl _mcount` relocation offset
    (readelf -r) plus where .text was loaded; each parent the return address after
    the calling `bl` (objdump -dr)."""
    mod = machine.modules[0]
    text = mod.sections[".text"][0]
    relocs = gnu("readelf", "-rW", str(DATA / "hmod.o"))
    mcount_offsets = [int(m.group(1), 16) for m in
                      re.finditer(r"^([0-9a-f]+)\s+\S+\s+R_PPC64_REL24\s+\S+\s+_mcount \+ 0$", relocs, re.M)]
    funcs = readelf_symbols(DATA / "hmod.o")

    def site_of(name):
        start = funcs[name][0]
        return text + min(o for o in mcount_offsets if o >= start)

    dis = gnu("objdump", "-dr", str(DATA / "hmod.o"))

    def return_after_call(caller, callee):
        body = dis.split(f"<{caller}>:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        for i, line in enumerate(body):
            linked = re.search(rf"\sbl\s+[0-9a-f]+ <{callee}(\+0x8)?>", line)   # static callee
            if linked or i + 1 < len(body) and re.search(rf"R_PPC64_REL24\s+{callee}\b", body[i + 1]):
                return text + int(line.split(":")[0], 16) + 4
        raise AssertionError(f"no call to {callee} in {caller}")

    f = machine.ftrace
    f.set_ftrace_filter("hmod_hello count_vowels hmod_compare hmod_parse")
    f.current_tracer = "function"
    assert call(machine, "init_module") == 0
    got = [(e.ip, e.parent_ip) for e in f.buffer.entries]
    assert got == [
        (site_of("hmod_hello"), return_after_call("init_module", "hmod_hello")),
        (site_of("count_vowels"), return_after_call("hmod_hello", "count_vowels")),
        (site_of("hmod_compare"), return_after_call("hmod_hello", "hmod_compare")),
        (site_of("hmod_parse"), return_after_call("init_module", "hmod_hello")),
    ]
    assert machine.log[-2:] == ["hmod: hello, world (5 chars, 1 vowels)",
                                "hmod: strcmp(world, world) = 0"]
    # disabled again: the same call leaves no trace
    f.current_tracer = "nop"
    f.buffer.entries.clear()
    assert call(machine, "init_module") == 0
    assert f.buffer.entries == []


def test_traced_kernel_function_keeps_r2_and_arguments(machine):
    f = machine.ftrace
    f.set_ftrace_filter("simple_strtoul strlen")
    f.current_tracer = "function"
    s = machine.memory.region("kernel stack").start + 0x100
    machine.memory.write(s, b"0x2a\0")
    assert call(machine, "simple_strtoul", s, 0, 0) == 42
    assert machine.cpu.gpr[2] == machine.toc
    assert [f.symbol_name(e.ip).split("+")[0] for e in f.buffer.entries] == ["simple_strtoul"]


def _module_rec(machine):
    mod = machine.modules[0]
    return mod, DynFtrace(mod.mcount_sites[1], mod=mod)


def test_make_call_refuses_a_stub_without_magic(machine):
    mod, rec = _module_rec(machine)
    ctx = machine.ftrace.ctx
    machine.memory.write(mod.arch.tramp + 28, b"STUB")
    before = machine.memory.snapshot()
    with pytest.raises(FtraceError) as err:
        arch_elfv2.ftrace_make_call(ctx, rec, machine.kallsyms.address("ftrace_caller"))
    assert err.value.errno == errno.EFAULT and "Failed to get trampoline target" in str(err.value)
    assert machine.memory.diff(before) == []


def test_make_nop_checks_the_word_before_the_site(machine):
    mod, rec = _module_rec(machine)
    ctx = machine.ftrace.ctx
    caller = machine.kallsyms.address("ftrace_caller")
    arch_elfv2.ftrace_make_call(ctx, rec, caller)
    machine.memory.write_u32(rec.ip - 4, 0x60000000)
    before = machine.memory.snapshot()
    with pytest.raises(FtraceError) as err:
        arch_elfv2.ftrace_make_nop(ctx, mod, rec, caller)
    assert err.value.errno == errno.EINVAL
    assert "Unexpected instruction 60000000 around bl _mcount" in str(err.value)
    assert machine.memory.diff(before) == []


def test_make_nop_wants_the_target_it_was_given(machine):
    mod, rec = _module_rec(machine)
    ctx = machine.ftrace.ctx
    arch_elfv2.ftrace_make_call(ctx, rec, machine.kallsyms.address("ftrace_caller"))
    with pytest.raises(FtraceError) as err:
        arch_elfv2.ftrace_make_nop(ctx, mod, rec, machine.kallsyms.address("_mcount"))
    assert err.value.errno == errno.EINVAL and "does not match expected" in str(err.value)


def test_kernel_site_must_hold_the_expected_call(machine):
    ip = machine.mcount_sites[0]
    ctx = ArchContext(machine.memory, "ppc64")
    with pytest.raises(FtraceError) as err:   # it is a nop already
        arch_elfv2.ftrace_make_nop(ctx, None, DynFtrace(ip), machine.kallsyms.address("_mcount"))
    assert err.value.errno == errno.EINVAL
    assert word_at(machine, ip) == 0x60000000
