"""The address space: regions, faults, permissions, journal, snapshots."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppcftrace.errors import PpcftraceError
from ppcftrace.memory import AddressSpace, Change, MapError, MemoryFault

KERNELBASE = 0xC000000000000000


def space() -> AddressSpace:
    mem = AddressSpace()
    mem.map("text", KERNELBASE, 0x1000, "rx", data=b"\x60\x00\x00\x00" * 4)
    mem.map("data", KERNELBASE + 0x1000, 0x1000, "rw")
    mem.map("modules", 0xD000000000000000, 0x100, "rwx")
    return mem


def test_big_endian_words_at_kernelbase():
    mem = space()
    assert mem.fetch(KERNELBASE) == 0x60000000
    mem.write_u64(KERNELBASE + 0x1008, 0x0123456789ABCDEF)
    assert mem.read(KERNELBASE + 0x1008, 8) == struct.pack(">Q", 0x0123456789ABCDEF)
    assert mem.read_u32(KERNELBASE + 0x100C) == 0x89ABCDEF
    assert mem.read_u16(KERNELBASE + 0x1008) == 0x0123
    assert mem.read_u8(KERNELBASE + 0x100F) == 0xEF
    mem.write_u16(KERNELBASE + 0x1000, 0x1_BEEF)  # truncated to 16 bits
    assert mem.read_u16(KERNELBASE + 0x1000) == 0xBEEF


def test_region_lookup():
    mem = space()
    assert mem.region_at(KERNELBASE + 0xFFF).name == "text"
    assert mem.region_at(KERNELBASE + 0x1000).name == "data"
    assert mem.region_at(KERNELBASE - 1) is None
    assert mem.region_at(0xD000000000000100) is None
    assert [r.name for r in mem.regions] == ["text", "data", "modules"]


@pytest.mark.parametrize("start,size", [
    (KERNELBASE + 0xFF0, 0x20), (KERNELBASE - 0x10, 0x11), (KERNELBASE + 0x10, 4), (KERNELBASE - 0x100, 0x10000),
])
def test_overlapping_map_rejected(start, size):
    mem = space()
    before = mem.regions
    with pytest.raises(MapError) as e:
        mem.map("x", start, size)
    assert "overlaps" in str(e.value) and isinstance(e.value, PpcftraceError)
    assert mem.regions == before


def test_bad_maps():
    mem = space()
    for args in [("text", 0, 4), ("z", 0, 0), ("z", 0, 4, "rwz"), ("z", 0, 2, "rw", b"abc"), ("z", 2**64 - 2, 4)]:
        with pytest.raises(MapError):
            mem.map(*args)
    with pytest.raises(MapError):
        AddressSpace(32).map("hi", 0xFFFFFFF0, 0x20)


@pytest.mark.parametrize("access,address,size,reason", [
    ("r", KERNELBASE - 4, 4, "unmapped"),
    ("w", KERNELBASE, 4, "text is rx"),
    ("x", KERNELBASE + 0x1000, 4, "data is rw"),
    ("w", KERNELBASE + 0x1FFE, 4, "crosses the end of data"),
    ("r", 0xD0000000000000FE, 4, "crosses the end of modules"),
])
def test_faults(access, address, size, reason):
    mem = space()
    snap = mem.snapshot()
    with pytest.raises(MemoryFault) as e:
        if access == "r":
            mem.read(address, size)
        elif access == "w":
            mem.write(address, b"\xAA" * size)
        else:
            mem.fetch(address)
    err = e.value
    assert (err.address, err.size, err.access) == (address, size, access)
    assert reason in str(err) and "\n" not in str(err)
    assert mem.diff(snap) == [] and mem.journal == []


def test_straddling_adjacent_regions_faults():
    # text and data are adjacent but an access must stay inside one region
    mem = space()
    with pytest.raises(MemoryFault):
        mem.read(KERNELBASE + 0xFFE, 4)


def test_protect_injects_faults():
    mem = space()
    mem.write_u32(0xD000000000000000, 1)
    mem.protect("modules", "r")
    with pytest.raises(MemoryFault):
        mem.write_u32(0xD000000000000000, 2)
    assert mem.read_u32(0xD000000000000000) == 1
    mem.protect("modules", "")
    with pytest.raises(MemoryFault):
        mem.read_u32(0xD000000000000000)
    with pytest.raises(MapError):
        mem.protect("nope", "r")
    mem.unmap("modules")
    with pytest.raises(MemoryFault) as e:
        mem.read_u32(0xD000000000000000)
    assert e.value.reason == "unmapped"


def test_ppc32_addresses_wrap():
    mem = AddressSpace(bits=32)
    mem.map("low", 0, 0x100, "rw")
    mem.write_u32(0x1_0000_0010, 0xDEADBEEF)
    assert mem.read_u32(0x10) == 0xDEADBEEF
    assert mem.journal[-1].address == 0x10


def test_observers_and_journal_tags():
    mem = space()
    seen = []
    mem.add_write_observer(lambda a, n: seen.append((a, n)))
    mem.write(KERNELBASE + 0x1004, b"\x01\x02", tag="ftrace")
    with pytest.raises(MemoryFault):
        mem.write(KERNELBASE, b"\x00")
    assert seen == [(KERNELBASE + 0x1004, 2)]
    assert mem.journal[-1] == (KERNELBASE + 0x1004, b"\0\0", b"\x01\x02", "ftrace")
    with mem.unjournaled():
        mem.write(KERNELBASE + 0x1010, b"x" * 16)
    assert len(mem.journal) == 1 and seen[-1] == (KERNELBASE + 0x1010, 16)
    mem.undo(0)
    assert seen[-1] == (KERNELBASE + 0x1004, 2)


writes = st.lists(
    st.tuples(st.integers(0, 0x1FF), st.binary(min_size=1, max_size=16)), max_size=30
)


@settings(max_examples=150, deadline=None)
@given(before=writes, after=writes)
def test_undo_restores_bytes_exactly(before, after):
    mem = AddressSpace(bits=64)
    base = 0xC000000000001000
    mem.map("data", base, 0x210, "rw")
    for off, data in before:
        mem.write(base + off, data)
    expected = bytes(mem.region("data").data)
    snap = mem.snapshot()
    m = mem.mark()
    model = bytearray(expected)
    for off, data in after:
        mem.write(base + off, data, tag="t")
        model[off : off + len(data)] = data
    assert bytes(mem.region("data").data) == bytes(model)
    # diff runs describe exactly the changed bytes
    changes = mem.diff(snap)
    rebuilt = bytearray(expected)
    for c in changes:
        assert c.old != c.new and len(c.old) == len(c.new)
        rebuilt[c.address - base : c.address - base + len(c.new)] = c.new
    assert bytes(rebuilt) == bytes(model)
    changed = {i for i in range(len(model)) if model[i] != expected[i]}
    covered = {c.address - base + k for c in changes for k in range(len(c.new))}
    assert changed == covered
    mem.undo(m)
    assert bytes(mem.region("data").data) == expected
    assert len(mem.journal) == len(before) and mem.diff(snap) == []


def test_undo_refuses_when_region_gone():
    mem = space()
    m = mem.mark()
    mem.write_u32(0xD000000000000000, 7)
    mem.write_u32(KERNELBASE + 0x1000, 7)
    mem.unmap("modules")
    with pytest.raises(MemoryFault):
        mem.undo(m)
    assert mem.read_u32(KERNELBASE + 0x1000) == 7 and len(mem.journal) == 2
    with pytest.raises(MapError):
        mem.undo(5)


def test_diff_reports_mapped_and_unmapped_regions():
    mem = space()
    snap = mem.snapshot()
    mem.unmap("modules")
    mem.map("new", 0x1000, 4, "r", b"abcd")
    assert mem.diff(snap) == [
        Change(0x1000, b"", b"abcd", "new"),
        Change(0xD000000000000000, bytes(0x100), b"", "modules"),
    ]


def test_read_cstring():
    mem = space()
    mem.write(KERNELBASE + 0x1100, b"hello\0world")
    assert mem.read_cstring(KERNELBASE + 0x1100) == b"hello"
    assert mem.read_cstring(KERNELBASE + 0x1106, limit=3) == b"wor"
