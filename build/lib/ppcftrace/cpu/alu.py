"""Compilers for integer arithmetic, logic, shifts, rotates and compares.

Each compiler returns a closure `f(pc) -> next pc` specialised on the instruction's
fields (see `registry`). Results are unsigned and reduced to the register width; Rc=1
sets CR0 from the whole register, as the ISA says for 64-bit mode.
"""

from __future__ import annotations

from ppcftrace.cpu.bits import M32, fields, mask64, rotl32, rotl64, sx
from ppcftrace.cpu.registry import COMPILERS, need64, op


# -- D-form -------------------------------------------------------------------

@op("addi", "addis")
def _addi(cpu, w, pc, name=None):
    g, M = cpu.gpr, cpu.mask
    rt, ra, _ = fields(w)
    si = sx(w, 16) << (16 if w >> 26 == 15 else 0)
    if ra == 0:
        v = si & M

        def f(pc):
            g[rt] = v
            return pc + 4
    else:
        def f(pc):
            g[rt] = (g[ra] + si) & M
            return pc + 4
    return f


@op("addic", "addic.", "subfic")
def _addic(cpu, w, pc, name=None):
    g, M, bits, st, cr0 = cpu.gpr, cpu.mask, cpu.bits, cpu.state, cpu.cr0
    rt, ra, _ = fields(w)
    si = sx(w, 16) & M
    inv = M if w >> 26 == 8 else 0       # subfic: ~RA + SI + 1
    one = 1 if inv else 0
    rc = w >> 26 == 13

    def f(pc):
        t = (g[ra] ^ inv) + si + one
        g[rt] = r = t & M
        st.ca = t >> bits
        if rc:
            cr0(r)
        return pc + 4
    return f


@op("mulli")
def _mulli(cpu, w, pc, name=None):
    g, M, bits = cpu.gpr, cpu.mask, cpu.bits
    rt, ra, _ = fields(w)
    si = sx(w, 16)

    def f(pc):
        g[rt] = (sx(g[ra], bits) * si) & M
        return pc + 4
    return f


@op("ori", "oris", "xori", "xoris", "andi.", "andis.")
def _logic_d(cpu, w, pc, name=None):
    g, cr0 = cpu.gpr, cpu.cr0
    rs, ra, _ = fields(w)
    opcd = w >> 26
    ui = (w & 0xFFFF) << (16 if opcd & 1 else 0)
    if opcd in (24, 25):
        def f(pc):
            g[ra] = g[rs] | ui
            return pc + 4
    elif opcd in (26, 27):
        def f(pc):
            g[ra] = g[rs] ^ ui
            return pc + 4
    else:
        def f(pc):
            g[ra] = r = g[rs] & ui
            cr0(r)
            return pc + 4
    return f


# -- XO-form: sums with carries --------------------------------------------------

# name: (invert RA, second operand "B" / "0" / "M", carry in: 0, 1 or "CA", sets CA)
_SUMS = {
    "add": (False, "B", 0, False), "addc": (False, "B", 0, True),
    "adde": (False, "B", "CA", True), "addze": (False, "0", "CA", True),
    "addme": (False, "M", "CA", True), "subf": (True, "B", 1, False),
    "subfc": (True, "B", 1, True), "subfe": (True, "B", "CA", True),
    "subfze": (True, "0", "CA", True), "subfme": (True, "M", "CA", True),
    "neg": (True, "0", 1, False),
}


@op(*_SUMS)
def _sum(cpu, w, pc, name=None):
    g, M, bits, st, cr0 = cpu.gpr, cpu.mask, cpu.bits, cpu.state, cpu.cr0
    rt, ra, rb = fields(w)
    invert, second, cin, sets_ca = _SUMS[name]
    oe, rc = (w >> 10) & 1, w & 1
    if not (oe or rc) and cin != "CA" and not sets_ca and second == "B":
        if invert:
            def f(pc):
                g[rt] = (g[rb] - g[ra]) & M
                return pc + 4
        else:
            def f(pc):
                g[rt] = (g[ra] + g[rb]) & M
                return pc + 4
        return f
    inv = M if invert else 0
    const = 0 if second == "0" else M
    use_b = second == "B"
    use_ca = cin == "CA"
    c0 = 0 if use_ca else cin
    sign = 1 << (bits - 1)

    def f(pc):
        x = g[ra] ^ inv
        y = g[rb] if use_b else const
        t = x + y + (st.ca if use_ca else c0)
        r = t & M
        if sets_ca:
            st.ca = t >> bits
        if oe:
            st.ov = ov = 1 if (~(x ^ y) & (x ^ r)) & sign else 0
            st.so |= ov
        g[rt] = r
        if rc:
            cr0(r)
        return pc + 4
    return f


def _arith(fn):
    """An XO-form op `fn(a, b) -> (result, overflowed)` on raw register values."""
    def build(cpu, w, pc, name=None):
        g, st, cr0, M = cpu.gpr, cpu.state, cpu.cr0, cpu.mask
        rt, ra, rb = fields(w)
        oe, rc = (w >> 10) & 1, w & 1
        calc = fn(cpu)

        def f(pc):
            r, ov = calc(g[ra], g[rb])
            if oe:
                st.ov = ov
                st.so |= ov
            g[rt] = r = r & M
            if rc:
                cr0(r)
            return pc + 4
        return f
    return build


def _mullw(cpu):
    M = cpu.mask

    def calc(a, b):
        p = sx(a, 32) * sx(b, 32)
        return p & M, int(p != sx(p, 32))
    return calc


def _mulld(cpu):
    need64(cpu, "mulld")

    def calc(a, b):
        p = sx(a, 64) * sx(b, 64)
        return p, int(p != sx(p, 64))
    return calc


def _mulhw(cpu):
    def calc(a, b):
        # the high word lands in the low half; qemu leaves the upper half zero
        return ((sx(a, 32) * sx(b, 32)) >> 32) & M32, 0
    return calc


def _mulhwu(cpu):
    return lambda a, b: (((a & M32) * (b & M32)) >> 32, 0)


def _mulhd(cpu):
    need64(cpu, "mulhd")
    return lambda a, b: ((sx(a, 64) * sx(b, 64)) >> 64, 0)


def _mulhdu(cpu):
    need64(cpu, "mulhdu")
    return lambda a, b: ((a * b) >> 64, 0)


def _div(bits_: int, signed: bool):
    def make(cpu):
        if bits_ == 64:
            need64(cpu, "divd")
        m = (1 << bits_) - 1

        def calc(a, b):
            a, b = (sx(a, bits_), sx(b, bits_)) if signed else (a & m, b & m)
            if b == 0 or (signed and a == -(1 << (bits_ - 1)) and b == -1):
                return a & m, 1       # undefined in the ISA; qemu divides by 1 instead
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            return q & m, 0
        return calc
    return make


for _name, _make in {"mullw": _mullw, "mulld": _mulld, "mulhw": _mulhw, "mulhwu": _mulhwu,
                     "mulhd": _mulhd, "mulhdu": _mulhdu, "divw": _div(32, True),
                     "divwu": _div(32, False), "divd": _div(64, True),
                     "divdu": _div(64, False)}.items():
    COMPILERS[_name] = _arith(_make)


# -- X-form logic, extensions, counts, shifts ---------------------------------------

_LOGIC = {
    "and": lambda a, b, M: a & b, "andc": lambda a, b, M: a & ~b & M,
    "or": lambda a, b, M: a | b, "orc": lambda a, b, M: (a | ~b) & M,
    "xor": lambda a, b, M: a ^ b, "nand": lambda a, b, M: ~(a & b) & M,
    "nor": lambda a, b, M: ~(a | b) & M, "eqv": lambda a, b, M: ~(a ^ b) & M,
}


@op(*_LOGIC)
def _logic_x(cpu, w, pc, name=None):
    g, M, cr0 = cpu.gpr, cpu.mask, cpu.cr0
    rs, ra, rb = fields(w)
    rc = w & 1
    if name == "or" and not rc:
        if rs == rb:                      # mr
            def f(pc):
                g[ra] = g[rs]
                return pc + 4
        else:
            def f(pc):
                g[ra] = g[rs] | g[rb]
                return pc + 4
        return f
    if name == "and" and not rc:
        def f(pc):
            g[ra] = g[rs] & g[rb]
            return pc + 4
        return f
    fn = _LOGIC[name]

    def f(pc):
        g[ra] = r = fn(g[rs], g[rb], M)
        if rc:
            cr0(r)
        return pc + 4
    return f


def _unary(cpu, w, calc):
    g, cr0 = cpu.gpr, cpu.cr0
    rs, ra, _ = fields(w)
    rc = w & 1

    def f(pc):
        g[ra] = r = calc(g[rs])
        if rc:
            cr0(r)
        return pc + 4
    return f


@op("extsb", "extsh", "extsw", "cntlzw", "cntlzd")
def _ext(cpu, w, pc, name=None):
    M = cpu.mask
    if name in ("extsw", "cntlzd"):
        need64(cpu, name)
    calc = {
        "extsb": lambda v: sx(v, 8) & M, "extsh": lambda v: sx(v, 16) & M,
        "extsw": lambda v: sx(v, 32) & M,
        "cntlzw": lambda v: 32 - (v & M32).bit_length(),
        "cntlzd": lambda v: 64 - v.bit_length(),
    }[name]
    return _unary(cpu, w, calc)


@op("slw", "srw", "sraw", "sld", "srd", "srad")
def _shift(cpu, w, pc, name=None):
    g, st, cr0, M = cpu.gpr, cpu.state, cpu.cr0, cpu.mask
    rs, ra, rb = fields(w)
    rc = w & 1
    if name in ("sld", "srd", "srad"):
        need64(cpu, name)
    if name == "slw":
        def calc(s, n):
            n &= 63
            return 0 if n > 31 else ((s & M32) << n) & M32
    elif name == "srw":
        def calc(s, n):
            n &= 63
            return 0 if n > 31 else (s & M32) >> n
    elif name == "sld":
        def calc(s, n):
            n &= 127
            return 0 if n > 63 else (s << n) & M
    elif name == "srd":
        def calc(s, n):
            n &= 127
            return 0 if n > 63 else s >> n
    else:
        width = 32 if name == "sraw" else 64

        def calc(s, n):
            n &= 2 * width - 1
            v = sx(s, width)
            n = min(n, width)
            st.ca = 1 if v < 0 and v & ((1 << n) - 1) else 0
            return (v >> n) & M

    def f(pc):
        g[ra] = r = calc(g[rs], g[rb])
        if rc:
            cr0(r)
        return pc + 4
    return f


@op("srawi", "sradi")
def _srai(cpu, w, pc, name=None):
    st, M = cpu.state, cpu.mask
    if name == "sradi":
        need64(cpu, name)
        width, n = 64, ((w >> 11) & 31) | (((w >> 1) & 1) << 5)
    else:
        width, n = 32, (w >> 11) & 31
    low = (1 << n) - 1

    def calc(s):
        v = sx(s, width)
        st.ca = 1 if v < 0 and v & low else 0
        return (v >> n) & M
    return _unary(cpu, w, calc)


# -- rotates ------------------------------------------------------------------------

@op("rlwinm", "rlwnm", "rlwimi")
def _rlw(cpu, w, pc, name=None):
    g, cr0 = cpu.gpr, cpu.cr0
    rs, ra, rb = fields(w)
    sh, mb, me, rc = rb, (w >> 6) & 31, (w >> 1) & 31, w & 1
    m = mask64(mb + 32, me + 32) & cpu.mask    # a 32-bit machine keeps the low word
    if name == "rlwinm":
        if not rc and m == (M32 >> mb) and me == 31 and sh == 0:
            def f(pc):                    # clrlwi, a common GCC idiom
                g[ra] = g[rs] & m
                return pc + 4
            return f

        def f(pc):
            g[ra] = r = rotl32(g[rs], sh) & m
            if rc:
                cr0(r)
            return pc + 4
    elif name == "rlwnm":
        def f(pc):
            g[ra] = r = rotl32(g[rs], g[rb]) & m
            if rc:
                cr0(r)
            return pc + 4
    else:
        keep = ~m & cpu.mask

        def f(pc):
            g[ra] = r = (rotl32(g[rs], sh) & m) | (g[ra] & keep)
            if rc:
                cr0(r)
            return pc + 4
    return f


@op("rldicl", "rldicr", "rldic", "rldimi", "rldcl", "rldcr")
def _rld(cpu, w, pc, name=None):
    need64(cpu, name)
    g, cr0 = cpu.gpr, cpu.cr0
    rs, ra, rb = fields(w)
    rc = w & 1
    sh = ((w >> 11) & 31) | (((w >> 1) & 1) << 5)
    b = ((w >> 6) & 31) | (((w >> 5) & 1) << 5)     # mb or me, low 5 bits first
    m = {"rldicl": lambda: mask64(b, 63), "rldicr": lambda: mask64(0, b),
         "rldic": lambda: mask64(b, 63 - sh), "rldimi": lambda: mask64(b, 63 - sh),
         "rldcl": lambda: mask64(b, 63), "rldcr": lambda: mask64(0, b)}[name]()
    if name in ("rldcl", "rldcr"):
        def f(pc):
            g[ra] = r = rotl64(g[rs], g[rb] & 63) & m
            if rc:
                cr0(r)
            return pc + 4
    elif name == "rldimi":
        keep = ~m & cpu.mask

        def f(pc):
            g[ra] = r = (rotl64(g[rs], sh) & m) | (g[ra] & keep)
            if rc:
                cr0(r)
            return pc + 4
    else:
        def f(pc):
            g[ra] = r = rotl64(g[rs], sh) & m
            if rc:
                cr0(r)
            return pc + 4
    return f


# -- compares -----------------------------------------------------------------------

@op("cmp", "cmpl", "cmpi", "cmpli")
def _cmp(cpu, w, pc, name=None):
    g, st = cpu.gpr, cpu.state
    bf, L = (w >> 23) & 7, (w >> 21) & 1
    _, ra, rb = fields(w)
    if L:
        need64(cpu, name + " with L=1")
    width = 64 if L else 32
    shift = 28 - 4 * bf
    keep = ~(0xF << shift) & M32
    signed = name in ("cmp", "cmpi")
    m = (1 << width) - 1
    if name in ("cmpi", "cmpli"):
        imm = sx(w, 16) if signed else w & 0xFFFF

        if signed:
            def f(pc):
                a = sx(g[ra], width)
                c = 8 if a < imm else 4 if a > imm else 2
                st.cr = (st.cr & keep) | ((c | st.so) << shift)
                return pc + 4
        else:
            def f(pc):
                a = g[ra] & m
                c = 8 if a < imm else 4 if a > imm else 2
                st.cr = (st.cr & keep) | ((c | st.so) << shift)
                return pc + 4
        return f
    if signed:
        def f(pc):
            a, b = sx(g[ra], width), sx(g[rb], width)
            c = 8 if a < b else 4 if a > b else 2
            st.cr = (st.cr & keep) | ((c | st.so) << shift)
            return pc + 4
    else:
        def f(pc):
            a, b = g[ra] & m, g[rb] & m
            c = 8 if a < b else 4 if a > b else 2
            st.cr = (st.cr & keep) | ((c | st.so) << shift)
            return pc + 4
    return f


@op("isel")
def _isel(cpu, w, pc, name=None):
    g, st = cpu.gpr, cpu.state
    rt, ra, rb = fields(w)
    bit = 31 - ((w >> 6) & 31)

    def f(pc):
        g[rt] = (g[ra] if ra else 0) if (st.cr >> bit) & 1 else g[rb]
        return pc + 4
    return f
