"""The kernel helpers (code-patching.c, ftrace.c, module_64.c) against decode/GNU rules."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ppcftrace.isa import (BRANCH_ABSOLUTE, BRANCH_SET_LINK, PPC_HA, PPC_HI, PPC_LO,
                           BranchOutOfRange, assemble, create_branch, decode, find_bl_target,
                           is_bl_op, is_offset_in_branch_range)

ADDR64 = st.integers(0, (1 << 64) - 1).map(lambda a: a & ~3)
ADDR32 = st.integers(0, (1 << 32) - 1).map(lambda a: a & ~3)


def test_branch_range_edges_exact():
    assert is_offset_in_branch_range(-0x2000000)
    assert is_offset_in_branch_range(0x1FFFFFC)
    assert not is_offset_in_branch_range(-0x2000004)
    assert not is_offset_in_branch_range(0x2000000)
    assert not is_offset_in_branch_range(2)


@given(ADDR64, st.integers(-0x2000000, 0x1FFFFFC).map(lambda o: o & ~3),
       st.sampled_from([0, BRANCH_SET_LINK]))
def test_create_branch_agrees_with_assembler_and_decoder(ip, offset, flags):
    target = (ip + offset) % (1 << 64)
    word = create_branch(ip, target, flags)
    assert word == assemble(f"{'bl' if flags else 'b'} {target:#x}", ip)
    assert decode(word, ip).target == target
    assert is_bl_op(word) == bool(flags)
    if flags:
        assert find_bl_target(ip, word) == target


@given(ADDR32, st.integers(-0x2000000, 0x1FFFFFC).map(lambda o: o & ~3))
def test_ppc32_addresses_wrap_at_32_bits(ip, offset):
    target = (ip + offset) % (1 << 32)
    word = create_branch(ip, target, BRANCH_SET_LINK, arch="ppc32")
    assert find_bl_target(ip, word, arch="ppc32") == target
    assert decode(word, ip, "ppc32").target == target


@given(ADDR64, st.one_of(st.integers(-(1 << 40), -0x2000001), st.integers(0x1FFFFFD, 1 << 40)))
def test_create_branch_raises_with_offset(ip, offset):
    with pytest.raises(BranchOutOfRange) as info:
        create_branch(ip, (ip + offset) % (1 << 64))
    assert info.value.offset == offset


def test_create_branch_misaligned_and_absolute():
    with pytest.raises(BranchOutOfRange):
        create_branch(0x1000, 0x1002)
    assert create_branch(0x1000, 0x100, BRANCH_ABSOLUTE) == assemble("ba 0x100")
    assert create_branch(0x1000, 0x100, BRANCH_ABSOLUTE | BRANCH_SET_LINK) == assemble("bla 0x100")


def test_is_bl_op():
    assert is_bl_op(0x48000001) and is_bl_op(0x4BFFF001)
    assert not is_bl_op(0x48000000)   # b
    assert not is_bl_op(0x48000003)   # bla
    assert not is_bl_op(0x60000000)


@given(st.integers(0, (1 << 64) - 1))
def test_ha_lo_rebuild_the_value(v):
    lo = PPC_LO(v) - 0x10000 if PPC_LO(v) & 0x8000 else PPC_LO(v)  # addi sign-extends
    assert ((PPC_HA(v) << 16) + lo) % (1 << 32) == v % (1 << 32)
    assert PPC_HI(v) == (v >> 16) & 0xFFFF


def test_ha_lo_example_from_module_64():
    assert (PPC_HA(0xC001FFFC), PPC_LO(0xC001FFFC)) == (0xC002, 0xFFFC)
