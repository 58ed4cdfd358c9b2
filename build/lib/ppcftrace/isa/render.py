"""Text of a decoded instruction, the way capstone 5 prints it.

Capstone prefers extended mnemonics (`li`, `mr`, `beq cr7`, `slwi`, `mflr`), prints
immediates above 9 in hex, and branch targets as absolute addresses. Where capstone
is wrong (BO = 20, "branch always", in `bc`) we print what GNU objdump prints.
"""

from __future__ import annotations

from typing import Callable, Mapping

_CR_BITS = ("lt", "gt", "eq", "so")
_NOT_CR_BITS = ("ge", "le", "ne", "ns")
_SPR_NAMES = {1: "xer", 8: "lr", 9: "ctr"}


def imm(value: int) -> str:
    """An immediate as capstone prints it: decimal up to 9, hex beyond."""
    if value < 0:
        return f"-0x{-value:x}" if value < -9 else f"-{-value}"
    return f"0x{value:x}" if value > 9 else str(value)


def reg(n: int) -> str:
    return f"r{n}"


def crbit(bi: int) -> str:
    """A CR bit operand: `eq` in cr0, `4*cr7+gt` elsewhere."""
    cr, bit = divmod(bi, 4)
    return _CR_BITS[bit] if cr == 0 else f"4*cr{cr}+{_CR_BITS[bit]}"


def _mem(disp: int, ra: int) -> str:
    return f"{imm(disp)}({reg(ra) if ra else '0'})"


def _branch(f: Mapping[str, int], kind: str, target: str | None) -> tuple[str, tuple[str, ...]]:
    """`bc`, `bclr` (kind "lr"), `bcctr` (kind "ctr") with their extended mnemonics."""
    bo, bi = f["BO"], f["BI"]
    link = "l" if f.get("LK") else ""
    absolute = "a" if f.get("AA") else ""
    tail = (target,) if target is not None else ()
    if bo & 0x14 == 0x14:  # branch always
        if kind and bi == 0:
            return f"b{kind}{link}", ()
        return f"bc{kind}{link}{absolute}", ("20", crbit(bi), *tail)
    if bo & 0x10:  # counter only
        hint = ("+" if bo & 1 else "-") if bo & 8 else ""
        return f"bd{'z' if bo & 2 else 'nz'}{kind}{link}{absolute}{hint}", tail
    if bo & 0x4:  # condition only
        hint = ("+" if bo & 1 else "-") if bo & 2 else ""
        cond = (_CR_BITS if bo & 8 else _NOT_CR_BITS)[bi & 3]
        cr = (f"cr{bi >> 2}",) if bi >> 2 else ()
        return f"b{cond}{kind}{link}{absolute}{hint}", (*cr, *tail)
    cond = f"bd{'z' if bo & 2 else 'nz'}{'t' if bo & 8 else 'f'}"
    return f"{cond}{kind}{link}{absolute}", (crbit(bi), *tail)


def _rlwinm(f):
    ra, rs, sh, mb, me = reg(f["RA"]), reg(f["RS"]), f["SH"], f["MB"], f["ME"]
    # capstone uses slwi/srwi only without Rc, rotlwi/clrlwi with or without
    if not f["Rc"] and mb == 0 and me == 31 - sh:
        return "slwi", (ra, rs, imm(sh))
    if mb == 0 and me == 31:
        return "rotlwi", (ra, rs, imm(sh))
    if sh == 0 and me == 31:
        return "clrlwi", (ra, rs, imm(mb))
    if not f["Rc"] and me == 31 and sh == 32 - mb:
        return "srwi", (ra, rs, imm(mb))
    return "rlwinm", (ra, rs, imm(sh), imm(mb), imm(me))


def _rldicl(f):
    ra, rs, sh, mb = reg(f["RA"]), reg(f["RS"]), f["sh"], f["mb"]
    if mb == 0:
        return "rotldi", (ra, rs, imm(sh))
    if sh == 0:
        return "clrldi", (ra, rs, imm(mb))
    return "rldicl", (ra, rs, imm(sh), imm(mb))


def _rldicr(f):
    ra, rs, sh, me = reg(f["RA"]), reg(f["RS"]), f["sh"], f["me"]
    if not f["Rc"] and me == 63 - sh:
        return "sldi", (ra, rs, imm(sh))
    return "rldicr", (ra, rs, imm(sh), imm(me))


def _d_arith(name):
    def render(f):
        if name in ("addi", "addis") and f["RA"] == 0:
            return ("li" if name == "addi" else "lis"), (reg(f["RT"]), imm(f["SI"]))
        return name, (reg(f["RT"]), reg(f["RA"]), imm(f["SI"]))
    return render


def _d_logic(name):
    def render(f):
        if name in ("ori", "xori") and f["RA"] == f["RS"] == f["UI"] == 0:
            return ("nop" if name == "ori" else "xnop"), ()
        return name, (reg(f["RA"]), reg(f["RS"]), imm(f["UI"]))
    return render


def _cmp(name, immediate):
    def render(f):
        size = "d" if f["L"] else "w"
        cr = (f"cr{f['BF']}",) if f["BF"] else ()
        last = imm(f["SI"] if "SI" in f else f["UI"]) if immediate else reg(f["RB"])
        return f"{name}{size}{'i' if immediate else ''}", (*cr, reg(f["RA"]), last)
    return render


def _x_logic(name):
    def render(f):
        if name == "or" and f["RS"] == f["RB"] and not f["Rc"]:
            return "mr", (reg(f["RA"]), reg(f["RS"]))
        return name, (reg(f["RA"]), reg(f["RS"]), reg(f["RB"]))
    return render


def _mem_op(name, disp_field, reg_field, scale=1):
    return lambda f: (name, (reg(f[reg_field]), _mem(f[disp_field] * scale, f["RA"])))


_RENDER: dict[str, Callable] = {
    "sc": lambda f: ("sc", ()),
    "mulli": _d_arith("mulli"), "addi": _d_arith("addi"), "addis": _d_arith("addis"),
    **{n: _d_logic(n) for n in ("ori", "oris", "xori", "xoris", "andi.", "andis.")},
    "cmpi": _cmp("cmp", True), "cmpli": _cmp("cmpl", True),
    "cmp": _cmp("cmp", False), "cmpl": _cmp("cmpl", False),
    **{n: _mem_op(n, "D", "RT")
       for n in ("lwz", "lwzu", "lbz", "lbzu", "lhz", "lhzu", "lha", "lhau")},
    **{n: _mem_op(n, "D", "RS") for n in ("stw", "stwu", "stb", "stbu", "sth", "sthu")},
    **{n: _mem_op(n, "DS", "RT", 4) for n in ("ld", "ldu", "lwa")},
    **{n: _mem_op(n, "DS", "RS", 4) for n in ("std", "stdu")},
    **{n: _x_logic(n)
       for n in ("and", "or", "xor", "nor", "slw", "srw", "sraw", "sld", "srd", "srad")},
    "srawi": lambda f: ("srawi", (reg(f["RA"]), reg(f["RS"]), imm(f["SH"]))),
    **{n: (lambda n: lambda f: (n, (reg(f["RA"]), reg(f["RS"]))))(n)
       for n in ("extsw", "extsh", "extsb")},
    "mfcr": lambda f: ("mfcr", (reg(f["RT"]),)),
    **{n: (lambda n: lambda f: (n, (reg(f["RT"]), reg(f["RA"]), reg(f["RB"]))))(n)
       for n in ("add", "subf", "mullw", "mulld", "divw", "divwu")},
    "neg": lambda f: ("neg", (reg(f["RT"]), reg(f["RA"]))),
    "mfspr": lambda f: ("mf" + _SPR_NAMES[f["SPR"]], (reg(f["RT"]),)),
    "mtspr": lambda f: ("mt" + _SPR_NAMES[f["SPR"]], (reg(f["RS"]),)),
    "mtcrf": lambda f: ("mtcrf", (imm(f["FXM"]), reg(f["RS"]))),
    "rlwinm": _rlwinm, "rldicl": _rldicl, "rldicr": _rldicr,
}


def render(op: str, fields: Mapping[str, int], target: int | None) -> tuple[str, tuple[str, ...]]:
    """(mnemonic, operands) for a decoded instruction; `target` is the absolute branch target."""
    if op == "b":
        return "b" + "l" * fields["LK"] + "a" * fields["AA"], (imm(target),)
    if op == "bc":
        return _branch(fields, "", imm(target))
    if op in ("bclr", "bcctr"):
        return _branch(fields, op[2:], None)
    mnemonic, operands = _RENDER[op](fields)
    if fields.get("Rc"):
        mnemonic += "."
    return mnemonic, operands
