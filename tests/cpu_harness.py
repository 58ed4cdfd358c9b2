"""Random straight-line programs and a static harness that runs them under qemu.

One executable runs many programs in turn. Each program owns a block addressed by r31:

    +0      scratch buffer (loads and stores go here)
    +256    initial GPRs, CR, XER, CTR, LR (one register-sized slot each)
    +256+S  the same registers after the program

then the harness writes every block to stdout and exits. The interpreter runs the same
linked bytes from the ELF's segments up to the label `done` and its blocks must equal
what qemu printed.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile

from ppcftrace.memory import AddressSpace
from ppcftrace.toolchain import QEMU, tool

SCRATCH = 256
SLOTS = 36                      # r0..r31, cr, xer, ctr, lr
NAMES = [f"r{i}" for i in range(32)] + ["cr", "xer", "ctr", "lr"]
QEMU_CPU = {"ppc64": "power7", "ppc32": "7400"}

SPECIAL = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
           0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
           0xFFFFFFFFFFFFFFFF, 0xFFFFFFFF80000000]


@dataclass
class Layout:
    arch: str

    @property
    def word(self) -> int:
        return 8 if self.arch == "ppc64" else 4

    @property
    def init(self) -> int:
        return SCRATCH

    @property
    def out(self) -> int:
        return SCRATCH + SLOTS * self.word

    @property
    def block(self) -> int:
        return SCRATCH + 2 * SLOTS * self.word


def _value(rng: random.Random, bits: int) -> int:
    r = rng.random()
    if r < 0.3:
        v = rng.choice(SPECIAL)
    elif r < 0.5:
        v = rng.randrange(-300, 300)
    else:
        v = rng.getrandbits(64)
    return v & ((1 << bits) - 1)


class ProgramGenerator:
    """Random programs over the interpreter's integer subset (r31 stays the block base)."""

    def __init__(self, arch: str, seed: int):
        self.arch = arch
        self.is64 = arch == "ppc64"
        self.rng = random.Random(seed)

    def r(self) -> str:
        return f"r{self.rng.randrange(31)}"

    def nz(self) -> str:
        return f"r{self.rng.randrange(1, 31)}"

    def si(self) -> int:
        return self.rng.choice([self.rng.randrange(-0x8000, 0x8000), self.rng.randrange(-16, 16)])

    def ui(self) -> int:
        return self.rng.choice([self.rng.randrange(0x10000), self.rng.randrange(16)])

    def dot(self) -> str:
        return "." if self.rng.random() < 0.3 else ""

    def instruction(self) -> list[str]:
        rng, r = self.rng, self.r
        kinds = ["xo", "xo", "d", "logic", "logic_d", "ext", "shift", "rlw", "cmp", "cmp",
                 "cr", "load", "store", "branch", "spr", "indirect", "misc"]
        if self.is64:
            kinds += ["rld", "rld", "isel", "load", "store"]
        kind = rng.choice(kinds)
        if kind == "xo":
            ops = ["add", "addc", "adde", "subf", "subfc", "subfe", "mullw", "mulhw", "mulhwu",
                   "divw", "divwu"]
            unary = ["addze", "addme", "subfze", "subfme", "neg"]
            if self.is64:
                ops += ["mulld", "mulhd", "mulhdu", "divd", "divdu"]
            name = rng.choice(ops + unary)
            o = "o" if rng.random() < 0.3 and not name.startswith("mulh") else ""
            if name in unary:
                return [f"{name}{o}{self.dot()} {r()},{r()}"]
            return [f"{name}{o}{self.dot()} {r()},{r()},{r()}"]
        if kind == "d":
            name = rng.choice(["addi", "addis", "addic", "addic.", "subfic", "mulli"])
            return [f"{name} {r()},{r()},{self.si()}"]
        if kind == "logic":
            name = rng.choice(["and", "andc", "or", "orc", "xor", "nand", "nor", "eqv"])
            return [f"{name}{self.dot()} {r()},{r()},{r()}"]
        if kind == "logic_d":
            name = rng.choice(["ori", "oris", "xori", "xoris", "andi.", "andis."])
            return [f"{name} {r()},{r()},{self.ui()}"]
        if kind == "ext":
            names = ["extsb", "extsh", "cntlzw"] + (["extsw", "cntlzd"] if self.is64 else [])
            return [f"{rng.choice(names)}{self.dot()} {r()},{r()}"]
        if kind == "shift":
            names = ["slw", "srw", "sraw"] + (["sld", "srd", "srad"] if self.is64 else [])
            if rng.random() < 0.3:
                return [f"srawi{self.dot()} {r()},{r()},{rng.randrange(32)}"]
            if self.is64 and rng.random() < 0.3:
                return [f"sradi{self.dot()} {r()},{r()},{rng.randrange(64)}"]
            return [f"{rng.choice(names)}{self.dot()} {r()},{r()},{r()}"]
        if kind == "rlw":
            name = rng.choice(["rlwinm", "rlwimi", "rlwnm"])
            third = r() if name == "rlwnm" else rng.randrange(32)
            return [f"{name}{self.dot()} {r()},{r()},{third},{rng.randrange(32)},{rng.randrange(32)}"]
        if kind == "rld":
            name = rng.choice(["rldicl", "rldicr", "rldic", "rldimi", "rldcl", "rldcr"])
            third = r() if name in ("rldcl", "rldcr") else rng.randrange(64)
            return [f"{name}{self.dot()} {r()},{r()},{third},{rng.randrange(64)}"]
        if kind == "cmp":
            widths = ["w", "d"] if self.is64 else ["w"]
            w = rng.choice(widths)
            cr = f"cr{rng.randrange(8)}"
            form = rng.randrange(4)
            if form == 0:
                return [f"cmp{w} {cr},{r()},{r()}"]
            if form == 1:
                return [f"cmpl{w} {cr},{r()},{r()}"]
            if form == 2:
                return [f"cmp{w}i {cr},{r()},{self.si()}"]
            return [f"cmpl{w}i {cr},{r()},{self.ui()}"]
        if kind == "cr":
            if rng.random() < 0.2:
                return [f"mcrf cr{rng.randrange(8)},cr{rng.randrange(8)}"]
            name = rng.choice(["crand", "cror", "crxor", "crnand", "crnor", "creqv", "crandc", "crorc"])
            return [f"{name} {rng.randrange(32)},{rng.randrange(32)},{rng.randrange(32)}"]
        if kind == "indirect":             # conditional bclr/bcctr to a known label
            t = self.nz()
            reg = rng.choice(["lr", "ctr"])
            bo = rng.choice([4, 12, 20] if reg == "ctr" else [4, 12, 20, 0, 2, 8, 10, 16, 18])
            link = "l" if rng.random() < 0.3 else ""
            return [f"lis {t},1f@ha", f"addi {t},{t},1f@l", f"mt{reg} {t}",
                    f"bc{reg}{link} {bo},{rng.randrange(32)}", *self.instruction(), "1:"]
        if kind == "misc":
            choice = rng.randrange(4)
            if choice == 0:
                return [rng.choice(["sync", "isync", "eieio", "lwsync"])]
            if choice == 1:
                x = self.nz()
                cache = rng.choice(["dcbst", "dcbf", "dcbt", "icbi"])
                return [f"li {x},{rng.randrange(SCRATCH)}", f"{cache} r31,{x}"]
            if choice == 2:                  # an adjacent reserve/conditional-store pair
                x, size = self.nz(), rng.choice([4, 8] if self.is64 else [4])
                load, store = ("lwarx", "stwcx.") if size == 4 else ("ldarx", "stdcx.")
                off = rng.randrange(0, SCRATCH - 8) & ~(size - 1)
                dest = self.r()
                while dest == x:
                    dest = self.r()
                return [f"li {x},{off}", f"{load} {dest},r31,{x}", f"{store} {self.r()},r31,{x}"]
            first = rng.randrange(24, 31)
            return [f"stmw r{first},{rng.randrange(0, SCRATCH - 4 * (32 - first)) & ~3}(r31)"]
        if kind == "isel":
            return [f"isel {r()},{r()},{r()},{rng.randrange(32)}"]
        if kind == "spr":
            choice = rng.randrange(5)
            if choice == 0:
                if self.is64 and rng.random() < 0.5:
                    return [f"mfocrf {r()},{1 << rng.randrange(8)}"]
                return [f"mfcr {r()}"]
            if choice == 1:
                return [f"mtcrf {rng.randrange(256)},{r()}"]
            if choice == 2:
                return [f"mfxer {r()}"]
            if choice == 3:
                t = self.r()
                # only SO/OV/CA: qemu keeps other XER bits that the ISA reserves
                return [f"rlwinm {t},{r()},0,0,2", f"mtxer {t}"]
            return [f"mtctr {r()}", f"mfctr {r()}"] if rng.random() < 0.5 else [f"mtlr {r()}", f"mflr {r()}"]
        if kind in ("load", "store"):
            return self.memory_op(kind)
        if kind == "branch":
            bo = rng.choice([4, 12, 16, 18, 0, 2, 8, 10, 20])
            bi = rng.randrange(32)
            pre = [f"mtctr {r()}"] if not bo & 4 and rng.random() < 0.5 else []
            link = "l" if rng.random() < 0.2 else ""
            return pre + [f"bc{link} {bo},{bi},1f", *self.instruction(), "1:"]
        raise AssertionError(kind)

    def memory_op(self, kind: str) -> list[str]:
        rng = self.rng
        sizes = {"b": 1, "h": 2, "w": 4, "d": 8}
        if kind == "load":
            names = ["lbz", "lhz", "lha", "lwz"] + (["ld", "lwa"] if self.is64 else [])
        else:
            names = ["stb", "sth", "stw"] + (["std"] if self.is64 else [])
        name = rng.choice(names)
        size = sizes[name[1] if kind == "load" else name[2]]
        off = rng.randrange(0, SCRATCH - 8) & ~(size - 1)
        if name in ("ld", "lwa", "std"):
            off &= ~3
        form = rng.randrange(4)
        if form == 0 or (name == "lwa" and form == 2):
            return [f"{name} {self.r()},{off}(r31)"]
        if form == 1:                     # indexed
            x = self.nz()
            if rng.random() < 0.2 and size in (2, 4):
                brx = {"l": {2: "lhbrx", 4: "lwbrx"}, "s": {2: "sthbrx", 4: "stwbrx"}}[kind[0]][size]
                return [f"li {x},{off}", f"{brx} {self.r()},r31,{x}"]
            return [f"li {x},{off}", f"{name}x {self.r()},r31,{x}"]
        # with update: a temporary base that the instruction moves
        t = self.nz()
        d = rng.randrange(-8, 9) * size & ~3 if name in ("ld", "std") else rng.randrange(-8, 9) * size
        if d + off < 0 or d + off > SCRATCH - 8:
            d = 0
        dest = self.r()
        while kind == "load" and dest == t:
            dest = self.r()
        if form == 2:
            return [f"addi {t},r31,{off}", f"{name}u {dest},{d}(r31)".replace("(r31)", f"({t})")]
        x = self.nz()
        while x == t:
            x = self.nz()
        while kind == "load" and dest in (t,):
            dest = self.r()
        return [f"addi {t},r31,{off - d}", f"li {x},{d}", f"{name}ux {dest},{t},{x}"]

    def program(self, length: int) -> list[str]:
        lines: list[str] = []
        while len(lines) < length:
            lines += self.instruction()
        return lines

    def initial(self) -> list[int]:
        bits = 64 if self.is64 else 32
        values = [_value(self.rng, bits) for _ in range(32)]
        cr = self.rng.getrandbits(32)
        xer = self.rng.getrandbits(3) << 29
        return values + [cr, xer, _value(self.rng, bits), _value(self.rng, bits) & ~3]


def harness_source(arch: str, programs: list[list[str]], inits: list[list[int]], scratch: list[bytes]) -> str:
    lay = Layout(arch)
    W = lay.word
    ld, st, data = ("ld", "std", ".quad") if arch == "ppc64" else ("lwz", "stw", ".long")
    out = [".text", ".globl code_start", "code_start:"]
    for k, prog in enumerate(programs):
        out += [f"lis r31,block{k}@ha", f"addi r31,r31,block{k}@l"]
        for slot, how in ((32, "mtcrf 255,r0"), (33, "mtxer r0"), (34, "mtctr r0"), (35, "mtlr r0")):
            out += [f"{ld} r0,{lay.init + slot * W}(r31)", how]
        out += [f"{ld} r{i},{lay.init + i * W}(r31)" for i in range(31)]
        out += [line.replace("1f", f"9{k}f").replace("1:", f"9{k}:") for line in prog]
        out += [f"{st} r{i},{lay.out + i * W}(r31)" for i in range(32)]
        for slot, how in ((32, "mfcr r0"), (33, "mfxer r0"), (34, "mfctr r0"), (35, "mflr r0")):
            out += [how, f"{st} r0,{lay.out + slot * W}(r31)"]
    total = lay.block * len(programs)
    out += [".globl done", "done:", "li r0,4", "li r3,1", "lis r4,block0@ha", "addi r4,r4,block0@l",
            f"lis r5,{total >> 16}", f"ori r5,r5,{total & 0xFFFF}", "sc", "li r0,1", "li r3,0", "sc"]
    if arch == "ppc64":
        out += ['.section .opd,"aw"', ".align 3", ".globl _start", "_start:", ".quad code_start,0,0"]
    else:
        out += [".globl _start", ".set _start, code_start"]
    out += [".data", ".align 4"]
    for k, (init, buf) in enumerate(zip(inits, scratch)):
        out += [f"block{k}:", ".byte " + ",".join(str(b) for b in buf)]
        out += [f"{data} " + ",".join(hex(v) for v in init)]
        out += [f".space {SLOTS * W}"]
    return "\n".join(out) + "\n"


def build(arch: str, source: str, directory: str) -> str:
    src, exe = os.path.join(directory, "h.S"), os.path.join(directory, "h")
    with open(src, "w") as f:
        f.write(source)
    flags = ["-Wa,-many", "-Wa,-mregnames"] + (["-m64"] if arch == "ppc64" else [])
    proc = subprocess.run([tool(arch, "gcc"), "-nostdlib", "-static", *flags, "-o", exe, src],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return exe


def run_qemu(arch: str, exe: str) -> bytes:
    proc = subprocess.run([QEMU[arch], "-cpu", QEMU_CPU[arch], exe], capture_output=True, timeout=120)
    if proc.returncode:
        raise RuntimeError(f"qemu exited {proc.returncode}: {proc.stderr[-500:]!r}")
    return proc.stdout


def load_elf(path: str, arch: str) -> tuple[AddressSpace, dict[str, int]]:
    """The executable's PT_LOAD segments mapped into a fresh address space, and its symbols."""
    mem = AddressSpace(64 if arch == "ppc64" else 32)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for i, seg in enumerate(elf.iter_segments()):
            if seg["p_type"] != "PT_LOAD":
                continue
            flags = seg["p_flags"]
            perms = ("r" if flags & 4 else "") + ("w" if flags & 2 else "") + ("x" if flags & 1 else "")
            with mem.unjournaled():
                mem.map(f"seg{i}", seg["p_vaddr"], seg["p_memsz"], perms, seg.data())
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name}
    return mem, symbols


def make_batch(arch: str, seed: int, count: int, length: int = 24):
    gen = ProgramGenerator(arch, seed)
    programs = [gen.program(length) for _ in range(count)]
    inits = [gen.initial() for _ in range(count)]
    scratch = [bytes(gen.rng.getrandbits(8) for _ in range(SCRATCH)) for _ in range(count)]
    return programs, inits, scratch


def explain(arch: str, programs, expected: bytes, actual: bytes, limit: int = 3) -> str:
    """Which program and which registers or scratch bytes differ, with the program text."""
    lay = Layout(arch)
    W = lay.word
    msgs = []
    for k, prog in enumerate(programs):
        a = expected[k * lay.block:(k + 1) * lay.block]
        b = actual[k * lay.block:(k + 1) * lay.block]
        if a == b:
            continue
        diffs = []
        for slot in range(SLOTS):
            o = lay.out + slot * W
            if a[o:o + W] != b[o:o + W]:
                diffs.append(f"{NAMES[slot]}: qemu {a[o:o + W].hex()} ours {b[o:o + W].hex()}")
        for i in range(SCRATCH):
            if a[i] != b[i]:
                diffs.append(f"scratch+{i}: qemu {a[i]:02x} ours {b[i]:02x}")
                break
        init = b[lay.init:lay.init + SLOTS * W]
        regs = " ".join(f"{NAMES[s]}={init[s * W:(s + 1) * W].hex()}" for s in range(SLOTS))
        msgs.append(f"program {k}:\n  " + "\n  ".join(prog) + f"\n initial: {regs}\n " + "\n ".join(diffs))
        if len(msgs) >= limit:
            break
    return "\n".join(msgs)


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="ppcftrace-cpu-")
