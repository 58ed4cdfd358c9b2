"""The fixture kernels run: on real emulators, untraced and with every site calling
ftrace_caller, which must hand function_trace_call the site and the parent's return
address and leave the traced code undisturbed.

PPC32: the committed vmlinux in Unicorn. PPC64 (Unicorn cannot run 64-bit code): the
same sources relinked as a static program with a small C harness, under qemu-ppc64.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import need, need_toolchain
from ppcftrace.machine import Machine

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOP = 0x60000000
#: what start_kernel prints (the literals of fixtures/kernel/main.c)
BOOT_LOG = ["Linux version 2.6.28-ppcftrace (fixture kernel)\n",
            "Kernel command line: console=hvc0 ftrace=function\n",
            "Freeing unused kernel memory: 0k freed\n"]


def bl(ip: int, target: int) -> int:
    """I-form `bl target` at ip (Power ISA: opcode 18, LI, AA=0, LK=1)."""
    return 0x48000001 | ((target - ip) & 0x03FFFFFC)


def is_call(word: int) -> bool:
    """`bl target` or `bctrl` (an indirect call through a function pointer)."""
    return (word & 0xFC000003) == 0x48000001 or word == 0x4E800421


def render(fmt: str, args: list[int], read_string) -> str:
    """printk's formatting for the conversions the fixtures use."""
    it = iter(args)

    def conv(m):
        value = next(it)
        if m.group(1) == "s":
            return read_string(value)
        value &= (1 << 64) - 1 if "l" in m.group(0) else (1 << 32) - 1
        bits = 64 if "l" in m.group(0) else 32
        if value >> (bits - 1):
            value -= 1 << bits
        return str(value) if m.group(1) == "d" else str(value & ((1 << bits) - 1))

    return re.sub(r"%l?([sdu])", conv, fmt)


def check_trace(records, sites, symbolize, is_call_return):
    """Every record names a site; every parent in the image follows a `bl`; idle
    brackets power_save with stop/start_critical_timings."""
    assert records
    names = []
    for ip, parent in records:
        assert ip in sites, hex(ip)
        if parent is not None:
            assert is_call_return(parent), hex(parent)
        names.append(symbolize(ip).split("+")[0].lstrip("."))
    expected = ["start_kernel", "printk", "sched_init", "printk", "rest_init",
                "kernel_thread", "sched_add_task", "schedule", "pick_next_task",
                "kernel_init", "printk", "cpu_idle", "stop_critical_timings",
                "start_critical_timings", "schedule"]
    it = iter(names)
    assert all(name in it for name in expected), names   # in this order
    idle = names[names.index("stop_critical_timings"):names.index("start_critical_timings")]
    assert any(n.endswith("_idle") for n in idle), names


# -- PPC32 under Unicorn ------------------------------------------------------------------

def run_ppc32(m: Machine, patch):
    import unicorn  # requirements-test.txt: missing means broken, not skipped
    from unicorn import ppc_const as P

    uc = unicorn.Uc(unicorn.UC_ARCH_PPC, unicorn.UC_MODE_PPC32 | unicorn.UC_MODE_BIG_ENDIAN)
    pages = sorted({p for r in m.memory.regions
                    for p in range(r.start & ~0xFFF, r.end, 0x1000)})
    for page in pages:
        uc.mem_map(page, 0x1000)
    for r in m.memory.regions:
        uc.mem_write(r.start, bytes(r.data))
    for addr, word in patch:
        uc.mem_write(addr, word.to_bytes(4, "big"))

    def read_string(addr):
        return bytes(uc.mem_read(addr, 256)).split(b"\0")[0].decode()

    reg = [getattr(P, f"UC_PPC_REG_{i}") for i in range(11)]
    log, trace = [], []
    hooks = {m.entry("__host_printk"): lambda: log.append(render(
                 read_string(uc.reg_read(reg[3])), [uc.reg_read(reg[i]) for i in range(4, 11)],
                 read_string)),
             m.entry("__host_trace"): lambda: trace.append(
                 (uc.reg_read(reg[3]), uc.reg_read(reg[4])))}
    for addr, fn in hooks.items():
        uc.hook_add(unicorn.UC_HOOK_CODE, lambda *_a, fn=fn: fn(), begin=addr, end=addr)
    done = m.stack.start            # return address: emulation stops before running it
    sp = m.stack_top - 16
    uc.mem_write(sp, bytes(16))
    uc.reg_write(reg[1], sp)
    uc.reg_write(P.UC_PPC_REG_LR, done)
    uc.emu_start(m.entry("start_kernel"), done, count=200_000)
    assert uc.reg_read(reg[1]) == sp
    return log, trace, uc


def test_ppc32_kernel_boots_untraced_and_with_sites_as_nops():
    m = Machine.boot("ppc32")
    log, trace, _ = run_ppc32(m, [])
    assert log == BOOT_LOG and trace == []
    log, trace, _ = run_ppc32(m, [(s, NOP) for s in m.mcount_sites])
    assert log == BOOT_LOG and trace == []


def test_ppc32_ftrace_caller_reports_site_and_parent():
    m = Machine.boot("ppc32")
    caller, call = m.entry("ftrace_caller"), m.entry("ftrace_call")
    patch = [(s, bl(s, caller)) for s in m.mcount_sites]
    patch.append((call, bl(call, m.entry("function_trace_call"))))
    log, trace, uc = run_ppc32(m, patch)
    assert log == BOOT_LOG

    def is_call_return(parent):
        return is_call(int.from_bytes(bytes(uc.mem_read(parent - 4, 4)), "big"))

    records = [(ip, parent if m.kallsyms.lookup(parent) else None) for ip, parent in trace]
    check_trace(records, set(m.mcount_sites), m.kallsyms.symbolize, is_call_return)


# -- PPC64 under qemu-ppc64 -----------------------------------------------------------------

def load_build_script():
    import importlib.util
    spec = importlib.util.spec_from_file_location("fixtures_build", FIXTURES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_user_kernel(tmp) -> str:
    """The ppc64 fixture kernel and fixtures/qemu/harness64.c, linked at 0x10000000."""
    from ppcftrace import recordmcount
    from ppcftrace.toolchain import run, tool

    build = load_build_script()
    objs = [build.compile_object("ppc64", build.ENTRY_S["ppc64"], str(tmp / "entry.o"))]
    for c in build.KERNEL_C:
        objs.append(build.compile_object("ppc64", f"kernel/{c}", str(tmp / (c[:-2] + ".o"))))
    for obj in objs:
        recordmcount.record_object(obj, arch="ppc64")
    # the harness's host hooks replace the kernel's `blr` ones
    run([tool("ppc64", "objcopy"), *[a for s in ("__host_printk", ".__host_printk",
         "__host_trace", ".__host_trace") for a in ("--weaken-symbol", s)], objs[0]])
    objs.append(build.compile_object("ppc64", "qemu/harness64.c", str(tmp / "harness.o")))
    lds = (FIXTURES / build.LDS["ppc64"]).read_text()
    assert "KERNELBASE = 0xc000000000000000;" in lds and "ENTRY(start_kernel)" in lds
    (tmp / "user.lds").write_text(lds.replace("KERNELBASE = 0xc000000000000000;",
                                              "KERNELBASE = 0x10000000;")
                                  .replace("ENTRY(start_kernel)", "ENTRY(_start)"))
    prog = str(tmp / "kernel")
    run([tool("ppc64", "ld"), *build.LDFLAGS, *build.ARCH_LDFLAGS["ppc64"],
         "-T", str(tmp / "user.lds"), "-o", prog, *objs])
    return prog


@pytest.mark.toolchain
@pytest.mark.qemu
def test_ppc64_ftrace_caller_reports_site_and_parent(tmp_path):
    need_toolchain("ppc64")
    need("powerpc64-linux-gnu-gcc", "powerpc64-linux-gnu-ld", "powerpc64-linux-gnu-nm",
         "qemu-ppc64")
    prog = build_user_kernel(tmp_path)
    out = subprocess.run(["qemu-ppc64", prog], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    sites = {int(x[2:], 16) for x in lines if x.startswith("S ")}
    log = [x[2:].replace("|", "\n") for x in lines if x.startswith("P ")]
    trace = [tuple(int(v, 16) for v in x[2:].split()) for x in lines if x.startswith("T ")]
    assert log == BOOT_LOG
    nm = subprocess.run(["powerpc64-linux-gnu-nm", "--synthetic", prog], check=True,
                        capture_output=True, text=True).stdout
    code = sorted((int(a, 16), n) for a, t, n in (x.split() for x in nm.splitlines())
                  if t in "Tt" and n.startswith("."))
    text = {int(a, 16) for a, t, n in (x.split() for x in nm.splitlines()) if n == "_etext"}

    def symbolize(addr):
        return max((a, n) for a, n in code if a <= addr)[1]

    data = Path(prog).read_bytes()
    text_off = 0x1000        # the one segment's file offset (max-page-size=0x1000)

    def is_call_return(parent):
        i = parent - 4 - 0x10000000 + text_off
        return is_call(int.from_bytes(data[i:i + 4], "big"))

    records = [(ip, parent if 0x10000000 <= parent < min(text) else None)
               for ip, parent in trace]
    check_trace(records, sites, symbolize, is_call_return)
