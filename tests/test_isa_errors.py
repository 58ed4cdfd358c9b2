"""Bad input raises a specific `IsaError` with a one-line message."""

from __future__ import annotations

import pytest

from ppcftrace.errors import PpcftraceError
from ppcftrace.isa import (BranchOutOfRange, DecodeError, ImmediateOutOfRange, IsaError,
                           MisalignedOffset, OperandError, UnknownMnemonic, assemble,
                           assemble_lines, decode, encode)

CASES = [
    ("frob r3, r4", UnknownMnemonic),
    ("addo r3, r4, r5", UnknownMnemonic),     # OE forms are outside the subset
    ("andi r3, r4, 1", UnknownMnemonic),      # only andi. exists
    ("ori. r3, r4, 1", UnknownMnemonic),      # no record form
    ("bdnzctr", UnknownMnemonic),
    ("bdnzlra", UnknownMnemonic),
    ("beqlra", UnknownMnemonic),
    ("addi r32, r3, 1", OperandError),
    ("addi r3, x3, 1", OperandError),
    ("addi r3, r4", OperandError),
    ("addi r3, r4, 1, 2", OperandError),
    ("mr r3", OperandError),
    ("ld r3, r1", OperandError),
    ("beq cr8, .+8", OperandError),
    ("mfspr r3, 268", OperandError),          # SPR outside the subset
    ("bc 21, 0, .+8", OperandError),          # reserved BO
    ("bcctr 16, 0", OperandError),            # bcctr may not decrement CTR
    ("li r3, 0x8000", ImmediateOutOfRange),
    ("li r3, -0x8001", ImmediateOutOfRange),
    ("ori r3, r3, -1", ImmediateOutOfRange),
    ("ori r3, r3, 0x10000", ImmediateOutOfRange),
    ("lwz r3, 0x8000(r1)", ImmediateOutOfRange),
    ("ld r3, 0x8000(r1)", ImmediateOutOfRange),
    ("slwi r3, r4, 32", ImmediateOutOfRange),
    ("sldi r3, r4, 64", ImmediateOutOfRange),
    ("rlwinm r3, r4, 1, 2, 32", ImmediateOutOfRange),
    ("ld r3, 2(r1)", MisalignedOffset),
    ("std r3, -6(r1)", MisalignedOffset),
    ("b .+2", MisalignedOffset),
    ("beq 0x1001", MisalignedOffset),
    ("b .+0x2000000", BranchOutOfRange),
    ("bl .-0x2000004", BranchOutOfRange),
    ("bdnz .+0x8000", BranchOutOfRange),
    ("ba 0x2000000", BranchOutOfRange),
]


@pytest.mark.parametrize("text, exc", CASES)
def test_bad_input_raises_specific_error(text, exc):
    with pytest.raises(exc) as info:
        assemble(text, 0x1000)
    assert isinstance(info.value, IsaError) and isinstance(info.value, PpcftraceError)
    message = str(info.value)
    assert message and "\n" not in message


def test_branch_out_of_range_carries_offset():
    with pytest.raises(BranchOutOfRange) as info:
        assemble("bl 0xc000000004000000", 0xC000000000000000)
    assert info.value.offset == 0x4000000


@pytest.mark.parametrize("text", ["ld r3, 8(r1)", "std r3, 8(r1)", "ldu r3, 8(r1)", "lwa r3, 8(r1)",
                                  "stdu r1, -112(r1)", "mulld r3, r4, r5", "sld r3, r4, r5",
                                  "srd r3, r4, r5", "srad r3, r4, r5", "extsw r3, r4",
                                  "rldicl r3, r4, 1, 2", "rldicr r3, r4, 1, 2", "sldi r3, r4, 3",
                                  "cmpd r3, r4", "cmpdi r3, 5", "cmpld r3, r4", "cmpldi r3, 5",
                                  "cmp 0, 1, r3, r4"])
def test_64_bit_instructions_rejected_on_ppc32(text):
    assemble(text, 0, "ppc64")
    with pytest.raises(UnknownMnemonic, match="64-bit"):
        assemble(text, 0, "ppc32")


def test_encode_checks_fields():
    with pytest.raises(OperandError):
        encode("addi", RT=3, RA=1)            # SI missing
    with pytest.raises(OperandError):
        encode("addi", RT=3, RA=1, SI=1, XX=2)
    with pytest.raises(OperandError):
        encode("addi", RT=32, RA=1, SI=1)
    with pytest.raises(ImmediateOutOfRange):
        encode("addi", RT=3, RA=1, SI=0x8000)
    with pytest.raises(UnknownMnemonic):
        encode("li", RT=3, SI=1)              # encode takes base instructions only


@pytest.mark.parametrize("word", [0x00000000, 0xFFFFFFFF, 0x7C642C50,  # subfo: OE outside
                                  0x4E800820,  # blr with BH=1
                                  0x7C7A02A6,  # mfspr of SPR 26
                                  0x38600005 | (1 << 32), -1])
def test_decode_rejects_words_outside_the_subset(word):
    with pytest.raises(DecodeError):
        decode(word)


def test_lines_and_semicolons():
    words = assemble_lines("mflr r0; std r0,16(r1)\n# comment\nbl .+8 ; nop", 0x100)
    assert words == [0x7C0802A6, 0xF8010010, 0x48000009, 0x60000000]
    with pytest.raises(OperandError):
        assemble("   ")
