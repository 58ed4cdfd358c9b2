"""ppcftrace.elf against GNU readelf/objdump: sections, symbols, relocations, descriptors.

The corpus: random -pg programs from the cross compilers (ppcftrace.elf.samples), a
linked image per architecture, an ELFv2 object, and the committed fixtures when they
exist.
"""

from __future__ import annotations

import glob
import os
import pathlib
import struct

import pytest

from conftest import need_toolchain

DATA = pathlib.Path(__file__).resolve().parent.parent / "ppcftrace" / "data"


@pytest.fixture(scope="module", params=("ppc64", "ppc32"))
def files(request, tmp_path_factory):
    """(arch, [objects..., image]) for one architecture."""
    arch = request.param
    need_toolchain(arch)
    from ppcftrace.elf import ElfFile, ELFError
    from ppcftrace.elf.samples import corpus, link_image
    from ppcftrace.recordmcount import record_object

    objs = corpus(arch, count=20)[:8]
    d = tmp_path_factory.mktemp(f"elf-{arch}")
    recorded = [record_object(o, str(d / os.path.basename(o))) and str(d / os.path.basename(o))
                for o in objs[:4]]
    image = link_image(recorded, arch, str(d / "image.elf"))
    extra = []
    for path in sorted(glob.glob(str(DATA / "**" / "*"), recursive=True)):
        try:
            if os.path.isfile(path) and ElfFile.open(path).arch == arch:
                extra.append(path)
        except (ELFError, OSError):
            pass
    return arch, objs + recorded + [image] + extra


def test_sections_match_readelf(files):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import readelf_sections

    arch, paths = files
    for path in paths:
        ours = ElfFile.open(path).sections
        theirs = readelf_sections(path, arch)
        assert len(ours) == len(theirs), path
        for a, b in zip(ours[1:], theirs[1:]):
            assert (a.index, a.name, a.type_name, a.addr, a.offset, a.size, a.entsize, a.link,
                    a.info, a.align) == (b.index, b.name, b.type, b.addr, b.offset, b.size,
                                         b.entsize, b.link, b.info, b.align), path
            assert len(a.data) == (0 if a.type_name == "NOBITS" else a.size)


def test_symbols_match_readelf(files):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import readelf_symbols

    arch, paths = files
    ndx = {0: "UND", 0xFFF1: "ABS", 0xFFF2: "COM"}
    for path in paths:
        elf = ElfFile.open(path)
        theirs = readelf_symbols(path, arch)
        assert len(elf.symbols) == len(theirs), path
        for a, b in zip(elf.symbols, theirs):
            name = a.name or (a.section if a.type == "SECTION" else "")
            assert (a.index, a.value, a.size, a.type, a.bind, ndx.get(a.shndx, str(a.shndx)),
                    name) == tuple(b), path


def test_relocations_match_readelf(files):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import readelf_relocs

    arch, paths = files
    seen = set()
    for path in paths:
        elf = ElfFile.open(path)
        ours = []
        for rsec in elf.reloc_sections:
            for r in elf.relocations(rsec):
                sym = ""
                if r.symbol is not None:
                    sym = r.symbol.name or (r.symbol.section if r.symbol.type == "SECTION" else "")
                ours.append((rsec.name, r.offset, r.type_name, sym, r.addend))
                seen.add(r.type_name)
        theirs = [(t.section, t.offset, t.type, t.symbol, t.addend)
                  for t in readelf_relocs(path, arch)]
        assert ours == theirs, path
    call = "R_PPC64_REL24" if arch == "ppc64" else "R_PPC_REL24"
    assert call in seen


def test_relocations_by_target_section(files):
    from ppcftrace.elf import ElfFile

    arch, paths = files
    elf = ElfFile.open(paths[0])
    assert elf.relocations(".text") == elf.relocations(".rela.text")


def _patched_reloc_object(arch: str, tmp: pathlib.Path) -> str:
    """An object with 256 relocations whose types are rewritten to 0..255."""
    from ppcftrace.elf import ElfFile
    from ppcftrace.toolchain import run, tool

    src = tmp / f"r_{arch}.s"
    src.write_text("\t.text\n" + "\t.long foo\n" * 256)
    obj = tmp / f"r_{arch}.o"
    run([tool(arch, "as"), "-a64" if arch == "ppc64" else "-a32", "-o", str(obj), str(src)])
    elf = ElfFile.open(obj)
    rela = elf.section(".rela.text")
    data = bytearray(obj.read_bytes())
    for i in range(256):
        if arch == "ppc64":
            at = rela.offset + 24 * i + 8
            sym = struct.unpack_from(">Q", data, at)[0] >> 32
            struct.pack_into(">Q", data, at, sym << 32 | i)
        else:
            at = rela.offset + 12 * i + 4
            sym = struct.unpack_from(">I", data, at)[0] >> 8
            struct.pack_into(">I", data, at, sym << 8 | i)
    obj.write_bytes(bytes(data))
    return str(obj)


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_relocation_names_match_readelf(arch, tmp_path):
    """Every type number 0..255: our name is readelf's, and unknown where it knows none."""
    need_toolchain(arch)
    from ppcftrace.elf import ElfFile, R_PPC, R_PPC64
    from ppcftrace.elf.gnu import readelf_relocs

    path = _patched_reloc_object(arch, tmp_path)
    theirs = readelf_relocs(path, arch)
    ours = ElfFile.open(path).relocations(".rela.text")
    assert [r.type for r in ours] == list(range(256))
    table = R_PPC64 if arch == "ppc64" else R_PPC
    known = 0
    for r, t in zip(ours, theirs):
        if t.type.startswith("unrecognized"):
            assert r.type not in table, (r.type, r.type_name)
        else:
            known += 1
            assert r.type_name == t.type, r.type
    assert known == len([n for n in table if n < 256])


def test_named_types_of_facts_sheet():
    from ppcftrace.elf import reloc_type, reloc_type_name

    for name in ("REL24", "TOC16_HA", "TOC16_LO", "ADDR64", "TOC", "REL32", "TOC16",
                 "TOC16_DS", "TOC16_LO_DS", "TOC16_HI", "ADDR16_HI", "ADDR16_HA",
                 "ADDR16_LO", "ADDR32", "REL14", "REL64"):
        assert reloc_type_name("ppc64", reloc_type("ppc64", name)) == "R_PPC64_" + name
    for name in ("REL24", "PLTREL24", "ADDR16_HA", "ADDR16_LO", "ADDR32", "REL32", "REL14"):
        assert reloc_type_name("ppc32", reloc_type("ppc32", name)) == "R_PPC_" + name


def test_descriptors_of_objects_match_rela_opd(files):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import readelf_relocs, readelf_symbols

    arch, paths = files
    for path in [p for p in paths if p.endswith(".o")]:
        elf = ElfFile.open(path)
        if elf.abi != "elfv1":        # SysV ppc32 and ELFv2 have no descriptors
            assert elf.descriptors == [] and elf.section(".opd") is None
            continue
        opd = elf.section(".opd")
        relocs = {r.offset: r for r in readelf_relocs(path, arch) if r.section == ".rela.opd"}
        funcs = [s for s in readelf_symbols(path, arch)
                 if s.type == "FUNC" and s.ndx == str(opd.index)]
        assert len(elf.descriptors) == len(funcs) > 0
        for d, s in zip(elf.descriptors, funcs):
            entry, toc = relocs[s.value], relocs[s.value + 8]
            assert entry.type == "R_PPC64_ADDR64" and toc.type == "R_PPC64_TOC"
            assert (d.name, d.address, d.section, d.entry, d.toc) == (
                s.name, s.value, entry.symbol, entry.addend, toc.addend)


def test_descriptors_of_image_match_objdump(files):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import objdump_labels, objdump_section_bytes

    arch, paths = files
    image = next(p for p in paths if p.endswith("image.elf"))
    elf = ElfFile.open(image)
    if arch != "ppc64":
        assert elf.descriptors == []
        return
    start, data = objdump_section_bytes(image, ".opd", arch)
    labels = {name: addr for sec in objdump_labels(image, arch).values() for addr, name in sec}
    assert elf.descriptors
    for d in elf.descriptors:
        words = struct.unpack_from(">QQQ", data, d.address - start)
        assert (d.entry, d.toc, d.env) == words
        assert labels[d.dot_name] == d.entry
        assert elf.entry_of(d.name) == elf.entry_of(d.dot_name) == d.entry


def test_abi_and_arch(files, tmp_path):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import readelf_flags

    arch, paths = files
    for path in paths:
        elf = ElfFile.open(path)
        assert elf.arch == arch
        flags = readelf_flags(path, arch)
        if arch == "ppc32":
            assert elf.abi == "sysv"
        else:
            assert elf.abi == ("elfv2" if "abiv2" in flags else "elfv1")


def test_elfv2_object_has_plain_names(tmp_path):
    need_toolchain("ppc64")
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import objdump_labels, readelf_flags
    from ppcftrace.elf.samples import compile_sources
    from ppcftrace.recordmcount import find_sites

    src = "int g; __attribute__((noinline)) int leaf(int x) { return x + g; }\n" \
          "int caller(int x) { return leaf(x) * 2; }\n"
    obj = compile_sources({"v2": src}, "ppc64", str(tmp_path), ["-mabi=elfv2"])["v2"]
    elf = ElfFile.open(obj)
    assert "abiv2" in readelf_flags(obj) and elf.abi == "elfv2"
    assert elf.descriptors == []
    labels = dict((n, a) for a, n in objdump_labels(obj)[".text"])
    assert {f.name: f.start for f in elf.functions} == labels
    assert {s.function for s in find_sites(elf)} == {"leaf", "caller"}


def test_functions_are_objdump_labels(files):
    """Every function (dot names made from .opd on ELFv1) is where objdump puts a label of
    the same name, and every objdump label that names a FUNC symbol is one of ours."""
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import objdump_labels

    arch, paths = files
    checked = 0
    for path in [p for p in paths if "ppcftrace-samples" in p or str(DATA) in p]:
        elf = ElfFile.open(path)
        labels = {(sec, addr, name) for sec, items in objdump_labels(path, arch).items()
                  for addr, name in items}
        ours = {(f.section, f.start, f.name) for f in elf.functions}
        assert ours <= labels, (path, sorted(ours - labels)[:5])
        funcs = {s.name for s in elf.symbols if s.type == "FUNC"}
        named = {lab for lab in labels
                 if lab[2] in funcs or (arch == "ppc64" and lab[2][1:] in funcs)}
        assert named <= ours, (path, sorted(named - ours)[:5])
        checked += len(ours)
    assert checked > 50
