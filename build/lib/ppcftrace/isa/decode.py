"""`decode(word)`: a 32-bit word of the subset to an `Instruction`."""

from __future__ import annotations

from types import MappingProxyType

from ppcftrace.isa.errors import DecodeError
from ppcftrace.isa.fields import FORMS, Field
from ppcftrace.isa.instruction import Instruction
from ppcftrace.isa.opcodes import OPS, SPRS, Op, bo_problem
from ppcftrace.isa.render import render

ARCH_BITS = {"ppc64": 64, "ppc32": 32}

#: the field that tells apart the ops sharing a primary opcode
_KEY: dict[int, Field] = {
    31: FORMS["X"].field("XO"),   # XO-form ops have OE = 0 in the subset, so bits 21-30 work
    19: FORMS["XL"].field("XO"),
    58: FORMS["DS"].field("XO"),
    62: FORMS["DS"].field("XO"),
    30: FORMS["MD"].field("XO"),
    17: FORMS["SC"].field("XO"),
}
_TABLE: dict[tuple[int, int | None], Op] = {(op.opcd, op.xo): op for op in OPS.values()}
_VALID_SPR = frozenset(SPRS.values())
_COMPARES = frozenset({"cmp", "cmpl", "cmpi", "cmpli"})


def arch_bits(arch: str) -> int:
    """64 or 32: the address size of `arch`."""
    try:
        return ARCH_BITS[arch]
    except KeyError:
        raise ValueError(f"unknown arch {arch!r} (ppc64 or ppc32)") from None


def branch_target(op: str, fields, address: int, bits: int) -> int | None:
    """The absolute target of `b`/`bc` at `address`, wrapped to the address size."""
    if op == "b":
        offset = fields["LI"] << 2
    elif op == "bc":
        offset = fields["BD"] << 2
    else:
        return None
    base = 0 if fields["AA"] else address
    return (base + offset) & ((1 << bits) - 1)


def _check(op: Op, word: int, f: dict, arch: str) -> None:
    def fail(why: str):
        raise DecodeError(f"{word:08x}: {why}", word=word)

    if word & ~(op.fixed_mask | op.operand_mask) & 0xFFFFFFFF:
        fail(f"{op.name} with reserved bits set")
    if arch == "ppc32" and (op.only64 or (op.name in _COMPARES and f["L"])):
        fail(f"{op.name}: 64-bit instruction, not on ppc32")
    if "BO" in f and (why := bo_problem(op.name, f["BO"])):
        fail(why)
    if "SPR" in f and f["SPR"] not in _VALID_SPR:
        fail(f"{op.name} of SPR {f['SPR']} (outside the subset)")


def decode(word: int, address: int = 0, arch: str = "ppc64") -> Instruction:
    """Decode `word` (at `address`, for branch targets) or raise `DecodeError`."""
    bits = arch_bits(arch)
    if not 0 <= word <= 0xFFFFFFFF:
        raise DecodeError(f"not a 32-bit word: {word:#x}", word=word)
    opcd = word >> 26
    key = _KEY.get(opcd)
    op = _TABLE.get((opcd, key.extract(word) if key else None))
    if op is None:
        raise DecodeError(f"{word:08x}: not in the instruction subset", word=word)
    form = FORMS[op.form]
    fields = {name: form.field(name).extract(word) for name in op.field_names}
    _check(op, word, fields, arch)
    address &= (1 << bits) - 1
    target = branch_target(op.name, fields, address, bits)
    mnemonic, operands = render(op.name, fields, target)
    return Instruction(word, op.name, op.form, MappingProxyType(fields), mnemonic, operands,
                       address, target)
