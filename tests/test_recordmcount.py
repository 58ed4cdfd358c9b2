"""recordmcount against GNU readelf/objdump on generated -pg programs and the fixtures.

Sites must be exactly the relocations readelf shows against `_mcount`; the containing
function must be the objdump label the site falls under; the `__mcount_loc` that
record_object() links in must point (per readelf -r and -s) at every site; and in a
linked image the table must agree with the `bl _mcount` words objdump decodes.
"""

from __future__ import annotations

import bisect
import glob
import os
import pathlib

import pytest

from conftest import need_toolchain

ARCHES = ("ppc64", "ppc32")
MCOUNT = ("_mcount", "._mcount")
DATA = pathlib.Path(__file__).resolve().parent.parent / "ppcftrace" / "data"


def data_objects(arch: str) -> list[str]:
    """Committed fixture objects of this architecture, if the fixtures exist yet."""
    from ppcftrace.elf import ElfFile, ELFError

    out = []
    for path in sorted(glob.glob(str(DATA / "**" / "*.o"), recursive=True)):
        try:
            if ElfFile.open(path).arch == arch:
                out.append(path)
        except ELFError:
            pass
    return out


@pytest.fixture(scope="module", params=ARCHES)
def objects(request):
    arch = request.param
    need_toolchain(arch)
    from ppcftrace.elf.samples import corpus

    return arch, corpus(arch, count=20) + data_objects(arch)


def readelf_sites(path: str, arch: str) -> set[tuple[str, int, str]]:
    """(code section, offset, callee) of every readelf relocation against _mcount."""
    from ppcftrace.elf.gnu import readelf_relocs

    out = set()
    for r in readelf_relocs(path, arch):
        if r.symbol in MCOUNT and r.section != ".rela__mcount_loc":
            target = r.section[len(".rela"):] if r.section.startswith(".rela") else r.section
            out.add((target, r.offset, r.symbol))
    return out


def test_sites_match_readelf(objects):
    from ppcftrace.elf import ElfFile
    from ppcftrace.recordmcount import find_sites

    arch, paths = objects
    total = 0
    for path in paths:
        elf = ElfFile.open(path)
        ours = {(s.section, s.offset, s.symbol) for s in find_sites(elf)}
        assert ours == readelf_sites(path, arch), path
        total += len(ours)
    assert total > 100  # the corpus really has sites


def test_containing_function_matches_objdump(objects):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import objdump_labels
    from ppcftrace.recordmcount import find_sites

    arch, paths = objects
    for path in paths:
        labels = objdump_labels(path, arch)
        for site in find_sites(ElfFile.open(path)):
            starts = labels[site.section]
            i = bisect.bisect_right([a for a, _ in starts], site.offset) - 1
            assert i >= 0, (path, site)
            assert site.function == starts[i][1], (path, site)


def test_dot_names_only_on_elfv1(objects):
    from ppcftrace.elf import ElfFile
    from ppcftrace.recordmcount import find_sites

    arch, paths = objects
    seen = 0
    for path in paths:
        elf = ElfFile.open(path)
        names = [s.function for s in find_sites(elf)]
        assert all(n.startswith(".") == (elf.abi == "elfv1") for n in names), path
        seen += len(names)
    assert seen                                # not vacuous: the corpus has sites


def _symbol_places(path: str, arch: str) -> dict[str, tuple[str, int]]:
    """readelf's {symbol name: (section name, value)} for defined symbols."""
    from ppcftrace.elf.gnu import readelf_sections, readelf_symbols

    names = {s.index: s.name for s in readelf_sections(path, arch)}
    return {s.name: (names[int(s.ndx)], s.value) for s in readelf_symbols(path, arch)
            if s.ndx.isdigit()}


def test_record_object_links_mcount_loc(objects, tmp_path):
    from ppcftrace.elf.gnu import readelf_relocs
    from ppcftrace.recordmcount import record_object

    arch, paths = objects
    word = "R_PPC64_ADDR64" if arch == "ppc64" else "R_PPC_ADDR32"
    for path in paths[:12]:
        expected = {(sec, off) for sec, off, _ in readelf_sites(path, arch)}
        out = str(tmp_path / os.path.basename(path))
        record_object(path, out)
        places = _symbol_places(out, arch)
        entries = [r for r in readelf_relocs(out, arch) if r.section == ".rela__mcount_loc"]
        assert all(r.type == word for r in entries)
        got = set()
        for r in entries:
            section, value = places[r.symbol]
            got.add((section, value + r.addend))
        assert len(entries) == len(expected), path
        assert got == expected, path
        # the code itself is untouched, and the sites read back the same
        assert readelf_sites(out, arch) == readelf_sites(path, arch)


def test_record_object_is_deterministic_and_in_place(objects, tmp_path):
    import shutil

    from ppcftrace.recordmcount import record_object

    arch, paths = objects
    path = paths[3]  # built with -ffunction-sections: several references, globalized
    a, b, c = (str(tmp_path / n) for n in ("a.o", "b.o", "c.o"))
    record_object(path, a)
    record_object(path, b)
    shutil.copy(path, c)
    record_object(c)
    data = pathlib.Path(a).read_bytes()
    assert data == pathlib.Path(b).read_bytes() == pathlib.Path(c).read_bytes()
    # a second pass leaves a recorded object alone
    record_object(c)
    assert pathlib.Path(c).read_bytes() == data


def test_local_references_are_localized_again(objects, tmp_path):
    """recordmcount.pl globalizes a static reference only for the link."""
    from ppcftrace.elf.gnu import readelf_symbols
    from ppcftrace.recordmcount import record_object

    arch, paths = objects
    for path in paths[:8]:
        before = {s.name for s in readelf_symbols(path, arch) if s.bind == "GLOBAL"}
        out = str(tmp_path / "x.o")
        record_object(path, out)
        after = {s.name for s in readelf_symbols(out, arch) if s.bind == "GLOBAL"}
        assert after == before, path


def test_image_mcount_loc_matches_bl_decode(objects, tmp_path):
    from ppcftrace.elf import ElfFile
    from ppcftrace.elf.gnu import objdump_bl_calls
    from ppcftrace.elf.samples import link_image
    from ppcftrace.recordmcount import bl_sites, record_object, sites_from_mcount_loc

    arch, paths = objects
    recorded, expected = [], 0
    for i, path in enumerate(paths[:10]):
        out = str(tmp_path / f"r{i}.o")
        expected += len(record_object(path, out))
        recorded.append(out)
    image = link_image(recorded, arch, str(tmp_path / "image.elf"))
    elf = ElfFile.open(image)
    table = sites_from_mcount_loc(elf)
    assert len(table) == expected
    assert table == bl_sites(elf)
    assert [s.address for s in table] == sorted(objdump_bl_calls(image, MCOUNT, arch))
    for s in table:
        sec = elf.section(s.section)
        assert sec.addr + s.offset == s.address
        f = elf.function_at(sec.index, s.address)
        assert f is not None and f.name == s.function


def test_asm_text_follows_recordmcount_pl(objects):
    from ppcftrace.elf import ElfFile
    from ppcftrace.recordmcount import find_sites, mcount_loc_asm

    arch, paths = objects
    elf = ElfFile.open(paths[0])
    text = mcount_loc_asm(elf, find_sites(elf)).splitlines()
    assert text[0] == '\t.section __mcount_loc,"a",@progbits'
    directive = ".quad" if arch == "ppc64" else ".long"
    body = [line for line in text if not line.startswith("\t.section") and ".p2align" not in line]
    assert body and all(line.startswith(f"\t{directive} ") and " + " in line for line in body)


def test_not_relocatable_is_refused(tmp_path):
    need_toolchain("ppc64")
    from ppcftrace.elf.samples import corpus, link_image
    from ppcftrace.recordmcount import NotRelocatable, record_object

    image = link_image([corpus("ppc64", count=20)[0]], "ppc64", str(tmp_path / "i.elf"))
    before = pathlib.Path(image).read_bytes()
    with pytest.raises(NotRelocatable):
        record_object(image)
    assert pathlib.Path(image).read_bytes() == before


def test_module_entry_point(tmp_path):
    need_toolchain("ppc32")
    import subprocess
    import sys

    from ppcftrace.elf.samples import corpus

    src = corpus("ppc32", count=20)[1]
    out = tmp_path / "o.o"
    proc = subprocess.run([sys.executable, "-m", "ppcftrace.recordmcount", src, "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "mcount site" in proc.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_fixture_images_agree_with_bl_decode(arch):
    """The committed kernels: __mcount_loc = every bl to _mcount (ours and objdump's)."""
    need_toolchain(arch)
    from ppcftrace.elf import ElfFile, ELFError
    from ppcftrace.elf.gnu import objdump_bl_calls
    from ppcftrace.recordmcount import bl_sites, sites_from_mcount_loc

    images = [p for p in sorted(glob.glob(str(DATA / arch / "*"))) if not p.endswith(".o")]
    checked = 0
    for path in images:
        try:
            elf = ElfFile.open(path)
        except ELFError:
            continue                      # not an ELF file (a linker script, notes...)
        if elf.is_relocatable or elf.section("__mcount_loc") is None:
            continue
        table = sites_from_mcount_loc(elf)
        assert table and table == bl_sites(elf)
        assert [s.address for s in table] == sorted(objdump_bl_calls(path, MCOUNT, arch))
        checked += 1
    assert checked, "no committed image with __mcount_loc"   # the vmlinux at least
