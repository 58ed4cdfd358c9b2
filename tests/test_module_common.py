"""What both loaders share: names, lookups, unloading, notifiers, bad objects, no traces."""

from __future__ import annotations

import errno
import re
import subprocess

import pytest

from conftest import need
from test_module_common_tools import ARCHES, assert_load_fails, machine_state
from ppcftrace.machine import MODULES_VADDR, Machine, fixture_path
from ppcftrace.module import ModuleError, ModuleLoadError, default_name, module_lookup
from ppcftrace.toolchain import PREFIX

FIXTURES = ("hmod.o", "racemod.o")


@pytest.fixture(params=ARCHES)
def machine(request) -> Machine:
    return Machine.boot(request.param)


def objdump_functions(arch: str, path) -> list[tuple[int, str]]:
    """(offset in .text, name) of each function label objdump -d prints."""
    need(PREFIX[arch] + "objdump")
    out = subprocess.run([PREFIX[arch] + "objdump", "-d", "-j", ".text", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return [(int(a, 16), n) for a, n in re.findall(r"^([0-9a-f]+) <([^>+]+)>:$", out, re.M)]


def test_names_default_to_the_file_name(machine):
    mod = machine.load_module(fixture_path("hmod.o", machine.arch))
    assert mod.name == "hmod" and machine.modules == [mod]
    assert default_name("dir/x.ko") == "x" and default_name("a.b.o") == "a.b"
    other = machine.load_module(fixture_path("hmod.o", machine.arch), "hmod2")
    assert other.base > mod.base + mod.size
    assert other.base in range(MODULES_VADDR[machine.arch],
                               MODULES_VADDR[machine.arch] + 0x10000000)


def test_lookup_names_the_function_of_each_site(machine):
    for name in FIXTURES:
        path = fixture_path(name, machine.arch)
        mod = machine.load_module(path)
        labels = objdump_functions(machine.arch, path)
        text = mod.sections[".text"][0]
        for ip in mod.mcount_sites:
            off = ip - text
            want = max((a, n) for a, n in labels if a <= off)
            found = module_lookup(machine, ip)
            assert found[0] is mod
            assert (found[1], found[2]) == (want[1], off - want[0])
        assert module_lookup(machine, mod.base + mod.size + 0x10) is None


def test_sections_lie_inside_the_module_and_do_not_overlap(machine):
    mod = machine.load_module(fixture_path("hmod.o", machine.arch))
    spans = sorted((a, a + s, n) for n, (a, s) in mod.sections.items() if s)
    for a, b, n in spans:
        assert mod.base <= a and b <= mod.base + mod.size, n
    for (a1, b1, n1), (a2, b2, n2) in zip(spans, spans[1:]):
        assert b1 <= a2, (n1, n2)
    region = machine.memory.region(f"module:{mod.name}")
    assert (region.start, region.size, region.perms) == (mod.base, mod.size, "rwx")
    # code first, as layout_sections() puts it
    assert mod.sections[".text"][0] == mod.base


def test_twenty_load_unload_cycles_leave_no_trace(machine):
    before = machine_state(machine)
    bases = set()
    for _ in range(20):
        mods = [machine.load_module(fixture_path(n, machine.arch)) for n in FIXTURES]
        bases.add(tuple(m.base for m in mods))
        for m in reversed(mods):
            machine.unload_module(m.name)
    assert machine.memory.diff(before[0]) == []
    assert machine_state(machine)[1:] == before[1:]
    assert len(bases) == 1   # the freed space is handed out again


def test_notifiers_see_load_and_unload(machine):
    events = []
    machine.module_notifiers.append(lambda event, mod: events.append((event, mod.name,
                                                                      mod in machine.modules)))
    machine.load_module(fixture_path("hmod.o", machine.arch))
    machine.unload_module("hmod")
    assert events == [("load", "hmod", True), ("unload", "hmod", True)]


def test_a_failing_notifier_undoes_the_load(machine):
    seen = []

    def good(event, mod):
        seen.append(event)

    def bad(event, mod):
        if event == "load":
            raise ModuleLoadError("notifier refused", errno=errno.EBUSY)

    machine.module_notifiers.extend([good, bad])
    before = machine_state(machine)
    with pytest.raises(ModuleLoadError):
        machine.load_module(fixture_path("hmod.o", machine.arch))
    assert seen == ["load", "unload"]
    assert machine.memory.diff(before[0]) == [] and machine_state(machine)[1:] == before[1:]


def test_unloading_an_unknown_module_is_enoent(machine):
    with pytest.raises(ModuleError) as info:
        machine.unload_module("nothere")
    assert info.value.errno == errno.ENOENT


def test_foreign_and_truncated_objects_are_refused(machine, tmp_path):
    need("gcc")
    (tmp_path / "x.c").write_text("int f(void) { return 1; }\n")
    subprocess.run(["gcc", "-c", str(tmp_path / "x.c"), "-o", str(tmp_path / "x86.o")],
                   check=True)
    machine.load_module(fixture_path("racemod.o", machine.arch))
    assert_load_fails(machine, tmp_path / "x86.o", errno.ENOEXEC, "x86")
    data = fixture_path("hmod.o", machine.arch).read_bytes()
    (tmp_path / "trunc.o").write_bytes(data[: len(data) // 2])
    assert_load_fails(machine, tmp_path / "trunc.o", errno.ENOEXEC, "trunc.o")
    other = "ppc32" if machine.arch == "ppc64" else "ppc64"
    assert_load_fails(machine, fixture_path("hmod.o", other), errno.ENOEXEC,
                      f"not a relocatable {machine.arch} object")
    assert_load_fails(machine, fixture_path("vmlinux", machine.arch), errno.ENOEXEC,
                      "not a relocatable")


def test_module_symbols_follow_the_object(machine):
    path = fixture_path("hmod.o", machine.arch)
    mod = machine.load_module(path)
    elf = mod.obj
    for sym in elf.symbols:
        if sym.type == "FUNC" and sym.section == ".text":
            assert mod.symbols[sym.name] == mod.sections[".text"][0] + sym.value
    if machine.arch == "ppc64":
        for d in elf.descriptors:
            assert mod.symbols[d.name] == mod.sections[".opd"][0] + d.address
            assert mod.symbols[d.dot_name] == mod.sections[d.section][0] + d.entry
            assert machine.memory.read_u64(mod.symbols[d.name]) == mod.symbols[d.dot_name]
            assert machine.memory.read_u64(mod.symbols[d.name] + 8) == mod.arch.toc


def test_a_module_larger_than_the_area_is_enomem(machine):
    from test_module_common_tools import build

    big = build(machine.arch, "char big_buffer[0x20000000];\nint f(void) { return big_buffer[1]; }\n")
    machine.load_module(fixture_path("hmod.o", machine.arch))
    assert_load_fails(machine, big, errno.ENOMEM, "module area full")


def test_layout_puts_code_then_read_only_then_writable(machine):
    from ppcftrace.elf.sections import SHF_EXECINSTR, SHF_WRITE

    for name in FIXTURES:
        mod = machine.load_module(fixture_path(name, machine.arch))
        flags = {s.name: s.flags for s in mod.obj.sections}
        flags.update({n: 0x6 for n in (".stubs", ".plt")})   # "ax", added by the loader
        rank = {n: 0 if flags[n] & SHF_EXECINSTR else 2 if flags[n] & SHF_WRITE else 1
                for n in mod.sections}
        by_address = sorted(mod.sections, key=lambda n: mod.sections[n][0])
        assert [rank[n] for n in by_address] == sorted(rank[n] for n in by_address)
        assert mod.text_size == max(a + s for n, (a, s) in mod.sections.items()
                                    if rank[n] == 0) - mod.base


def test_failed_load_makes_no_ftrace_records():
    from test_module_common_tools import set_reloc_type
    from ppcftrace.kernel import start_kernel

    for arch in ARCHES:
        m = start_kernel(arch, [fixture_path("hmod.o", arch)], cpu=False)
        records = list(m.ftrace.records)
        crafted = set_reloc_type(fixture_path("racemod.o", arch).read_bytes(), ".rela.text", 0, 7)
        assert_load_fails(m, crafted, errno.ENOEXEC, "relocation: 7")
        assert m.ftrace.records == records
        m.load_module(fixture_path("racemod.o", arch))
        assert len(m.ftrace.records) == len(records) + len(m.modules[-1].mcount_sites)
        m.unload_module("racemod")
        assert m.ftrace.records == records


def test_a_relocation_outside_its_section_is_refused(machine):
    import struct

    from ppcftrace.elf import ElfFile

    data = bytearray(fixture_path("hmod.o", machine.arch).read_bytes())
    sec = ElfFile.from_bytes(bytes(data)).section(".rela.text")
    fmt = ">Q" if machine.arch == "ppc64" else ">I"
    struct.pack_into(fmt, data, sec.offset, 0x100000)   # r_offset of the first entry
    assert_load_fails(machine, bytes(data), errno.ENOEXEC, "outside the section")
