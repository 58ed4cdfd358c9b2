"""Out-of-line ftrace stubs (ppcftrace.ool): the 16-byte stubs against GNU as, and
a function traced through one on the interpreter, then untraced again."""

from __future__ import annotations

import errno
import re
import subprocess

import pytest

from conftest import need, need_toolchain
from ppcftrace.elfv2.machine import DATA, call
from ppcftrace.ftrace import DynFtrace, FtraceError
from ppcftrace.ool import OOL_STUB_SIZE, ool_stub_words, start_kernel_ool
from ppcftrace.toolchain import gnu_assemble


def words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]


@pytest.fixture
def machine():
    return start_kernel_ool()


def site_of(machine, name: str) -> int:
    return next(r.ip for r in machine.ftrace.records
                if machine.ftrace.symbol_name(r.ip).split("+")[0] == name)


@pytest.mark.toolchain
def test_every_stub_is_what_gnu_as_assembles(machine):
    need_toolchain("ppc64")
    caller = machine.kallsyms.address("ftrace_caller_ool")
    area = machine.ool.area
    assert len(area.stubs) == len(machine.ftrace.records) == area.count
    for ip, stub in area.stubs.items():
        # the same four instructions, assembled by GNU as at the stub's address
        src = f"mflr 0\nbl .{caller - (stub + 4):+#x}\nmtlr 0\nb .{ip + 4 - (stub + 12):+#x}\n"
        assert words(machine.memory.read(stub, OOL_STUB_SIZE)) == words(gnu_assemble(src, "ppc64"))
    # one stub each, packed
    assert sorted(area.stubs.values()) == [area.base + OOL_STUB_SIZE * i for i in range(area.count)]


@pytest.mark.toolchain
def test_enabling_writes_one_branch_to_the_stub(machine):
    need_toolchain("ppc64")
    ip = site_of(machine, "sys_getpid")
    stub = machine.ool.area.stub_for(ip)
    assert machine.memory.read(ip, 4) == gnu_assemble("nop", "ppc64")
    machine.ftrace.set_ftrace_filter("sys_getpid")
    machine.ftrace.current_tracer = "function"
    assert machine.memory.read(ip, 4) == gnu_assemble(f"b .{stub - ip:+#x}", "ppc64")
    untouched = [r.ip for r in machine.ftrace.records if r.ip != ip]
    assert all(machine.memory.read_u32(i) == 0x60000000 for i in untouched)
    machine.ftrace.current_tracer = "nop"
    assert machine.memory.read(ip, 4) == gnu_assemble("nop", "ppc64")


def test_traced_through_the_stub_the_site_is_reported(machine):
    """schedule() calls pick_next_task(): traced out of line, the entry's ip is the
    site in pick_next_task and its parent the return address in schedule."""
    f = machine.ftrace
    f.set_ftrace_filter("pick_next_task")
    f.current_tracer = "function"
    call(machine, "sched_init")
    call(machine, "schedule")
    (entry,) = f.buffer.entries
    assert entry.ip == site_of(machine, "pick_next_task")
    name, _ = machine.kallsyms.lookup(entry.parent_ip)
    assert name == "schedule"
    # the parent is the word after a `bl` to pick_next_task
    bl = machine.memory.read_u32(entry.parent_ip - 4)
    assert bl & 0xFC000003 == 0x48000001
    f.current_tracer = "nop"
    f.buffer.entries.clear()
    call(machine, "schedule")
    assert f.buffer.entries == []


@pytest.mark.toolchain
def test_site_addresses_match_objdump(machine):
    """The records are the `bl _mcount` addresses objdump shows in the image."""
    need("powerpc64-linux-gnu-objdump")
    dis = subprocess.run(["powerpc64-linux-gnu-objdump", "-d", str(DATA / "vmlinux")],
                         check=True, capture_output=True, text=True).stdout
    sites = {int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+):.*\sbl\s+\S+ <_mcount>$", dis, re.M)}
    assert sites == set(machine.ool.area.stubs)


def test_stub_words_function():
    words4 = ool_stub_words(0xC000000000080000, 0xC000000000000100, 0xC000000000000048)
    assert words4[0] == 0x7C0802A6 and words4[2] == 0x7C0803A6
    assert words4[1] & 0xFC000003 == 0x48000001 and words4[3] & 0xFC000003 == 0x48000000


def test_a_site_without_a_stub_is_refused(machine):
    rec = DynFtrace(machine.kallsyms.address("ftrace_stub"))
    with pytest.raises(FtraceError) as err:
        machine.ool.ftrace_make_call(machine.ftrace.ctx, rec, machine.kallsyms.address("ftrace_caller"))
    assert err.value.errno == errno.EINVAL and "no out-of-line stub" in str(err.value)
