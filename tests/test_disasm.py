"""ppcftrace.disasm: capstone text, symbolized branch targets, the listing format."""

from __future__ import annotations

import capstone  # a declared dependency: missing means broken, not skipped
import pytest

from conftest import need_toolchain
from ppcftrace.disasm import Line, disassemble, format_lines
from ppcftrace.toolchain import gnu_assemble, run, tool

SOURCE = """\
mflr r0
std r0,16(r1)
bl .+0x100
nop
ld r2,40(r1)
beq cr7,.-8
bdnz .+0x20
mtctr r12
bctr
blr
.long 0xffffffff
.long 0x00000000
"""


def _capstone(words, address, mode):
    cs = capstone.Cs(capstone.CS_ARCH_PPC, mode | capstone.CS_MODE_BIG_ENDIAN)
    out = []
    for i, w in enumerate(words):
        found = list(cs.disasm_lite(w.to_bytes(4, "big"), address + 4 * i))
        out.append((found[0][2], found[0][3]) if found else None)
    return out


@pytest.mark.toolchain
def test_text_is_capstones_text():
    need_toolchain("ppc64")
    data = gnu_assemble(SOURCE, "ppc64")
    address = 0xC000000000010000
    lines = disassemble(data, address)
    words = [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
    assert [ln.word for ln in lines] == words
    assert [ln.address for ln in lines] == [address + 4 * i for i in range(len(words))]
    for line, theirs in zip(lines, _capstone(words, address, capstone.CS_MODE_64)):
        if theirs is None:
            assert line.mnemonic == ".long"
        else:
            assert (line.mnemonic, line.op_str) == theirs


@pytest.mark.toolchain
def test_mnemonics_agree_with_gnu_objdump():
    """objdump writes operands its own way, but the mnemonics of the subset agree."""
    need_toolchain("ppc64")
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src, obj = os.path.join(d, "a.s"), os.path.join(d, "a.o")
        with open(src, "w") as f:
            f.write(SOURCE)
        run([tool("ppc64", "as"), "-a64", "-mregnames", "-o", obj, src])
        dump = run([tool("ppc64", "objdump"), "-d", "-Mregnames", obj]).stdout
    theirs = [ln.split("\t")[2].split()[0] for ln in dump.splitlines()
              if ln.count("\t") >= 2 and ln.strip()[:1].isalnum()]
    data = gnu_assemble(SOURCE, "ppc64")
    ours = [ln.mnemonic for ln in disassemble(data, 0)][:10]
    assert ours == theirs[:10]


def test_symbolizer_names_branch_targets():
    base = 0xC000000000001000
    names = {base + 0x100: "schedule+0x10", base - 8: "cpu_idle"}
    lines = disassemble([0x48000101, 0x419EFFF4, 0x7C0802A6, 0x48000008], base,
                        symbolize=names.get)
    assert lines[0].text == "bl schedule+0x10"
    assert lines[1].text == "beq cr7, cpu_idle"
    assert lines[2].text == "mflr r0"
    assert lines[3].text == f"b {base + 0x14:#x}"   # symbolizer said None


def test_format_lines_widths():
    lines = disassemble([0x4BFFF001, 0x48000008], 0xC000000000001000)
    assert format_lines(lines).splitlines() == [
        "c000000000001000: 4bfff001  bl 0xc000000000000000",
        "c000000000001004: 48000008  b 0xc00000000000100c"]
    lines32 = disassemble(b"\x4b\xff\xff\xfc", 0xC0000000, arch="ppc32")
    assert format_lines(lines32, "ppc32") == "c0000000: 4bfffffc  b 0xbffffffc"


def test_branch_always_is_not_shown_as_bdnz():
    # capstone 5 prints bcl 20,31,.+4 (the PPC32 PIC idiom) as "bdnzl"
    line = disassemble([0x429F0005], 0x1000)[0]
    assert line.text == "bcl 20, 4*cr7+so, 0x1004"
    assert isinstance(line, Line)
