"""`encode(op, **fields)`: a base instruction and its field values to a word."""

from __future__ import annotations

from ppcftrace.isa.errors import ImmediateOutOfRange, OperandError, UnknownMnemonic
from ppcftrace.isa.fields import FORMS
from ppcftrace.isa.opcodes import OPS, Op

#: fields that name a register, a CR field or a CR bit (errors say "operand")
REGISTER_FIELDS = frozenset({"RT", "RS", "RA", "RB", "BF", "BI", "BO"})


def lookup(name: str, arch: str = "ppc64") -> Op:
    """The base op called `name`, checked against `arch`."""
    op = OPS.get(name)
    if op is None:
        raise UnknownMnemonic(f"unknown instruction: {name!r}")
    if arch == "ppc32" and op.only64:
        raise UnknownMnemonic(f"{name}: 64-bit instruction, not available on ppc32")
    return op


def encode(op: str, arch: str = "ppc64", **fields: int) -> int:
    """The word of base instruction `op` with `fields` (raw values by ISA name; flags
    `AA`, `LK`, `Rc` default to 0). Raises `OperandError`/`ImmediateOutOfRange`."""
    spec = lookup(op, arch)
    form = FORMS[spec.form]
    unknown = set(fields) - set(spec.field_names)
    if unknown:
        raise OperandError(f"{op}: no field {', '.join(sorted(unknown))}")
    word = spec.template
    for name in spec.field_names:
        if name not in fields and name not in spec.flags:
            raise OperandError(f"{op}: missing field {name}")
        value = fields.get(name, 0)
        field = form.field(name)
        if not isinstance(value, int) or not field.fits(value):
            cls = OperandError if name in REGISTER_FIELDS else ImmediateOutOfRange
            raise cls(f"{op}: {name} = {value!r} out of range {field.min}..{field.max}")
        word = field.insert(word, value)
    if arch == "ppc32" and spec.name in ("cmp", "cmpl", "cmpi", "cmpli") and fields.get("L"):
        raise UnknownMnemonic(f"{op} with L=1: 64-bit compare, not available on ppc32")
    return word
