"""The interpreter against qemu-user on random straight-line programs.

Each batch is one static executable running many programs (see cpu_harness); qemu
prints every program's final registers and scratch memory, and the interpreter,
running the same linked bytes, must leave exactly the same bytes.
"""

from __future__ import annotations

import pytest

from conftest import need
from cpu_harness import build, explain, harness_source, load_elf, make_batch, run_qemu, workdir
from ppcftrace.cpu import CPU
from ppcftrace.toolchain import PREFIX, QEMU

BATCHES = {"ppc64": [(1, 100), (2, 100), (5, 100)], "ppc32": [(3, 100), (4, 100)]}


@pytest.mark.qemu
@pytest.mark.parametrize("arch,seed,count", [(a, s, c) for a, b in BATCHES.items() for s, c in b])
def test_random_programs_match_qemu(arch, seed, count):
    need(PREFIX[arch] + "gcc", QEMU[arch])
    programs, inits, scratch = make_batch(arch, seed, count)
    with workdir() as d:
        exe = build(arch, harness_source(arch, programs, inits, scratch), d)
        expected = run_qemu(arch, exe)
        mem, sym = load_elf(exe, arch)
    cpu = CPU(mem, arch)
    cpu.pc = sym["code_start"]
    assert cpu.run(until=sym["done"], max_instructions=500_000) == "until"
    actual = mem.read(sym["block0"], len(expected))
    assert len(expected) == len(actual) > 0
    assert actual == expected, explain(arch, programs, expected, actual)
