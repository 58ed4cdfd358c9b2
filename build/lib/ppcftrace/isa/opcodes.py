"""The instruction subset: one `Op` per base instruction (kernel/ISA mnemonic).

Each entry names its form, primary and extended opcode, the fields it takes as
operands (in assembler order; `D(RA)` is a memory operand) and the single-bit flags it
may set (`AA`, `LK`, `Rc`). Bits outside opcode, operands and flags are reserved:
the decoder requires them to be zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ppcftrace.isa.fields import FORMS, OPCD


@dataclass(frozen=True)
class Op:
    """One base instruction of the subset."""

    name: str
    form: str
    opcd: int
    xo: int | None = None
    operands: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    only64: bool = False

    @cached_property
    def field_names(self) -> tuple[str, ...]:
        """Every field the op carries, operands first (`D(RA)` split in two)."""
        names: list[str] = []
        for operand in self.operands:
            if operand.endswith("(RA)"):
                names += [operand[:-4], "RA"]
            else:
                names.append(operand)
        return (*names, *self.flags)

    @cached_property
    def template(self) -> int:
        """The word with only the opcode bits set."""
        word = OPCD.insert(0, self.opcd)
        if self.xo is not None:
            word = FORMS[self.form].field("XO").insert(word, self.xo)
        return word

    @cached_property
    def fixed_mask(self) -> int:
        mask = OPCD.mask
        if self.xo is not None:
            mask |= FORMS[self.form].field("XO").mask
        return mask

    @cached_property
    def operand_mask(self) -> int:
        form = FORMS[self.form]
        mask = 0
        for name in self.field_names:
            mask |= form.field(name).mask
        return mask


_LOGIC_X = ("and", "or", "xor", "nor", "slw", "srw", "sraw", "sld", "srd", "srad")
_LOGIC_XO = (28, 444, 316, 124, 24, 536, 792, 27, 539, 794)
_D_ARITH = ("mulli", "addi", "addis")
_D_LOGIC = ("ori", "oris", "xori", "xoris", "andi.", "andis.")
_LOADS = {"lwz": 32, "lwzu": 33, "lbz": 34, "lbzu": 35, "lhz": 40, "lhzu": 41, "lha": 42,
          "lhau": 43}
_STORES = {"stw": 36, "stwu": 37, "stb": 38, "stbu": 39, "sth": 44, "sthu": 45}
_ONLY64 = {"ld", "ldu", "lwa", "std", "stdu", "mulld", "sld", "srd", "srad", "extsw",
           "rldicl", "rldicr"}

OPS: dict[str, Op] = {op.name: op for op in [
    Op("b", "I", 18, None, ("LI",), ("AA", "LK")),
    Op("bc", "B", 16, None, ("BO", "BI", "BD"), ("AA", "LK")),
    Op("sc", "SC", 17, 1),
    Op("bclr", "XL", 19, 16, ("BO", "BI"), ("LK",)),
    Op("bcctr", "XL", 19, 528, ("BO", "BI"), ("LK",)),
    *[Op(n, "D", o, None, ("RT", "RA", "SI")) for n, o in zip(_D_ARITH, (7, 14, 15))],
    *[Op(n, "D", o, None, ("RA", "RS", "UI")) for n, o in zip(_D_LOGIC, (24, 25, 26, 27, 28, 29))],
    Op("cmpi", "D", 11, None, ("BF", "L", "RA", "SI")),
    Op("cmpli", "D", 10, None, ("BF", "L", "RA", "UI")),
    *[Op(n, "D", o, None, ("RT", "D(RA)")) for n, o in _LOADS.items()],
    *[Op(n, "D", o, None, ("RS", "D(RA)")) for n, o in _STORES.items()],
    *[Op(n, "DS", 58, x, ("RT", "DS(RA)"), (), True)
      for n, x in (("ld", 0), ("ldu", 1), ("lwa", 2))],
    *[Op(n, "DS", 62, x, ("RS", "DS(RA)"), (), True) for n, x in (("std", 0), ("stdu", 1))],
    *[Op(n, "X", 31, x, ("RA", "RS", "RB"), ("Rc",), n in _ONLY64)
      for n, x in zip(_LOGIC_X, _LOGIC_XO)],
    Op("srawi", "X", 31, 824, ("RA", "RS", "SH"), ("Rc",)),
    *[Op(n, "X", 31, x, ("RA", "RS"), ("Rc",), n in _ONLY64)
      for n, x in (("extsw", 986), ("extsh", 922), ("extsb", 954))],
    Op("cmp", "X", 31, 0, ("BF", "L", "RA", "RB")),
    Op("cmpl", "X", 31, 32, ("BF", "L", "RA", "RB")),
    Op("mfcr", "X", 31, 19, ("RT",)),
    *[Op(n, "XO", 31, x, ("RT", "RA", "RB"), ("Rc",), n in _ONLY64)
      for n, x in (("add", 266), ("subf", 40), ("mullw", 235), ("mulld", 233),
                   ("divw", 491), ("divwu", 459))],
    Op("neg", "XO", 31, 104, ("RT", "RA"), ("Rc",)),
    Op("mfspr", "XFX", 31, 339, ("RT", "SPR")),
    Op("mtspr", "XFX", 31, 467, ("SPR", "RS")),
    Op("mtcrf", "XFX", 31, 144, ("FXM", "RS")),
    Op("rlwinm", "M", 21, None, ("RA", "RS", "SH", "MB", "ME"), ("Rc",)),
    Op("rldicl", "MD", 30, 0, ("RA", "RS", "sh", "mb"), ("Rc",), True),
    Op("rldicr", "MD", 30, 1, ("RA", "RS", "sh", "me"), ("Rc",), True),
]}

#: special-purpose registers the subset moves to and from
SPRS = {"xer": 1, "lr": 8, "ctr": 9}


def bo_problem(op: str, bo: int) -> str | None:
    """Why `bo` is outside the subset for branch `op`, or None when it is fine.

    BO = 1z1zz means "branch always"; only its canonical value 20 is taken. `bcctr`
    must not decrement CTR (an invalid form).
    """
    if bo & 0x14 == 0x14 and bo != 20:
        return f"{op} with reserved BO {bo}"
    if op == "bcctr" and not bo & 0x4:
        return "bcctr that decrements CTR (invalid form)"
    return None
