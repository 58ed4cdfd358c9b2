"""viz.names: addresses named in disassembly, kernel and module alike."""

from __future__ import annotations

import capstone

from ppcftrace.machine import Machine, fixture_path
from ppcftrace.viz.names import show_code, symbolizer


def test_show_code_names_the_stub_a_module_site_calls(capsys):
    m = Machine.boot("ppc64")
    mod = m.load_module(fixture_path("hmod.o"))
    site = mod.mcount_sites[0]
    show_code(m, site, 2)
    lines = capsys.readouterr().out.strip().splitlines()
    cs = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
    want = [i.mnemonic for i in cs.disasm(m.memory.read(site, 8), site)]
    assert [line.split()[2] for line in lines] == want == ["bl", "ld"]
    # the bl goes to the stub to _mcount, named after its target
    assert "stub\u2192._mcount" in lines[0]
    stub = next(s for s in mod.arch.stubs if s.target == m.entry("_mcount"))
    assert symbolizer(m)(stub.address + 8) == "stub\u2192._mcount+0x8"
    assert symbolizer(m)(m.entry("schedule")) == ".schedule"
