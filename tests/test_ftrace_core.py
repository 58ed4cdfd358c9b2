"""The generic core: filters, tracers, ftrace_bug and ftrace_kill, modules, the trace file.

Expectations come from the 2.6.29 source (quoted where it matters), from the fixture
kernels' symbols, and from the instruction words in memory, never from earlier runs.
"""

from __future__ import annotations

import errno
import re

import pytest

from ppcftrace.ftrace import FtraceDisabled, FtraceError
from ppcftrace.ftrace.filters import MATCH_END_ONLY, MATCH_FRONT_ONLY, MATCH_FULL, MATCH_MIDDLE_ONLY, glob_matches, parse_glob
from ppcftrace.ftrace.records import FTRACE_FL_CONVERTED, FTRACE_FL_FAILED, FTRACE_FL_FREE, flag_names
from ppcftrace.isa import PPC_INST_NOP, find_bl_target, is_bl_op
from ppcftrace.kernel import start_kernel
from ppcftrace.machine import fixture_path


def boot(arch="ppc64", modules=("hmod.o",), **options):
    return start_kernel(arch, modules=[str(fixture_path(m, arch)) for m in modules], cpu=False, **options)


def calls(m, ip) -> bool:
    return is_bl_op(m.memory.read_u32(ip))


# -- globs ----------------------------------------------------------------------------

@pytest.mark.parametrize("pattern,kind,search", [
    ("schedule", MATCH_FULL, "schedule"), ("sched*", MATCH_FRONT_ONLY, "sched"),
    ("*schedule", MATCH_END_ONLY, "schedule"), ("*sched*", MATCH_MIDDLE_ONLY, "sched"),
    ("sch*ule", MATCH_FRONT_ONLY, "sch"), ("!sched*", MATCH_FRONT_ONLY, "sched"),
])
def test_parse_glob(pattern, kind, search):
    g = parse_glob(pattern)
    assert (g.kind, g.search, g.negate) == (kind, search, pattern.startswith("!"))


def test_2629_quirks_and_later_semantics():
    # strstr() finds the first "foo"; 2.6.29 needs that one to end the name
    assert not glob_matches(parse_glob("*foo"), "foofoo")
    assert glob_matches(parse_glob("*foo"), "foofoo", semantics="2.6.30")
    # a lone '*' is MATCH_END_ONLY of "": 2.6.29 matches no non-empty name
    assert not glob_matches(parse_glob("*"), ".schedule")
    assert glob_matches(parse_glob("*"), ".schedule", semantics="2.6.30")
    # dot names: only a leading '*' or the dot reaches them, unless match_adjust
    assert not glob_matches(parse_glob("schedule"), ".schedule")
    assert not glob_matches(parse_glob("sched*"), ".schedule")
    assert glob_matches(parse_glob("*schedule"), ".schedule")
    assert glob_matches(parse_glob(".sched*"), ".schedule")
    assert glob_matches(parse_glob("schedule"), ".schedule", match_adjust=True)
    assert glob_matches(parse_glob(".schedule"), ".schedule", match_adjust=True)


# -- filters on a booted machine ---------------------------------------------------------

def enabled_sites(m) -> set[str]:
    """Names of the functions whose site calls (read from memory, not from flags)."""
    f = m.ftrace
    return {f.rec_name(r) for r in f.records if calls(m, r.ip)}


def test_dot_names_on_ppc64():
    m = boot()
    names = m.ftrace.available_filter_functions()
    assert ".schedule" in names and all(n.startswith(".") for n in names)
    kernel_names = {s.name for s in m.kallsyms.symbols}
    kernel_recs = [r for r in m.ftrace.records if r.mod is None]
    assert kernel_recs and all(m.ftrace.rec_name(r) in kernel_names for r in kernel_recs)
    module_recs = [r for r in m.ftrace.records if r.mod is not None]
    assert module_recs and all(m.ftrace.rec_name(r) in m.modules[0].symbols for r in module_recs)


def test_filter_then_enable_ppc64():
    m = boot()
    f = m.ftrace
    f.set_ftrace_filter("schedule")  # 2008: no such name (".schedule"), but filtering is on
    f.current_tracer = "function"
    assert enabled_sites(m) == set() and f.enabled_functions() == []
    f.set_ftrace_filter("*schedule .sched*")
    assert enabled_sites(m) == {".schedule", ".sched_init", ".sched_add_task"} == set(f.enabled_functions())
    f.set_ftrace_filter("!.sched_init", append=True)
    assert enabled_sites(m) == {".schedule", ".sched_add_task"}
    assert f.read("set_ftrace_filter").split() == [n for n in f.available_filter_functions()
                                                   if n in (".schedule", ".sched_add_task")]
    f.set_ftrace_filter("")  # truncate: no filter, trace everything
    assert enabled_sites(m) == set(f.available_filter_functions())
    f.current_tracer = "nop"
    assert enabled_sites(m) == set()


def test_match_adjust_option():
    m = boot(match_adjust=True)
    f = m.ftrace
    f.set_ftrace_filter("schedule hmod_*")
    f.current_tracer = "function"
    mine = {n for n in m.modules[0].symbols if n.startswith(".hmod_")} & set(f.available_filter_functions())
    assert len(mine) >= 2 and enabled_sites(m) == {".schedule"} | mine


def test_notrace_wins_over_filter():
    m = boot("ppc32")
    f = m.ftrace
    f.set_ftrace_notrace("*idle* printk")
    f.current_tracer = "function"
    assert enabled_sites(m) == set(f.available_filter_functions()) - {"cpu_idle", "ppc6xx_idle", "printk"}
    f.set_ftrace_notrace("", append=False)
    assert enabled_sites(m) == set(f.available_filter_functions())


def test_module_sites_follow_filters_ppc64():
    m = boot()
    f = m.ftrace
    mod = m.modules[0]
    f.set_ftrace_filter("*hmod*")
    f.current_tracer = "function"
    for ip in mod.mcount_sites:
        name = f.symbol_name(ip)
        words = (m.memory.read_u32(ip), m.memory.read_u32(ip + 4))
        if "hmod" in name:
            assert find_bl_target(ip, words[0]) == mod.arch.tramp and words[1] == 0xE8410028
        else:
            assert words == (0x48000008, 0xE8410028)


# -- unload -------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_unload_drops_records(arch):
    m = boot(arch)
    f = m.ftrace
    before = len(f.records)
    n = len(m.modules[0].mcount_sites)
    f.current_tracer = "function"
    m.unload_module("hmod")
    assert len(f.records) == before - n
    assert not any("hmod" in name for name in f.available_filter_functions())
    f.current_tracer = "nop"  # nothing left that points into the freed module
    assert f.failures() == [] and not f.ftrace_disabled


# -- failures ----------------------------------------------------------------------------

def test_boot_failure_reports_and_kills():
    m = start_kernel("ppc64", cpu=False, ftrace=False)
    from ppcftrace.ftrace import Ftrace
    sites = [ip for ip in m.mcount_sites if ip]
    bad = sites[len(sites) // 2]
    m.memory.write_u32(bad, PPC_INST_NOP)  # not the `bl _mcount` ftrace expects
    m.log = []
    f = Ftrace(m)
    f.ftrace_init()
    name, off = m.kallsyms.lookup(bad)
    line = m.log[1]
    assert re.fullmatch(rf"ftrace failed to modify \[<{bad:016x}>\] {re.escape(name)}\+{off:#x}/0x[0-9a-f]+", line)
    assert m.log[2] == " actual: 60:00:00:00"
    assert f.ftrace_disabled and f.ftrace_enabled is False
    # records are converted last first: the ones after the bad site are nops, the rest untouched
    for ip in sites:
        word = m.memory.read_u32(ip)
        assert (word == PPC_INST_NOP) == (ip >= bad), hex(ip)
    with pytest.raises(FtraceDisabled) as info:
        f.available_filter_functions()
    assert info.value.errno == errno.ENODEV
    f.current_tracer = "function"  # registering does nothing on a dead ftrace
    assert all(not calls(m, ip) for ip in sites if ip > bad)


@pytest.mark.parametrize("perms,line", [("x", "ftrace faulted on modifying"), ("rx", "ftrace faulted on writing")])
def test_boot_fault_messages(perms, line):
    m = start_kernel("ppc32", cpu=False, ftrace=False)
    from ppcftrace.ftrace import Ftrace
    region = m.memory.region_at(m.mcount_sites[0])
    m.memory.protect(region.name, perms)
    m.log = []
    f = Ftrace(m)
    f.ftrace_init()
    last = max(ip for ip in m.mcount_sites if ip)
    assert m.log[1].startswith(f"{line} [<{last:08x}>] ")
    assert f.ftrace_disabled


def test_runtime_module_failure_frees_record_quietly():
    """2.6.29: a failed non-core record is marked FAILED and freed, without ftrace_bug."""
    m = boot()
    f = m.ftrace
    mod = m.modules[0]
    ip = mod.mcount_sites[0]
    rec = f.record(ip)
    m.memory.write_u32(ip + 4, PPC_INST_NOP)  # b .+8 ; nop: neither legal pair
    log = len(m.log)
    f.current_tracer = "function"
    assert m.log[log:] == ["Expected NOPs but have 48000008 60000000"]  # the arch's printk only
    assert rec.flags & FTRACE_FL_FAILED and rec.flags & FTRACE_FL_FREE and f.record(ip) is None
    assert not f.ftrace_disabled
    assert m.memory.read_u32(ip) == 0x48000008  # untouched


def test_runtime_core_failure_is_an_ftrace_bug():
    m = boot("ppc32")
    f = m.ftrace
    ip = next(ip for ip in m.mcount_sites if ip)
    m.memory.write_u32(ip, 0x7C0802A6)
    f.current_tracer = "function"
    assert any(l.startswith(f"ftrace failed to modify [<{ip:08x}>]") for l in m.log)
    assert " actual: 7c:08:02:a6" in m.log
    assert f.ftrace_disabled
    assert m.memory.read_u32(ip) == 0x7C0802A6
    assert flag_names(f.record(ip).flags) == ["FAILED", "CONVERTED"]


def test_bad_tracer_name():
    m = boot("ppc32", modules=())
    with pytest.raises(FtraceError) as info:
        m.ftrace.current_tracer = "irqsoff"
    assert info.value.errno == errno.EINVAL and m.ftrace.current_tracer == "nop"


def test_files():
    m = boot("ppc32", modules=())
    f = m.ftrace
    assert f.read("available_tracers") == "function nop\n"
    f.write("current_tracer", "function\n")
    assert f.read("current_tracer") == "function\n"
    f.write("tracing_on", "0")
    assert f.read("tracing_on") == "0\n"
    f.function_trace_call(m.mcount_sites[0], 0)
    assert len(f.buffer) == 0
    f.write("tracing_on", "1")
    f.function_trace_call(m.mcount_sites[0], 0)
    assert len(f.buffer) == 1
    with pytest.raises(FtraceError):
        f.read("no_such_file")
    assert all(r.flags & FTRACE_FL_CONVERTED for r in f.records)


# -- the trace file ------------------------------------------------------------------------

LINE = re.compile(r" {0,15}\S{1,16}-\d+ +\[\d{3}\] +\d+\.\d{6}: (\S+)(?: <-(\S+))?")


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_trace_of_start_kernel(arch):
    m = start_kernel(arch)
    assert m.cpu is not None          # ppcftrace.cpu is part of the package
    f = m.ftrace
    f.set_ftrace_filter("*schedule .sched_init" if arch == "ppc64" else "schedule sched_init")
    f.current_tracer = "function"
    if arch == "ppc64":
        m.cpu.call_descriptor(m.kallsyms.address("start_kernel"))
    else:
        m.cpu.call(m.kallsyms.address("start_kernel"))
    text = f.trace()
    head, body = text.split("\n")[:4], [l for l in text.split("\n")[4:] if l]
    assert head == ["# tracer: function", "#",
                    "#           TASK-PID    CPU#    TIMESTAMP  FUNCTION",
                    "#              | |       |          |         |"]
    traced = []
    for line in body:
        hit = LINE.fullmatch(line)
        assert hit, line
        traced.append(hit.group(1))
    dot = "." if arch == "ppc64" else ""
    assert set(traced) <= {dot + n for n in ("schedule", "sched_init")}
    assert dot + "schedule" in traced and dot + "sched_init" in traced
    # every entry's ip is a site ftrace enabled, and its parent returns just after a bl
    for e in f.buffer:
        assert f.record(e.ip) is not None and calls(m, e.ip)
        if m.kallsyms.lookup(e.parent_ip):
            assert is_bl_op(m.memory.read_u32(e.parent_ip - 4))


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_tracing_a_module_changes_nothing_but_the_trace(arch):
    """Run hmod's init_module with the tracer off, then on: same result, same log; the
    trace shows module and kernel functions (module sites go through the trampoline)."""
    results = []
    for tracer in ("nop", "function"):
        m = start_kernel(arch, modules=[str(fixture_path("hmod.o", arch))])
        assert m.cpu is not None
        mod = m.modules[0]
        m.ftrace.current_tracer = tracer
        start = len(m.log)
        dot = "." if arch == "ppc64" else ""
        ret = m.cpu.call(mod.symbols[dot + "init_module"], toc=mod.arch.toc)
        results.append((ret, m.log[start:]))
        traced = {name for name, _ in m.ftrace.buffer.calls()}
    assert results[0] == results[1] and results[0][1]
    dot = "." if arch == "ppc64" else ""
    assert {dot + "init_module", dot + "hmod_hello", dot + "strlen", dot + "printk"} <= traced
    assert dot + "hmod_untraced" not in traced  # notrace: no mcount site


def test_ftrace_enabled_sysctl():
    m = boot("ppc32")
    f = m.ftrace
    f.current_tracer = "function"
    every = set(f.available_filter_functions())
    assert enabled_sites(m) == every
    f.set_ftrace_enabled(False)
    assert enabled_sites(m) == set() and f.current_tracer == "function"
    f.set_ftrace_enabled(True)
    assert enabled_sites(m) == every


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_reload_while_tracing(arch):
    """A module loaded while the tracer runs is converted to nops, then follows the next update."""
    m = boot(arch)
    f = m.ftrace
    f.current_tracer = "function"
    m.unload_module("hmod")
    mod = m.load_module(str(fixture_path("hmod.o", arch)))
    recs = [f.record(ip) for ip in mod.mcount_sites]
    assert all(r is not None and r.mod is mod for r in recs)
    assert not any(calls(m, ip) for ip in mod.mcount_sites)  # 2.6.29 converts, does not enable
    f.set_ftrace_filter("*hmod*")                             # the release re-applies the filter
    hmod = {ip for ip in mod.mcount_sites if "hmod" in f.symbol_name(ip)}
    assert hmod and {ip for ip in mod.mcount_sites if calls(m, ip)} == hmod


def test_flush_icache_range_reaches_the_cpu():
    """With the CPU's icache model on, patched sites run only after flush_icache_range()."""
    m = start_kernel("ppc32")
    assert m.cpu is not None
    cpu, f = m.cpu, m.ftrace
    cpu.icache_enabled = True
    f.set_ftrace_filter("need_resched")
    target = m.kallsyms.address("need_resched")
    cpu.call(target)                      # compiled (and cached) as a nop site
    f.current_tracer = "function"         # patched and flushed: the CPU sees the bl
    cpu.call(target)
    assert [name for name, _ in f.buffer.calls()] == ["need_resched"]
    m.icache_flush_listeners.remove(cpu.flush_icache_range)
    f.set_ftrace_filter("schedule")       # need_resched's site is a nop again, unflushed
    site = next(r.ip for r in f.records if f.rec_name(r) == "need_resched")
    assert m.memory.read_u32(site) == PPC_INST_NOP
    cpu.call(target)                      # ... but the stale `bl ftrace_caller` still runs
    assert [name for name, _ in f.buffer.calls()] == ["need_resched", "need_resched"]
