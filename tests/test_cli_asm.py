"""`ppcftrace asm` / `ppcftrace disasm` through `python -m ppcftrace`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import need_toolchain
from ppcftrace.toolchain import gnu_assemble


def ppcftrace(*args):
    return subprocess.run([sys.executable, "-m", "ppcftrace", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.toolchain
def test_asm_words_match_gnu_as():
    need_toolchain("ppc64")
    insns = ["mflr r0", "std r0,16(r1)", "bl .+0x40", "nop", "ld r2,40(r1)", "addis r12,r2,-2",
             "beq cr7,.-12", "blr"]
    proc = ppcftrace("asm", "--at", "0x1000", *insns)
    assert proc.returncode == 0, proc.stderr
    gnu = gnu_assemble("\n".join(insns), "ppc64")
    assert proc.stdout.split() == [gnu[i:i + 4].hex() for i in range(0, len(gnu), 4)]


@pytest.mark.toolchain
def test_asm_semicolons_and_absolute_targets():
    need_toolchain("ppc64")
    proc = ppcftrace("asm", "--at", "0xc000000000001000", "bl 0xc000000000000000; nop",
                     "ld r2,40(r1)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["4bfff001", "60000000", "e8410028"]
    # the same three instructions with the target written relative, through GNU as
    gnu = gnu_assemble("bl .-0x1000\nnop\nld r2,40(r1)", "ppc64")
    assert proc.stdout.split() == [gnu[i:i + 4].hex() for i in range(0, len(gnu), 4)]


def test_disasm_lines():
    import capstone  # a declared dependency: missing means broken, not skipped
    proc = ppcftrace("disasm", "--at", "0xc000000000001000", "4bfff001", "48000008", "e8410028")
    assert proc.returncode == 0, proc.stderr
    cs = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
    want = []
    for i, w in enumerate(["4bfff001", "48000008", "e8410028"]):
        a = 0xC000000000001000 + 4 * i
        (_, _, m, o), = cs.disasm_lite(bytes.fromhex(w), a)
        want.append(f"{a:016x}: {w}  {m} {o}")
    assert proc.stdout.splitlines() == want


def test_disasm_ppc32_address_width():
    proc = ppcftrace("disasm", "--arch", "ppc32", "--at", "0xc0000000", "7c0802a6")
    assert proc.stdout == "c0000000: 7c0802a6  mflr r0\n"


@pytest.mark.parametrize("args, words", [
    (("asm", "frob r3"), "unknown instruction"),
    (("asm", "bl 0x4000000"), "out of range"),
    (("asm", "ld r3, 2(r1)"), "multiple of 4"),
    (("asm", "li r3, 99999"), "out of range"),
    (("asm", "--arch", "ppc32", "ld r3, 8(r1)"), "64-bit"),
    (("asm", "addi r3, r99, 1"), "register"),
    (("disasm", "zz"), "not a hex word"),
    (("disasm", "123456789"), "32-bit"),
    (("asm", "--at", "nowhere", "nop"), "not a number"),
])
def test_errors_are_one_line_without_traceback(args, words):
    proc = ppcftrace(*args)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert words in proc.stderr
    if args[0] == "asm" and "--at" not in args:
        assert proc.returncode == 1
