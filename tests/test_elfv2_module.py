"""The ELFv2 module loader (ppcftrace.module64v2) against GNU ld and GNU as.

GNU ld links the same object with each section where our loader put it, `.TOC.`
at the module's r2 and each external function at the stub our loader made for it;
the bytes must be the loader's except the nops that restore_r2 turned into
`ld r2,24(r1)`. The stub words are compared with GNU as assembling the same
instructions.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile

import pytest

from conftest import need, need_toolchain
from ppcftrace.elf import ElfFile
from ppcftrace.elf.sections import SHF_ALLOC, SHT_NOBITS
from ppcftrace.elfv2.machine import boot, fixture_path
from ppcftrace.isa import PPC_HA, PPC_LO
from ppcftrace.machine import Machine
from ppcftrace.machine import fixture_path as elfv1_fixture
from ppcftrace.modld import external_symbols
from ppcftrace.module import ModuleLoadError
from ppcftrace.module64v2 import (FUNCDATA_OFFSET, MAGIC_OFFSET, STUB_MAGIC, STUB_SIZE,
                                  create_ftrace_stub_words, create_stub_words)
from ppcftrace.toolchain import gnu_assemble


def words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]


@pytest.fixture(scope="module")
def loaded():
    machine = boot()
    module = machine.load_module(fixture_path("hmod.o"))
    return machine, module


def ld_link(machine, module) -> dict[str, bytes]:
    """GNU ld's bytes for each section of the module at the loader's placement."""
    need("powerpc64-linux-gnu-ld")
    elf = module.obj
    stubs = {s.target: s.address for s in module.arch.stubs}
    lines = ["SECTIONS {"]
    for s in elf.sections:
        if s.flags & SHF_ALLOC and s.size and s.name in module.sections:
            lines.append(f"  {s.name} {module.sections[s.name][0]:#x} : {{ *({s.name}) }}")
    lines += ["  /DISCARD/ : { *(*) }", "}", f".TOC. = {module.arch.toc:#x};"]
    for name in external_symbols(elf):
        if name != ".TOC.":
            # every external here is a function the module calls: ld branches to the stub
            lines.append(f'"{name}" = {stubs[machine.exports[name]]:#x};')
    with tempfile.TemporaryDirectory() as d:
        obj, script, out = (os.path.join(d, n) for n in ("m.o", "m.ld", "m.x"))
        with open(obj, "wb") as f:
            f.write(elf.data)
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["powerpc64-linux-gnu-ld", "-static", "-nostdlib", "-e", "0",
                        "--no-warn-rwx-segments", "--no-toc-optimize", "-T", script, obj, "-o", out],
                       check=True, capture_output=True)
        linked = ElfFile.open(out)
        return {s.name: s.data for s in linked.sections
                if s.flags & SHF_ALLOC and s.type != SHT_NOBITS and s.name in module.sections}


@pytest.fixture(params=["hmod.o", "racemod.o"])
def any_loaded(request):
    machine = boot()
    return machine, machine.load_module(fixture_path(request.param))


@pytest.mark.toolchain
def test_loaded_module_matches_gnu_ld(any_loaded):
    machine, module = any_loaded
    linked = ld_link(machine, module)
    assert ".text" in linked and "__mcount_loc" in linked
    restored = 0
    for name, data in linked.items():
        base, size = module.sections[name]
        mine = machine.memory.read(base, size)
        for i, (a, b) in enumerate(zip(words(mine), words(data))):
            if a != b:
                # only restore_r2's slots differ: ld made no stub, so it left the nop
                assert (a, b) == (0xE8410018, 0x60000000), (name, hex(base + 4 * i))
                restored += 1
    calls = sum(1 for r in module.obj.relocations(".text") if r.type_name == "R_PPC64_REL24"
                and r.symbol.shndx == 0 and r.symbol.name != "_mcount")
    assert restored == calls > 0


@pytest.mark.toolchain
def test_stub_words_match_gnu_as(loaded):
    need_toolchain("ppc64")
    machine, module = loaded
    for stub in module.arch.stubs:
        jump = words(machine.memory.read(stub.address, 28))
        assert machine.memory.read_u32(stub.address + MAGIC_OFFSET) == STUB_MAGIC
        assert machine.memory.read_u64(stub.address + FUNCDATA_OFFSET) == stub.target
        if stub.target in (machine.kallsyms.address("_mcount"),
                           machine.kallsyms.address("ftrace_caller")):
            t = stub.target
            src = (f"lis 12,{t >> 48 & 0xFFFF:#x}@l\nori 12,12,{t >> 32 & 0xFFFF:#x}\n"
                   f"sldi 12,12,32\noris 12,12,{t >> 16 & 0xFFFF:#x}\nori 12,12,{t & 0xFFFF:#x}\n"
                   "mtctr 12\nbctr\n")
        else:
            off = stub.address - module.arch.toc
            src = (f"addis 11,2,{PPC_HA(off):#x}@l\naddi 11,11,{PPC_LO(off) - (PPC_LO(off) & 0x8000) * 2}\n"
                   "std 2,24(1)\nld 12,32(11)\nmtctr 12\nbctr\n.long 0\n")
        assert jump == words(gnu_assemble(src, "ppc64")), hex(stub.address)
    assert module.arch.tramp in {s.address for s in module.arch.stubs}


def test_stub_layout():
    assert STUB_SIZE == 40 and (MAGIC_OFFSET, FUNCDATA_OFFSET) == (28, 32)
    assert STUB_MAGIC.to_bytes(4, "big") == b"stub"
    assert create_stub_words(0x12345678)[0] & 0xFFFF == PPC_HA(0x12345678)
    assert create_ftrace_stub_words(0xC000000000000010)[4] & 0xFFFF == 0x10


def test_mcount_calls_keep_their_next_word(loaded):
    machine, module = loaded
    for ip in module.mcount_sites:
        # -mprofile-kernel leaves no nop after `bl _mcount`: nothing to restore
        assert machine.memory.read(ip + 4, 4) == module.obj.section(".text").data[
            ip + 4 - module.sections[".text"][0]:ip + 8 - module.sections[".text"][0]]


@pytest.mark.parametrize("pair", [("elfv1-module", "elfv2-kernel"), ("elfv2-module", "elfv1-kernel")])
def test_abi_mismatch_is_refused_and_changes_nothing(pair):
    if pair[1] == "elfv2-kernel":
        machine, obj = boot(), elfv1_fixture("hmod.o", "ppc64")
    else:
        machine, obj = Machine.boot("ppc64"), fixture_path("hmod.o")
    before = machine.memory.snapshot()
    with pytest.raises(ModuleLoadError) as err:
        machine.load_module(obj)
    assert err.value.errno == errno.ENOEXEC and "ABI mismatch" in str(err.value)
    assert machine.memory.diff(before) == [] and machine.modules == []


def test_call_without_nop_after_it_is_refused():
    """restore_r2: a `bl printk` not followed by a nop cannot get its r2 back."""
    elf = ElfFile.open(fixture_path("hmod.o"))
    data = bytearray(elf.data)
    text = elf.section(".text")
    call = next(r for r in elf.relocations(".text") if r.symbol.name == "printk")
    at = text.offset + call.offset + 4
    data[at:at + 4] = (0x7C0802A6).to_bytes(4, "big")   # mflr r0 where the nop was
    machine = boot()
    with pytest.raises(ModuleLoadError) as err:
        machine.load_module(bytes(data), "broken")
    assert err.value.errno == errno.ENOEXEC
    assert "Expected nop after call, got 7c0802a6" in str(err.value)
    assert machine.modules == []
