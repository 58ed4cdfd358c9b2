"""The interpreter against Unicorn (PPC32) on random straight-line programs.

A second, independent reference: the same linked harness bytes run in Unicorn from
`code_start` to `done`, and every program's block must match the interpreter's.
"""

from __future__ import annotations

import pytest
import unicorn  # requirements-test.txt: missing means broken, not skipped

from conftest import need
from cpu_harness import Layout, build, explain, harness_source, load_elf, make_batch, workdir
from ppcftrace.cpu import CPU
from ppcftrace.toolchain import PREFIX


def run_unicorn(mem, start: int, stop: int, address: int, size: int) -> bytes:
    uc = unicorn.Uc(unicorn.UC_ARCH_PPC, unicorn.UC_MODE_PPC32 | unicorn.UC_MODE_BIG_ENDIAN)
    pages = sorted({p for r in mem.regions for p in range(r.start >> 12, (r.end + 0xFFF) >> 12)})
    for page in pages:                    # segments may share a page: map each page once
        uc.mem_map(page << 12, 0x1000)
    for region in mem.regions:
        uc.mem_write(region.start, bytes(region.data))
    uc.emu_start(start, stop, count=500_000)
    return bytes(uc.mem_read(address, size))


@pytest.mark.parametrize("seed", [11, 12])
def test_random_programs_match_unicorn(seed):
    need(PREFIX["ppc32"] + "gcc")
    programs, inits, scratch = make_batch("ppc32", seed, 60)
    with workdir() as d:
        exe = build("ppc32", harness_source("ppc32", programs, inits, scratch), d)
        mem, sym = load_elf(exe, "ppc32")
    size = Layout("ppc32").block * len(programs)
    expected = run_unicorn(mem, sym["code_start"], sym["done"], sym["block0"], size)
    cpu = CPU(mem, "ppc32")
    cpu.pc = sym["code_start"]
    assert cpu.run(until=sym["done"], max_instructions=200_000) == "until"
    actual = mem.read(sym["block0"], size)
    assert actual == expected, explain("ppc32", programs, expected, actual)
