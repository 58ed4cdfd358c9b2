"""ppcftrace.elf against pyelftools, a second independent reader, on the same files.

Our reader is our own (see HACKING.md); pyelftools reads every section header, symbol
and relocation of the corpus the same way, or one of the two is wrong.
"""

from __future__ import annotations

import elftools  # noqa: F401  (requirements.txt: missing means broken, not skipped)
import pytest

from conftest import need_toolchain


@pytest.fixture(scope="module", params=("ppc64", "ppc32"))
def paths(request, tmp_path_factory):
    need_toolchain(request.param)
    from ppcftrace.elf.samples import corpus, link_image
    from ppcftrace.recordmcount import record_object

    objs = corpus(request.param, count=20)[:6]
    d = tmp_path_factory.mktemp(f"pyelftools-{request.param}")
    rec = str(d / "rec.o")
    record_object(objs[3], rec)
    return objs + [rec, link_image([rec], request.param, str(d / "image.elf"))]


def test_same_sections_symbols_relocations(paths):
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    from elftools.elf.sections import SymbolTableSection

    from ppcftrace.elf import ElfFile

    for path in paths:
        ours = ElfFile.open(path)
        with open(path, "rb") as f:
            theirs = ELFFile(f)
            assert theirs["e_machine"] == ("EM_PPC64" if ours.arch == "ppc64" else "EM_PPC")
            assert ours.bits == theirs.elfclass
            assert ours.is_relocatable == (theirs["e_type"] == "ET_REL")
            assert len(ours.sections) == theirs.num_sections()
            for a, b in zip(ours.sections, theirs.iter_sections()):
                assert (a.name, "SHT_" + a.type_name, a.flags, a.addr, a.offset, a.size,
                        a.link, a.info, a.align, a.entsize) == (
                    b.name, b["sh_type"], b["sh_flags"], b["sh_addr"], b["sh_offset"],
                    b["sh_size"], b["sh_link"], b["sh_info"], b["sh_addralign"],
                    b["sh_entsize"]), path
                if a.type_name != "NOBITS":
                    assert a.data == b.data()
            symtab = next(s for s in theirs.iter_sections() if isinstance(s, SymbolTableSection))
            got = [(s.name, s.value, s.size, s.shndx, "STB_" + s.bind, "STT_" + s.type)
                   for s in ours.symbols]
            want = [(s.name, s["st_value"], s["st_size"], s["st_shndx"], s["st_info"]["bind"],
                     s["st_info"]["type"]) for s in symtab.iter_symbols()]
            shn = {"SHN_UNDEF": 0, "SHN_ABS": 0xFFF1, "SHN_COMMON": 0xFFF2}
            assert got == [(n, v, z, shn.get(x, x), b, t) for n, v, z, x, b, t in want], path
            for rsec in (s for s in theirs.iter_sections() if isinstance(s, RelocationSection)):
                mine = [(r.offset, r.type, r.symbol.index if r.symbol else 0, r.addend)
                        for r in ours.relocations(rsec.name)]
                assert mine == [(r["r_offset"], r["r_info_type"], r["r_info_sym"],
                                 r["r_addend"]) for r in rsec.iter_relocations()], path
