"""A one-line assembler for the subset: `assemble("bl 0xc0000000", address)`.

Numeric branch targets are absolute addresses (`.+8` is relative to this line);
extended mnemonics (`li`, `mr`, `beq cr7,`, `slwi`, `mflr`, ...) become their base
instruction, then `encode` builds the word.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from ppcftrace.isa import operands as P
from ppcftrace.isa.decode import arch_bits
from ppcftrace.isa.encode import encode, lookup
from ppcftrace.isa.errors import (BranchOutOfRange, ImmediateOutOfRange, MisalignedOffset,
                                  OperandError, UnknownMnemonic)
from ppcftrace.isa.opcodes import OPS, SPRS, bo_problem

Fields = dict[str, int]


def _count(name: str, ops: list[str], *allowed: int) -> None:
    if len(ops) not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise OperandError(f"{name}: expected {want} operand(s), got {len(ops)}")


def _signed_wrap(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _offset(name: str, text: str, address: int, absolute: bool, bits: int, width: int) -> int:
    """The byte offset (or absolute value) a branch field must hold, checked."""
    where = P.target(text, address)
    offset = _signed_wrap(where if absolute else where - address, bits)
    if offset & 3:
        raise MisalignedOffset(f"{name}: branch target {where:#x} is not a multiple of 4")
    limit = 1 << (width + 1)  # `width` bits of words, signed
    if not -limit <= offset < limit:
        raise BranchOutOfRange(f"{name}: target {where:#x} out of range "
                               f"(offset {offset:#x}, reach -{limit:#x}..{limit - 4:#x})",
                               offset=offset)
    return offset >> 2


# --- branches -------------------------------------------------------------------------

_B = re.compile(r"b(l?)(a?)")
_BC = re.compile(r"bc(l?)(a?)")
_BCREG = re.compile(r"bc(lr|ctr)(l?)")
_BREG = re.compile(r"b(lr|ctr)(l?)")
_BD = re.compile(r"bd(nz|z)([tf]?)(lr)?(l?)(a?)([+-]?)")
_BCOND = re.compile(r"b(lt|le|eq|ge|gt|nl|ne|ng|so|ns|un|nu)(lr|ctr)?(l?)(a?)([+-]?)")
_COND = {"lt": (12, 0), "gt": (12, 1), "eq": (12, 2), "so": (12, 3), "un": (12, 3),
         "ge": (4, 0), "nl": (4, 0), "le": (4, 1), "ng": (4, 1), "ne": (4, 2),
         "ns": (4, 3), "nu": (4, 3)}


def _branch(name: str, ops: list[str], address: int, bits: int) -> tuple[str, Fields] | None:
    """(base op, fields) for a branch mnemonic, or None when `name` is not one."""
    if m := _B.fullmatch(name):
        _count(name, ops, 1)
        li = _offset(name, ops[0], address, bool(m[2]), bits, 24)
        return "b", {"LI": li, "AA": int(bool(m[2])), "LK": int(bool(m[1]))}
    if m := _BC.fullmatch(name):
        _count(name, ops, 3)
        bd = _offset(name, ops[2], address, bool(m[2]), bits, 14)
        return "bc", {"BO": P.number(ops[0]), "BI": P.crbit(ops[1]), "BD": bd,
                      "AA": int(bool(m[2])), "LK": int(bool(m[1]))}
    if m := _BCREG.fullmatch(name):
        _count(name, ops, 2)
        return "bc" + m[1], {"BO": P.number(ops[0]), "BI": P.crbit(ops[1]), "LK": int(bool(m[2]))}
    if m := _BREG.fullmatch(name):
        _count(name, ops, 0)
        return "bc" + m[1], {"BO": 20, "BI": 0, "LK": int(bool(m[2]))}
    if m := _BD.fullmatch(name):
        if m[3] and m[5]:
            raise UnknownMnemonic(f"unknown instruction: {name!r}")
        bo = (0 if m[1] == "nz" else 2) | {"": 16, "f": 0, "t": 8}[m[2]]
        if m[6]:
            if m[2]:
                raise UnknownMnemonic(f"unknown instruction: {name!r} (no hints on bd{m[1]}{m[2]})")
            bo |= 9 if m[6] == "+" else 8
        return _conditional(name, ops, address, bits, bo, m[3], m[4], m[5],
                            crbit=bool(m[2]))
    if m := _BCOND.fullmatch(name):
        bo, bit = _COND[m[1]]
        if m[5]:
            bo |= 3 if m[5] == "+" else 2
        if m[2] and m[4]:
            raise UnknownMnemonic(f"unknown instruction: {name!r}")
        return _conditional(name, ops, address, bits, bo, m[2], m[3], m[4], bit=bit)
    return None


def _conditional(name, ops, address, bits, bo, reg, link, absolute, *, bit=0, crbit=False):
    fields = {"BO": bo, "LK": int(bool(link))}
    if crbit:  # bdnzf eq, target: the CR bit is an operand
        _count(name, ops, 2 if not reg else 1)
        fields["BI"], ops = P.crbit(ops[0]), ops[1:]
    elif bo & 0x10:  # bdnz target
        _count(name, ops, 0 if reg else 1)
        fields["BI"] = 0
    else:  # beq [crN,] target
        _count(name, ops, *((0, 1) if reg else (1, 2)))
        cr = P.crfield(ops[0]) if len(ops) == (1 if reg else 2) else 0
        ops = ops[1:] if len(ops) == (1 if reg else 2) else ops
        fields["BI"] = 4 * cr + bit
    if reg:
        return "bc" + reg, fields
    fields["AA"] = int(bool(absolute))
    fields["BD"] = _offset(name, ops[0], address, bool(absolute), bits, 14)
    return "bc", fields


# --- everything else ------------------------------------------------------------------

def _parse(op_name: str, field: str, text: str, address: int) -> dict[str, int]:
    """One operand of a base op, by the field it fills."""
    if field in ("RT", "RS", "RA", "RB"):
        return {field: P.gpr(text)}
    if field == "BF":
        return {field: P.crfield(text)}
    if field == "BI":
        return {field: P.crbit(text)}
    if field == "SPR":
        t = text.strip().lower()
        spr = SPRS[t] if t in SPRS else P.number(t)
        if spr not in SPRS.values():
            raise OperandError(f"{op_name}: SPR {t} outside the subset (xer, lr, ctr)")
        return {field: spr}
    if field in ("D(RA)", "DS(RA)"):
        disp, ra = P.memory(text)
        if field == "DS(RA)":
            if disp & 3:
                raise MisalignedOffset(f"{op_name}: offset {disp} is not a multiple of 4")
            if not -0x8000 <= disp <= 0x7FFC:
                raise ImmediateOutOfRange(f"{op_name}: offset {disp} out of range -0x8000..0x7ffc")
            return {"DS": disp >> 2, "RA": ra}
        return {"D": disp, "RA": ra}
    value = P.number(text)
    if op_name in ("addis", "lis") and field == "SI" and 0x8000 <= value <= 0xFFFF:
        value -= 0x10000  # like GNU as, lis takes 0..0xffff too (lis r3,0xc000)
    return {field: value}


def _base(name: str, ops: list[str], address: int) -> Fields:
    spec = OPS[name]
    _count(name, ops, len(spec.operands))
    fields: Fields = {}
    for field, text in zip(spec.operands, ops):
        fields.update(_parse(name, field, text, address))
    return fields


def _with(op: str, order: tuple[str, ...], **fixed: int) -> Callable:
    """An extended mnemonic: its operands fill `order`, then `fixed` fields are added."""
    def build(name: str, ops: list[str], address: int) -> tuple[str, Fields]:
        _count(name, ops, len(order))
        fields: Fields = dict(fixed)
        for field, text in zip(order, ops):
            fields.update(_parse(op, field, text, address))
        return op, fields
    return build


def _computed(op: str, order: tuple[str, ...], fn: Callable[[Fields], Fields]) -> Callable:
    """An extended mnemonic whose last operand `n` is turned into fields by `fn`."""
    def build(name: str, ops: list[str], address: int) -> tuple[str, Fields]:
        _count(name, ops, len(order) + 1)
        fields: Fields = {}
        for field, text in zip(order, ops):
            fields.update(_parse(op, field, text, address))
        fields.update(fn(_ranged(name, P.number(ops[-1]), *_N_RANGE[name])))
        return op, fields
    return build


def _ranged(name: str, n: int, lo: int, hi: int) -> int:
    if not lo <= n <= hi:
        raise ImmediateOutOfRange(f"{name}: {n} out of range {lo}..{hi}")
    return n


def _cmp(op: str, size: int, last: str) -> Callable:
    def build(name: str, ops: list[str], address: int) -> tuple[str, Fields]:
        _count(name, ops, 2, 3)
        bf = P.crfield(ops[0]) if len(ops) == 3 else 0
        ra, value = ops[-2:]
        fields = {"BF": bf, "L": size, "RA": P.gpr(ra)}
        fields.update(_parse(op, last, value, address))
        return op, fields
    return build


def _mr(op: str):
    """`mr rA,rS` is `or rA,rS,rS`; `not rA,rS` is `nor rA,rS,rS`."""
    def build(name, ops, address):
        _count(name, ops, 2)
        return op, {"RA": P.gpr(ops[0]), "RS": P.gpr(ops[1]), "RB": P.gpr(ops[1])}
    return build


def _subi(op: str):
    """`subi rT,rA,v` is `addi rT,rA,-v`."""
    def build(name, ops, address):
        _count(name, ops, 3)
        return op, {"RT": P.gpr(ops[0]), "RA": P.gpr(ops[1]), "SI": -P.number(ops[2])}
    return build


def _sub(name, ops, address):
    """`sub rT,rA,rB` is `subf rT,rB,rA`."""
    _count(name, ops, 3)
    return "subf", {"RT": P.gpr(ops[0]), "RA": P.gpr(ops[2]), "RB": P.gpr(ops[1])}


_N_RANGE = {"slwi": (0, 31), "srwi": (0, 31), "clrlwi": (0, 31), "rotlwi": (0, 31),
            "sldi": (0, 63), "srdi": (0, 63), "clrldi": (0, 63), "rotldi": (0, 63)}
_RA_RS = ("RA", "RS")

EXTENDED: dict[str, Callable] = {
    "li": _with("addi", ("RT", "SI"), RA=0),
    "lis": _with("addis", ("RT", "SI"), RA=0),
    "subi": _subi("addi"), "subis": _subi("addis"),
    "nop": _with("ori", (), RA=0, RS=0, UI=0),
    "xnop": _with("xori", (), RA=0, RS=0, UI=0),
    "mr": _mr("or"), "not": _mr("nor"), "sub": _sub,
    "cmpwi": _cmp("cmpi", 0, "SI"), "cmpdi": _cmp("cmpi", 1, "SI"),
    "cmplwi": _cmp("cmpli", 0, "UI"), "cmpldi": _cmp("cmpli", 1, "UI"),
    "cmpw": _cmp("cmp", 0, "RB"), "cmpd": _cmp("cmp", 1, "RB"),
    "cmplw": _cmp("cmpl", 0, "RB"), "cmpld": _cmp("cmpl", 1, "RB"),
    "slwi": _computed("rlwinm", _RA_RS, lambda n: {"SH": n, "MB": 0, "ME": 31 - n}),
    "srwi": _computed("rlwinm", _RA_RS, lambda n: {"SH": (32 - n) & 31, "MB": n, "ME": 31}),
    "clrlwi": _computed("rlwinm", _RA_RS, lambda n: {"SH": 0, "MB": n, "ME": 31}),
    "rotlwi": _computed("rlwinm", _RA_RS, lambda n: {"SH": n, "MB": 0, "ME": 31}),
    "sldi": _computed("rldicr", _RA_RS, lambda n: {"sh": n, "me": 63 - n}),
    "srdi": _computed("rldicl", _RA_RS, lambda n: {"sh": (64 - n) & 63, "mb": n}),
    "clrldi": _computed("rldicl", _RA_RS, lambda n: {"sh": 0, "mb": n}),
    "rotldi": _computed("rldicl", _RA_RS, lambda n: {"sh": n, "mb": 0}),
    "mtcr": _with("mtcrf", ("RS",), FXM=0xFF),
    **{f"mf{name}": _with("mfspr", ("RT",), SPR=spr) for name, spr in SPRS.items()},
    **{f"mt{name}": _with("mtspr", ("RS",), SPR=spr) for name, spr in SPRS.items()},
}


def assemble(text: str, address: int = 0, arch: str = "ppc64") -> int:
    """The word for one instruction `text` at `address` (for branch targets)."""
    bits = arch_bits(arch)
    address &= (1 << bits) - 1
    line = text.split("#", 1)[0].strip()
    if not line:
        raise OperandError("empty instruction")
    name, _, rest = line.replace("\t", " ").partition(" ")
    name = name.lower()
    ops = [o.strip() for o in rest.split(",")] if rest.strip() else []
    record = name.endswith(".") and name not in OPS
    if record:
        name = name[:-1]
    found = _branch(name, ops, address, bits) if not record else None
    if found is None:
        if name in EXTENDED:
            found = EXTENDED[name](name, ops, address)
        elif name in OPS:
            found = name, _base(name, ops, address)
        else:
            raise UnknownMnemonic(f"unknown instruction: {line.split()[0]!r}")
    op, fields = found
    if "BO" in fields and (why := bo_problem(op, fields["BO"])):
        raise OperandError(why)
    if record:
        if "Rc" not in lookup(op, arch).flags:
            raise UnknownMnemonic(f"unknown instruction: {name}. ({op} has no record form)")
        fields["Rc"] = 1
    return encode(op, arch=arch, **fields)


def assemble_lines(lines: Iterable[str] | str, address: int = 0, arch: str = "ppc64") -> list[int]:
    """Assemble several instructions (lines, or `;`-separated), 4 bytes apart."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    words: list[int] = []
    for line in lines:
        for part in line.split(";"):
            if part.split("#", 1)[0].strip():
                words.append(assemble(part, address + 4 * len(words), arch))
    return words
