"""Our assembler against GNU as: every form, over operand spreads with edge values.

All cases of one architecture go into ONE source file (fast). Case i sits at byte
4*i of .text, so `assemble(text, 4*i)` must give the word GNU as put there. Branch
targets are written relative (`.+N`), which both assemblers read the same way;
`.machine power4` (before the hinted branches only) makes GNU as read `+`/`-` hints
as the at bits of Power ISA 2.x, as we do, not as the old y bit.
"""

from __future__ import annotations

import random

import pytest

from conftest import need_toolchain
from ppcftrace import isa
from ppcftrace.isa import assemble, decode
from ppcftrace.isa.opcodes import OPS
from ppcftrace.toolchain import gnu_assemble

rnd = random.Random(2008)
REGS = [0, 1, 2, 31] + rnd.sample(range(3, 31), 3)
SI = [-0x8000, -1, 0, 1, 9, 10, 0x7FFF, rnd.randrange(-0x8000, 0x8000)]
UI = [0, 1, 0x7FFF, 0x8000, 0xFFFF, rnd.randrange(0x10000)]
DS = [-0x8000, -4, 0, 4, 0x28, 0x7FFC, rnd.randrange(-0x2000, 0x2000) * 4]
BRANCH24 = [-0x2000000, -4, 0, 4, 8, 0x1FFFFFC, rnd.randrange(-0x800000, 0x800000) * 4]
BRANCH14 = [-0x8000, -4, 0, 4, 0x7FFC, rnd.randrange(-0x2000, 0x2000) * 4]
CONDS = ["lt", "le", "eq", "ge", "gt", "nl", "ne", "ng", "so", "ns", "un", "nu"]
CRBITS = ["lt", "eq", "so", "4*cr7+gt", "4*cr1+lt", "31", "5"]
VALID_BO = [0, 2, 4, 6, 7, 8, 10, 12, 14, 15, 16, 18, 20, 24, 25, 26, 27]


def r(n):
    return f"r{n}"


def pairs(k=2):
    """Register tuples covering each edge register at least once."""
    out = []
    for i, a in enumerate(REGS):
        out.append(tuple([a] + [REGS[(i + j * 3 + 1) % len(REGS)] for j in range(k - 1)]))
    return out


def ra_text(n):
    """A base register as GNU as wants it: RA = 0 is written 0, not r0."""
    return r(n) if n else "0"


def rel(n):
    return f".+{n}" if n >= 0 else f".-{-n}"


def cases(arch: str) -> list[str]:
    c: list[str] = []
    is64 = arch == "ppc64"
    # I-form
    for off in BRANCH24:
        c += [f"b {rel(off)}", f"bl {rel(off)}"]
    for a in (0, 4, 0x1FFFFFC, 0x100):
        c += [f"ba {a:#x}", f"bla {a:#x}"]
    # B-form: raw, extended, with CR fields and hints
    for bo in VALID_BO:
        for bi in (0, 2, 31):
            c += [f"bc {bo},{bi},{rel(rnd.choice(BRANCH14))}", f"bcl {bo},{bi},{rel(8)}"]
    c += ["bca 12,2,0x100", "bcla 4,30,0x7ffc"]
    for off in BRANCH14:
        for cond in CONDS:
            c.append(f"b{cond} {rel(off)}")
        c += [f"beq cr7,{rel(off)}", f"bne cr1,{rel(off)}", f"bdnz {rel(off)}", f"bdz {rel(off)}"]
    for cond in CONDS:
        cr = rnd.randrange(8)
        c += [f"b{cond}l cr{cr},.+8", f"b{cond}a 0x40", f"b{cond}la cr{cr},0x40",
              f"b{cond}+ cr{cr},.+16", f"b{cond}- .-16", f"b{cond}l+ .+8",
              f"b{cond}lr", f"b{cond}lr cr{cr}", f"b{cond}lrl cr{cr}", f"b{cond}ctr cr{cr}",
              f"b{cond}ctrl", f"b{cond}lr+ cr{cr}", f"b{cond}ctr- cr{cr}"]
    for d in ("bdnz", "bdz"):
        c += [f"{d}l .+8", f"{d}a 0x100", f"{d}la 0x100", f"{d}+ .+8", f"{d}- .-8",
              f"{d}lr", f"{d}lrl", f"{d}lr+", f"{d}lrl-"]
        for tf in "tf":
            for bit in CRBITS[:5]:
                c += [f"{d}{tf} {bit},.+12", f"{d}{tf}l {bit},.-12", f"{d}{tf}lr {bit}",
                      f"{d}{tf}lrl {bit}", f"{d}{tf}a {bit},0x20"]
    # XL-form
    c += ["blr", "blrl", "bctr", "bctrl", "bclr 20,0", "bcctr 20,0", "bclr 12,2",
          "bclrl 4,30", "bcctr 12,31", "bcctrl 4,1", "bclr 16,0", "bclr 0,5"]
    c += ["sc", "nop", "xnop"]
    # D-form
    for (a, b) in pairs():
        for si in SI:
            c += [f"addi {r(a)},{r(b)},{si}", f"addis {r(a)},{r(b)},{si}",
                  f"mulli {r(a)},{r(b)},{si}", f"li {r(a)},{si}", f"lis {r(a)},{si}"]
            if si != -0x8000:
                c.append(f"subi {r(a)},{r(b)},{si}")
        for ui in UI:
            for op in ("ori", "oris", "xori", "xoris", "andi.", "andis."):
                c.append(f"{op} {r(a)},{r(b)},{ui}")
            c += [f"cmplwi {r(a)},{ui}", f"cmplwi cr{a % 8},{r(b)},{ui}", f"cmpli 3,0,{r(b)},{ui}"]
        for si in SI:
            c += [f"cmpwi {r(a)},{si}", f"cmpwi cr{b % 8},{r(a)},{si}", f"cmpi 5,0,{r(a)},{si}"]
        for d in SI:
            for op in ("lwz", "lbz", "lhz", "lha", "stw", "stb", "sth"):
                c.append(f"{op} {r(a)},{d}({ra_text(b)})")
            ra = b if b not in (0, a) else 1 + (a + 1) % 30
            for op in ("lwzu", "lbzu", "lhzu", "lhau", "stwu", "stbu", "sthu"):
                c.append(f"{op} {r(a)},{d}({r(ra)})")
        c += [f"lis {r(a)},0xc000", f"lis {r(a)},0xffff"]
        if is64:
            for si in SI:
                c += [f"cmpdi {r(a)},{si}", f"cmpdi cr{b % 8},{r(a)},{si}"]
            for ui in UI:
                c.append(f"cmpldi cr{a % 8},{r(b)},{ui}")
            for ds in DS:
                ra = b if b not in (0, a) else 1 + (a + 1) % 30
                c += [f"ld {r(a)},{ds}({ra_text(b)})", f"lwa {r(a)},{ds}({ra_text(b)})",
                      f"std {r(a)},{ds}({ra_text(b)})", f"ldu {r(a)},{ds}({r(ra)})",
                      f"stdu {r(a)},{ds}({r(ra)})"]
    c += ["lwz r3,0x28(r1)", "lwz r3,-0x10(r1)", "stw r0,4(r1)", "lwz r3,8(0)", "lbz 3,0(4)"]
    # X/XO-forms
    three = ["and", "or", "xor", "nor", "slw", "srw", "sraw", "add", "subf", "mullw", "divw",
             "divwu", "sub"]
    two = ["extsh", "extsb", "neg", "mr", "not"]
    if is64:
        three += ["sld", "srd", "srad", "mulld"]
        two += ["extsw"]
    for (a, b, d) in pairs(3):
        for op in three:
            c += [f"{op} {r(a)},{r(b)},{r(d)}", f"{op}. {r(d)},{r(a)},{r(b)}"]
        for op in two:
            c += [f"{op} {r(a)},{r(b)}", f"{op}. {r(b)},{r(a)}"]
        for sh in (0, 1, 31, rnd.randrange(32)):
            c += [f"srawi {r(a)},{r(b)},{sh}", f"srawi. {r(a)},{r(b)},{sh}"]
        cmps = ["cmpw", "cmplw"] + (["cmpd", "cmpld"] if is64 else [])
        for op in cmps:
            c += [f"{op} {r(a)},{r(b)}", f"{op} cr{d % 8},{r(a)},{r(b)}"]
        c += [f"cmp 7,0,{r(a)},{r(b)}", f"cmpl 1,0,{r(a)},{r(b)}"]
        # XFX
        c += [f"mflr {r(a)}", f"mtlr {r(a)}", f"mfctr {r(a)}", f"mtctr {r(a)}", f"mfxer {r(a)}",
              f"mtxer {r(a)}", f"mfcr {r(a)}", f"mtcr {r(a)}", f"mfspr {r(a)},8", f"mtspr 9,{r(a)}",
              f"mtcrf {rnd.randrange(256)},{r(a)}", f"mtcrf 255,{r(a)}", f"mtcrf 0x80,{r(a)}"]
        # M-form
        for n in (1, 5, 31):
            for op in ("slwi", "srwi", "clrlwi", "rotlwi"):
                c += [f"{op} {r(a)},{r(b)},{n}", f"{op}. {r(a)},{r(b)},{n}"]
        for _ in range(4):
            sh, mb, me = (rnd.randrange(32) for _ in range(3))
            c += [f"rlwinm {r(a)},{r(b)},{sh},{mb},{me}", f"rlwinm. {r(a)},{r(b)},{sh},{mb},{me}"]
        c += [f"slwi {r(a)},{r(b)},0", f"srwi {r(a)},{r(b)},0", f"clrlwi {r(a)},{r(b)},0",
              f"rlwinm {r(a)},{r(b)},31,31,31"]
        if is64:  # MD-form
            for n in (1, 31, 32, 33, 63):
                for op in ("sldi", "srdi", "clrldi", "rotldi"):
                    c += [f"{op} {r(a)},{r(b)},{n}", f"{op}. {r(a)},{r(b)},{n}"]
            for _ in range(4):
                sh, m = rnd.randrange(64), rnd.randrange(64)
                c += [f"rldicl {r(a)},{r(b)},{sh},{m}", f"rldicr. {r(a)},{r(b)},{sh},{m}"]
            c += [f"rldicl {r(a)},{r(b)},63,63", f"rldicr {r(a)},{r(b)},0,0",
                  f"sldi {r(a)},{r(b)},0",
                  f"srdi {r(a)},{r(b)},0"]
    return c


def _hinted(text: str) -> bool:
    """A branch whose BO carries Power ISA 2.x at hint bits."""
    name, _, ops = text.partition(" ")
    if name[-1] in "+-":
        return True
    at_hint_bo = (6, 7, 14, 15, 24, 25, 26, 27)
    return name.startswith("bc") and bool(ops) and int(ops.split(",")[0]) in at_hint_bo


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
@pytest.mark.toolchain
def test_assemble_matches_gnu_as(arch):
    need_toolchain(arch)
    plain, hinted = [], []
    for text in cases(arch):
        (hinted if _hinted(text) else plain).append(text)
    texts = plain + hinted
    assert len(texts) > 600
    # only the hinted ones under .machine power4 (it also turns one-field mtcrf into mtocrf)
    gnu = gnu_assemble("\n".join(plain) + "\n.machine power4\n" + "\n".join(hinted), arch)
    assert len(gnu) == 4 * len(texts)
    bad = []
    for i, text in enumerate(texts):
        want = int.from_bytes(gnu[4 * i:4 * i + 4], "big")
        got = assemble(text, 4 * i, arch)
        if got != want:
            bad.append(f"{text}: ours {got:08x}, GNU as {want:08x}")
        # GNU's word decodes to a text that assembles back to the same instruction (the
        # word itself unless the text cannot carry an ignored field, like BI of bdnz)
        insn = decode(want, 4 * i, arch)
        again = assemble(insn.text, 4 * i, arch)
        if decode(again, 4 * i, arch).text != insn.text:
            bad.append(f"{text}: decode -> {insn.text!r} assembles to {again:08x}, not {want:08x}")
    assert not bad, f"{len(bad)} of {len(texts)} differ:\n" + "\n".join(bad[:40])


def test_every_op_is_covered():
    names = set()
    for text in cases("ppc64"):
        names.add(decode(assemble(text, 0x100), 0x100).op)
    assert names == set(OPS)


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_absolute_branch_targets_equal_relative_ones(arch):
    at = 0xC000000000001000 if arch == "ppc64" else 0xC0001000
    for off in BRANCH24:
        for op in ("b", "bl"):
            assert (assemble(f"{op} {at + off:#x}", at, arch)
                    == assemble(f"{op} {rel(off)}", at, arch))
    for off in BRANCH14:
        assert (assemble(f"beq cr7,{at + off:#x}", at, arch)
                == assemble(f"beq cr7,{rel(off)}", at, arch))


KERNEL_WORDS = {
    "PPC_INST_NOP": "nop", "PPC_INST_B_8": "b .+8", "PPC_INST_BRANCH": "b .",
    "PPC_INST_BL": "bl .", "PPC_INST_BLR": "blr", "PPC_INST_BCTR": "bctr",
    "PPC_INST_MFLR": "mflr r0", "PPC_INST_MTLR": "mtlr r0",
    "PPC_INST_LD_TOC": "ld r2,40(r1)", "PPC_INST_STD_TOC": "std r2,40(r1)",
    "PPC_INST_LD_TOC_ELFV2": "ld r2,24(r1)", "PPC_INST_STD_TOC_ELFV2": "std r2,24(r1)",
    "PPC_INST_STD_LR": "std r0,16(r1)", "PPC_INST_STW_LR": "stw r0,4(r1)",
    "PPC_INST_ADDIS_R12_R2": "addis r12,r2,0", "PPC_INST_ADDI_R12_R12": "addi r12,r12,0",
    "PPC_INST_LD_R11_R12": "ld r11,32(r12)", "PPC_INST_LD_R2_R12": "ld r2,40(r12)",
    "PPC_INST_MTCTR_R11": "mtctr r11", "PPC_INST_MTCTR_R12": "mtctr r12",
    "PPC_INST_LIS_R11": "lis r11,0", "PPC_INST_ADDI_R11_R11": "addi r11,r11,0",
    "PPC_INST_LIS_R12": "lis r12,0",
}


@pytest.mark.toolchain
def test_kernel_instruction_words_match_gnu_as():
    need_toolchain("ppc64")
    names = sorted(KERNEL_WORDS)
    gnu = gnu_assemble("\n".join(KERNEL_WORDS[n] for n in names), "ppc64")
    for i, name in enumerate(names):
        assert getattr(isa, name) == int.from_bytes(gnu[4 * i:4 * i + 4], "big"), name
    assert {n for n in dir(isa) if n.startswith("PPC_INST_")} == set(names)
