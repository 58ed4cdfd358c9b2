"""Chapter 1 reference solutions, against capstone, GNU as and ppcftrace.isa."""

from __future__ import annotations

import random

import capstone
import pytest

from conftest import need_toolchain
from ppcftrace import isa
from ppcftrace.solutions import ch01 as sol

RNG_SEED = 101


def _cs(bits: int):
    mode = capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32
    return capstone.Cs(capstone.CS_ARCH_PPC, mode | capstone.CS_MODE_BIG_ENDIAN)


def _disasm(word: int, address: int, bits: int = 64) -> tuple[str, str] | None:
    insns = list(_cs(bits).disasm(word.to_bytes(4, "big"), address))
    return (insns[0].mnemonic, insns[0].op_str) if insns else None


def _pairs(n: int):
    rng = random.Random(RNG_SEED)
    yield from ((0xC0000000000512A8, 0xC000000000008E20), (0x1000, 0x1000 + 0x1FFFFFC),
                (0x2001000, 0x1000))
    for _ in range(n):
        ip = rng.randrange(0x2000000, 1 << 62) & ~3
        yield ip, ip + rng.randrange(-0x2000000, 0x2000000, 4)


def test_encode_bl_disassembles_as_bl_target():
    for ip, target in _pairs(300):
        assert _disasm(sol.encode_bl(ip, target), ip) == ("bl", f"{target:#x}")


def test_encode_bl_matches_create_branch():
    for ip, target in _pairs(300):
        assert sol.encode_bl(ip, target) == isa.create_branch(ip, target, isa.BRANCH_SET_LINK)


def test_encode_bl_matches_gnu_as():
    need_toolchain("ppc64")
    from ppcftrace.toolchain import gnu_assemble

    offsets = [-0x2000000, -0x48488, -4, 0, 4, 0x1234, 0x1FFFFFC]
    code = gnu_assemble("\n".join(f"bl .{o:+#x}" for o in offsets))
    for i, offset in enumerate(offsets):
        ip = 4 * i
        assert int.from_bytes(code[ip:ip + 4], "big") == sol.encode_bl(ip, ip + offset)


@pytest.mark.parametrize("bits", [32, 64])
def test_bl_target_agrees_with_capstone(bits):
    rng = random.Random(RNG_SEED + bits)
    for _ in range(300):
        ip = rng.getrandbits(bits) & ~3
        op = 0x48000001 | (rng.getrandbits(26) & 0x03FFFFFC)
        mnemonic, target = _disasm(op, ip, bits)
        assert mnemonic == "bl"
        # capstone's 32-bit mode prints the target unwrapped (sign-extended to 64 bits)
        assert sol.bl_target(ip, op, bits) == int(target, 16) % (1 << bits)


def test_bl_target_wraps_like_find_bl_target():
    op = sol.encode_bl(0x100, 0x100 - 0x200)  # a backward branch from near 0
    assert sol.bl_target(0x100, op, 32) == isa.find_bl_target(0x100, op, arch="ppc32")
    assert sol.bl_target(0x100, op, 32) == 0xFFFFFF00


def test_bl_reach_ends_are_the_last_reachable_targets():
    for site in (0xC0000000000512A8, 0xD000000000012340):
        lowest, highest = sol.bl_reach(site)
        isa.create_branch(site, lowest, isa.BRANCH_SET_LINK)
        isa.create_branch(site, highest, isa.BRANCH_SET_LINK)
        for beyond in (lowest - 4, highest + 4):
            with pytest.raises(isa.BranchOutOfRange):
                isa.create_branch(site, beyond, isa.BRANCH_SET_LINK)


def test_is_bl_op_agrees_with_capstone():
    rng = random.Random(RNG_SEED)
    words = [rng.getrandbits(32) for _ in range(2000)]
    words += [0x48000000 | (w & 0x03FFFFFF) for w in words[:1000]]  # many I-form words
    for word in words:
        decoded = _disasm(word, 0x1000)
        assert sol.is_bl_op(word) == (decoded is not None and decoded[0] == "bl"), hex(word)
        assert sol.is_bl_op(word) == isa.is_bl_op(word)
