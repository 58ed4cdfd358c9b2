"""Running under control: step, breakpoints, step out, limits, faults, host calls, icache."""

from __future__ import annotations

import capstone
import pytest

from ppcftrace.cpu import (CPU, RETURN_ADDRESS, CpuMemoryFault, CpuTrap, InstructionLimit,
                           UnsupportedInstruction)
from ppcftrace.errors import PpcftraceError
from ppcftrace.isa import assemble_lines
from ppcftrace.memory import AddressSpace

TEXT = 0xC000000000010000


def machine(lines: list, arch: str = "ppc64", at: int = TEXT) -> tuple[CPU, AddressSpace]:
    at &= (1 << (64 if arch == "ppc64" else 32)) - 1
    mem = AddressSpace(64 if arch == "ppc64" else 32)
    # raw words stand for instructions outside the isa subset
    words = [x if isinstance(x, int) else assemble_lines([x], at + 4 * i, arch)[0]
             for i, x in enumerate(lines)]
    mem.map("text", at, 0x1000, "rwx", b"".join(w.to_bytes(4, "big") for w in words))
    mem.map("data", at + 0x10000, 0x1000, "rw")
    return CPU(mem, arch), mem


# f(n) = 2n, recursively, with a stack frame per level (ppc64 ELFv1 frame layout)
F = TEXT + 24
RECURSIVE = [
    "mflr r31", "addi r3,r0,3", f"bl {F:#x}", "mtlr r31", "addi r4,r3,0", "blr",
    # f
    "cmpdi r3,0", f"bc 12,2,{F + 48:#x}", "stdu r1,-112(r1)", "mflr r0", "std r0,128(r1)",
    "addi r3,r3,-1", f"bl {F:#x}", "ld r0,128(r1)", "mtlr r0", "addi r1,r1,112",
    "addi r3,r3,2", "blr",
    # F + 48: the base case
    "addi r3,r0,0", "blr",
]


def test_call_runs_to_return():
    cpu, _ = machine(RECURSIVE)
    assert cpu.call(TEXT) == 6
    assert cpu.regs["r4"] == 6 and cpu.pc == RETURN_ADDRESS["ppc64"]


def test_step_and_breakpoints():
    cpu, _ = machine(RECURSIVE)
    cpu.breakpoints.add(F)
    assert cpu.call(TEXT) is None                  # stopped at the breakpoint
    assert cpu.pc == F and cpu.gpr[3] == 3 and cpu.lr == TEXT + 12
    before = cpu.instructions
    assert cpu.step() == F + 4                     # stepping ignores breakpoints
    assert cpu.instructions == before + 1
    assert cpu.run() == "breakpoint" and cpu.pc == F and cpu.gpr[3] == 2
    cpu.breakpoints.clear()
    assert cpu.run() == "return" and cpu.gpr[3] == 6


def test_step_out_needs_the_same_stack_pointer():
    cpu, _ = machine(RECURSIVE)
    cpu.breakpoints.add(F)
    cpu.call(TEXT)
    cpu.run()                                      # f(2), called from f(3)
    sp = cpu.gpr[1]
    cpu.breakpoints.clear()
    # f(1) returns to the same address first, on a deeper stack: not our return
    assert cpu.step_out() == "until"
    assert cpu.pc == F + 28 and cpu.gpr[1] == sp and cpu.gpr[3] == 4


def test_run_until():
    cpu, _ = machine(RECURSIVE)
    cpu.pc = TEXT
    cpu.gpr[1] = TEXT + 0x10F00
    assert cpu.run(until=[F + 48]) == "until" and cpu.gpr[3] == 0


def test_instruction_limit():
    cpu, _ = machine(["addi r3,r3,1", f"b {TEXT:#x}"])
    with pytest.raises(InstructionLimit) as e:
        cpu.call(TEXT, max_instructions=1001)
    assert e.value.limit == 1001 and e.value.pc == TEXT + 4 and cpu.gpr[3] == 501
    assert isinstance(e.value, PpcftraceError) and "1001" in str(e.value)


DATA_END = TEXT + 0x11000


@pytest.mark.parametrize("line,access,address", [
    ("lwz r3,0(r4)", "r", 0x1000),                    # unmapped
    ("stw r3,0(r5)", "w", TEXT - 0x100),              # read-only
    ("ldu r3,8(r6)", "r", DATA_END - 4),              # crosses the end of data
])
def test_memory_faults_leave_state_unchanged(line, access, address):
    cpu, mem = machine(["addi r3,r0,7", line, "blr"])
    mem.map("rom", TEXT - 0x1000, 0x1000, "r")
    cpu.gpr[4], cpu.gpr[5], cpu.gpr[6] = 0x1000, TEXT - 0x100, DATA_END - 12
    snap = mem.snapshot()
    cpu.pc = TEXT
    cpu.step()
    regs = cpu.regs
    with pytest.raises(CpuMemoryFault) as e:
        cpu.run()
    err = e.value
    assert (err.access, err.address, err.pc) == (access, address, TEXT + 4)
    assert cpu.regs == regs and cpu.pc == TEXT + 4
    assert mem.diff(snap) == []


def test_fetch_fault():
    cpu, mem = machine(["blr"])
    mem.protect("text", "rw")
    with pytest.raises(CpuMemoryFault) as e:
        cpu.call(TEXT)
    assert (e.value.access, e.value.address, e.value.pc) == ("x", TEXT, TEXT)


@pytest.mark.parametrize("arch,word", [
    ("ppc64", 0x4C000024),       # rfid: no interrupts here
    ("ppc64", 0x7C7F42A6),       # mfspr r3, 0x11f (a PVR-like SPR)
    ("ppc32", 0x7860F82C),       # rldicr: 64-bit only
    ("ppc64", 0xFC00002A),       # fadd: no floating point
])
def test_unsupported_instruction_names_the_word(arch, word):
    cpu, mem = machine(["blr"], arch)
    mem.write_u32(TEXT & cpu.mask, word)
    with pytest.raises(UnsupportedInstruction) as e:
        cpu.call(TEXT)
    mode = capstone.CS_MODE_BIG_ENDIAN | (capstone.CS_MODE_64 if arch == "ppc64" else capstone.CS_MODE_32)
    insn = next(capstone.Cs(capstone.CS_ARCH_PPC, mode).disasm(word.to_bytes(4, "big"), TEXT & cpu.mask))
    assert e.value.word == word and e.value.pc == TEXT & cpu.mask
    assert f"{insn.mnemonic} {insn.op_str}".strip() in str(e.value)


def test_trap():
    cpu, mem = machine(["blr"])
    mem.write_u32(TEXT, 0x7FE00008)                # tw 31,0,0 = trap, as BUG() emits
    with pytest.raises(CpuTrap):
        cpu.call(TEXT)


def test_host_call_returns_to_lr_with_r3():
    hook = TEXT + 0x800
    cpu, _ = machine(["addi r3,r0,5", "mflr r31", f"bl {hook:#x}", "mtlr r31", "addi r3,r3,1", "blr"])
    seen = []

    def host(c):
        seen.append((c.gpr[3], c.pc))
        return c.gpr[3] * 10
    cpu.add_host_call(hook, host)
    assert cpu.call(TEXT) == 51
    assert seen == [(5, hook)]
    cpu.add_host_call(hook, lambda c: None)       # None leaves r3 alone
    assert cpu.call(TEXT) == 6


def test_icache_model_keeps_old_code_until_flushed():
    cpu, mem = machine(["addi r3,r0,1", "blr"])
    assert cpu.call(TEXT) == 1
    mem.write_u32(TEXT, assemble_lines(["addi r3,r0,2"], TEXT)[0])
    assert cpu.call(TEXT) == 2                     # no cache model: writes take effect
    cpu.icache_enabled = True
    mem.write_u32(TEXT, assemble_lines(["addi r3,r0,3"], TEXT)[0])
    assert cpu.call(TEXT) == 2                     # stale line
    cpu.flush_icache_range(TEXT + 4, TEXT + 8)     # not the patched word
    assert cpu.call(TEXT) == 2
    cpu.flush_icache_range(TEXT, TEXT + 8)
    assert cpu.call(TEXT) == 3
    mem.write_u32(TEXT, assemble_lines(["addi r3,r0,4"], TEXT)[0])
    cpu.icache_enabled = False                     # turning the model off drops stale lines
    assert cpu.call(TEXT) == 4


ICBI_R4, ISYNC = 0x7C0027AC, 0x4C00012C        # icbi 0,r4 ; isync


@pytest.mark.parametrize("icache,flush,expected", [
    (False, False, 2), (True, False, 1), (True, True, 2),
])
def test_self_patching_code_and_icbi(icache, flush, expected):
    target = TEXT + 0x40
    lines = ["stw r5,0(r4)", ICBI_R4 if flush else "ori r0,r0,0", ISYNC, "mflr r31",
             f"bl {target:#x}", "mtlr r31", "blr"]
    lines += ["ori r0,r0,0"] * 9 + ["addi r3,r0,1", "blr"]
    cpu, _ = machine(lines)
    cpu.icache_enabled = icache
    assert cpu.call(target) == 1                   # the old word is now in the "icache"
    new = assemble_lines(["addi r3,r0,2"], target)[0]
    assert cpu.call(TEXT, 0, target, new) == expected


def test_program_stores_are_journaled_only_on_request():
    cpu, mem = machine(["stw r4,0(r3)", "blr"])
    data = TEXT + 0x10000
    m = mem.mark()
    cpu.call(TEXT, data, 0x1234)
    assert mem.journal[m:] == [] and mem.read_u32(data) == 0x1234
    cpu.journal_stores = True
    cpu.call(TEXT, data, 0x5678)
    stores = [e for e in mem.journal[m:] if e.address == data]
    assert stores == [(data, b"\0\0\x12\x34", b"\0\0\x56\x78", "cpu")]
    mem.undo(m)
    assert mem.read_u32(data) == 0x1234


def test_call_descriptor_sets_toc():
    cpu, mem = machine(["addi r3,r2,1", "blr"])
    desc = TEXT + 0x10000
    mem.write_u64(desc, TEXT)
    mem.write_u64(desc + 8, 0xC000000000123456)
    assert cpu.call_descriptor(desc) == 0xC000000000123457


def test_ppc32_call_and_wrapping():
    cpu, _ = machine(["addi r3,r3,-1", "mullw r3,r3,r4", "blr"], "ppc32", 0xC0000000)
    assert cpu.call(0xC0000000, 0, 5) == 0xFFFFFFFB
    assert cpu.regs["r3"] == 0xFFFFFFFB


def test_bad_requests_are_cpu_errors():
    from ppcftrace.cpu import CpuError

    cpu, _ = machine(["blr"])
    with pytest.raises(CpuError):
        cpu.call(TEXT, *range(9))
    with pytest.raises(CpuError):
        CPU(AddressSpace(), "x86")


def test_regs_and_stack_views():
    cpu, mem = machine(["blr"])
    cpu.call(TEXT, 1, 2, 3)
    regs = cpu.regs
    assert [regs[f"r{i}"] for i in (3, 4, 5)] == [1, 2, 3]
    assert set(regs) >= {"pc", "lr", "ctr", "cr", "xer", "r31"}
    stack = cpu.stack(4)
    assert stack[0] == (cpu.gpr[1], 0)             # the null back chain call() wrote
    assert [a for a, _ in stack] == [cpu.gpr[1] + 8 * i for i in range(4)]


def test_isa_and_cpu_name_the_same_ops():
    """Where isa.decode knows a word, the interpreter's own table must agree."""
    import random

    from ppcftrace.cpu.opcodes import op_name
    from ppcftrace.isa import OPS, DecodeError, decode

    rng = random.Random(5)
    checked = 0
    for op in OPS.values():
        for _ in range(50):
            word = op.template | (rng.getrandbits(32) & op.operand_mask)
            try:
                name = decode(word, 0, "ppc64").op
            except DecodeError:
                continue
            if name == "sc":
                continue
            assert op_name(word) == name, hex(word)
            checked += 1
    assert checked > 1000


def test_msr_and_sprg_for_kernel_code():
    """No reference runs privileged code (qemu-user raises SIGILL), so these pin the ISA's
    words: mfmsr r9; mtmsrd r10,1 (EE/RI only); mtmsrd r11 (all); mtsprg 3,r3; mfsprg r4,3."""
    words = [0x7D2000A6, 0x7D410164, 0x7D600164, 0x7C7343A6, 0x7C9342A6]
    md = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
    texts = [f"{i.mnemonic} {i.op_str}" for w in words for i in md.disasm(w.to_bytes(4, "big"), 0)]
    assert texts == ["mfmsr r9", "mtmsrd r10, 1", "mtmsrd r11", "mtspr 0x113, r3", "mfspr r4, 0x113"]
    cpu, _ = machine([*words, "blr"])
    assert cpu.msr >> 63 and cpu.msr & 0x8000                  # 64-bit, EE on
    cpu.gpr[10], cpu.gpr[11] = 0, 0x8000000000001000
    cpu.pc = TEXT
    cpu.step()
    assert cpu.gpr[9] == cpu.msr
    cpu.step()
    assert cpu.msr == cpu.gpr[9] & ~0x8002                     # local_irq_disable
    cpu.step()
    assert cpu.msr == 0x8000000000001000
    cpu.call(TEXT + 12, 0x1234)
    assert cpu.gpr[4] == 0x1234 and cpu.state.sprg[3] == 0x1234
    assert cpu.regs["msr"] == cpu.msr
