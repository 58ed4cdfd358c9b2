"""PatchBench's logic: the failing check is the one the kernel's code refused at, with
its errno; nothing is written on failure; undo restores memory byte for byte."""

from __future__ import annotations

import errno

import pytest

from ppcftrace.ftrace.records import FTRACE_FL_ENABLED
from ppcftrace.kernel import start_kernel
from ppcftrace.lab.bench import CHECKS, Bench, BenchError, errno_name
from ppcftrace.machine import fixture_path


@pytest.fixture
def m64():
    return start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False)


def _site(m, name):
    return next(r.ip for r in m.ftrace.records if m.ftrace.rec_name(r) == name)


def _failed(outcome):
    fails = [c for c in outcome.checks if c.status == "fail"]
    assert len(fails) == 1, outcome.checks
    return fails[0]


def test_success_passes_every_check_and_writes_the_words(m64):
    b = Bench(m64)
    ip = _site(m64, ".hmod_hello")
    out = b.make_call(ip)
    assert out.ok and all(c.status in ("pass", "info") for c in out.checks)
    assert [c.name for c in out.checks[1:]] == [c.name for c in CHECKS[("ppc64", "call")]]
    assert out.changed == {ip, ip + 4}
    assert m64.ftrace.record(ip).flags & FTRACE_FL_ENABLED
    assert out.after[2:4] != out.before[2:4] and out.after[3] == 0xE8410028
    kernel_ip = _site(m64, ".schedule")
    out = b.make_call(kernel_ip)
    assert out.ok and "in reach" in out.checks[0].name and out.changed == {kernel_ip}


def test_corrupt_funcaddr_fails_the_funcaddr_check_with_einval(m64):
    b = Bench(m64)
    ip = _site(m64, ".hmod_hello")
    b.make_call(ip)
    b.corrupt_funcaddr(m64.modules[0].arch.tramp, 0xC0DE)
    before = m64.memory.snapshot()
    out = b.make_nop(ip)
    check = _failed(out)
    assert check.name == "funcaddr is the entry of addr"
    assert check.errno == out.errno == errno.EINVAL and "addr does not match c0de" in check.message
    assert [c.status for c in out.checks].count("pass") == 6  # module .. funcaddr read
    assert m64.memory.diff(before) == [] and out.after == out.before
    assert "addr does not match c0de" in out.printk


def test_read_only_text_fails_the_write_with_eperm(m64):
    b = Bench(m64)
    ip = _site(m64, ".schedule")
    b.protect("vmlinux .text", "rx")
    out = b.make_call(ip)
    check = _failed(out)
    assert check.name.startswith("probe_kernel_write") and check.errno == errno.EPERM
    assert out.checks[-1].status == "not reached"
    b.undo()                                      # the protection goes away
    assert b.make_call(ip).ok


@pytest.mark.parametrize("word, check, err", [
    (0x60000000, "the site is a bl (is_bl_op)", errno.EINVAL),          # not a bl
    (0x48000001, "its words are a module stub (addis, addi, std r2, ld r11, ld r2)", errno.EINVAL),
])
def test_module_site_checks(m64, word, check, err):
    """Site words rewritten behind ftrace's back: the check that refuses them."""
    b = Bench(m64)
    ip = _site(m64, ".hmod_hello")
    b.make_call(ip)
    m64.memory.write_u32(ip, word)
    out = b.make_nop(ip)
    assert _failed(out).name == check and out.errno == err


def test_unreadable_stub_fails_with_efault(m64):
    b = Bench(m64)
    ip = _site(m64, ".hmod_hello")
    b.make_call(ip)
    # a bl to an unmapped address, in reach of the site
    m64.memory.write_u32(ip, 0x48000001 | (-0x10000 & 0x03FFFFFC))
    out = b.make_nop(ip)
    assert _failed(out).name == "the stub the bl goes to is readable" and out.errno == errno.EFAULT


def test_wrong_addr_and_nop_expected(m64):
    b = Bench(m64)
    ip = _site(m64, ".schedule")
    out = b.make_nop(ip, "ftrace_caller")          # the site is a nop already
    assert _failed(out).name == "the site holds bl addr (the old word)" and errno_name(out.errno) == "-EINVAL (22)"
    b.make_call(ip)
    out = b.make_call(ip)
    assert _failed(out).name == "the site holds a nop (the old word)"
    mod_ip = _site(m64, ".hmod_parse")
    b.make_call(mod_ip)
    out = b.make_call(mod_ip)
    assert _failed(out).name == "the words are {b .+8, ld r2,40(r1)} or {nop, nop}"


def test_undo_restores_memory_records_and_ftrace_state(m64):
    b = Bench(m64)
    snap = m64.memory.snapshot()
    flags = [(r.ip, r.flags, r.mod) for r in m64.ftrace.records]
    out = b.set_filter(".hmod_* .schedule")
    assert out.ok and m64.ftrace.current_tracer == "function"
    assert len([c for c in out.checks if "ftrace_make_call" in c.name]) == 4  # 3 hmod_*, schedule
    b.toggle_tracing(".schedule")
    assert ".schedule" not in m64.ftrace.enabled_functions()
    b.make_nop(_site(m64, ".hmod_hello"))
    b.undo(), b.undo(), b.undo()
    assert m64.memory.diff(snap) == []
    assert [(r.ip, r.flags, r.mod) for r in m64.ftrace.records] == flags
    assert m64.ftrace.current_tracer == "nop" and not m64.ftrace.filter_functions()
    with pytest.raises(BenchError, match="nothing to undo"):
        b.undo()


def test_ppc32_plt_checks():
    m = start_kernel("ppc32", modules=[fixture_path("hmod.o", "ppc32")], cpu=False)
    b = Bench(m)
    ip = _site(m, "hmod_hello")
    assert b.make_call(ip).ok and b.make_nop(ip).ok
    b.make_call(ip)
    tramp = m.modules[0].arch.tramp
    m.memory.write_u32(tramp + 4, m.memory.read_u32(tramp + 4) ^ 0x10)   # the target's low half
    out = b.make_nop(ip, "ftrace_caller")
    assert _failed(out).name == "the PLT entry's target is addr" and out.errno == errno.EINVAL


def test_bad_requests():
    m = start_kernel("ppc64", cpu=False)
    b = Bench(m)
    with pytest.raises(BenchError):
        b.make_nop(0x1234)
    with pytest.raises(BenchError):
        b.make_nop(m.ftrace.records[0].ip, "printk")
    with pytest.raises(BenchError):
        Bench(start_kernel("ppc64", ftrace=False, cpu=False))
