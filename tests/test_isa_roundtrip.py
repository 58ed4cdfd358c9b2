"""Property tests: encode → decode → text → assemble agree; branch reach is exact."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from ppcftrace.isa import (FORMS, OPS, BranchOutOfRange, MisalignedOffset, assemble, decode,
                           encode)
import pytest

VALID_BO = [0, 2, 4, 6, 7, 8, 10, 12, 14, 15, 16, 18, 24, 25, 26, 27]  # canonical ones
ADDRESSES = st.integers(0, (1 << 62) - 1).map(lambda a: a & ~3)


@st.composite
def op_and_fields(draw):
    op = draw(st.sampled_from(sorted(OPS)))
    spec, form = OPS[op], FORMS[OPS[op].form]
    fields = {}
    for name in spec.field_names:
        field = form.field(name)
        fields[name] = draw(st.integers(field.min, field.max))
    if "BO" in fields:
        fields["BO"] = draw(st.sampled_from([b for b in VALID_BO if op != "bcctr" or b & 4] + [20]))
        if fields["BO"] & 0x10 and fields["BO"] != 20:
            fields["BI"] = 0  # ignored by the CPU, not shown by the text
    if "SPR" in fields:
        fields["SPR"] = draw(st.sampled_from([1, 8, 9]))
    return op, fields


@settings(max_examples=600, deadline=None)
@given(op_and_fields(), ADDRESSES)
def test_encode_decode_assemble_round_trip(case, address):
    op, fields = case
    word = encode(op, **fields)
    insn = decode(word, address)
    assert insn.op == op
    assert dict(insn.fields) == fields
    assert assemble(insn.text, address) == word
    assert decode(word, address).text == insn.text


@given(st.integers(-0x2000000, 0x1FFFFFC).map(lambda o: o & ~3), ADDRESSES)
def test_every_reachable_branch_assembles(offset, address):
    target = (address + offset) & ((1 << 64) - 1)
    word = assemble(f"bl {target:#x}", address)
    assert decode(word, address).target == target


@given(st.one_of(st.integers(-(1 << 40), -0x2000004), st.integers(0x2000000, 1 << 40))
       .map(lambda o: o & ~3), ADDRESSES)
def test_no_branch_beyond_reach(offset, address):
    with pytest.raises(BranchOutOfRange) as info:
        assemble(f"b {(address + offset) & ((1 << 64) - 1):#x}", address)
    assert info.value.offset == offset


@given(st.integers(-0x2000000, 0x1FFFFFC).filter(lambda o: o & 3), ADDRESSES)
def test_misaligned_branch_rejected(offset, address):
    with pytest.raises(MisalignedOffset):
        assemble(f"b {address + offset:#x}", address)


def test_branch_range_edges():
    assert assemble("b .-0x2000000") == 0x4A000000
    assert assemble("b .+0x1fffffc") == 0x49FFFFFC
    for off in (-0x2000004, 0x2000000):
        with pytest.raises(BranchOutOfRange):
            assemble(f"b .{off:+#x}".replace("+-", "-"))
    assert assemble("beq .-0x8000") == 0x41828000
    with pytest.raises(BranchOutOfRange) as info:
        assemble("beq .+0x8000")
    assert info.value.offset == 0x8000


def test_ppc32_branches_wrap_at_4_gib():
    assert assemble("b 0x10", 0xFFFFFFF0, "ppc32") == 0x48000020
    assert decode(0x48000020, 0xFFFFFFF0, "ppc32").target == 0x10
    assert decode(0x4BFFFFFC, 0, "ppc32").text == "b 0xfffffffc"
    assert decode(0x4BFFFFFC, 0, "ppc64").text == "b 0xfffffffffffffffc"
