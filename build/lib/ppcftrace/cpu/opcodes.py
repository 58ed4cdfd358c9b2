"""Names of the instructions the interpreter runs beyond `ppcftrace.isa`'s subset.

`ppcftrace.isa` covers what ftrace patches and the chapters assemble. Code that GCC
emits for ordinary kernel C needs more (carries, `rlwimi`, `isel`, indexed loads, CR
logic...). `op_name(word)` names those by primary and extended opcode (Power ISA
v2.06 Book I); the interpreter asks `isa.decode` first and comes here only when it
declines the word.
"""

from __future__ import annotations

_PRIMARY = {
    2: "tdi", 3: "twi", 7: "mulli", 8: "subfic", 10: "cmpli", 11: "cmpi", 12: "addic",
    13: "addic.", 14: "addi", 15: "addis", 16: "bc", 18: "b", 20: "rlwimi", 21: "rlwinm",
    23: "rlwnm", 24: "ori", 25: "oris", 26: "xori", 27: "xoris", 28: "andi.", 29: "andis.",
    32: "lwz", 33: "lwzu", 34: "lbz", 35: "lbzu", 36: "stw", 37: "stwu", 38: "stb",
    39: "stbu", 40: "lhz", 41: "lhzu", 42: "lha", 43: "lhau", 44: "sth", 45: "sthu",
    46: "lmw", 47: "stmw",
}
_DS = {58: {0: "ld", 1: "ldu", 2: "lwa"}, 62: {0: "std", 1: "stdu"}}
_XL = {0: "mcrf", 16: "bclr", 528: "bcctr", 33: "crnor", 129: "crandc", 150: "isync",
       193: "crxor", 225: "crnand", 257: "crand", 289: "creqv", 417: "crorc", 449: "cror"}
_MD = {0: "rldicl", 1: "rldicr", 2: "rldic", 3: "rldimi"}
_MDS = {8: "rldcl", 9: "rldcr"}
#: XO-form (bit 21 is OE): keyed by the 9-bit extended opcode
_XO = {8: "subfc", 9: "mulhdu", 10: "addc", 11: "mulhwu", 40: "subf", 73: "mulhd",
       75: "mulhw", 104: "neg", 136: "subfe", 138: "adde", 200: "subfze", 202: "addze",
       232: "subfme", 233: "mulld", 234: "addme", 235: "mullw", 266: "add", 457: "divdu",
       459: "divwu", 489: "divd", 491: "divw"}
#: X-form under primary 31: keyed by the 10-bit extended opcode
_X = {0: "cmp", 4: "tw", 19: "mfcr", 20: "lwarx", 21: "ldx", 23: "lwzx", 24: "slw",
      26: "cntlzw", 27: "sld", 28: "and", 32: "cmpl", 53: "ldux", 54: "dcbst", 55: "lwzux",
      58: "cntlzd", 60: "andc", 68: "td", 83: "mfmsr", 146: "mtmsr", 178: "mtmsrd", 84: "ldarx", 86: "dcbf", 87: "lbzx", 119: "lbzux",
      124: "nor", 144: "mtcrf", 149: "stdx", 150: "stwcx.", 151: "stwx", 181: "stdux",
      183: "stwux", 214: "stdcx.", 215: "stbx", 246: "dcbtst", 247: "stbux", 278: "dcbt",
      279: "lhzx", 284: "eqv", 311: "lhzux", 316: "xor", 339: "mfspr", 341: "lwax",
      343: "lhax", 373: "lwaux", 375: "lhaux", 407: "sthx", 412: "orc", 439: "sthux",
      444: "or", 467: "mtspr", 476: "nand", 534: "lwbrx", 536: "srw", 539: "srd",
      598: "sync", 662: "stwbrx", 790: "lhbrx", 792: "sraw", 794: "srad", 824: "srawi",
      854: "eieio", 918: "sthbrx", 922: "extsh", 954: "extsb", 982: "icbi", 986: "extsw"}


def op_name(word: int) -> str | None:
    """The base mnemonic of `word`, or None when the interpreter has no such op."""
    opcd = word >> 26
    if opcd == 31:
        if (word >> 1) & 31 == 15:
            return "isel"
        if (word >> 2) & 0x1FF == 413:
            return "sradi"
        xo10 = (word >> 1) & 0x3FF
        name = _X.get(xo10)
        if name is None:
            name = _XO.get(xo10 & 0x1FF)
        return name
    if opcd == 19:
        return _XL.get((word >> 1) & 0x3FF)
    if opcd == 30:
        return _MD.get((word >> 2) & 7) or _MDS.get((word >> 1) & 15)
    if opcd in _DS:
        return _DS[opcd].get(word & 3)
    if opcd == 17 and word & 2:
        return "sc"
    return _PRIMARY.get(opcd)
