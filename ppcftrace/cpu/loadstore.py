"""Compilers for loads and stores: D, DS and X (indexed) forms, with update.

The effective address is computed and the memory accessed before any register is
written, so a faulting access leaves the processor state as it was.
"""

from __future__ import annotations

from ppcftrace.cpu.bits import fields, sx
from ppcftrace.cpu.registry import COMPILERS, Unsupported, need64, op

# name: (size, sign-extend, update, indexed)
_LOADS = {}
_STORES = {}
for _base, _size, _signed in (("lbz", 1, False), ("lhz", 2, False), ("lha", 2, True),
                              ("lwz", 4, False), ("lwa", 4, True), ("ld", 8, False)):
    for _suffix, _upd, _idx in (("", 0, 0), ("u", 1, 0), ("x", 0, 1), ("ux", 1, 1)):
        _LOADS[_base + _suffix] = (_size, _signed, _upd, _idx)
for _base, _size in (("stb", 1), ("sth", 2), ("stw", 4), ("std", 8)):
    for _suffix, _upd, _idx in (("", 0, 0), ("u", 1, 0), ("x", 0, 1), ("ux", 1, 1)):
        _STORES[_base + _suffix] = (_size, False, _upd, _idx)


def _displacement(w: int, name: str) -> int:
    if (w >> 26) in (58, 62):             # DS-form: low two bits are the extended opcode
        return sx(w & 0xFFFC, 16)
    return sx(w, 16)


def _common(cpu, w, name, table):
    size, signed, update, indexed = table[name]
    if size == 8 or name.startswith("lwa"):
        need64(cpu, name)
    rt, ra, rb = fields(w)
    d = 0 if indexed else _displacement(w, name)
    return size, signed, update, indexed, rt, ra, rb, d


@op(*_LOADS)
def _load(cpu, w, pc, name=None):
    g, M = cpu.gpr, cpu.mask
    size, signed, update, indexed, rt, ra, rb, d = _common(cpu, w, name, _LOADS)
    read = cpu.readers[size]
    width = size * 8
    if update and (ra == 0 or ra == rt):
        raise Unsupported(f"{name} with RA = 0 or RA = RT is an invalid form")
    if not update and not indexed and not signed:
        if ra == 0:
            def f(pc):
                g[rt] = read(d & M)
                return pc + 4
        else:
            def f(pc):
                g[rt] = read((g[ra] + d) & M)
                return pc + 4
        return f

    def f(pc):
        ea = ((g[ra] if ra or update else 0) + (g[rb] if indexed else d)) & M
        v = read(ea)
        g[rt] = sx(v, width) & M if signed else v
        if update:
            g[ra] = ea
        return pc + 4
    return f


@op(*_STORES)
def _store(cpu, w, pc, name=None):
    g, M = cpu.gpr, cpu.mask
    size, _, update, indexed, rs, ra, rb, d = _common(cpu, w, name, _STORES)
    write = cpu.writers[size]
    if update and ra == 0:
        raise Unsupported(f"{name} with RA = 0 is an invalid form")
    if not update and not indexed:
        if ra == 0:
            def f(pc):
                write(d & M, g[rs])
                return pc + 4
        else:
            def f(pc):
                write((g[ra] + d) & M, g[rs])
                return pc + 4
        return f

    def f(pc):
        ea = ((g[ra] if ra or update else 0) + (g[rb] if indexed else d)) & M
        write(ea, g[rs])
        if update:
            g[ra] = ea
        return pc + 4
    return f


@op("lwbrx", "lhbrx", "stwbrx", "sthbrx")
def _byte_reversed(cpu, w, pc, name=None):
    g, M, mem = cpu.gpr, cpu.mask, cpu.memory
    rt, ra, rb = fields(w)
    size = 4 if name[1] == "w" or name[2] == "w" else 2
    if name.startswith("l"):
        def f(pc):
            ea = ((g[ra] if ra else 0) + g[rb]) & M
            g[rt] = int.from_bytes(mem.read(ea, size), "little")
            return pc + 4
    else:
        def f(pc):
            ea = ((g[ra] if ra else 0) + g[rb]) & M
            mem.write(ea, (g[rt] & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            return pc + 4
    return f


@op("lmw", "stmw")
def _multiple(cpu, w, pc, name=None):
    g, M, mem = cpu.gpr, cpu.mask, cpu.memory
    rt, ra, _ = fields(w)
    d = sx(w, 16)
    if name == "lmw":
        if ra >= rt:
            raise Unsupported("lmw with RA in the loaded range is an invalid form")

        def f(pc):
            ea = ((g[ra] if ra else 0) + d) & M
            data = mem.read(ea, 4 * (32 - rt))
            for i in range(rt, 32):
                g[i] = int.from_bytes(data[4 * (i - rt): 4 * (i - rt) + 4], "big")
            return pc + 4
    else:
        def f(pc):
            ea = ((g[ra] if ra else 0) + d) & M
            mem.write(ea, b"".join((g[i] & 0xFFFFFFFF).to_bytes(4, "big") for i in range(rt, 32)))
            return pc + 4
    return f


@op("lwarx", "ldarx", "stwcx.", "stdcx.")
def _reserved(cpu, w, pc, name=None):
    """Load-and-reserve / store-conditional: one processor, so the store succeeds while
    the reservation made by the last lwarx/ldarx stands."""
    g, M, st = cpu.gpr, cpu.mask, cpu.state
    rt, ra, rb = fields(w)
    size = 8 if name[1] == "d" or name[2] == "d" else 4
    if size == 8:
        need64(cpu, name)
    read, write = cpu.readers[size], cpu.writers[size]
    if name.startswith("l"):
        def f(pc):
            ea = ((g[ra] if ra else 0) + g[rb]) & M
            g[rt] = read(ea)
            st.reserve = ea
            return pc + 4
    else:
        def f(pc):
            ea = ((g[ra] if ra else 0) + g[rb]) & M
            ok = st.reserve is not None
            if ok:
                write(ea, g[rt])
            st.reserve = None
            st.cr = (st.cr & 0x0FFFFFFF) | (((2 if ok else 0) | st.so) << 28)
            return pc + 4
    return f


assert all(n in COMPILERS for n in _LOADS)
