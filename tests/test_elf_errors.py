"""Bad input to ppcftrace.elf: each case raises its own ELFError subclass, one line."""

from __future__ import annotations

import struct

import pytest

from conftest import need, need_toolchain


def _load(data: bytes):
    from ppcftrace.elf import ElfFile

    return ElfFile.from_bytes(data, "f.o")


@pytest.fixture(scope="module")
def ppc64_object() -> bytes:
    need_toolchain("ppc64")
    from ppcftrace.elf.samples import corpus

    with open(corpus("ppc64", count=20)[0], "rb") as f:
        return f.read()


def _one_line(exc: Exception) -> None:
    text = str(exc)
    assert text and "\n" not in text


@pytest.mark.parametrize("data", [b"", b"\x7fEL", b"hello world, not an ELF file",
                                  b"\x7fELF\x03\x02\x01" + bytes(60),
                                  b"\x7fELF\x02\x05\x01" + bytes(60),
                                  b"\x7fELF\x02\x02\x07" + bytes(60)])
def test_not_elf(data):
    from ppcftrace.elf import NotELF

    with pytest.raises(NotELF) as e:
        _load(data)
    _one_line(e.value)


def test_host_x86_object(tmp_path):
    need("gcc")
    from ppcftrace.elf import ElfFile, UnsupportedMachine
    from ppcftrace.toolchain import run

    src = tmp_path / "x.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    run(["gcc", "-c", "-o", str(tmp_path / "x.o"), str(src)])
    with pytest.raises(UnsupportedMachine, match="not PowerPC") as e:
        ElfFile.open(tmp_path / "x.o")
    _one_line(e.value)


def test_little_endian_powerpc(tmp_path):
    need_toolchain("ppc64")
    from ppcftrace.elf import ElfFile, UnsupportedEndianness
    from ppcftrace.elf.samples import compile_sources

    obj = compile_sources({"le": "int f(int x) { return x + 1; }\n"}, "ppc64",
                          str(tmp_path), ["-mlittle-endian"])["le"]
    with pytest.raises(UnsupportedEndianness, match="little-endian") as e:
        ElfFile.open(obj)
    _one_line(e.value)


def test_class_mismatch(ppc64_object):
    from ppcftrace.elf import UnsupportedMachine

    data = bytearray(ppc64_object)
    data[18:20] = struct.pack(">H", 20)          # EM_PPC in a 64-bit file
    with pytest.raises(UnsupportedMachine):
        _load(bytes(data))


@pytest.mark.parametrize("cut", [20, 63, 200, -1, -100])
def test_truncated(ppc64_object, cut):
    from ppcftrace.elf import TruncatedELF

    with pytest.raises(TruncatedELF) as e:
        _load(ppc64_object[:cut])
    _one_line(e.value)


def _shdr(data: bytes, index: int) -> int:
    shoff = struct.unpack_from(">Q", data, 0x28)[0]
    return shoff + 64 * index


def _symtab_index(data: bytes) -> int:
    from ppcftrace.elf import ElfFile

    return next(s.index for s in ElfFile.from_bytes(data).sections if s.type_name == "SYMTAB")


def test_corrupt_section_header_entry_size(ppc64_object):
    from ppcftrace.elf import CorruptELF

    data = bytearray(ppc64_object)
    struct.pack_into(">H", data, 0x3A, 63)       # e_shentsize
    with pytest.raises(CorruptELF, match="e_shentsize"):
        _load(bytes(data))


def test_corrupt_shstrndx(ppc64_object):
    from ppcftrace.elf import CorruptELF

    data = bytearray(ppc64_object)
    struct.pack_into(">H", data, 0x3E, 0x7000)   # e_shstrndx beyond the table
    with pytest.raises(CorruptELF, match="e_shstrndx"):
        _load(bytes(data))


def test_section_beyond_end_of_file(ppc64_object):
    from ppcftrace.elf import TruncatedELF

    data = bytearray(ppc64_object)
    at = _shdr(data, 1)
    struct.pack_into(">Q", data, at + 0x20, 1 << 40)   # sh_size of section 1
    with pytest.raises(TruncatedELF, match="beyond end of file"):
        _load(bytes(data))


def test_symtab_link_not_a_string_table(ppc64_object):
    from ppcftrace.elf import CorruptELF

    data = bytearray(ppc64_object)
    at = _shdr(data, _symtab_index(data))
    struct.pack_into(">I", data, at + 0x28, 1)         # sh_link -> .text
    with pytest.raises(CorruptELF, match="not a string table"):
        _load(bytes(data)).symbols


def test_symbol_name_outside_string_table(ppc64_object):
    from ppcftrace.elf import CorruptELF

    data = bytearray(ppc64_object)
    sym = _load(bytes(data)).section(".symtab")
    struct.pack_into(">I", data, sym.offset + 24 * 2, 0x7FFFFFF0)
    with pytest.raises(CorruptELF, match="string table"):
        _load(bytes(data)).symbols


def test_relocation_symbol_index_out_of_range(ppc64_object):
    from ppcftrace.elf import CorruptELF

    data = bytearray(ppc64_object)
    rela = _load(bytes(data)).section(".rela.text")
    struct.pack_into(">I", data, rela.offset + 8, 0xFFFF)  # high half of r_info
    with pytest.raises(CorruptELF, match="symbol index"):
        _load(bytes(data)).relocations(".rela.text")


def test_errors_are_ppcftrace_errors():
    from ppcftrace.elf import (CorruptELF, ELFError, NotELF, TruncatedELF,
                               UnsupportedEndianness, UnsupportedMachine)
    from ppcftrace.errors import PpcftraceError

    for cls in (NotELF, UnsupportedMachine, UnsupportedEndianness, TruncatedELF, CorruptELF):
        assert issubclass(cls, ELFError) and issubclass(cls, PpcftraceError)
