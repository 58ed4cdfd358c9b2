"""Chapter 4 checkers: accept the reference solutions, name typical mistakes.

The reference solutions are compared with GNU as, which computes `@ha`/`@l` itself,
and with the stubs the loader wrote into the fixture machine's memory.
"""

from __future__ import annotations

import random

import pytest

from conftest import need_toolchain
from ppcftrace import isa
from ppcftrace.check import CheckResult, ch04
from ppcftrace.solutions import ch04 as sol

M64 = (1 << 64) - 1


def verdict(checker, answer) -> CheckResult:
    return checker(answer, quiet=True)


# --- the reference solutions against the real thing -------------------------------------

def test_stub_ha_lo_matches_gnu_as():
    need_toolchain("ppc64")
    from ppcftrace.toolchain import gnu_assemble

    rng = random.Random(40)
    offsets = [-0x8000, -0x7FD0, 0x7FFC, 0x8000, 0x18000, -0x18000, -0x80000000, 0x7FFF7FFC]
    offsets += [rng.randrange(-(1 << 31), 1 << 31) & ~3 for _ in range(60)]
    r2 = 0xD000000000008310
    lines = []
    for off in offsets:
        lines += [f"addis 12,2,({off})@ha", f"addi 12,12,({off})@l"]
    data = gnu_assemble("\n".join(lines) + "\n", "ppc64")
    words = [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
    for i, off in enumerate(offsets):
        ha, lo = sol.stub_ha_lo((r2 + off) & M64, r2)
        assert (isa.PPC_INST_ADDIS_R12_R2 | ha, isa.PPC_INST_ADDI_R12_R12 | lo) == \
            (words[2 * i], words[2 * i + 1]), hex(off)


def test_solutions_agree_with_the_loaded_module():
    machine, module = ch04.fixture()
    for stub in module.arch.stubs:
        ha, lo = sol.stub_ha_lo(stub.address, module.arch.toc)
        assert (stub.words[0] & 0xFFFF, stub.words[1] & 0xFFFF) == (ha, lo)
        got = sol.stub_target(stub.words, module.arch.toc, machine.memory.read_u64)
        assert got == stub.target and machine.kallsyms.lookup(got)[1] == 0
    mcount = machine.entry("_mcount")
    for site in module.mcount_sites:
        first, second = sol.mcount_site_words(site, ch04.ex3_case()[1])
        assert (machine.memory.read_u32(site), machine.memory.read_u32(site + 4)) == \
            (first, second)
        stub = isa.find_bl_target(site, first)
        words = [machine.memory.read_u32(stub + 4 * k) for k in range(7)]
        assert sol.stub_target(words, module.arch.toc, machine.memory.read_u64) == mcount


# --- exercise 1 --------------------------------------------------------------------------

def test_ex1_accepts_reference_value_and_function():
    assert verdict(ch04.ex1, sol.stub_ha_lo(*ch04.ex1_case()))
    assert verdict(ch04.ex1, sol.stub_ha_lo)


def _hi(stub, r2):
    off = (stub - r2) & 0xFFFFFFFF
    return off >> 16, off & 0xFFFF


@pytest.mark.parametrize("wrong, message", [
    (_hi, "misses the carry"),
    (lambda s, r: sol.stub_ha_lo(s, r)[::-1], "swapped"),
    (lambda s, r: sol.stub_ha_lo(r, s), "wrong sign"),
    (lambda s, r: (sol.stub_ha_lo(s, r)[0], s & 0xFFFF), "from the stub's address"),
    (lambda s, r: (sol.stub_ha_lo(s, r)[0], ((s - r) + 0x8000) % 0x10000 - 0x8000),
     "not a 16-bit field"),
    (lambda s, r: (((s - r) >> 16) + 1 & 0xFFFF, (s - r) & 0xFFFF), "not needed"),
])
def test_ex1_names_the_mistake(wrong, message):
    as_function = verdict(ch04.ex1, wrong)
    assert not as_function and message in as_function.message, as_function.text
    case = ch04.ex1_case()
    if wrong(*case) != sol.stub_ha_lo(*case):  # "always carry" is right for this one
        assert not verdict(ch04.ex1, wrong(*case))


def test_ex1_feedback_does_not_reveal_the_answer():
    ha, lo = sol.stub_ha_lo(*ch04.ex1_case())
    result = verdict(ch04.ex1, _hi(*ch04.ex1_case()))
    assert not result and f"{ha:#x}" not in result.text


def test_ex1_type_errors():
    assert "tuple" in verdict(ch04.ex1, 5).message
    assert "should be an int" in verdict(ch04.ex1, ("0", "1")).message


# --- exercise 2 --------------------------------------------------------------------------

def test_ex2_accepts_reference():
    assert verdict(ch04.ex2, sol.stub_target)


def _unsigned_lo(words, r2, read):
    return read((r2 + ((words[0] & 0xFFFF) << 16) + (words[1] & 0xFFFF) + 32) & M64)


def _toc_slot(words, r2, read):
    return read((r2 + isa.decode(words[1]).fields["SI"]
                 + (isa.decode(words[0]).fields["SI"] << 16) + 40) & M64)


def _no_plus_32(words, r2, read):
    return read((r2 + isa.decode(words[1]).fields["SI"]
                 + (isa.decode(words[0]).fields["SI"] << 16)) & M64)


def _stub_address(words, r2, read):
    return (r2 + isa.decode(words[1]).fields["SI"] + (isa.decode(words[0]).fields["SI"] << 16)) & M64


@pytest.mark.parametrize("wrong, message, hint", [
    (_unsigned_lo, "", "sign-extends"),
    (_toc_slot, "target is wrong", "target's TOC"),
    (_no_plus_32, "target is wrong", "32 bytes further"),
    (_stub_address, "stub's own address", "loads it"),
    (lambda words, r2, read: words[3], "never reads memory", "ld r11,32(r12)"),
])
def test_ex2_names_the_mistake(wrong, message, hint):
    result = verdict(ch04.ex2, wrong)
    assert not result and message in result.message and hint in result.hint, result.text


def test_ex2_rejects_a_raising_function():
    result = verdict(ch04.ex2, lambda words, r2, read: 1 // 0)
    assert not result and "ZeroDivisionError" in result.message


# --- exercise 3 --------------------------------------------------------------------------

def test_ex3_accepts_reference_value_and_function():
    assert verdict(ch04.ex3, sol.mcount_site_words(*ch04.ex3_case()))
    assert verdict(ch04.ex3, sol.mcount_site_words)
    assert verdict(ch04.ex3, list(sol.mcount_site_words(*ch04.ex3_case())))


def _bl(site, stub):
    return isa.create_branch(site, stub, isa.BRANCH_SET_LINK)


@pytest.mark.parametrize("wrong, message", [
    (lambda site, stub: (_bl(site, stub), isa.PPC_INST_NOP), "compiler's nop"),
    (lambda site, stub: (_bl(site, stub), isa.PPC_INST_STD_TOC), "saves r2"),
    (lambda site, stub: (_bl(site, stub), isa.PPC_INST_LD_TOC_ELFV2), "ELFv2"),
    (lambda site, stub: (isa.PPC_INST_LD_TOC, _bl(site, stub)), "swapped"),
    (lambda site, stub: (isa.PPC_INST_BL, isa.PPC_INST_LD_TOC), "before relocation"),
    (lambda site, stub: (isa.PPC_INST_B_8, isa.PPC_INST_LD_TOC), "b .+8"),
    (lambda site, stub: (_bl(site, stub) & ~1, isa.PPC_INST_LD_TOC), "without link"),
    (lambda site, stub: (_bl(site + 4, stub), isa.PPC_INST_LD_TOC), "one word away"),
])
def test_ex3_names_the_mistake(wrong, message):
    as_function = verdict(ch04.ex3, wrong)
    assert not as_function and message in as_function.message, as_function.text
    as_value = verdict(ch04.ex3, wrong(*ch04.ex3_case()))
    assert not as_value and message in as_value.message, as_value.text


def test_ex3_type_errors():
    assert "two words" in verdict(ch04.ex3, 0x48000001).message
