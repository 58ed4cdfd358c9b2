"""probe_kernel_read/write over the address space, and the icache flush hook."""

from __future__ import annotations

import errno

import pytest

from ppcftrace.maccess import ProbeFault, flush_icache_range, icache_flush_listeners, probe_kernel_read, probe_kernel_write
from ppcftrace.memory import AddressSpace


@pytest.fixture
def mem():
    m = AddressSpace(64)
    m.map("text", 0x1000, 0x100, "rwx", bytes(range(16)))
    return m


def test_read_and_write(mem):
    assert probe_kernel_read(mem, 0x1004, 4) == bytes([4, 5, 6, 7])
    probe_kernel_write(mem, 0x1004, b"\x60\0\0\0", tag="t")
    assert mem.read_u32(0x1004) == 0x60000000 and mem.journal[-1].tag == "t"


@pytest.mark.parametrize("addr,size,perms", [(0x2000, 4, "rwx"), (0x10FE, 4, "rwx"), (0x1000, 4, "x")])
def test_read_faults(mem, addr, size, perms):
    mem.protect("text", perms)
    with pytest.raises(ProbeFault) as info:
        probe_kernel_read(mem, addr, size)
    assert info.value.errno == errno.EFAULT and info.value.fault.address == addr


def test_write_fault_writes_nothing(mem):
    mem.protect("text", "rx")
    snap = mem.snapshot()
    with pytest.raises(ProbeFault):
        probe_kernel_write(mem, 0x1000, b"\0\0\0\0")
    assert mem.diff(snap) == [] and mem.journal == []


def test_flush_listeners(mem):
    flush_icache_range(mem, 0, 8)  # no listeners: nothing happens
    seen = []
    icache_flush_listeners(mem).append(lambda s, e: seen.append((s, e)))
    flush_icache_range(mem, 0x1000, 0x1008)
    assert seen == [(0x1000, 0x1008)] and icache_flush_listeners(mem) is mem.icache_flush_listeners
