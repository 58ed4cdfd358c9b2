"""FORMS: the field table in IBM bit order that encoder, decoder and figures share."""

from __future__ import annotations

from ppcftrace.isa import FORMS, OPS, Field, PPC_INST_BL, assemble, decode


def test_i_form_layout():
    names = [(f.name, f.first_bit, f.last_bit, f.signed) for f in FORMS["I"]]
    assert names == [("OPCD", 0, 5, False), ("LI", 6, 29, True), ("AA", 30, 30, False),
                     ("LK", 31, 31, False)]
    li = FORMS["I"].field("LI")
    assert (li.width, li.shift, li.mask) == (24, 2, 0x03FFFFFC)  # the kernel's mask
    assert FORMS["I"].field("OPCD").extract(PPC_INST_BL) == 18


def test_canonical_fields_do_not_overlap():
    for name, form in FORMS.items():
        seen = 0
        for f in form:
            assert not seen & f.mask, (name, f.name)
            seen |= f.mask
        if name in ("I", "B", "D", "DS", "X", "XO", "M", "MD"):
            assert seen == 0xFFFFFFFF, name


def test_field_extract_insert_inverse():
    si = Field("SI", 16, 31, True)
    for v in (-0x8000, -1, 0, 1, 0x7FFF):
        assert si.extract(si.insert(0xDEAD0000, v)) == v
        assert si.insert(0xDEAD0000, v) >> 16 == 0xDEAD


def test_split_fields_hold_architected_values():
    # mflr r0: SPR 8 is stored with its halves swapped (0x100 in bits 11-20)
    assert decode(0x7C0802A6).fields["SPR"] == 8
    # sldi r3,r3,40 = rldicr r3,r3,40,23: sh and me are split fields
    insn = decode(assemble("sldi r3, r3, 40"))
    assert (insn.fields["sh"], insn.fields["me"]) == (40, 23)


def test_every_op_names_fields_of_its_form():
    for op in OPS.values():
        for name in op.field_names:
            assert name in FORMS[op.form].by_name, (op.name, name)
        # an operand field over the opcode or XO bits would re-encode as another op
        assert not op.fixed_mask & op.operand_mask, op.name
