"""Boot conversion on the fixture kernels, checked against GNU as and the C compiler.

Every site must hold what GNU as assembles for `nop` after ftrace_init() (PPC64
module sites: `b .+8; ld r2,40(r1)`), and `bl` to ftrace_caller (or to the module's
trampoline, which leads there) after the function tracer is enabled. The "allocating"
line must use the sizes the cross compilers give for the 2.6.29 structures.
"""

from __future__ import annotations

import struct

import pytest

from conftest import need, need_toolchain
from ppcftrace.ftrace.records import entries_per_page, ftrace_pages, sizeof_dyn_ftrace, sizeof_ftrace_page
from ppcftrace.isa import find_bl_target
from ppcftrace.kernel import start_kernel
from ppcftrace.machine import fixture_path

ARCHES = ("ppc64", "ppc32")


def gnu_words(lines: list[str], arch: str) -> list[int]:
    from ppcftrace.toolchain import gnu_assemble
    data = gnu_assemble("\n".join(lines), arch)
    return list(struct.unpack(f">{len(data) // 4}I", data))


@pytest.fixture(scope="module", params=ARCHES)
def booted(request):
    arch = request.param
    m = start_kernel(arch, modules=[str(fixture_path("hmod.o", arch)), str(fixture_path("racemod.o", arch))],
                     cpu=False)
    return m


def sites(m):
    kernel = [ip for ip in m.mcount_sites if ip]
    mods = [(ip, mod) for mod in m.modules for ip in mod.mcount_sites]
    return kernel, mods


def test_every_site_is_a_nop_after_boot(booted):
    m = booted
    need_toolchain(m.arch)
    nop, b8, ld = gnu_words(["nop", "b .+8", "ld 2,40(1)"] if m.arch == "ppc64" else ["nop", "b .+8", "nop"],
                            m.arch)
    kernel, mods = sites(m)
    assert kernel and mods
    for ip in kernel:
        assert m.memory.read_u32(ip) == nop
    for ip, _ in mods:
        if m.arch == "ppc64":
            assert (m.memory.read_u32(ip), m.memory.read_u32(ip + 4)) == (b8, ld)
        else:
            assert m.memory.read_u32(ip) == nop
    assert m.ftrace.failures() == [] and not m.ftrace.ftrace_disabled


def test_enabling_calls_ftrace_caller(booted):
    m = booted
    need_toolchain(m.arch)
    f = m.ftrace
    kernel, mods = sites(m)
    caller = m.entry("ftrace_caller")
    f.current_tracer = "function"
    try:
        # GNU as encodes `bl .+off` for each site's distance to its target
        targets = [(ip, caller) for ip in kernel] + [(ip, mod.arch.tramp) for ip, mod in mods]
        expect = gnu_words([f"bl .+({t - ip})" for ip, t in targets], m.arch)
        assert [m.memory.read_u32(ip) for ip, _ in targets] == expect
        for ip, mod in mods:
            # the trampoline is the module's stub / PLT entry to ftrace_caller
            stub = next(s for s in mod.arch.stubs if s.address == mod.arch.tramp)
            assert stub.target == caller
            if m.arch == "ppc64":
                assert m.memory.read_u32(ip + 4) == gnu_words(["ld 2,40(1)"], m.arch)[0]
        # and ftrace_call now calls function_trace_call
        at = m.kallsyms.address("ftrace_call")
        assert find_bl_target(at, m.memory.read_u32(at), m.arch) == m.entry("function_trace_call")
        assert len(f.enabled_functions()) == len(kernel) + len(mods)
    finally:
        f.current_tracer = "nop"
    assert f.enabled_functions() == []
    at = m.kallsyms.address("ftrace_call")
    assert find_bl_target(at, m.memory.read_u32(at), m.arch) == m.entry("ftrace_stub")


def test_allocation_line_matches_the_compiler(tmp_path):
    """sizeof(struct dyn_ftrace) / sizeof(struct ftrace_page) of 2.6.29, from the cross gcc."""
    src = tmp_path / "sizes.c"
    src.write_text(
        "struct list_head { struct list_head *next, *prev; };\n"
        "struct module;\n"
        "struct dyn_arch_ftrace { struct module *mod; };\n"
        "struct dyn_ftrace { struct list_head list; unsigned long ip; unsigned long flags;\n"
        "                    struct dyn_arch_ftrace arch; };\n"
        "struct ftrace_page { struct ftrace_page *next; unsigned long index;\n"
        "                     struct dyn_ftrace records[]; };\n"
        "const unsigned int sizes[2] = { sizeof(struct dyn_ftrace), sizeof(struct ftrace_page) };\n")
    from ppcftrace.toolchain import PREFIX, run, tool
    for arch in ARCHES:
        need_toolchain(arch)
        need(PREFIX[arch] + "gcc")
        gcc = tool(arch, "gcc")
        obj, binf = tmp_path / f"{arch}.o", tmp_path / f"{arch}.bin"
        run([gcc, "-G0", "-c", str(src), "-o", str(obj)] if arch == "ppc32" else [gcc, "-c", str(src), "-o", str(obj)])
        run([tool(arch, "objcopy"), "-O", "binary", "-j", ".rodata", str(obj), str(binf)])
        rec, page = struct.unpack(">II", binf.read_bytes()[:8])
        assert (sizeof_dyn_ftrace(arch), sizeof_ftrace_page(arch)) == (rec, page)
        assert entries_per_page(arch) == (4096 - page) // rec


@pytest.mark.parametrize("arch", ARCHES)
def test_allocation_line(arch):
    m = start_kernel(arch, cpu=False)
    count = len(m.mcount_sites)
    assert m.log[0] == f"ftrace: allocating {count} entries in {ftrace_pages(count, arch)} pages"
    big = start_kernel(arch, synthetic=40000, cpu=False)
    per = (4096 - 2 * (8 if arch == "ppc64" else 4)) // (5 * (8 if arch == "ppc64" else 4))
    assert big.log[0] == f"ftrace: allocating 40000 entries in {40000 // per + 1} pages"


def test_zero_entries_are_skipped():
    m = start_kernel("ppc64", synthetic=3, ftrace=False, cpu=False)
    from ppcftrace.ftrace import Ftrace
    f = Ftrace(m)
    f.ftrace_init([0] + m.mcount_sites + [0])
    assert m.log[0] == "ftrace: allocating 5 entries in 1 pages"  # the count includes the padding
    assert len(f.records) == 3 and f.ftrace_update_cnt == 3


def test_no_sites_disables_ftrace():
    m = start_kernel("ppc32", synthetic=0, cpu=False)
    assert m.log == ["ftrace: No functions to be traced?"] and m.ftrace.ftrace_disabled


@pytest.mark.parametrize("arch", ARCHES)
def test_boot_command_shows_nops(arch):
    """`ppcftrace boot` runs ftrace_init: every record is a nop, in GNU as's words."""
    import json
    import subprocess
    import sys
    need_toolchain(arch)
    mods = [str(fixture_path(n, arch)) for n in ("hmod.o", "racemod.o")]
    proc = subprocess.run([sys.executable, "-m", "ppcftrace", "boot", "--arch", arch, "--module", mods[0],
                           "--module", mods[1], "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    nop, b8, ld = (f"{w:08x}" for w in gnu_words(["nop", "b .+8", "ld 2,40(1)"], "ppc64"))
    assert doc["record_count"] > 20
    for r in doc["records"]:
        assert r["state"] == "nop"
        if arch == "ppc64" and r["module"]:
            assert r["words"] == [b8, ld]
        else:
            assert r["words"][0] == nop
