"""Compilers for branches, condition-register logic, SPR moves, traps and barriers."""

from __future__ import annotations

from ppcftrace.cpu.bits import M32, fields, sx
from ppcftrace.cpu.errors import CpuTrap
from ppcftrace.cpu.registry import Unsupported, op


def _condition(cpu, bo: int, bi: int):
    """A function telling whether a bc with this BO/BI branches (decrementing CTR)."""
    st, M = cpu.state, cpu.mask
    bit = 31 - bi
    want = (bo >> 3) & 1
    if bo & 0x14 == 0x14:
        return None                        # branch always
    if bo & 4:
        def taken():
            return (st.cr >> bit) & 1 == want
        return taken
    zero = bool(bo & 2)
    if bo & 16:
        def taken():
            st.ctr = c = (st.ctr - 1) & M
            return (c == 0) == zero
        return taken

    def taken():
        st.ctr = c = (st.ctr - 1) & M
        return (c == 0) == zero and (st.cr >> bit) & 1 == want
    return taken


@op("b")
def _b(cpu, w, pc, name=None):
    st, M = cpu.state, cpu.mask
    li = sx(w & 0x03FFFFFC, 26)
    target = (li if w & 2 else pc + li) & M
    link = (pc + 4) & M
    if w & 1:
        def f(pc):
            st.lr = link
            return target
    else:
        def f(pc):
            return target
    return f


@op("bc")
def _bc(cpu, w, pc, name=None):
    st, M = cpu.state, cpu.mask
    bo, bi = (w >> 21) & 31, (w >> 16) & 31
    bd = sx(w & 0xFFFC, 16)
    target = (bd if w & 2 else pc + bd) & M
    nxt = (pc + 4) & M
    lk = w & 1
    taken = _condition(cpu, bo, bi)
    if taken is None:
        taken = lambda: True  # noqa: E731
    if lk:
        def f(pc):
            st.lr = nxt
            return target if taken() else nxt
    else:
        def f(pc):
            return target if taken() else nxt
    return f


@op("bclr", "bcctr")
def _bcreg(cpu, w, pc, name=None):
    st, M = cpu.state, cpu.mask
    bo, bi = (w >> 21) & 31, (w >> 16) & 31
    lk = w & 1
    nxt = (pc + 4) & M
    if name == "bcctr" and not bo & 4:
        raise Unsupported("bcctr that decrements CTR is an invalid form")
    taken = _condition(cpu, bo, bi)
    reg = "lr" if name == "bclr" else "ctr"
    if taken is None and not lk:
        if reg == "lr":
            def f(pc):                     # blr
                return st.lr & ~3
        else:
            def f(pc):                     # bctr
                return st.ctr & ~3
        return f

    def f(pc):
        target = (st.lr if reg == "lr" else st.ctr) & ~3
        go = taken is None or taken()
        if lk:
            st.lr = nxt
        return target if go else nxt
    return f


_CR_LOGIC = {
    "crand": lambda a, b: a & b, "cror": lambda a, b: a | b, "crxor": lambda a, b: a ^ b,
    "crnand": lambda a, b: 1 - (a & b), "crnor": lambda a, b: 1 - (a | b),
    "creqv": lambda a, b: 1 - (a ^ b), "crandc": lambda a, b: a & (1 - b),
    "crorc": lambda a, b: a | (1 - b),
}


@op(*_CR_LOGIC)
def _crlogic(cpu, w, pc, name=None):
    st = cpu.state
    bt, ba, bb = fields(w)
    fn = _CR_LOGIC[name]
    st_bit = 31 - bt

    def f(pc):
        cr = st.cr
        v = fn((cr >> (31 - ba)) & 1, (cr >> (31 - bb)) & 1)
        st.cr = (cr & ~(1 << st_bit)) | (v << st_bit)
        return pc + 4
    return f


@op("mcrf")
def _mcrf(cpu, w, pc, name=None):
    st = cpu.state
    bf, bfa = (w >> 23) & 7, (w >> 18) & 7

    def f(pc):
        v = (st.cr >> (28 - 4 * bfa)) & 0xF
        st.cr = (st.cr & ~(0xF << (28 - 4 * bf)) & M32) | (v << (28 - 4 * bf))
        return pc + 4
    return f


@op("mfcr")
def _mfcr(cpu, w, pc, name=None):
    g, st = cpu.gpr, cpu.state
    rt = (w >> 21) & 31
    if w & (1 << 20):                      # mfocrf: only the one field named by FXM
        fxm = (w >> 12) & 0xFF
        m = 0
        for i in range(8):
            if fxm & (0x80 >> i):
                m |= 0xF << (28 - 4 * i)
    else:
        m = M32

    def f(pc):
        g[rt] = st.cr & m
        return pc + 4
    return f


@op("mtcrf")
def _mtcrf(cpu, w, pc, name=None):
    g, st = cpu.gpr, cpu.state
    rs = (w >> 21) & 31
    fxm = (w >> 12) & 0xFF
    m = 0
    for i in range(8):
        if fxm & (0x80 >> i):
            m |= 0xF << (28 - 4 * i)
    keep = ~m & M32

    def f(pc):
        st.cr = (st.cr & keep) | (g[rs] & m)
        return pc + 4
    return f


def _spr(w: int) -> int:
    return ((w >> 16) & 31) | (((w >> 11) & 31) << 5)


SPRG0 = 272
MSR_EE, MSR_RI = 1 << 15, 1 << 1


@op("mfspr", "mtspr")
def _spr_move(cpu, w, pc, name=None):
    g, st = cpu.gpr, cpu.state
    r = (w >> 21) & 31
    spr = _spr(w)
    if SPRG0 <= spr < SPRG0 + 4:
        n = spr - SPRG0
        if name == "mfspr":
            def f(pc):
                g[r] = st.sprg[n]
                return pc + 4
        else:
            def f(pc):
                st.sprg[n] = g[r]
                return pc + 4
        return f
    if spr not in (1, 8, 9):
        raise Unsupported(f"{name} of SPR {spr} (only XER, LR, CTR and SPRG0-3)")
    attr = {1: "xer", 8: "lr", 9: "ctr"}[spr]
    if name == "mfspr":
        def f(pc):
            g[r] = getattr(st, attr)
            return pc + 4
    elif spr == 1:
        def f(pc):
            st.xer = g[r] & M32
            return pc + 4
    else:
        def f(pc):
            setattr(st, attr, g[r])
            return pc + 4
    return f


@op("mfmsr", "mtmsr", "mtmsrd")
def _msr(cpu, w, pc, name=None):
    """The MSR as privileged kernel code sees it; with L=1 only EE and RI change
    (how local_irq_disable/enable are written)."""
    g, st, M = cpu.gpr, cpu.state, cpu.mask
    r = (w >> 21) & 31
    if name == "mfmsr":
        def f(pc):
            g[r] = st.msr
            return pc + 4
        return f
    if name == "mtmsrd" and not cpu.is64:
        raise Unsupported("mtmsrd is a 64-bit instruction")
    if (w >> 16) & 1:
        def f(pc):
            st.msr = (st.msr & ~(MSR_EE | MSR_RI)) | (g[r] & (MSR_EE | MSR_RI))
            return pc + 4
    else:
        low = 0xFFFFFFFF if name == "mtmsr" else M   # mtmsr leaves the high word alone

        def f(pc):
            st.msr = (st.msr & ~low & M) | (g[r] & low)
            return pc + 4
    return f


@op("tw", "twi", "td", "tdi")
def _trap(cpu, w, pc, name=None):
    g = cpu.gpr
    to, ra, rb = fields(w)
    width = 64 if name.startswith("td") else 32
    if width == 64 and not cpu.is64:
        raise Unsupported(f"{name} is a 64-bit instruction")
    imm = name.endswith("i")
    si = sx(w, 16)
    m = (1 << width) - 1

    def f(pc):
        a = g[ra]
        b = si if imm else g[rb]
        sa, sb, ua, ub = sx(a, width), sx(b, width), a & m, b & m
        if ((to & 16 and sa < sb) or (to & 8 and sa > sb) or (to & 4 and sa == sb)
                or (to & 2 and ua < ub) or (to & 1 and ua > ub)):
            raise CpuTrap(pc, w)
        return pc + 4
    return f


@op("sync", "isync", "eieio", "dcbst", "dcbf", "dcbt", "dcbtst")
def _barrier(cpu, w, pc, name=None):
    # one in-order processor with no data cache model: ordering and data-cache hints are no-ops
    def f(pc):
        return pc + 4
    return f


@op("icbi")
def _icbi(cpu, w, pc, name=None):
    g, M = cpu.gpr, cpu.mask
    _, ra, rb = fields(w)

    def f(pc):
        ea = ((g[ra] if ra else 0) + g[rb]) & M
        line = ea & ~(cpu.icache_line - 1)
        cpu.flush_icache_range(line, line + cpu.icache_line)
        return pc + 4
    return f
